"""The whole pipeline for Python, in real Docker, through the real Prefect flow.

Each scenario is a git repository made by the test; the flow mines it, builds its
environment, validates it and writes the catalog, which the test then queries in SQL.
"""

from __future__ import annotations

import pytest

from envmine.config import RunConfig, SourceConfig
from envmine.flows.pipeline import run_pipeline
from envmine.testing import pyrepos
from envmine.warehouse.catalog import run_sql

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def mined(tmp_path_factory, prefect_harness):
    """Run the flow once over all five scenarios (one catalog; shared base layers)."""
    root = tmp_path_factory.mktemp("repos")
    home = tmp_path_factory.mktemp("home")
    repos = {
        "bugfix": pyrepos.bugfix_repo(root),
        "breaking": pyrepos.breaking_fix_repo(root),
        "notests": pyrepos.no_tests_repo(root),
        "hanging": pyrepos.hanging_repo(root),
        "fakepass": pyrepos.fake_passed_repo(root),
    }
    missing = SourceConfig(kind="git", url=str(root / "no-such-repo"))
    config = RunConfig(
        sources=[SourceConfig(kind="git", url=str(path)) for path in repos.values()] + [missing],
        settings={"validation": {"after_runs": 2, "limits": {"timeout_s": 45}},
                  "docker": {"concurrency": 2}},
    )
    counts = run_pipeline(config, home=str(home))
    return home, repos, counts


def _sql(home, query):
    return run_sql(home / "catalog", query).to_pylist()


def _instance(home, name):
    rows = _sql(home, f"SELECT * FROM instances WHERE instance_id LIKE '%__{name}-%'")
    return rows[0] if rows else None


def _rejects(home, name):
    return {(r["stage"], r["reason"]) for r in
            _sql(home, f"SELECT stage, reason FROM rejects WHERE subject LIKE '%__{name}-%'")}


def test_bugfix_commit_becomes_a_task_with_exact_tests(mined):
    home, repos, counts = mined
    inst = _instance(home, "bugfix")
    assert inst is not None, _rejects(home, "bugfix")
    assert inst["FAIL_TO_PASS"] == ["tests/test_calc.py::test_add"]
    assert inst["PASS_TO_PASS"] == ["tests/test_calc.py::test_mul"]
    assert inst["language"] == "python" and inst["source"] == "git"
    head = pyrepos.git(repos["bugfix"], "rev-parse", "HEAD~1")
    assert inst["base_commit"] == head
    assert "return a + b" in inst["patch"] and "tests/test_calc.py" not in inst["patch"]
    assert "def test_add" in inst["test_patch"]
    assert inst["modified_functions"] == ["calc/__init__.py::add"]
    assert inst["problem_statement"].startswith("Fix add() returning the difference")
    assert "ENVMINE" in inst["eval_script"] or "pytest" in inst["eval_script"]
    assert inst["image"]


def test_fix_that_breaks_another_test_is_rejected(mined):
    home, *_ = mined
    assert _instance(home, "breaking") is None
    assert ("validate", "gold_patch_breaks_tests") in _rejects(home, "breaking")


def test_repository_without_tests_yields_no_candidate(mined):
    home, *_ = mined
    assert _instance(home, "notests") is None
    assert ("mine", "no_test_change") in _rejects(home, "notests")


def test_hanging_tests_are_rejected_as_timeout(mined):
    home, *_ = mined
    assert _instance(home, "hanging") is None
    assert ("validate", "timeout") in _rejects(home, "hanging")


def test_patch_printing_fake_passed_lines_does_not_pass(mined):
    home, *_ = mined
    assert _instance(home, "fakepass") is None
    assert ("validate", "no_fail_to_pass") in _rejects(home, "fakepass")


def test_unreadable_source_is_recorded_and_the_others_still_run(mined):
    home, repos, counts = mined
    assert counts["source_errors"] == 1 and counts["sources"] == 5
    rows = _sql(home, "SELECT stage, reason, detail FROM rejects WHERE subject LIKE 'git:%no-such-repo'")
    assert [(r["stage"], r["reason"]) for r in rows] == [("discover", "source_error")]
    assert "no such repository" in rows[0]["detail"]


def test_runs_and_builds_are_recorded(mined):
    home, *_ = mined
    runs = _sql(home, "SELECT phase, tests FROM validations WHERE instance_id LIKE '%__bugfix-%' ORDER BY phase")
    phases = [r["phase"] for r in runs]
    assert phases[-1] == "before" and len([p for p in phases if p.startswith("after")]) == 2
    before = dict(runs[-1]["tests"])
    assert before == {"tests/test_calc.py::test_add": "FAILED", "tests/test_calc.py::test_mul": "PASSED"}
    builds = _sql(home, "SELECT layer, status, resolved FROM builds WHERE instance_id LIKE '%__bugfix-%'")
    assert {b["layer"] for b in builds} >= {"repo", "task"}
    repo_layer = [b for b in builds if b["layer"] == "repo"][0]
    assert any(line.lower().startswith("pytest==") for line in repo_layer["resolved"])
    # CPU-seconds reach the catalog: every run spends some, every layer built here that ran a
    # step too (layers an earlier test on this engine built are `reused`, and a layer whose
    # steps all came from the builder's cache ran none: both cost nothing)
    cpu = _sql(home, "SELECT (SELECT min(coalesce(cpu_s, 0)) FROM builds WHERE status = 'built'"
                     " AND log LIKE '%Running in%') AS build,"
                     " (SELECT min(coalesce(cpu_s, 0)) FROM validations) AS run")[0]
    assert (cpu["build"] is None or cpu["build"] > 0.05) and cpu["run"] > 0.05, cpu


def test_funnel_view_counts_this_run(mined):
    home, _, counts = mined
    assert counts["validated"] == 1
    funnel = _sql(home, "SELECT sum(instances) AS n FROM funnel")
    assert funnel[0]["n"] == 1


def test_rerun_skips_finished_work_and_duplicates_nothing(mined, prefect_harness):
    home, repos, _ = mined
    before = _sql(home, "SELECT (SELECT count(*) FROM instances) AS i, (SELECT count(*) FROM rejects) AS r,"
                        " (SELECT count(*) FROM validations) AS v")
    config = RunConfig(sources=[SourceConfig(kind="git", url=str(repos["bugfix"]))])
    counts = run_pipeline(config, home=str(home))
    assert counts["skipped"] == 1 and counts["validated"] == 0
    after = _sql(home, "SELECT (SELECT count(*) FROM instances) AS i, (SELECT count(*) FROM rejects) AS r,"
                       " (SELECT count(*) FROM validations) AS v")
    assert after == before
