"""The analyst views give exact counts on a small constructed catalog."""

from datetime import timedelta

import pytest

from envmine.testing.lake_records import T0, build, candidate, instance, reject, repo, run
from envmine.warehouse.catalog import Catalog, run_sql
from envmine.warehouse.views import VIEWS, view_sql

PASS = {"t::a": "PASSED"}


@pytest.fixture
def funnel_catalog(catalog_dir):
    """acme/widgets (git, python): c1 curated, c2 built but its suite did not run, c3 build
    failed, c4 pending, three mine rejects. npm/gadget (npm, javascript): g1 curated with a
    flaky test, g2 validated but no FAIL_TO_PASS. One discover reject of an unknown fork."""
    c1, c2, c3, c4 = (candidate(i) for i in range(1, 5))
    g1, g2 = (candidate(f"g{i}", repo="npm/gadget", language="javascript", source="npm") for i in (1, 2))
    with Catalog.open(catalog_dir) as catalog:
        catalog.upsert("repos", [repo("acme/widgets"), repo("npm/gadget", "npm", "javascript")])
        catalog.upsert("candidates", [c1, c2, c3, c4, g1, g2])
        stale = build(c2, status="failed").model_copy(update={"image": "envmine/task:old"})
        catalog.upsert("builds", [
            build(c1, "repo"), build(c1),
            build(c2, "repo"), stale, build(c2, at=T0 + timedelta(hours=1)),  # latest task build won
            build(c3, status="failed"),
            build(g1), build(g2),
        ])
        catalog.upsert("validations", [
            run(c1, "before", {"t::a": "FAILED"}), run(c1, "after", PASS),
            run(c2, "before", {"t::a": "FAILED"}), run(c2, "after", {}, suite_ran=False),
            run(g1, "before", {"t1": "FAILED"}), run(g1, "after", {"t1": "PASSED"}), run(g1, "after#2", {"t1": "FAILED"}),
            run(g2, "before", PASS), run(g2, "after", PASS),
        ])
        catalog.upsert("instances", [
            instance(c1),
            instance(g1, FAIL_TO_PASS=["t1"], PASS_TO_PASS=["t2"], stability={"t1": 0.5, "t2": 1.0}),
        ])
        catalog.upsert("rejects", [
            reject("mine", "no_test_change", "deadbeef", "acme/widgets", "python"),
            reject("mine", "no_test_change", "cafebabe", "acme/widgets", "python"),
            reject("mine", "merge_commit", "f00d", "acme/widgets", "python"),
            reject("build", "build_failed", c3.instance_id, language="python"),
            reject("validate", "suite_did_not_run", c2.instance_id, "acme/widgets", "python"),
            reject("validate", "no_fail_to_pass", g2.instance_id, "npm/gadget", "javascript"),
            reject("discover", "fork", "someone/forked"),
        ])
    return catalog_dir


def test_funnel_counts(funnel_catalog):
    rows = run_sql(funnel_catalog, "SELECT * FROM funnel").to_pylist()
    for row in rows:
        row["rejects_by_reason"] = dict(row["rejects_by_reason"])
    zero = {"candidates": 0, "built": 0, "validated": 0, "instances": 0, "rejected_discover": 0,
            "rejected_mine": 0, "rejected_build": 0, "rejected_validate": 0, "rejected_catalog": 0}
    assert rows == [
        {**zero, "source": "", "repo": "someone/forked", "language": "", "rejected": 1,
         "rejected_discover": 1, "rejects_by_reason": {"discover:fork": 1}},
        {**zero, "source": "git", "repo": "acme/widgets", "language": "python",
         "candidates": 4, "built": 2, "validated": 1, "instances": 1,
         "rejected": 5, "rejected_mine": 3, "rejected_build": 1, "rejected_validate": 1,
         "rejects_by_reason": {"build:build_failed": 1, "mine:merge_commit": 1,
                               "mine:no_test_change": 2, "validate:suite_did_not_run": 1}},
        {**zero, "source": "npm", "repo": "npm/gadget", "language": "javascript",
         "candidates": 2, "built": 2, "validated": 2, "instances": 1,
         "rejected": 1, "rejected_validate": 1, "rejects_by_reason": {"validate:no_fail_to_pass": 1}},
    ]


def test_language_funnel(funnel_catalog):
    rows = run_sql(funnel_catalog, "SELECT language, candidates, built, validated, instances, yield, rejected FROM language_funnel").to_pylist()
    assert rows == [
        {"language": "", "candidates": 0, "built": 0, "validated": 0, "instances": 0, "yield": None, "rejected": 1},
        {"language": "javascript", "candidates": 2, "built": 2, "validated": 2, "instances": 1, "yield": 0.5, "rejected": 1},
        {"language": "python", "candidates": 4, "built": 2, "validated": 1, "instances": 1, "yield": 0.25, "rejected": 5},
    ]


def test_reject_reasons(funnel_catalog):
    rows = run_sql(funnel_catalog, "SELECT stage, reason, language, rejects, repos, example_subject FROM reject_reasons").to_pylist()
    assert [tuple(r.values()) for r in rows] == [
        ("mine", "no_test_change", "python", 2, 1, "cafebabe"),
        ("build", "build_failed", "python", 1, 0, "acme__widgets-3"),
        ("discover", "fork", "", 1, 0, "someone/forked"),
        ("mine", "merge_commit", "python", 1, 1, "f00d"),
        ("validate", "no_fail_to_pass", "javascript", 1, 1, "npm__gadget-g2"),
        ("validate", "suite_did_not_run", "python", 1, 1, "acme__widgets-2"),
    ]


def test_flaky_tests(funnel_catalog):
    rows = run_sql(funnel_catalog, "SELECT * FROM flaky_tests").to_pylist()
    assert rows == [{"instance_id": "npm__gadget-g1", "repo": "npm/gadget", "language": "javascript",
                     "test": "t1", "pass_rate": 0.5, "in_fail_to_pass": True, "in_pass_to_pass": False,
                     "dropped": False}]


def test_flaky_tests_of_kept_and_rejected_candidates_per_repository(catalog_dir):
    """k1 stays valid with one flaky test dropped (it disagreed in its `before` runs only); r1 was
    rejected `flaky`: its only candidate test passed in one `after` run of two."""
    k1, r1 = candidate("k1", repo="acme/keep"), candidate("r1", repo="acme/reject")
    with Catalog.open(catalog_dir) as catalog:
        catalog.upsert("candidates", [k1, r1])
        catalog.upsert("validations", [
            run(k1, "before", {"t::a": "FAILED", "t::f": "PASSED"}), run(k1, "before#2", {"t::a": "FAILED"}),
            run(k1, "after", {"t::a": "PASSED", "t::f": "PASSED"}),
            run(r1, "before", {"t::b": "FAILED"}), run(r1, "after", {"t::b": "PASSED"}),
            run(r1, "after#2", {"t::b": "FAILED"}), run(r1, "base", {"t::b": "PASSED", "t::z": "FAILED"}),
        ])
        catalog.upsert("instances", [instance(k1, FAIL_TO_PASS=["t::a"], PASS_TO_PASS=[],
                                              stability={"t::a": 1.0, "t::f": 1.0}, flaky_tests=["t::f"])])
        catalog.upsert("rejects", [reject("validate", "flaky", r1.instance_id, "acme/reject", "python")])
        rows = catalog.sql("SELECT * FROM flaky_tests").to_pylist()
        per_repo = catalog.sql("SELECT repo, count(*) AS n FROM flaky_tests GROUP BY repo ORDER BY repo").to_pylist()
    assert rows == [
        {"instance_id": "acme__reject-r1", "repo": "acme/reject", "language": "python", "test": "t::b",
         "pass_rate": 0.5, "in_fail_to_pass": False, "in_pass_to_pass": False, "dropped": True},
        {"instance_id": "acme__keep-k1", "repo": "acme/keep", "language": "python", "test": "t::f",
         "pass_rate": 1.0, "in_fail_to_pass": False, "in_pass_to_pass": False, "dropped": True},
    ]
    assert per_repo == [{"repo": "acme/keep", "n": 1}, {"repo": "acme/reject", "n": 1}]


def test_views_on_an_empty_catalog(catalog_dir):
    with Catalog.open(catalog_dir) as catalog:
        for name in VIEWS:
            assert catalog.sql(f"SELECT count(*) AS n FROM {name}")["n"].to_pylist() == [0]


def test_unknown_view_lists_valid_names():
    with pytest.raises(KeyError, match="valid views: funnel, language_funnel, reject_reasons, flaky_tests"):
        view_sql("funnels")
