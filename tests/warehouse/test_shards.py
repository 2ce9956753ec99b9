"""Trainer shards: a pinned version exports the same bytes every time."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from envmine.testing.lake_records import candidate, instance
from envmine.warehouse.catalog import Catalog
from envmine.warehouse.export import MANIFEST, ShardManifest, export_shards, file_sha256, shard_schema


@pytest.fixture
def catalog(catalog_dir):
    with Catalog.open(catalog_dir) as catalog:
        catalog.upsert("instances", [instance(candidate(i)) for i in range(7)])
        yield catalog


def load_manifest(out_dir: Path) -> ShardManifest:
    """A finished export's manifest, every shard checked against its sha256 (as a trainer would)."""
    manifest = ShardManifest.model_validate_json((out_dir / MANIFEST).read_text())
    for shard in manifest.shards:
        actual = file_sha256(out_dir / shard.path)
        if actual != shard.sha256:
            raise ValueError(f"shard {shard.path}: sha256 {actual} != manifest {shard.sha256}")
    return manifest


def shard_bytes(out_dir):
    return {p.name: p.read_bytes() for p in sorted(out_dir.glob("*.parquet"))}


def test_shards_hold_every_row_in_order_with_real_lists(catalog, tmp_path):
    manifest = export_shards(catalog, tmp_path / "s", rows_per_shard=3)
    assert [s.rows for s in manifest.shards] == [3, 3, 1]
    assert [s.path for s in manifest.shards] == [f"instances-0000{i}-of-00003.parquet" for i in range(3)]
    assert manifest.total_rows == 7 and manifest.catalog_version == catalog.version()
    table = pq.read_table(tmp_path / "s" / manifest.shards[0].path)
    assert table.schema.equals(shard_schema())
    assert table["instance_id"].to_pylist() == [f"acme__widgets-{i}" for i in range(3)]
    assert table["PASS_TO_PASS"][0].as_py() == ["tests/test_w.py::test_old", "tests/test_w.py::test_other"]
    assert manifest.shards[2].first_instance_id == manifest.shards[2].last_instance_id == "acme__widgets-6"
    on_disk = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert on_disk["format"] == "envmine-shards/1"
    assert on_disk["columns"]["FAIL_TO_PASS"] == "list<item: string>"
    assert load_manifest(tmp_path / "s") == manifest


def test_reexport_at_pinned_version_is_byte_identical(catalog, tmp_path):
    pinned = catalog.version()
    first = export_shards(catalog, tmp_path / "a", rows_per_shard=4)
    catalog.upsert("instances", [instance(candidate(99)), instance(candidate(0), hints_text="edited")])
    again = export_shards(catalog, tmp_path / "b", version=pinned, rows_per_shard=4)
    assert again == first
    assert shard_bytes(tmp_path / "a") == shard_bytes(tmp_path / "b")
    assert (tmp_path / "a" / "manifest.json").read_text() == (tmp_path / "b" / "manifest.json").read_text()
    latest = export_shards(catalog, tmp_path / "a", rows_per_shard=4)  # replaces the old export
    assert latest.total_rows == 8 and latest.content_sha256 != first.content_sha256
    assert sorted(p.name for p in (tmp_path / "a").glob("*.parquet")) == [s.path for s in latest.shards]


def test_tampered_shard_fails_verification(catalog, tmp_path):
    manifest = export_shards(catalog, tmp_path / "s", rows_per_shard=10)
    shard = tmp_path / "s" / manifest.shards[0].path
    shard.write_bytes(shard.read_bytes() + b"x")
    with pytest.raises(ValueError, match="sha256"):
        load_manifest(tmp_path / "s")


def test_unknown_version_and_empty_export(catalog_dir, tmp_path):
    with Catalog.open(catalog_dir) as catalog:
        with pytest.raises(ValueError, match="no snapshot 999"):
            export_shards(catalog, tmp_path / "x", version=999)
        manifest = export_shards(catalog, tmp_path / "e")
    assert manifest.total_rows == 0 and [s.rows for s in manifest.shards] == [0]


def test_version_from_before_a_record_field_existed_exports_nulls(catalog_dir, tmp_path):
    with Catalog.open(catalog_dir) as catalog:
        catalog.sql("ALTER TABLE instances DROP COLUMN modified_functions")  # as if the field were new
        catalog.sql("INSERT INTO instances BY NAME SELECT 'acme__widgets-1' AS key, 'acme__widgets-1' AS instance_id")
        old = catalog.version()
    with Catalog.open(catalog_dir) as catalog:  # reopening adds the column back
        manifest = export_shards(catalog, tmp_path / "s", version=old)
    table = pq.read_table(tmp_path / "s" / manifest.shards[0].path)
    assert table.schema.equals(shard_schema())
    assert table["modified_functions"].to_pylist() == [None]
    assert table["instance_id"].to_pylist() == ["acme__widgets-1"]
