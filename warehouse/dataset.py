"""Datasets that peers load unchanged: the curated set as one split file plus a manifest.

    envmine export --format swebench out/     # SWE-bench's columns: `swebench eval out --gold`
    envmine export --format hf out/           # every field, for `datasets.load_dataset("out")`
    envmine export --format jsonl out/        # every field, one JSON object a line

    out/
      test.parquet | test.jsonl    # the split (`--split`, default `test`, SWE-bench's default)
      README.md                    # a dataset card whose `configs` name the split's file
      manifest.json                # written last: version, files + sha256, refused rows

No Arrow map columns (`stability`, `test_categories`, `provenance` are `list<struct<key, value>>`), timestamps
are ISO 8601 text (`datasets` reads the JSON lines' ones as `2025-03-01 12:00:00`: pyarrow's
JSON reader takes them for timestamps before the card's string type applies), `FAIL_TO_PASS`/`PASS_TO_PASS` are lists of the ids SWE-bench's log parser
reads (see `swebench.py`). `--format swebench` keeps only the rows `swebench eval` can grade;
every row left out is in the manifest's `refused` with its reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import typing
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from envmine.records import TaskInstance
from envmine.warehouse.catalog import Catalog
from envmine.warehouse.export import LABELS, curated_ids, file_sha256, snapshot_time_of, write_labels
from envmine.warehouse.schema import column_type
from envmine.warehouse.swebench import Refused, image_name, swebench_row

FORMATS = ("swebench", "hf", "jsonl")
MANIFEST = "manifest.json"
CARD = "README.md"
SWEBENCH_COLUMNS = (
    "instance_id", "repo", "base_commit", "patch", "test_patch", "problem_statement",
    "hints_text", "created_at", "version", "environment_setup_commit", "FAIL_TO_PASS",
    "PASS_TO_PASS", "image", "image_name", "eval_script", "log_parser", "eval_type", "language",
)
EXTRA_COLUMNS = {"image_name": pa.string(), "log_parser": pa.string(), "eval_type": pa.string(),
                 "grader": pa.string(), "grader_note": pa.string(), "envmine_image": pa.string()}
_SPLIT = re.compile(r"^[A-Za-z0-9_]+$")
Tagger = Callable[[str, str], None]


class DatasetFile(BaseModel):
    path: str
    rows: int
    bytes: int
    sha256: str


class RefusedRow(BaseModel):
    instance_id: str
    reason: str


class DatasetManifest(BaseModel):
    """What was exported, from which catalog version, and what was left out and why."""

    format: str = "envmine-dataset/1"
    dataset_format: str
    """`swebench`, `hf` or `jsonl`."""
    split: str
    catalog_version: int
    snapshot_time: datetime
    total_rows: int
    columns: dict[str, str] = Field(default_factory=dict)
    files: list[DatasetFile] = Field(default_factory=list)
    refused: list[RefusedRow] = Field(default_factory=list)
    """Curated instances not in the files: colliding test ids, no SWE-bench parser, no image."""
    tagged: dict[str, str] = Field(default_factory=dict)
    curated: bool = False
    """Only the `curated` view's instances, with their labels in `labels.parquet`."""
    """envmine image -> SWE-bench image name, for `--tag-swebench-names`."""


def _arrow(name: str, annotation: object) -> pa.DataType:
    if typing.get_origin(annotation) is dict:  # stability, test_categories, provenance
        value = column_type(typing.get_args(annotation)[1]).arrow
        return pa.list_(pa.struct([("key", pa.string()), ("value", value)]))
    if column_type(annotation).arrow == pa.timestamp("us", tz="UTC"):
        return pa.string()
    return column_type(annotation).arrow


def dataset_schema(fmt: str) -> pa.Schema:
    """The columns of format `fmt`: SWE-bench's for `swebench`, every field for the others."""
    hints = typing.get_type_hints(TaskInstance)
    fields = {name: _arrow(name, hints[name]) for name in TaskInstance.model_fields}
    fields.update(EXTRA_COLUMNS)
    names = SWEBENCH_COLUMNS if fmt == "swebench" else tuple(fields)
    return pa.schema([(name, fields[name]) for name in names])


def _rows(instances: list[TaskInstance], fmt: str, tag: Tagger | None,
          refused: list[RefusedRow], tagged: dict[str, str]) -> list[dict]:
    rows = []
    for instance in instances:
        name = image_name(instance.instance_id) if tag is not None else None
        try:
            row = swebench_row(instance, name)
            if fmt == "swebench" and row["grader"] != "swebench":
                raise Refused(instance.instance_id, row["grader_note"])
            if tag is not None:
                tag(instance.image, name)
                tagged[instance.image] = name
        except Refused as exc:
            refused.append(RefusedRow(instance_id=instance.instance_id, reason=exc.reason))
            continue
        rows.append(row)
    return rows


def _feature(name: str, dtype: pa.DataType, indent: str) -> str:
    """One column as a `datasets` feature in the card's YAML (what `Features._to_yaml_list`
    writes), so the JSON lines load with the same types as the Parquet."""
    if pa.types.is_list(dtype) and pa.types.is_struct(dtype.value_type):
        inner = "".join(_feature(f.name, f.type, indent + "    ")
                        for f in dtype.value_type)
        return f"{indent}- name: {name}\n{indent}  list:\n{inner}"
    if pa.types.is_list(dtype):
        return f"{indent}- name: {name}\n{indent}  list: {_dtype(dtype.value_type)}\n"
    return f"{indent}- name: {name}\n{indent}  dtype: {_dtype(dtype)}\n"


def _dtype(dtype: pa.DataType) -> str:
    return {pa.string(): "string", pa.int64(): "int64", pa.float64(): "float64",
            pa.bool_(): "bool"}[dtype]


def _card(split: str, path: str, fmt: str, version: int, schema: pa.Schema) -> str:
    """A dataset card whose YAML `configs` tell `datasets` which file is which split, and whose
    `dataset_info` gives the column types."""
    features = "".join(_feature(f.name, f.type, "  ") for f in schema)
    return (f"---\nconfigs:\n- config_name: default\n  data_files:\n  - split: {split}\n"
            f"    path: {path}\ndataset_info:\n  features:\n{features}---\n\n# envmine export\n\n"
            f"Curated envmine instances at catalog version {version}, format `{fmt}`. `{MANIFEST}` "
            "lists the files, their sha256 and every instance left out with its reason.\n")


def _write(table: pa.Table, path: Path, fmt: str) -> DatasetFile:
    tmp = path.with_name(path.name + ".tmp")
    if fmt == "jsonl":
        with tmp.open("w") as handle:
            for row in table.to_pylist():
                handle.write(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n")
    else:
        pq.write_table(table, tmp, compression="zstd", row_group_size=max(table.num_rows, 1))
    os.replace(tmp, path)
    return DatasetFile(path=path.name, rows=table.num_rows, bytes=path.stat().st_size,
                       sha256=file_sha256(path))


def export_dataset(catalog: Catalog, out_dir: str | Path, fmt: str = "swebench",
                   split: str = "test", version: int | None = None,
                   tag: Tagger | None = None, curated: bool = False) -> DatasetManifest:
    """Write the curated instances at `version` (default: current) in format `fmt` to
    `out_dir`; with `tag(source, target)`, images get their SWE-bench names first."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    if not _SPLIT.match(split):
        raise ValueError(f"split {split!r} must be letters, digits or underscores")
    version = catalog.version() if version is None else int(version)
    snapshot_time = snapshot_time_of(catalog, version)
    instances = catalog.instances(version)
    if curated:
        keep = curated_ids(catalog)
        instances = [i for i in instances if i.instance_id in keep]
    refused: list[RefusedRow] = []
    tagged: dict[str, str] = {}
    schema = dataset_schema(fmt)
    rows = _rows(instances, fmt, tag, refused, tagged)
    table = pa.Table.from_pylist([{k: row[k] for k in schema.names} for row in rows], schema=schema)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).unlink(missing_ok=True)
    for old in (f"{split}.parquet", f"{split}.jsonl"):
        (out_dir / old).unlink(missing_ok=True)
    name = f"{split}.{'jsonl' if fmt == 'jsonl' else 'parquet'}"
    written = _write(table, out_dir / name, fmt)
    (out_dir / CARD).write_text(_card(split, name, fmt, version, schema))
    (out_dir / LABELS).unlink(missing_ok=True)
    if curated:
        write_labels(catalog, set(table.column("instance_id").to_pylist()), out_dir)
    manifest = DatasetManifest(
        dataset_format=fmt, split=split, catalog_version=version, snapshot_time=snapshot_time,
        total_rows=table.num_rows, columns={f.name: str(f.type) for f in schema},
        files=[written], refused=refused, tagged=tagged, curated=curated)
    tmp = out_dir / f"{MANIFEST}.tmp"
    tmp.write_text(manifest.model_dump_json(indent=2) + "\n")
    os.replace(tmp, out_dir / MANIFEST)
    return manifest


def engine_tagger() -> Tagger:
    """Tag through the Docker edge; a missing image refuses the row instead of failing all."""
    from envmine.builders.engine import image_exists, tag_image

    def tag(source: str, target: str) -> None:
        if not image_exists(source):
            raise Refused(target, f"image {source} is not in the local Docker engine")
        tag_image(source, target)

    return tag
