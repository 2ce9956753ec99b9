"""The catalog edge: the only module that opens the DuckLake catalog (Parquet files plus a
SQLite metadata database in one folder by default; PostgreSQL metadata and Parquet on an
S3-compatible object store, shared by writers on many machines, when `[settings.catalog]`
says so).

    with Catalog.open(settings.catalog_dir) as catalog:
        catalog.upsert("candidates", candidates)   # one write = one DuckLake snapshot
        done = catalog.keys("instances")           # skip finished work on a rerun
        catalog.sql("SELECT language, count(*) FROM instances GROUP BY 1")

Writes are idempotent by each record's `key`: a rerun of the same write changes nothing, a
changed record replaces the stored one, and each `upsert` is one transaction (a crash leaves
the previous snapshot intact). Readers open the catalog `read_only=True` and read while a
writer writes; `version()` names a snapshot that `read(table, version)` returns unchanged later.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

from envmine.records import TaskInstance
from envmine.settings import CatalogSettings
from envmine.warehouse.store import (
    DATA_DIR,
    METADATA_FILE,
    CatalogError,
    WriterLock,
    data_path,
    location,
    metadata_uri,
    s3_secret,
    sql_text,
)
from envmine.warehouse.schema import (
    CATALOG_COLUMNS,
    HASH_COLUMN,
    KEY_COLUMN,
    TABLES,
    add_column_sql,
    columns,
    create_table_sql,
    from_row,
    table_spec,
    to_batch,
)
from envmine.warehouse.views import create_views

LAKE = "lake"
EXTENSIONS = {
    "sqlite_scanner": "duckdb_extension_sqlite_scanner",
    "ducklake": "duckdb_extension_ducklake",
    "postgres_scanner": "duckdb_extension_postgres_scanner",
    "httpfs": "duckdb_extension_httpfs",
}
# SQLite lets one writer commit at a time; a second one sees these and tries again later
# (PostgreSQL writers that commit the same snapshot id at once see a conflict or a duplicate key).
RETRYABLE = ("database is locked", "database is busy", "conflict", "sqlite_busy", "duplicate key")
AUTHOR = "envmine"
# Inlined rows to Parquet, then files with deleted rows rewritten, then small files merged.
COMPACTION = (
    "CALL ducklake_flush_inlined_data(?)",
    "CALL ducklake_rewrite_data_files(?, delete_threshold => 0.0)",
    "CALL ducklake_merge_adjacent_files(?)",
)
T = TypeVar("T")


def extension_path(name: str) -> Path:
    """The extension file shipped in the `duckdb-extension-<name>` wheel for this DuckDB."""
    package = EXTENSIONS[name]
    version = f"v{duckdb.__version__}"
    path = Path(str(resources.files(package))) / "extensions" / version / f"{name}.duckdb_extension"
    if not path.is_file():
        raise CatalogError(f"{package} has no extension for DuckDB {version}: {path} is missing")
    return path


def _use_wal(metadata: Path) -> None:
    """Put the SQLite metadata database in WAL mode (persistent), so readers do not wait for
    a writer's commit; only writers then take turns."""
    with sqlite3.connect(metadata) as db:
        db.execute("PRAGMA journal_mode=WAL")
    db.close()


def _connect(catalog_dir: Path, read_only: bool, store: CatalogSettings) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    for name in EXTENSIONS:
        con.execute(f"LOAD '{sql_text(str(extension_path(name)))}'")
    con.execute("SET TimeZone = 'UTC'")
    if store.data:
        s3_secret(con, store)
    # The configured data path always wins, so a moved or copied catalog folder still opens
    # (DuckLake stores file paths relative to DATA_PATH).
    options = (f"DATA_PATH '{sql_text(data_path(catalog_dir, store))}', OVERRIDE_DATA_PATH true"
               + (", READ_ONLY" if read_only else ""))
    try:
        con.execute(f"ATTACH '{sql_text(metadata_uri(catalog_dir, store))}' AS {LAKE} ({options})")
    except duckdb.Error as exc:
        con.close()
        raise CatalogError(f"cannot open the catalog's metadata: {exc}") from None
    con.execute(f"USE {LAKE}")
    return con


def _is_retryable(exc: Exception) -> bool:
    message = str(exc).lower()
    return any(marker in message for marker in RETRYABLE)


class Catalog:
    """A connection to the DuckLake catalog in one folder; use as a context manager."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        catalog_dir: Path,
        read_only: bool,
        max_attempts: int = 40,
        backoff_s: float = 0.02,
        max_backoff_s: float = 1.0,
    ) -> None:
        self._con = con
        self.catalog_dir = catalog_dir
        self.read_only = read_only
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._lock = threading.RLock()
        self._writers: WriterLock | None = None

    @classmethod
    def open(cls, catalog_dir: str | Path, read_only: bool = False,
             store: CatalogSettings | None = None) -> Catalog:
        """Open (a writer creates it and its tables if needed) the catalog in `catalog_dir`, or
        the shared one `store` names (PostgreSQL metadata, S3 data; `catalog_dir` then holds
        the write spool and remembers `store` for later opens that name none)."""
        catalog_dir = Path(catalog_dir).expanduser().resolve()
        store = location(catalog_dir, store, remember=not read_only)
        local = store.metadata is None
        if read_only and local and not (catalog_dir / METADATA_FILE).is_file():
            raise CatalogError(f"no catalog at {catalog_dir} (no {METADATA_FILE}); write to it first")
        if not read_only:
            catalog_dir.mkdir(parents=True, exist_ok=True)
            if not store.data:
                (catalog_dir / DATA_DIR).mkdir(parents=True, exist_ok=True)
            if local:
                _use_wal(catalog_dir / METADATA_FILE)
        catalog = cls(_connect(catalog_dir, read_only, store), catalog_dir, read_only)
        try:
            if read_only:
                catalog._check_tables()
            else:
                catalog._writers = WriterLock(catalog_dir, store)
                catalog._exclusive(catalog._ensure_schema)
            create_views(catalog._con)
        except BaseException:
            catalog.close()
            raise
        return catalog

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None
            if self._writers is not None:
                self._writers.close()
                self._writers = None

    # -- schema -----------------------------------------------------------------------------

    def _existing_columns(self) -> dict[str, set[str]]:
        rows = self._con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_catalog = ? AND table_schema = 'main'",
            [LAKE],
        ).fetchall()
        found: dict[str, set[str]] = {}
        for table, column in rows:
            found.setdefault(table, set()).add(column)
        return found

    def _ensure_schema(self) -> None:
        """Create missing tables and add columns for record fields added since (idempotent)."""
        existing = self._existing_columns()
        statements = []
        for name, spec in TABLES.items():
            if name not in existing:
                statements.append(create_table_sql(spec))
                continue
            statements += [add_column_sql(spec, c) for c in columns(spec) if c not in existing[name]]
        if statements:
            self._in_transaction(lambda: [self._con.execute(s) for s in statements])

    def _check_tables(self) -> None:
        """A read-only connection to a catalog written before a table existed sees that table
        as empty (a temporary one on this connection only), and a column added since as NULLs
        (a temporary view over the stored table, so the analyst views still bind); the next
        writer creates them."""
        existing = self._existing_columns()
        for name, spec in TABLES.items():
            if name not in existing:
                self._con.execute(create_table_sql(spec).replace("CREATE TABLE", "CREATE TEMP TABLE", 1))
                continue
            added = [f'NULL::{col.sql} AS "{c}"' for c, col in columns(spec).items() if c not in existing[name]]
            if added:
                self._con.execute(f'CREATE TEMP VIEW "{name}" AS SELECT *, {", ".join(added)} '
                                  f'FROM {LAKE}.main."{name}"')

    # -- transactions -----------------------------------------------------------------------

    def _in_transaction(self, body: Callable[[], T]) -> T:
        self._con.execute("BEGIN TRANSACTION")
        try:
            result = body()
            self._con.execute("COMMIT")
            return result
        except BaseException:
            try:
                self._con.execute("ROLLBACK")
            except duckdb.Error:
                pass  # the failed statement already ended the transaction
            raise

    def _exclusive(self, attempt: Callable[[], T]) -> T:
        """`attempt` (retried while busy) while this writer holds the catalog's writer lock."""
        with self._writers.held():
            return self._retrying(attempt)

    def _retrying(self, attempt: Callable[[], T]) -> T:
        """Run `attempt`, again with jittered, capped exponential backoff while SQLite is busy
        (its scanner sets no busy timeout, so a second writer fails fast; ~30 s in all)."""
        for number in range(1, self.max_attempts + 1):
            try:
                return attempt()
            except duckdb.Error as exc:
                if number == self.max_attempts or not _is_retryable(exc):
                    raise
                delay = min(self.max_backoff_s, self.backoff_s * 2 ** (number - 1))
                time.sleep(delay * (0.5 + random.random()))
        raise AssertionError("unreachable")

    # -- writes -----------------------------------------------------------------------------

    def upsert(self, table: str, records: Sequence[BaseModel]) -> int:
        """Insert or replace `records` by key in one transaction; returns rows written.

        Records identical to the stored ones are skipped (a rerun writes nothing and makes no
        snapshot); within `records`, the last record of a repeated key wins.
        """
        spec = table_spec(table)
        if self.read_only:
            raise CatalogError("catalog opened read_only; open it with read_only=False to write")
        batch = to_batch(spec, records)
        if batch.num_rows == 0:
            return 0
        with self._lock:
            return self._exclusive(lambda: self._in_transaction(lambda: self._write(table, batch)))

    def commit(self, upserts: dict[str, Sequence[BaseModel]],
               retract: dict[str, Sequence[str]] | None = None) -> int:
        """Upsert several tables and delete rows by key, all in ONE transaction (one snapshot):
        a stage outcome lands whole or not at all, and a rerun's verdict replaces the old one
        (an instance retracts the old reject, and the reverse). Returns rows written."""
        if self.read_only:
            raise CatalogError("catalog opened read_only; open it with read_only=False to write")
        batches = {table: to_batch(table_spec(table), records) for table, records in upserts.items()}
        drops = {table: sorted(set(keys)) for table, keys in (retract or {}).items() if keys}
        for table in drops:
            table_spec(table)

        def work() -> int:
            for table, keys in drops.items():
                self._delete(table, self._stored_keys(table, keys))
            return sum(self._write(table, batch) for table, batch in batches.items() if batch.num_rows)

        with self._lock:
            return self._exclusive(lambda: self._in_transaction(work))

    def _write(self, table: str, batch: pa.Table) -> int:
        self._con.register("envmine_batch", batch)
        try:
            stored = self._con.execute(
                f'SELECT t.{KEY_COLUMN}, t.{HASH_COLUMN} FROM "{table}" AS t '
                f"SEMI JOIN envmine_batch AS b ON t.{KEY_COLUMN} = b.{KEY_COLUMN}"
            ).fetchall()
        finally:
            self._con.unregister("envmine_batch")
        unchanged = {f"{key}\x00{digest}" for key, digest in stored}
        identity = pc.binary_join_element_wise(batch[KEY_COLUMN], batch[HASH_COLUMN], "\x00")
        changed = batch.filter(pc.invert(pc.is_in(identity, pa.array(sorted(unchanged), pa.string()))))
        if changed.num_rows == 0:
            return 0
        # only keys already stored need deleting: a batch of new outcomes deletes nothing
        self._delete(table, {key for key, _ in stored} & set(changed[KEY_COLUMN].to_pylist()))
        self._con.register("envmine_changed", changed)
        try:
            self._con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM envmine_changed')
        finally:
            self._con.unregister("envmine_changed")
        self._con.execute(
            "CALL ducklake_set_commit_message(?, ?, ?)",
            [LAKE, AUTHOR, f"upsert {table}: {changed.num_rows} rows"],
        )
        return changed.num_rows

    def _with_keys(self, keys: Sequence[str] | set[str], query: str) -> list[tuple]:
        """Run `query` with `keys` as the relation `envmine_keys(key)` (a long IN list of
        parameters is slow to plan: hundreds of keys take a second)."""
        self._con.register("envmine_keys", pa.table({KEY_COLUMN: pa.array(sorted(keys), pa.string())}))
        try:
            return self._con.execute(query).fetchall()
        finally:
            self._con.unregister("envmine_keys")

    def _stored_keys(self, table: str, keys: Sequence[str]) -> set[str]:
        query = f'SELECT {KEY_COLUMN} FROM "{table}" WHERE {KEY_COLUMN} IN (SELECT {KEY_COLUMN} FROM envmine_keys)'
        return {key for (key,) in self._with_keys(keys, query)}

    def _delete(self, table: str, keys: set[str]) -> None:
        if keys:
            self._with_keys(keys, f'DELETE FROM "{table}" WHERE {KEY_COLUMN} IN (SELECT {KEY_COLUMN} FROM envmine_keys)')

    def compact(self) -> int:
        """Merge the small files that many small upserts leave behind; returns the new version.

        Older snapshots stay readable (their files are kept): pinned exports are unaffected.
        """
        if self.read_only:
            raise CatalogError("catalog opened read_only; open it with read_only=False to compact")
        with self._lock:
            for call in COMPACTION:
                self._exclusive(lambda: self._con.execute(call, [LAKE]).fetchall())
            return self.version()

    def data_files(self) -> dict[str, int]:
        """How many Parquet data files hold each table's current rows (rows still inlined in
        the metadata are in none: `compact` moves them)."""
        return {name: int(self.sql(f"SELECT count(*) AS n FROM ducklake_list_files('{LAKE}', '{name}')")["n"][0].as_py())
                for name in TABLES}

    # -- reads ------------------------------------------------------------------------------

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pa.Table:
        """Run SQL (tables and views by their plain names) and return the result as Arrow."""
        with self._lock:
            return self._retrying(lambda: self._query(query, params))

    def _query(self, query: str, params: Sequence[Any] | dict[str, Any] | None) -> pa.Table:
        result = self._con.execute(query, params) if params is not None else self._con.execute(query)
        if result.description is None:
            return pa.table({})
        return result.to_arrow_table()

    def version(self) -> int:
        """The current snapshot id: pass it to `read`/`instances`/exports to pin these rows."""
        return int(self.sql(f"SELECT max(snapshot_id) AS v FROM {LAKE}.snapshots()")["v"][0].as_py())

    def snapshots(self) -> pa.Table:
        """Every snapshot: id, time, and what it changed."""
        return self.sql(f"SELECT * FROM {LAKE}.snapshots() ORDER BY snapshot_id")

    def read(self, table: str, version: int | None = None) -> pa.Table:
        """All rows of `table` (at snapshot `version`, default the current one), ordered by key."""
        table_spec(table)
        at = "" if version is None else f" AT (VERSION => {int(version)})"
        return self.sql(f'SELECT * FROM "{table}"{at} ORDER BY {KEY_COLUMN}')

    def keys(self, table: str) -> set[str]:
        """The keys stored in `table`, for skipping finished work."""
        table_spec(table)
        return set(self.sql(f'SELECT {KEY_COLUMN} FROM "{table}"')[KEY_COLUMN].to_pylist())

    def records(self, table: str, version: int | None = None) -> list[BaseModel]:
        """The rows of `table` as their pydantic records."""
        spec = table_spec(table)
        rows = self.read(table, version).drop_columns(list(CATALOG_COLUMNS)).to_pylist()
        return [from_row(spec, row) for row in rows]

    def instances(self, version: int | None = None) -> list[TaskInstance]:
        """The curated task instances (at snapshot `version`), ordered by instance id."""
        return self.records("instances", version)  # type: ignore[return-value]


def run_sql(catalog_dir: str | Path, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pa.Table:
    """Run an analyst's query on a read-only connection (safe while a flow writes)."""
    with Catalog.open(catalog_dir, read_only=True) as catalog:
        return catalog.sql(query, params)
