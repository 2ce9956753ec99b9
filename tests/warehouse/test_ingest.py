"""Batched ingest: an acknowledged outcome is durable (a SIGKILLed writer's spool is replayed),
batches flush by count and by time, and merged outcomes mean what they meant one by one."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from envmine.settings import CatalogSettings
from envmine.testing.lake_records import candidate, instance, outcome, reject
from envmine.warehouse.catalog import Catalog
from envmine.warehouse.ingest import SPOOL_DIR, Ingest

WRITER = str(Path(__file__).parent / "ingest_writer.py")


def start_writer(catalog_dir, prefix, count, *mode, store=None) -> subprocess.Popen:
    env = {**os.environ, "ENVMINE_TEST_STORE": json.dumps(store or {})}
    return subprocess.Popen([sys.executable, WRITER, str(catalog_dir), prefix, str(count), *mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_for_line(process: subprocess.Popen, line: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = process.stdout.readline()
        if got.strip() == line:
            return
        if not got and process.poll() is not None:
            raise AssertionError(f"writer exited {process.returncode}: {process.stderr.read()}")
    raise AssertionError(f"writer never printed {line!r}")


def counts(catalog_dir, store=None) -> dict[str, int]:
    with Catalog.open(catalog_dir, read_only=True, store=store) as catalog:
        return catalog.sql("SELECT (SELECT count(*) FROM instances) AS instances, "
                           "(SELECT count(DISTINCT key) FROM instances) AS distinct_instances, "
                           "(SELECT count(*) FROM validations) AS validations").to_pylist()[0]


def test_batches_flush_by_count(catalog_dir):
    store = CatalogSettings(batch_outcomes=5, batch_seconds=3600)
    with Catalog.open(catalog_dir) as catalog, Ingest.open(catalog, store) as ingest:
        start = catalog.version()
        for n in range(12):
            ingest.commit(*outcome(n, tests=3))
        # two batches of five reached the lake as two snapshots; two outcomes wait in the spool
        assert catalog.version() == start + 2
        assert catalog.sql("SELECT count(*) AS n FROM instances")["n"][0].as_py() == 10
    assert counts(catalog_dir) == {"instances": 12, "distinct_instances": 12, "validations": 36}
    assert list((catalog_dir / SPOOL_DIR).iterdir()) == []  # closed cleanly: no spool left


def test_batches_flush_by_time(catalog_dir):
    store = CatalogSettings(batch_outcomes=1000, batch_seconds=0.3)
    with Catalog.open(catalog_dir) as catalog, Ingest.open(catalog, store) as ingest:
        ingest.commit(*outcome(1, tests=3))
        assert catalog.sql("SELECT count(*) AS n FROM instances")["n"][0].as_py() == 0
        deadline = time.monotonic() + 20
        while catalog.sql("SELECT count(*) AS n FROM instances")["n"][0].as_py() == 0:
            assert time.monotonic() < deadline, "the timer never flushed"
            time.sleep(0.05)


def test_compaction_on_schedule_moves_inlined_rows_into_parquet(catalog_dir):
    files = "SELECT count(*) AS n FROM ducklake_list_files('lake', 'validations')"
    with Catalog.open(catalog_dir) as catalog:
        with Ingest.open(catalog, CatalogSettings(batch_outcomes=2, batch_seconds=3600)) as ingest:
            ingest.commit(*outcome(1, tests=3))
            ingest.commit(*outcome(2, tests=3))
        assert catalog.sql(files)["n"][0].as_py() == 0  # small batches stay inlined in the metadata
        with Ingest.open(catalog, CatalogSettings(batch_outcomes=2, batch_seconds=3600, compact_every_s=0.01)) as ingest:
            time.sleep(0.05)
            ingest.commit(*outcome(3, tests=3))
            ingest.commit(*outcome(4, tests=3))
        assert catalog.sql(files)["n"][0].as_py() >= 1
        parquet = catalog.sql("SELECT data_file FROM ducklake_list_files('lake', 'validations')")["data_file"].to_pylist()
    assert sum(pq.read_table(path).num_rows for path in parquet) == 12


def test_merged_batch_keeps_each_outcomes_verdict(catalog_dir):
    """Within one batch, a later verdict replaces an earlier one, in both directions."""
    a, b = candidate("a"), candidate("b")
    store = CatalogSettings(batch_outcomes=1000, batch_seconds=3600)
    with Catalog.open(catalog_dir) as catalog:
        catalog.upsert("rejects", [reject("validate", "suite_did_not_run", b.instance_id)])
        with Ingest.open(catalog, store) as ingest:
            # a: rejected, then validated (the reject is retracted); b: validated, then rejected
            ingest.commit({"rejects": [reject("validate", "suite_did_not_run", a.instance_id)]},
                          {"instances": [a.instance_id]})
            ingest.commit({"instances": [instance(a)]}, {"rejects": [f"validate:{a.instance_id}"]})
            ingest.commit({"instances": [instance(b)]}, {"rejects": [f"validate:{b.instance_id}"]})
            ingest.commit({"rejects": [reject("build", "build_failed", b.instance_id)]},
                          {"instances": [b.instance_id]})
        assert catalog.keys("instances") == {a.instance_id}
        assert catalog.keys("rejects") == {f"build:{b.instance_id}"}


def test_unknown_table_is_refused_before_it_is_acknowledged(catalog_dir):
    with Catalog.open(catalog_dir) as catalog, Ingest.open(catalog, CatalogSettings()) as ingest:
        with pytest.raises(KeyError):
            ingest.commit({"nonsense": []})
        assert ingest.spool_path.read_bytes() == b""


@pytest.mark.slow
def test_acknowledged_outcomes_survive_a_sigkill(catalog_dir):
    """A writer acknowledges 30 outcomes (none flushed: huge batches), is SIGKILLed; the next
    writer replays its spool: all 30 are in the lake once, the spool is gone."""
    Catalog.open(catalog_dir).close()
    store = {"batch_outcomes": 10_000, "batch_seconds": 3600}
    writer = start_writer(catalog_dir, "k", 30, "hold", store=store)
    wait_for_line(writer, "acked 29")
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=30)
    assert counts(catalog_dir)["instances"] == 0  # nothing reached the lake before the kill
    spools = list((catalog_dir / SPOOL_DIR).glob("*.jsonl"))
    assert len(spools) == 1
    with spools[0].open("ab") as torn:  # a write the kill cut short was never acknowledged
        torn.write(b'{"u":{"instances":[{"instance_')
    with Catalog.open(catalog_dir) as catalog, Ingest.open(catalog, CatalogSettings()) as ingest:
        assert not spools[0].exists()
        ingest.flush()
    assert counts(catalog_dir) == {"instances": 30, "distinct_instances": 30, "validations": 90}


@pytest.mark.slow
def test_a_live_writers_spool_is_not_replayed(catalog_dir):
    Catalog.open(catalog_dir).close()
    writer = start_writer(catalog_dir, "live", 5, "hold", store={"batch_outcomes": 10_000, "batch_seconds": 3600})
    try:
        wait_for_line(writer, "acked 4")
        with Catalog.open(catalog_dir) as catalog, Ingest.open(catalog, CatalogSettings()) as ingest:
            assert ingest.replay() == 0
            assert catalog.keys("instances") == set()
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)


@pytest.mark.slow
def test_writer_processes_with_the_same_outcomes_store_each_once(catalog_dir):
    Catalog.open(catalog_dir).close()
    writers = [start_writer(catalog_dir, "same", 20, store={"batch_outcomes": 3}) for _ in range(3)]
    results = [w.communicate(timeout=300) for w in writers]
    assert [w.returncode for w in writers] == [0] * 3, [err[-2000:] for _, err in results]
    assert counts(catalog_dir) == {"instances": 20, "distinct_instances": 20, "validations": 60}
