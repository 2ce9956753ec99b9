"""Trainer shards: the curated instances at one pinned catalog version, as Parquet files plus a
manifest, so a trainer gets exactly the same rows later.

    out_dir/
      manifest.json                     # written last: its presence means the export is whole
      instances-00000-of-00003.parquet  # rows ordered by instance_id, `rows_per_shard` each
      ...

Each shard holds the `TaskInstance` fields (SWE-bench names; `FAIL_TO_PASS`/`PASS_TO_PASS` as
list<string>, `stability` and `provenance` as Arrow maps). Exporting the same version again
writes byte-identical shards (same sha256), given the same pyarrow version.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from envmine.warehouse.catalog import Catalog
from envmine.warehouse.schema import CATALOG_COLUMNS, arrow_schema, table_spec

MANIFEST = "manifest.json"
FORMAT = "envmine-shards/1"
TABLE = "instances"
SHARD_PATTERN = "instances-*-of-*.parquet"


class ShardFile(BaseModel):
    """One Parquet shard of an export."""

    path: str
    """File name, relative to the manifest's folder."""
    rows: int
    bytes: int
    sha256: str
    """sha256 of the whole file."""
    first_instance_id: str
    last_instance_id: str


class ShardManifest(BaseModel):
    """What a trainer needs to read (and check) an export: the pinned version and the files."""

    format: str = FORMAT
    table: str = TABLE
    catalog_version: int
    """The catalog snapshot the rows were read at."""
    snapshot_time: datetime
    total_rows: int
    rows_per_shard: int
    columns: dict[str, str] = Field(default_factory=dict)
    """Column name -> Arrow type, as written in every shard."""
    shards: list[ShardFile] = Field(default_factory=list)
    content_sha256: str
    """sha256 over the shards' hashes in order: one value that names the whole export."""
    curated: bool = False
    """Only the `curated` view's instances (the experts' judgments as of the export), with their
    labels in `labels.parquet`."""


LABELS = "labels.parquet"
"""The experts' labels of a `curated` export's instances (one row per instance)."""


def file_sha256(path: Path) -> str:
    """sha256 of a whole file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def shard_schema() -> pa.Schema:
    """The Arrow schema of a shard: the `TaskInstance` fields, without catalog columns."""
    schema = arrow_schema(table_spec(TABLE))
    return pa.schema([f for f in schema if f.name not in CATALOG_COLUMNS])


def _curated_rows(catalog: Catalog, version: int) -> pa.Table:
    table = catalog.read(TABLE, version)
    schema = shard_schema()
    for field in schema:  # a field added to the record after `version` is null in old rows
        if field.name not in table.column_names:
            table = table.append_column(field, pa.nulls(table.num_rows, field.type))
    return table.select(schema.names).cast(schema).sort_by("instance_id")


def _write_shard(rows: pa.Table, path: Path) -> ShardFile:
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(rows, tmp, compression="zstd", row_group_size=max(rows.num_rows, 1))
    os.replace(tmp, path)
    ids = rows["instance_id"]
    return ShardFile(
        path=path.name,
        rows=rows.num_rows,
        bytes=path.stat().st_size,
        sha256=file_sha256(path),
        first_instance_id=ids[0].as_py() if rows.num_rows else "",
        last_instance_id=ids[-1].as_py() if rows.num_rows else "",
    )


def snapshot_time_of(catalog: Catalog, version: int) -> datetime:
    """When catalog snapshot `version` was written; an unknown version is a clear error."""
    found = catalog.sql(
        "SELECT snapshot_time FROM lake.snapshots() WHERE snapshot_id = ?", [version]
    )["snapshot_time"].to_pylist()
    if not found:
        raise ValueError(f"catalog has no snapshot {version}; current is {catalog.version()}")
    return found[0]


def curated_ids(catalog: Catalog) -> set[str]:
    """The instances the `curated` view keeps: validated, not vetoed, not judged unclear or
    invalid by the experts (thresholds: `[settings.review.curated]`)."""
    return set(catalog.sql("SELECT instance_id FROM curated").column(0).to_pylist())


def write_labels(catalog: Catalog, ids: set[str], out_dir: Path) -> Path:
    """The experts' labels (`task_labels`) of the exported instances, beside the export."""
    labels = catalog.sql("SELECT * FROM task_labels ORDER BY instance_id")
    keep = pa.array([i in ids for i in labels.column("instance_id").to_pylist()], pa.bool_())
    path = out_dir / LABELS
    pq.write_table(labels.filter(keep), path)
    return path


def export_shards(
    catalog: Catalog,
    out_dir: str | Path,
    version: int | None = None,
    rows_per_shard: int = 1000,
    curated: bool = False,
) -> ShardManifest:
    """Write the curated instances at `version` (default: current) as Parquet shards plus
    `manifest.json` in `out_dir`; shards of an earlier export there are replaced. With
    `curated`, only the `curated` view's instances, and their labels in `labels.parquet`."""
    if rows_per_shard < 1:
        raise ValueError("rows_per_shard must be at least 1")
    version = catalog.version() if version is None else int(version)
    snapshot_time = snapshot_time_of(catalog, version)
    rows = _curated_rows(catalog, version)
    if curated:
        ids = curated_ids(catalog)
        rows = rows.filter(pa.array([i in ids for i in rows.column("instance_id").to_pylist()], pa.bool_()))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).unlink(missing_ok=True)
    (out_dir / LABELS).unlink(missing_ok=True)
    if curated:
        write_labels(catalog, set(rows.column("instance_id").to_pylist()), out_dir)
    for old in out_dir.glob(SHARD_PATTERN):
        old.unlink()
    count = max(1, -(-rows.num_rows // rows_per_shard))
    shards = [
        _write_shard(
            rows.slice(i * rows_per_shard, rows_per_shard),
            out_dir / f"instances-{i:05d}-of-{count:05d}.parquet",
        )
        for i in range(count)
    ]
    manifest = ShardManifest(
        catalog_version=version,
        snapshot_time=snapshot_time,
        total_rows=rows.num_rows,
        rows_per_shard=rows_per_shard,
        columns={field.name: str(field.type) for field in rows.schema},
        shards=shards,
        content_sha256=hashlib.sha256("".join(s.sha256 for s in shards).encode()).hexdigest(),
        curated=curated,
    )
    tmp = out_dir / f"{MANIFEST}.tmp"
    tmp.write_text(manifest.model_dump_json(indent=2) + "\n")
    os.replace(tmp, out_dir / MANIFEST)
    return manifest
