"""Catalog ingest: outcomes per second through the flow's batched writer (`Ingest`: fsynced
spool, batches into DuckLake) against raw DuckDB appends of the same Arrow rows.

One outcome is what the flow commits per candidate: 1 instance, 1 build, 3 test runs of 200
per-test statuses each, and the retraction of its earlier rejects. The records are made before
the clock starts, for every side alike; the raw sides also get their Arrow rows ready-made
(envmine's side converts records to rows inside the timed part, as the flow does).

Sides, timed in the same run on the same outcomes:
- `raw per outcome`: a plain DuckDB file, one transaction per outcome (its rows, one INSERT
  per table);
- `raw batched`: the same, one transaction per batch of outcomes (the same batch size as
  ingest), their rows concatenated into one INSERT per table;
- `ingest`: `Ingest.commit` per outcome, flushed by count, then `close()` (all in the lake);
- `commit per outcome` (before issue 13): one `Catalog.commit` per outcome.
The two per-outcome sides are timed on the first 200 outcomes only (they are slow).
Rates are outcomes per wall second and per CPU second of this process (all its threads; the
PostgreSQL and S3 servers' own CPU is not counted), so a machine shared with other work still
shows what each side costs.
The ingest side runs on the embedded catalog (SQLite metadata, local Parquet) and, with
`--shared`, on PostgreSQL metadata + Parquet on an S3-compatible server (moto), both started
here as throwaway local services.

    .venv/bin/python bench/catalog_ingest.py [--sizes 1000 10000] [--batch 256] [--shared]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa

from envmine.records import Build, TaskInstance, TestRun
from envmine.settings import CatalogSettings
from envmine.warehouse.catalog import Catalog
from envmine.warehouse.ingest import Ingest
from envmine.warehouse.local_services import create_database, local_lake
from envmine.warehouse.schema import create_table_sql, table_spec, to_batch

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
TABLES = ("instances", "builds", "validations")
PER_OUTCOME_MAX = 200  # the one-transaction-per-outcome sides are slow: timed on the first 200


def outcome(n: int, tests: int = 200) -> tuple[dict, dict]:
    """The flow's per-candidate commit for a made-up validated instance number `n`."""
    iid = f"bench__repo-{n}"
    statuses = {f"tests/test_mod.py::test_{i}": "PASSED" for i in range(tests)}
    inst = TaskInstance(instance_id=iid, repo="bench/repo", base_commit=f"{n}".rjust(40, "a"),
                        patch="--- a/m.py\n+++ b/m.py\n-x\n+y\n", test_patch="--- a/t.py\n+++ b/t.py\n+t\n",
                        problem_statement=f"bug {n}", created_at=T0, FAIL_TO_PASS=["tests/test_mod.py::test_0"],
                        PASS_TO_PASS=list(statuses)[1:], language="python", image=f"envmine/task:{iid}",
                        eval_script="pytest", source="git", runner="pytest", test_command="pytest", validated_at=T0)
    runs = [TestRun(instance_id=iid, phase=p, image="img", exit_code=0, suite_ran=True, tests=statuses, ran_at=T0)
            for p in ("before", "after", "after#2")]
    build = Build(instance_id=iid, layer="task", image=f"envmine/task:{iid}", status="built", built_at=T0)
    upserts = {"builds": [build], "validations": runs, "instances": [inst], "rejects": []}
    return upserts, {"rejects": [f"build:{iid}", f"validate:{iid}"], "instances": []}


class Clock:
    """Wall and CPU seconds (this process, all threads) of the `with` body."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def _raw(outcomes: list[tuple[dict, dict]], folder: Path, batch: int) -> Clock:
    """Append the outcomes' Arrow rows to a plain DuckDB file: `batch` outcomes per
    transaction, their rows concatenated into one INSERT per table."""
    rows = [{t: to_batch(table_spec(t), up[t]) for t in TABLES} for up, _ in outcomes]
    con = duckdb.connect(str(folder / f"raw-{batch}.duckdb"))
    for table in TABLES:
        con.execute(create_table_sql(table_spec(table)))
    with Clock() as clock:
        for first in range(0, len(rows), batch):
            con.execute("BEGIN TRANSACTION")
            for table in TABLES:
                con.register("arrow_rows", pa.concat_tables([one[table] for one in rows[first:first + batch]]))
                con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM arrow_rows')
                con.unregister("arrow_rows")
            con.execute("COMMIT")
    con.close()
    return clock


def _ingest(outcomes: list[tuple[dict, dict]], folder: Path, store: CatalogSettings) -> Clock:
    with Catalog.open(folder, store=store) as catalog:
        with Clock() as clock, Ingest.open(catalog, store) as ingest:
            for upserts, retract in outcomes:
                ingest.commit(upserts, retract)
        stored = catalog.sql("SELECT count(*) AS n FROM validations")["n"][0].as_py()
    if stored != 3 * len(outcomes):
        raise SystemExit(f"ingest stored {stored} runs, expected {3 * len(outcomes)}")
    return clock


def _commit_each(outcomes: list[tuple[dict, dict]], folder: Path) -> Clock:
    with Catalog.open(folder) as catalog, Clock() as clock:
        for upserts, retract in outcomes:
            catalog.commit(upserts, retract)
    return clock


def measure(size: int, batch: int, stores: dict[str, CatalogSettings], work: Path) -> dict:
    outcomes = [outcome(n) for n in range(size)]
    few = outcomes[:min(size, PER_OUTCOME_MAX)]
    clocks = {"raw per outcome": (len(few), _raw(few, work / f"raw{size}", 1)),
              "raw batched": (size, _raw(outcomes, work / f"raw{size}", batch))}
    for name, store in stores.items():
        clocks[f"ingest, {name}"] = (size, _ingest(outcomes, work / f"{name}{size}", store))
    clocks["commit per outcome (before)"] = (len(few), _commit_each(few, work / f"old{size}"))
    return {"outcomes": size, "batch": batch,
            "per_wall_s": {k: round(n / c.wall, 1) for k, (n, c) in clocks.items()},
            "per_cpu_s": {k: round(n / c.cpu, 1) for k, (n, c) in clocks.items()}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--shared", action="store_true", help="also PostgreSQL metadata + S3 data (local services)")
    args = parser.parse_args()
    settings = {"batch_outcomes": args.batch, "batch_seconds": 3600}
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="envmine-ingest-bench-")))
        stores = {"sqlite+local": CatalogSettings(**settings)}
        lake = stack.enter_context(local_lake(work / "lake")) if args.shared else None
        for size in args.sizes:
            (work / f"raw{size}").mkdir(parents=True)
            if lake:
                db = create_database(lake.metadata, f"bench{size}")
                stores["postgresql+s3"] = CatalogSettings(**settings, metadata=db, data=f"{lake.data}/b{size}",
                                                          endpoint_url=lake.endpoint_url)
            print(json.dumps(measure(size, args.batch, stores, work)), flush=True)


if __name__ == "__main__":
    main()
