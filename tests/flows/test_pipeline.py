"""The real Prefect flow computes the review stage's quality codes after validation, so they are
in the catalog before anyone opens the review app; a rerun with nothing new writes nothing.

The catalog holds the default config's tasks captured from a real run (tests/review/fixtures);
the flow runs with no sources, so it builds nothing (Docker is still asked for the base image
and for containers left by dead runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from envmine import records
from envmine.flows.pipeline import pipeline
from envmine.warehouse.catalog import Catalog

pytestmark = pytest.mark.docker
CAPTURED = Path(__file__).parents[1] / "review" / "fixtures" / "default_tasks.json"
RECORDS = {"instances": records.TaskInstance, "validations": records.TestRun, "builds": records.Build}


def test_flow_writes_quality_codes_and_a_rerun_writes_nothing(tmp_path, prefect_harness):
    data = json.loads(CAPTURED.read_text())
    with Catalog.open(tmp_path / "catalog") as catalog:
        catalog.commit({table: [RECORDS[table].model_validate(row) for row in rows] for table, rows in data.items()})
        assert catalog.sql("SELECT count(*) AS n FROM quality")["n"][0].as_py() == 0
    counts = pipeline(config={"sources": []}, home=str(tmp_path))
    with Catalog.open(tmp_path / "catalog") as catalog:
        codes = catalog.sql("SELECT code, count(*) AS n FROM quality GROUP BY code ORDER BY code").to_pylist()
        statements = catalog.sql("SELECT count(*) AS n FROM statements WHERE method = 'template'")["n"][0].as_py()
    # the tasks a reviewer should distrust are flagged: leaky statements, import-failure-only F2P
    assert {"code": "f2p_import_failure_only", "n": 2} in codes and {"code": "statement_leaks_fix", "n": 5} in codes
    assert counts["quality_codes"] == sum(row["n"] for row in codes) and statements == len(data["instances"])
    # the run compacted the catalog: every live instance row is in Parquet files pandas reads
    with Catalog.open(tmp_path / "catalog", read_only=True) as catalog:
        files = catalog.sql("SELECT data_file, delete_file FROM ducklake_list_files('lake', 'instances')").to_pylist()
        version = catalog.version()
    assert files and all(f["delete_file"] is None for f in files)
    read = pd.concat([pd.read_parquet(f["data_file"]) for f in files])
    assert sorted(read["instance_id"]) == sorted(row["instance_id"] for row in data["instances"])
    again = pipeline(config={"sources": []}, home=str(tmp_path))
    with Catalog.open(tmp_path / "catalog") as catalog:
        assert catalog.version() == version  # idempotent: no snapshot
    assert again["quality_codes"] == counts["quality_codes"]
