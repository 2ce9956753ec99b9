"""A rerun that sees nothing new writes nothing; `envmine sql` prints every column type.

Real DuckLake catalog in a temporary folder, the real CLI (typer's runner, in process).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from envmine.cli import app
from envmine.records import Reject, Repo
from envmine.testing.lake_records import candidate, instance
from envmine.warehouse.catalog import Catalog

def _repo(at: datetime, cursor: str = "c1") -> Repo:
    return Repo(repo="acme/widgets", source="github", url="https://example.invalid/acme/widgets",
                visited_at=at, cursor=cursor, meta={"size_kb": "10"})


def _reject(at: datetime, detail: str = "") -> Reject:
    return Reject(stage="mine", reason="not_merged", subject="acme__widgets-7", repo="acme/widgets",
                  detail=detail, rejected_at=at)


def test_revisit_with_nothing_new_makes_no_snapshot(catalog_dir):
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with Catalog.open(catalog_dir) as catalog:
        catalog.upsert("repos", [_repo(t0)])
        catalog.upsert("rejects", [_reject(t0)])
        version = catalog.version()
        later = t0 + timedelta(days=3)
        assert catalog.upsert("repos", [_repo(later)]) == 0
        assert catalog.upsert("rejects", [_reject(later)]) == 0
        assert catalog.version() == version
        # The stamp kept is the first time this content was seen.
        assert catalog.sql("SELECT visited_at FROM repos")["visited_at"].to_pylist() == [t0]
        # A real change is written, with its own time.
        assert catalog.upsert("repos", [_repo(later, cursor="c2")]) == 1
        assert catalog.upsert("rejects", [_reject(later, detail="reopened")]) == 1
        assert catalog.version() == version + 2
        assert catalog.sql("SELECT visited_at FROM repos")["visited_at"].to_pylist() == [later]


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("ENVMINE_HOME", str(home))
    cand = candidate(1)
    with Catalog.open(home / "catalog") as catalog:
        catalog.upsert("candidates", [cand])
        catalog.upsert("instances", [instance(cand)])
        catalog.upsert("rejects", [_reject(datetime(2026, 1, 1, tzinfo=timezone.utc))])
    return home


def _sql(home, query: str, fmt: str):
    result = CliRunner().invoke(app, ["sql", query, "--format", fmt, "--home", str(home)])
    return result


@pytest.mark.parametrize("table", ["instances", "funnel", "candidates", "rejects"])
@pytest.mark.parametrize("fmt", ["csv", "json", "table"])
def test_every_table_prints_in_every_format(home, table, fmt):
    result = _sql(home, f"SELECT * FROM {table}", fmt)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output


def test_csv_writes_lists_and_maps_as_json(home):
    result = _sql(home, "SELECT instance_id, FAIL_TO_PASS, stability, validated_at FROM instances", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert len(rows) == 1
    assert json.loads(rows[0]["FAIL_TO_PASS"]) == ["tests/test_w.py::test_w"]
    assert json.loads(rows[0]["stability"]) == {"tests/test_w.py::test_w": 1.0, "tests/test_w.py::test_old": 1.0}
    assert rows[0]["validated_at"] == "2025-03-01T12:00:00+00:00"


def test_json_writes_maps_as_objects(home):
    result = _sql(home, "SELECT rejects_by_reason FROM funnel", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert all(isinstance(r["rejects_by_reason"], dict) for r in rows)
    assert {"mine:not_merged": 1} in [r["rejects_by_reason"] for r in rows]


def test_odd_types_print_in_csv(home):
    query = ("SELECT {'a': [1, 2]} AS s, [MAP {'k': 1}] AS lm, 1.5::DECIMAL(4,2) AS d, "
             "INTERVAL 3 DAY AS i, NULL AS n, DATE '2026-01-02' AS day")
    result = _sql(home, query, "csv")
    assert result.exit_code == 0, result.output
    row = next(csv.DictReader(io.StringIO(result.output)))
    assert json.loads(row["s"]) == {"a": [1, 2]}
    assert json.loads(row["lm"]) == [{"k": 1}]
    assert row["d"] == "1.50" and row["n"] == "" and row["day"] == "2026-01-02"


@pytest.mark.parametrize("query", ["SELEC [x] nonsense", "SELECT * FROM no_such_table",
                                   "SELECT 'a'::INT", "DELETE FROM instances", "[red]x[/red"])
def test_bad_query_is_one_message_and_exit_1(home, query):
    result = _sql(home, query, "table")
    assert result.exit_code == 1
    assert "query failed" in result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


def test_compact_command_puts_inlined_rows_into_parquet_files_other_tools_read(home):
    import pyarrow.parquet as pq

    files = "SELECT data_file FROM ducklake_list_files('lake', 'instances')"
    with Catalog.open(home / "catalog", read_only=True) as catalog:
        assert catalog.sql(files).num_rows == 0  # one small write: inlined in the metadata
        ids, pinned = catalog.sql("SELECT instance_id FROM instances")["instance_id"].to_pylist(), catalog.version()
        before = catalog.read("instances", pinned)
    result = CliRunner().invoke(app, ["compact"])
    assert result.exit_code == 0, result.output
    assert f"version {pinned} -> " in result.output and "instances 1" in result.output
    with Catalog.open(home / "catalog", read_only=True) as catalog:
        paths = catalog.sql(files)["data_file"].to_pylist()
        assert catalog.read("instances", pinned).equals(before)  # a pinned version reads the same
    assert [row for path in paths for row in pq.read_table(path)["instance_id"].to_pylist()] == ids == ["acme__widgets-1"]


def test_compact_command_on_a_home_without_a_catalog_says_so_and_creates_none(tmp_path, monkeypatch):
    monkeypatch.setenv("ENVMINE_HOME", str(tmp_path / "empty"))
    result = CliRunner().invoke(app, ["compact"])
    assert result.exit_code == 1 and "compact failed" in result.output and "no catalog" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "empty" / "catalog").exists()
