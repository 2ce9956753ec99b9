"""The catalog on a real DuckLake (SQLite metadata + Parquet) in a temporary folder."""

import shutil

import pytest

from envmine.warehouse.catalog import Catalog, CatalogError, run_sql
from envmine.testing.lake_records import candidate, instance, run


def test_open_creates_schema_once_and_reopens(catalog_dir):
    with Catalog.open(catalog_dir) as catalog:
        first = catalog.version()
        tables = set(catalog.sql("SELECT table_name FROM information_schema.tables WHERE table_catalog = 'lake' AND table_type = 'BASE TABLE'")["table_name"].to_pylist())
    with Catalog.open(catalog_dir) as catalog:
        assert catalog.version() == first  # reopening creates nothing
    assert tables == {"repos", "candidates", "builds", "validations", "instances", "rejects", "evaluations",
                      "quality", "statements", "annotations", "episodes", "episode_steps", "verifications"}
    assert (catalog_dir / "metadata.sqlite").is_file()


def test_same_rows_twice_write_nothing_the_second_time(catalog_dir):
    rows = [candidate(1), candidate(2), candidate(3)]
    with Catalog.open(catalog_dir) as catalog:
        assert catalog.upsert("candidates", rows) == 3
        version = catalog.version()
        assert catalog.upsert("candidates", rows) == 0
        assert catalog.version() == version  # no empty snapshot either
        assert catalog.sql("SELECT count(*) AS n FROM candidates")["n"].to_pylist() == [3]
        assert catalog.keys("candidates") == {"acme__widgets-1", "acme__widgets-2", "acme__widgets-3"}


def test_changed_row_replaces_the_stored_one(catalog_dir):
    with Catalog.open(catalog_dir) as catalog:
        catalog.upsert("candidates", [candidate(1), candidate(2)])
        assert catalog.upsert("candidates", [candidate(1, hints_text="see #4"), candidate(2)]) == 1
        rows = catalog.sql("SELECT instance_id, hints_text FROM candidates ORDER BY 1").to_pylist()
    assert rows == [
        {"instance_id": "acme__widgets-1", "hints_text": "see #4"},
        {"instance_id": "acme__widgets-2", "hints_text": ""},
    ]


def test_lists_and_maps_round_trip_as_lists_and_maps(catalog_dir):
    inst = instance(candidate(1), stability={"t::a": 1.0, "t::b": 0.5})
    with Catalog.open(catalog_dir) as catalog:
        catalog.upsert("instances", [inst])
        raw = catalog.sql('SELECT "FAIL_TO_PASS", "PASS_TO_PASS", len("PASS_TO_PASS") AS n, stability[\'t::b\'] AS b FROM instances').to_pylist()
        assert raw == [{"FAIL_TO_PASS": ["tests/test_w.py::test_w"], "PASS_TO_PASS": ["tests/test_w.py::test_old", "tests/test_w.py::test_other"], "n": 2, "b": 0.5}]
        unnested = catalog.sql("SELECT unnest(PASS_TO_PASS) AS test FROM instances ORDER BY 1")["test"].to_pylist()
        assert unnested == ["tests/test_w.py::test_old", "tests/test_w.py::test_other"]
        assert catalog.instances() == [inst]


def test_per_test_results_unnest(catalog_dir):
    cand = candidate(1)
    with Catalog.open(catalog_dir) as catalog:
        catalog.upsert("validations", [run(cand, "before", {"t::a": "FAILED", "t::b": "PASSED"}), run(cand, "after", {"t::a": "PASSED", "t::b": "PASSED"})])
        rows = catalog.sql(
            "SELECT phase, e.key AS test, e.value AS status "
            "FROM (SELECT phase, unnest(map_entries(tests)) AS e FROM validations) ORDER BY phase, test"
        ).to_pylist()
    assert rows == [
        {"phase": "after", "test": "t::a", "status": "PASSED"},
        {"phase": "after", "test": "t::b", "status": "PASSED"},
        {"phase": "before", "test": "t::a", "status": "FAILED"},
        {"phase": "before", "test": "t::b", "status": "PASSED"},
    ]


def test_pinned_version_reads_old_rows_after_new_writes(catalog_dir):
    with Catalog.open(catalog_dir) as catalog:
        catalog.upsert("instances", [instance(candidate(1)), instance(candidate(2))])
        pinned = catalog.version()
        catalog.upsert("instances", [instance(candidate(3)), instance(candidate(1), hints_text="changed")])
        old = catalog.instances(version=pinned)
        new = catalog.instances()
    assert [i.instance_id for i in old] == ["acme__widgets-1", "acme__widgets-2"]
    assert old[0].hints_text == ""
    assert [i.instance_id for i in new] == ["acme__widgets-1", "acme__widgets-2", "acme__widgets-3"]
    assert new[0].hints_text == "changed"
    assert run_sql(catalog_dir, f"SELECT count(*) AS n FROM instances AT (VERSION => {pinned})")["n"].to_pylist() == [2]


def test_unknown_table_error_lists_valid_names(catalog_dir):
    with Catalog.open(catalog_dir) as catalog:
        with pytest.raises(KeyError, match="valid tables: repos, candidates"):
            catalog.upsert("candidate", [candidate(1)])
        with pytest.raises(KeyError, match="valid tables"):
            catalog.read("nope")


def test_read_only_rejects_writes_and_missing_catalog(catalog_dir):
    with pytest.raises(CatalogError, match="no catalog at"):
        Catalog.open(catalog_dir, read_only=True)
    Catalog.open(catalog_dir).close()
    with Catalog.open(catalog_dir, read_only=True) as reader:
        with pytest.raises(CatalogError, match="read_only"):
            reader.upsert("candidates", [candidate(1)])
        assert reader.sql("SELECT count(*) AS n FROM candidates")["n"].to_pylist() == [0]


def test_column_added_to_a_record_is_added_to_the_table(catalog_dir):
    with Catalog.open(catalog_dir) as catalog:
        catalog.upsert("candidates", [candidate(1)])
        catalog.sql("ALTER TABLE candidates DROP COLUMN hints_text")  # as if the field were new
    with Catalog.open(catalog_dir) as catalog:
        catalog.upsert("candidates", [candidate(2, hints_text="h")])
        rows = catalog.sql("SELECT instance_id, hints_text FROM candidates ORDER BY 1").to_pylist()
    assert rows == [{"instance_id": "acme__widgets-1", "hints_text": None}, {"instance_id": "acme__widgets-2", "hints_text": "h"}]


def test_records_read_back_equal_what_was_written(catalog_dir):
    rows = [candidate(i, pr_number=i, issue_numbers=[i, i + 1]) for i in range(5)]
    with Catalog.open(catalog_dir) as catalog:
        catalog.upsert("candidates", rows)
        assert catalog.records("candidates") == rows


def test_each_upsert_is_one_snapshot_with_a_commit_message(catalog_dir):
    with Catalog.open(catalog_dir) as catalog:
        start = catalog.version()
        catalog.upsert("candidates", [candidate(1), candidate(2)])
        catalog.upsert("instances", [instance(candidate(1))])
        snaps = catalog.snapshots().to_pylist()
    assert catalog_dir.exists() and [s["snapshot_id"] for s in snaps[-2:]] == [start + 1, start + 2]
    assert [(s["author"], s["commit_message"]) for s in snaps[-2:]] == [
        ("envmine", "upsert candidates: 2 rows"),
        ("envmine", "upsert instances: 1 rows"),
    ]


def test_compact_merges_files_and_keeps_pinned_versions(catalog_dir):
    with Catalog.open(catalog_dir) as catalog:
        for b in range(4):  # batches above the inlining limit, so each one writes a Parquet file
            catalog.upsert("candidates", [candidate(f"{b}-{i}") for i in range(20)])
        catalog.upsert("candidates", [candidate("0-1", hints_text="changed")])
        pinned = catalog.version()
        before = catalog.read("candidates")
        files = lambda: catalog.sql("SELECT count(*) AS n FROM ducklake_list_files('lake', 'candidates')")["n"][0].as_py()  # noqa: E731
        assert files() >= 4
        assert catalog.compact() > pinned
        assert files() == 1
        assert catalog.read("candidates").equals(before)
        assert catalog.read("candidates", pinned).equals(before)


def test_copied_catalog_folder_opens_where_it_lies(tmp_path):
    original = tmp_path / "it's a catalog"
    with Catalog.open(original) as catalog:
        catalog.upsert("candidates", [candidate(1)])
        pinned = catalog.version()
        catalog.upsert("candidates", [candidate(2)])
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    with Catalog.open(copy) as catalog:
        catalog.upsert("candidates", [candidate(3)])
        assert catalog.keys("candidates") == {"acme__widgets-1", "acme__widgets-2", "acme__widgets-3"}
        assert catalog.read("candidates", pinned)["instance_id"].to_pylist() == ["acme__widgets-1"]
    assert run_sql(original, "SELECT count(*) AS n FROM candidates")["n"].to_pylist() == [2]


def test_commit_writes_tables_together_and_retracts_an_old_verdict(catalog_dir):
    from envmine.testing.lake_records import reject

    cand = candidate(7)
    with Catalog.open(catalog_dir) as cat:
        cat.upsert("rejects", [reject("validate", "flaky", cand.instance_id)])
        before = cat.version()
        written = cat.commit({"instances": [instance(cand)], "validations": [run(cand, "before", {"t": "FAILED"})]},
                             retract={"rejects": [f"build:{cand.instance_id}", f"validate:{cand.instance_id}"]})
        assert written == 2
        assert cat.version() == before + 1  # one snapshot for the whole outcome
        assert cat.keys("instances") == {cand.instance_id}
        assert cat.keys("rejects") == set()
        cat.commit({"rejects": [reject("validate", "timeout", cand.instance_id)]},
                   retract={"instances": [cand.instance_id]})
        assert cat.keys("instances") == set()
        assert cat.sql("SELECT reason FROM rejects").column("reason").to_pylist() == ["timeout"]
        with pytest.raises(KeyError):
            cat.commit({}, retract={"nope": ["x"]})
