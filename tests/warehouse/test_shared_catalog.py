"""The catalog at scale: PostgreSQL metadata and Parquet on an S3-compatible server (real ones,
started by the `lake_services` fixture): several writer processes at once lose and duplicate
nothing, compaction leaves Parquet files other tools read, pinned versions survive it, and no
credential reaches the catalog."""

import io
import os
import subprocess

import boto3
import pandas as pd
import pyarrow.parquet as pq
import pytest

from envmine.testing.lake_records import outcome
from envmine.warehouse.catalog import Catalog, run_sql
from envmine.warehouse.ingest import Ingest
from envmine.warehouse.local_services import BUCKET, pg_bin
from envmine.warehouse.store import STORE_FILE
from test_ingest import counts, start_writer

pytestmark = pytest.mark.lake


def s3(store):
    return boto3.client("s3", endpoint_url=store.endpoint_url, region_name=store.region)


def parquet_files(store, table: str) -> list[str]:
    prefix = store.data.removeprefix(f"s3://{BUCKET}/") + f"/main/{table}/"
    listed = s3(store).list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return [o["Key"] for o in listed if o["Key"].endswith(".parquet")]


def test_outcomes_land_in_s3_parquet_that_pandas_and_pyarrow_read(tmp_path, shared_store):
    with Catalog.open(tmp_path, store=shared_store) as catalog:
        with Ingest.open(catalog, shared_store.model_copy(update={"batch_outcomes": 16})) as ingest:
            for n in range(40):
                ingest.commit(*outcome(n, tests=50))
        pinned = catalog.version()
        before = catalog.read("validations", pinned)
        catalog.compact()
        assert catalog.read("validations", pinned).equals(before)  # pinned rows survive compaction
    files = parquet_files(shared_store, "validations")
    assert files
    tables = [pq.read_table(io.BytesIO(s3(shared_store).get_object(Bucket=BUCKET, Key=k)["Body"].read())) for k in files]
    frames = [t.to_pandas() for t in tables]
    live = run_sql(tmp_path, "SELECT key FROM validations")  # the folder remembers the shared store
    assert live.num_rows == 120
    assert set(live["key"].to_pylist()) <= set(pd.concat(frames)["key"])
    assert len(frames[0].iloc[0]["tests"]) == 50  # real map columns, 50 statuses per run


def test_writer_processes_at_once_lose_and_duplicate_nothing(tmp_path, shared_store):
    Catalog.open(tmp_path / "first", store=shared_store).close()
    store = shared_store.model_dump() | {"batch_outcomes": 7}
    # each writer has its own machine-local folder (its spool), all share the lake; two of them
    # write the same 40 outcomes (two runs of one config at once): each key is stored once
    writers = [start_writer(tmp_path / f"w{i}", prefix, 40, store=store) for i, prefix in enumerate("aabc")]
    results = [w.communicate(timeout=300) for w in writers]
    assert [w.returncode for w in writers] == [0] * 4, [err[-2000:] for _, err in results]
    assert counts(tmp_path / "first") == {"instances": 120, "distinct_instances": 120, "validations": 360}


def test_no_credential_reaches_the_catalog(tmp_path, shared_store):
    with Catalog.open(tmp_path, store=shared_store) as catalog:
        catalog.commit(outcome(1, tests=2)[0])
    secret = os.environ["AWS_SECRET_ACCESS_KEY"]
    assert secret not in (tmp_path / STORE_FILE).read_text()
    url = shared_store.metadata
    dump = subprocess.run([pg_bin("pg_dump"), "--data-only", url], check=True, capture_output=True, text=True).stdout
    assert "ducklake_snapshot" in dump and secret not in dump and os.environ["AWS_ACCESS_KEY_ID"] not in dump
    # an analyst's query on the same connection sees the key only redacted, and cannot unredact it
    shown = run_sql(tmp_path, "SELECT secret_string FROM duckdb_secrets()")["secret_string"].to_pylist()
    assert shown and all("secret=redacted" in text and secret not in text for text in shown)
    with pytest.raises(Exception, match="unredacted secrets is disabled"):
        run_sql(tmp_path, "SELECT secret_string FROM duckdb_secrets(redact := false)")
