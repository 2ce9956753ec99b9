"""The real flow over two Docker engines (the default one and a second dockerd), one of which
dies mid-run: the candidates it held run again on the other, each outcome says why, and the
catalog ends as a one-engine run would (nothing lost, nothing twice)."""

from __future__ import annotations

import threading
import time

import docker
import pytest
import requests
import urllib3

from envmine.config import RunConfig, SourceConfig
from envmine.flows.pipeline import run_pipeline
from envmine.testing import pyrepos
from envmine.warehouse.catalog import run_sql

pytestmark = [pytest.mark.docker, pytest.mark.slow]
DEFAULT = "unix:///var/run/docker.sock"
CANDIDATES = 4
KILL_WITHIN_S = 600


class Killer(threading.Thread):
    """Kills the second engine the moment the first container of this run is created on it:
    work was placed there and is under way, and none of it can have finished yet (a candidate
    needs a container before it has a verdict); records what it saw."""

    def __init__(self, second):
        super().__init__(daemon=True)
        self.second, self.seen, self.killed_at = second, [], None
        self.since = time.time()  # containers earlier tests left on this engine are not this run's

    def run(self) -> None:
        deadline = time.monotonic() + KILL_WITHIN_S
        while time.monotonic() < deadline and not self.seen:
            try:
                engine = docker.DockerClient(base_url=self.second.host.url, version="auto", timeout=5)
                created = engine.events(decode=True, since=f"{self.since:.6f}",
                                        filters={"type": "container", "event": "create"})
                self.seen = [next(created)["Actor"]["Attributes"].get("name", "")]
            except (docker.errors.DockerException, requests.exceptions.RequestException, OSError,
                    urllib3.exceptions.HTTPError):
                time.sleep(0.2)  # not answering yet, or no container within the read timeout
        if self.seen:
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
