"""Fixtures for the review tests: real tasks of the default config, captured from a real run
(`capture_tasks.py`), and a catalog holding them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envmine.records import Build, TaskInstance, TestRun
from envmine.warehouse.catalog import Catalog

FIXTURES = Path(__file__).parent / "fixtures"
RECORDS = {"instances": TaskInstance, "validations": TestRun, "builds": Build}


def load_tasks(name: str = "default_tasks.json") -> dict[str, list]:
    data = json.loads((FIXTURES / name).read_text())
    return {table: [RECORDS[table].model_validate(row) for row in rows] for table, rows in data.items()}


@pytest.fixture(scope="session")
def real_tasks() -> dict[str, list]:
    return load_tasks()


@pytest.fixture
def task_by_id(real_tasks):
    return {i.instance_id: i for i in real_tasks["instances"]}


@pytest.fixture
def before_by_id(real_tasks):
    return {r.instance_id: r for r in real_tasks["validations"] if r.phase == "before"}


@pytest.fixture
def catalog(tmp_path, real_tasks):
    """A writable catalog with the captured tasks, their runs and builds."""
    with Catalog.open(tmp_path / "catalog") as cat:
        cat.commit(dict(real_tasks))
        yield cat


class LiveServer:
    """The review app served by a real uvicorn in a thread, over a real catalog."""

    def __init__(self, catalog: Catalog, review_dir: Path) -> None:
        import threading

        import uvicorn

        from envmine.review.app import create_app
        from envmine.review.auth import Reviewers
        from envmine.testing.net import free_port

        self.catalog = catalog
        self.reviewers = Reviewers(review_dir)
        self.tokens = {name: self.reviewers.add(name) for name in ("alice", "bob")}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(catalog, review_dir), host="127.0.0.1", port=self.port,
                                log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()

    def wait(self, timeout_s: float = 20.0) -> LiveServer:
        import time

        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("review app did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def live(catalog, tmp_path):
    from envmine.review.store import assess

    assess(catalog)
    server = LiveServer(catalog, tmp_path / "review").wait()
    yield server
    server.stop()
