"""The real flow over two Docker engines (the default one and a second dockerd), one of which
dies mid-run: the candidates it held run again on the other, each outcome says why, and the
catalog ends as a one-engine run would (nothing lost, nothing twice)."""

from __future__ import annotations

import threading
import time

import docker
import pytest
import requests

from envmine.config import RunConfig, SourceConfig
from envmine.flows.pipeline import run_pipeline
from envmine.testing import pyrepos
from envmine.warehouse.catalog import run_sql

pytestmark = [pytest.mark.docker, pytest.mark.slow]
DEFAULT = "unix:///var/run/docker.sock"
CANDIDATES = 4
KILL_WITHIN_S = 600


class Killer(threading.Thread):
    """Kills the second engine a second after the first container appears on it (work was
    placed there and is under way); records what it saw."""

    def __init__(self, second):
        super().__init__(daemon=True)
        self.second, self.seen, self.killed_at = second, [], None

    def run(self) -> None:
        engine = docker.DockerClient(base_url=self.second.host.url, version="auto", timeout=10)
        deadline = time.monotonic() + KILL_WITHIN_S
        while time.monotonic() < deadline and not self.seen:
            try:
                self.seen = [c.name for c in engine.containers.list(all=True)]
            except (docker.errors.DockerException, requests.exceptions.RequestException):
                pass  # not answering yet
            time.sleep(0.2)
        if self.seen:
            time.sleep(1.0)
            self.second.kill()
            self.killed_at = time.monotonic()


def _provenance(row) -> dict[str, str]:
    value = row["provenance"]
    return dict(value) if not isinstance(value, dict) else value


def test_a_host_that_dies_mid_run_loses_no_work(second_engine, tmp_path_factory, prefect_harness):
    root, home = tmp_path_factory.mktemp("repos"), tmp_path_factory.mktemp("home")
    # candidates of one repository at once: its layers draw them to one host until that host
    # runs SPILL more than the other, so the second engine gets work even where the default
    # one holds every layer already
    sources = [SourceConfig(kind="git", url=str(pyrepos.fixes_repo(root, CANDIDATES)), max_candidates=CANDIDATES)]
    config = RunConfig(sources=sources, settings={
        "docker": {"hosts": [DEFAULT, second_engine.host.url], "concurrency": CANDIDATES},
        "validation": {"after_runs": 1, "limits": {"timeout_s": 60}},
    })
    killer = Killer(second_engine)
    killer.start()
    counts = run_pipeline(config, home=str(home))
    killer.join(timeout=5)
    assert killer.seen and killer.killed_at is not None, "no work reached the second engine"

    rows = run_sql(home / "catalog", "SELECT instance_id, provenance FROM instances ORDER BY instance_id").to_pylist()
    rejects = run_sql(home / "catalog", "SELECT subject, reason, detail FROM rejects").to_pylist()
    assert counts["validated"] == CANDIDATES and len(rows) == CANDIDATES, rejects
    assert len({row["instance_id"] for row in rows}) == CANDIDATES
    provenance = [_provenance(row) for row in rows]
    assert all(p["docker_host"] == DEFAULT for p in provenance)  # the survivor did all of it
    moved = [p["hosts_lost"] for p in provenance if "hosts_lost" in p]
    assert moved and all(second_engine.host.url in note for note in moved)
