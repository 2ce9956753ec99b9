"""The catalog's tables, derived from the pydantic records in `envmine.records`.

One mapping (`TABLES`) names each table, its record type and the fields its key is made of.
Column types come from the records' field annotations, so a field added to a record becomes
a column without being written twice. Every table also has two catalog columns:

- `key`: the record's `key` property, the identity an upsert replaces by;
- `record_hash`: a hash of the record's content, so rewriting an unchanged record is a no-op.

Lists are real lists (`VARCHAR[]`), dicts are real maps (`MAP(VARCHAR, ...)`), enums are
their string values and times are `TIMESTAMPTZ` in UTC.
"""

from __future__ import annotations

import hashlib
import json
import types
import typing
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel

from envmine.records import (
    Annotation,
    Build,
    Candidate,
    Episode,
    EpisodeStep,
    Evaluation,
    GeneratedStatement,
    QualityFlag,
    Reject,
    Repo,
    TaskInstance,
    TestRun,
    Verification,
    dump,
    utcnow,
)

KEY_COLUMN = "key"
HASH_COLUMN = "record_hash"
CATALOG_COLUMNS = (KEY_COLUMN, HASH_COLUMN)


@dataclass(frozen=True)
class TableSpec:
    """A catalog table: its name, the record it stores and the fields its key is made of."""

    name: str
    record: type[BaseModel]
    key_fields: tuple[str, ...]


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec("repos", Repo, ("repo",)),
        TableSpec("candidates", Candidate, ("instance_id",)),
        TableSpec("builds", Build, ("instance_id", "layer", "image")),
        TableSpec("validations", TestRun, ("instance_id", "phase")),
        TableSpec("instances", TaskInstance, ("instance_id",)),
        TableSpec("rejects", Reject, ("stage", "subject")),
        TableSpec("evaluations", Evaluation, ("run_id", "instance_id", "attempt")),
        TableSpec("verifications", Verification, ("run_id", "instance_id")),
        # Experts in the loop (envmine.review): machine codes, statements, judgments, episodes.
        TableSpec("quality", QualityFlag, ("instance_id", "code")),
        TableSpec("statements", GeneratedStatement, ("instance_id", "method")),
        TableSpec("annotations", Annotation, ("annotation_id",)),
        TableSpec("episodes", Episode, ("run_id", "instance_id", "attempt")),
        TableSpec("episode_steps", EpisodeStep, ("run_id", "instance_id", "attempt", "step")),
    )
}


def table_spec(name: str) -> TableSpec:
    """The spec of table `name`; an unknown name's error lists the valid ones."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown catalog table {name!r}; valid tables: {', '.join(TABLES)}") from None


@dataclass(frozen=True)
class ColumnType:
    """One column's type in DuckDB and in Arrow (the batch an upsert inserts from)."""

    sql: str
    arrow: pa.DataType


_SCALARS: dict[type, ColumnType] = {
    bool: ColumnType("BOOLEAN", pa.bool_()),
    int: ColumnType("BIGINT", pa.int64()),
    float: ColumnType("DOUBLE", pa.float64()),
    str: ColumnType("VARCHAR", pa.string()),
    datetime: ColumnType("TIMESTAMPTZ", pa.timestamp("us", tz="UTC")),
}


def column_type(annotation: Any) -> ColumnType:
    """The column type of a pydantic field annotation (Optional unwrapped, enums as text)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [arg for arg in args if arg is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"unsupported union annotation: {annotation!r}")
        return column_type(inner[0])
    if origin is Literal:
        return _SCALARS[str]
    if origin is list:
        item = column_type(args[0])
        return ColumnType(f"{item.sql}[]", pa.list_(item.arrow))
    if origin is dict:
        key, value = column_type(args[0]), column_type(args[1])
        return ColumnType(f"MAP({key.sql}, {value.sql})", pa.map_(key.arrow, value.arrow))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return _SCALARS[str]
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    raise TypeError(f"no catalog column type for annotation {annotation!r}")


def columns(spec: TableSpec) -> dict[str, ColumnType]:
    """The table's columns in order: `key`, the record's fields, `record_hash`."""
    fields = {name: column_type(info.annotation) for name, info in spec.record.model_fields.items()}
    return {KEY_COLUMN: _SCALARS[str], **fields, HASH_COLUMN: _SCALARS[str]}


def arrow_schema(spec: TableSpec) -> pa.Schema:
    """The Arrow schema of a batch of `spec`'s rows."""
    return pa.schema([(name, col.arrow) for name, col in columns(spec).items()])


def create_table_sql(spec: TableSpec) -> str:
    """`CREATE TABLE IF NOT EXISTS` for `spec` (names come from the records, never from input)."""
    body = ",\n  ".join(f'"{name}" {col.sql}' for name, col in columns(spec).items())
    return f'CREATE TABLE IF NOT EXISTS "{spec.name}" (\n  {body}\n)'


def add_column_sql(spec: TableSpec, name: str) -> str:
    """`ALTER TABLE ... ADD COLUMN` for a field that was added to the record later."""
    return f'ALTER TABLE "{spec.name}" ADD COLUMN IF NOT EXISTS "{name}" {columns(spec)[name].sql}'


def record_hash(row: dict[str, Any]) -> str:
    """A stable hash of a record's dumped content."""
    text = json.dumps(row, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def stamp_fields(record: type[BaseModel]) -> frozenset[str]:
    """Fields that only say when a record was made (`visited_at`, `rejected_at`, ...: their
    default is the current time). They are stored but not hashed, so a rerun that observes the
    same thing again rewrites nothing and makes no snapshot; the stored time is the first time
    the row's content was seen."""
    return frozenset(name for name, info in record.model_fields.items() if info.default_factory is utcnow)


def to_row(record: BaseModel) -> dict[str, Any]:
    """A record as a catalog row: its fields plus `key` and `record_hash` (stamps unhashed)."""
    row = dump(record)
    stamps = stamp_fields(type(record))
    content = {k: v for k, v in row.items() if k not in stamps}
    return {KEY_COLUMN: record.key, **row, HASH_COLUMN: record_hash(content)}


def to_batch(spec: TableSpec, records: typing.Sequence[BaseModel]) -> pa.Table:
    """Records as an Arrow table with `spec`'s schema; the last record of a repeated key wins."""
    for record in records:
        if not isinstance(record, spec.record):
            raise TypeError(
                f"table {spec.name!r} stores {spec.record.__name__}, got {type(record).__name__}"
            )
    rows = {record.key: to_row(record) for record in records}
    return pa.Table.from_pylist(list(rows.values()), schema=arrow_schema(spec))


def from_row(spec: TableSpec, row: dict[str, Any]) -> BaseModel:
    """A catalog row (as Arrow's `to_pylist` gives it: maps as pairs) back to its record.

    A NULL in a column added after the row was written (a field added to the record later)
    takes the field's default, so old rows stay readable."""
    fields = spec.record.model_fields
    values = {}
    for name, value in row.items():
        if name not in fields:
            continue
        if value is None and not fields[name].is_required() and fields[name].default is not None:
            continue
        if typing.get_origin(fields[name].annotation) is dict and value is not None:
            value = dict(value)
        values[name] = value
    return spec.record.model_validate(values)
