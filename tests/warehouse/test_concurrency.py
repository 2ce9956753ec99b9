"""Readers read while a writer in another process writes; writers retry on a busy SQLite;
a writer killed mid-transaction leaves the catalog as it was."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envmine.testing.lake_records import candidate
from envmine.warehouse.catalog import Catalog, run_sql

WRITER = str(Path(__file__).parent / "lake_writer.py")
pytestmark = pytest.mark.slow


def start_writer(catalog_dir, *args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, WRITER, str(catalog_dir), *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def count(catalog_dir) -> int:
    return run_sql(catalog_dir, "SELECT count(*) AS n FROM candidates")["n"][0].as_py()


def test_read_only_reader_queries_while_another_process_writes(catalog_dir, tmp_path):
    Catalog.open(catalog_dir).close()
    gate = tmp_path / "gate"
    gate.mkdir()
    writer = start_writer(catalog_dir, "gated", "w", 10, 40, gate)
    for _ in range(1200):  # the writer has committed half its batches and holds the rest
        if (gate / "half").exists() or writer.poll() is not None:
            break
        time.sleep(0.1)
    middle = count(catalog_dir)  # a fresh READ_ONLY connection while the writer process lives
    assert writer.poll() is None and middle == 200
    (gate / "go").touch()
    seen = [middle]
    while writer.poll() is None:
        seen.append(count(catalog_dir))
    out, err = writer.communicate()
    assert writer.returncode == 0, err
    seen.append(count(catalog_dir))
    assert seen[-1] == 400
    assert seen == sorted(seen)  # never goes back
    assert all(n % 40 == 0 for n in seen)  # whole transactions only


def test_long_lived_reader_sees_new_snapshots(catalog_dir):
    with Catalog.open(catalog_dir) as writer, Catalog.open(catalog_dir, read_only=True) as reader:
        before = reader.version()
        writer.upsert("candidates", [candidate(1)])
        assert reader.version() == before + 1
        assert reader.keys("candidates") == {"acme__widgets-1"}


def test_two_writer_processes_both_finish(catalog_dir):
    Catalog.open(catalog_dir).close()
    writers = [start_writer(catalog_dir, "loop", prefix, 8, 25) for prefix in ("a", "b")]
    results = [w.communicate(timeout=240) for w in writers]
    assert [w.returncode for w in writers] == [0, 0], [err for _, err in results]
    assert count(catalog_dir) == 2 * 8 * 25


def test_writer_dying_inside_the_transaction_leaves_no_partial_rows(catalog_dir):
    with Catalog.open(catalog_dir) as catalog:
        catalog.upsert("candidates", [candidate(f"p{i}") for i in range(50)])
        version = catalog.version()
    # same keys as the stored rows (deleted, then re-inserted changed) plus 50 new ones
    writer = start_writer(catalog_dir, "crash-at-commit", "p", 100)
    _, err = writer.communicate(timeout=120)
    assert writer.returncode == 17, err
    with Catalog.open(catalog_dir) as catalog:
        assert catalog.version() == version
        rows = catalog.sql("SELECT count(*) AS n, count(*) FILTER (WHERE hints_text = 'crash') AS crashed FROM candidates").to_pylist()
        assert rows == [{"n": 50, "crashed": 0}]
        # the catalog still takes writes after the crash
        assert catalog.upsert("candidates", [candidate("p1", hints_text="after")]) == 1
        assert catalog.sql("SELECT hints_text FROM candidates WHERE instance_id = 'acme__widgets-p1'")["hints_text"].to_pylist() == ["after"]


def test_writer_killed_at_a_random_moment_leaves_whole_batches(catalog_dir):
    Catalog.open(catalog_dir).close()
    writer = start_writer(catalog_dir, "loop", "k", 1000, 200)
    assert writer.stdout.readline().startswith("committed")  # it is writing
    time.sleep(0.7)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    n = count(catalog_dir)
    assert n > 0 and n % 200 == 0
    with Catalog.open(catalog_dir) as catalog:
        assert catalog.upsert("candidates", [candidate("after-kill")]) == 1
        assert catalog.sql("SELECT count(DISTINCT key) AS k, count(*) AS n FROM candidates").to_pylist() == [{"k": n + 1, "n": n + 1}]
