"""The same flow, the same results, wherever its tasks run: the pipeline over tiny local git
repositories, once on the default thread pool and once on a real local Ray cluster (a head and
a second node) and on a real Dask cluster (a scheduler and two worker processes); the
catalogs must hold the same instances, F2P/P2P, test runs and rejects. The workers' sandboxes
belong to the run (its labels), and a wrong address is a one-line error."""

from __future__ import annotations

import datetime as dt
import os
import subprocess

import pytest

from envmine.builders import engine
from envmine.builders.engine import client
from envmine.config import RunConfig, SourceConfig
from envmine.flows.executors import ExecutorError
from envmine.flows.pipeline import run_pipeline
from envmine.testing import executor_clusters as clusters
from envmine.testing import pyrepos
from envmine.warehouse.catalog import run_sql

SETTINGS = {"validation": {"after_runs": 2, "limits": {"timeout_s": 45}}, "docker": {"concurrency": 2}}


@pytest.fixture(scope="module")
def repos(tmp_path_factory):
    root = tmp_path_factory.mktemp("repos")
    return [pyrepos.bugfix_repo(root), pyrepos.breaking_fix_repo(root), pyrepos.no_tests_repo(root)]


def _run(repos, home, executor: dict) -> tuple[dict, dict, list[dict]]:
    """Run the flow (force: no cached outcome of another run is reused); returns the counts,
    the catalog's contents and the owner labels of every container the run created."""
    config = RunConfig(sources=[SourceConfig(kind="git", url=str(r)) for r in repos],
                       settings={**SETTINGS, "executor": executor})
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    counts = run_pipeline(config, home=str(home), force=True)
    until = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)
    events = client().events(since=since, until=until, decode=True,
                             filters={"type": "container", "event": "create", "label": f"envmine.pid={os.getpid()}"})
    return counts, _catalog(home), [e["Actor"]["Attributes"] for e in events]


def _catalog(home) -> dict:
    def rows(query):
        return run_sql(home / "catalog", query).to_pylist()

    return {
        "instances": rows("SELECT instance_id, base_commit, patch, test_patch, FAIL_TO_PASS, PASS_TO_PASS, language,"
                          " image FROM instances ORDER BY instance_id"),
        "rejects": rows("SELECT stage, reason, subject FROM rejects ORDER BY subject, stage"),
        "validations": [{**r, "tests": sorted(r["tests"])} for r in rows(
            "SELECT instance_id, phase, exit_code, suite_ran, tests FROM validations ORDER BY instance_id, phase")],
    }


@pytest.fixture(scope="module")
def local(repos, tmp_path_factory, prefect_harness):
    return _run(repos, tmp_path_factory.mktemp("home-local"), {"kind": "local"})


def _assert_same_run(local, other) -> None:
    counts, catalog, created = other
    assert counts == local[0]
    assert catalog == local[1]
    inst = catalog["instances"]
    assert [(i["FAIL_TO_PASS"], i["PASS_TO_PASS"]) for i in inst] == [
        (["tests/test_calc.py::test_add"], ["tests/test_calc.py::test_mul"])]
    assert {(r["stage"], r["reason"]) for r in catalog["rejects"]} >= {
        ("validate", "gold_patch_breaks_tests"), ("mine", "no_test_change")}
    # Every sandbox the workers started belongs to this run (this process's pid: its cleanup
    # and the next run's sweep find them), and none was started by this process itself.
    assert created and all(a["envmine.run"] == created[0]["envmine.run"] != "" for a in created)
    workers = {a["envmine.worker"] for a in created}
    assert f"{os.uname().nodename}:{os.getpid()}" not in workers
    assert not client().containers.list(all=True, filters={"label": f"envmine.pid={os.getpid()}"})


@pytest.mark.docker
def test_local_run_starts_its_sandboxes_itself(local):
    _, catalog, created = local
    assert len(catalog["instances"]) == 1 and created
    assert {a["envmine.worker"] for a in created} == {f"{os.uname().nodename}:{os.getpid()}"}


@pytest.mark.docker
@pytest.mark.parametrize("kind", ["ray", pytest.param("dask", marks=pytest.mark.slow)])
def test_cluster_run_gives_the_same_catalog(kind, repos, local, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(kind)
    with clusters.CLUSTERS[kind](tmp) as address:
        cluster_run = _run(repos, tmp / "home", {"kind": kind, "address": address})
    _assert_same_run(local, cluster_run)


def test_a_worker_labels_sandboxes_with_its_run_and_starts_none_once_the_run_is_gone():
    run = {**engine.process_labels(), "envmine.run": "run-42"}
    with engine.working_for(run):
        labels = engine.owner_labels()
    assert labels == {**run, "envmine.worker": f"{os.uname().nodename}:{os.getpid()}"}
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = {**run, "envmine.pid": str(gone.pid)}
    with engine.working_for(dead), pytest.raises(engine.EngineError, match="run run-42 is gone"):
        engine.read_image_file("envmine/no-such-image:x", "/etc/hostname")


@pytest.mark.parametrize("kind", ["ray", "dask"])
def test_unreachable_cluster_is_a_clear_error(kind, tmp_path):
    port = clusters.free_port()  # nothing listens there
    config = RunConfig(sources=[SourceConfig(kind="git", url=str(tmp_path))],
                       settings={"executor": {"kind": kind, "address": f"127.0.0.1:{port}", "connect_timeout_s": 2}})
    with pytest.raises(ExecutorError, match=f"no {kind} cluster answers at 127.0.0.1:{port}"):
        run_pipeline(config, home=str(tmp_path / "home"))


def test_cli_names_the_bad_address_without_a_traceback(tmp_path):
    port = clusters.free_port()
    cfg = tmp_path / "run.toml"
    cfg.write_text(f'[[sources]]\nkind = "git"\nurl = "{tmp_path}"\n\n'
                   f'[settings.executor]\nkind = "ray"\naddress = "127.0.0.1:{port}"\nconnect_timeout_s = 2\n')
    done = subprocess.run([str(clusters.BIN / "envmine"), "run", "--config", str(cfg), "--home", str(tmp_path / "h")],
                          capture_output=True, text=True, timeout=300)
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert f"no ray cluster answers at 127.0.0.1:{port}" in out and "Traceback" not in out
