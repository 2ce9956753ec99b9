"""Where the catalog lives and how its writers take turns: the embedded default (SQLite metadata
and Parquet files in one folder) or a shared catalog (PostgreSQL metadata, Parquet on an
S3-compatible store) that runs on many machines write at once."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import duckdb

from envmine.settings import CatalogSettings

METADATA_FILE = "metadata.sqlite"
DATA_DIR = "data"
# Where a shared catalog lives (metadata URL, data URL, endpoint; never credentials), remembered
# in the local catalog folder by the run that configured it, for `envmine sql`, exports, ...
STORE_FILE = "store.json"
LOCK_FILE = "writer.lock"
# PostgreSQL advisory lock id that writers of one metadata database take turns on ("envmine").
ADVISORY_LOCK = 0x656E766D696E65
S3_ENV = {"KEY_ID": "AWS_ACCESS_KEY_ID", "SECRET": "AWS_SECRET_ACCESS_KEY", "SESSION_TOKEN": "AWS_SESSION_TOKEN"}


class CatalogError(RuntimeError):
    """The catalog cannot be opened or used as asked."""


def sql_text(text: str) -> str:
    """`text` for use inside a single-quoted SQL literal (ATTACH and LOAD take no parameters)."""
    return text.replace("'", "''")


def metadata_uri(catalog_dir: Path, store: CatalogSettings) -> str:
    if store.metadata:
        return f"ducklake:postgres:{store.metadata}"
    return f"ducklake:sqlite:{catalog_dir / METADATA_FILE}"


def data_path(catalog_dir: Path, store: CatalogSettings) -> str:
    return store.data.rstrip("/") + "/" if store.data else f"{catalog_dir / DATA_DIR}/"


def s3_secret(con: duckdb.DuckDBPyConnection, store: CatalogSettings) -> None:
    """An in-memory DuckDB secret for the object store, its keys read from the environment
    (never stored, logged, or repeated in an error)."""
    found = {option: os.environ[name] for option, name in S3_ENV.items() if os.environ.get(name)}
    options = {**found, "REGION": store.region}
    if store.endpoint_url:
        endpoint = urlsplit(store.endpoint_url)
        options |= {"ENDPOINT": endpoint.netloc, "URL_STYLE": "path",
                    "USE_SSL": "true" if endpoint.scheme == "https" else "false"}
    text = ", ".join(f"{k} '{sql_text(v)}'" if k != "USE_SSL" else f"{k} {v}" for k, v in options.items())
    try:
        con.execute(f"CREATE SECRET envmine_store (TYPE s3, {text})")
    except duckdb.Error:
        raise CatalogError("the object store's credentials were refused by DuckDB (check the "
                           "AWS_* environment variables and endpoint_url)") from None


def location(catalog_dir: Path, store: CatalogSettings | None, remember: bool) -> CatalogSettings:
    """`store` when it names a shared catalog (remembered in the folder when `remember`),
    else the one this folder remembers, else the embedded default."""
    remembered = catalog_dir / STORE_FILE
    if store is not None and (store.metadata or store.data):
        if remember:
            catalog_dir.mkdir(parents=True, exist_ok=True)
            remembered.write_text(store.model_dump_json(include={"metadata", "data", "endpoint_url", "region"}))
        return store
    if remembered.is_file():
        return CatalogSettings.model_validate_json(remembered.read_text())
    return store or CatalogSettings()


class WriterLock:
    """Writers of one catalog take turns, across processes and machines: DuckLake enforces no
    unique key, so two writers that both find a key missing would both add it. Shared catalogs
    use a PostgreSQL advisory lock (released by the server when a writer's connection dies),
    the embedded one a lock file beside its metadata (released by the kernel)."""

    def __init__(self, catalog_dir: Path, store: CatalogSettings) -> None:
        self._pg = None
        self._file = None
        if store.metadata:
            import psycopg

            try:
                self._pg = psycopg.connect(store.metadata, autocommit=True)
            except psycopg.Error as exc:
                raise CatalogError(f"cannot reach the catalog's PostgreSQL: {exc}") from None
        else:
            self._file = (catalog_dir / LOCK_FILE).open("ab")

    @contextmanager
    def held(self) -> Iterator[None]:
        if self._pg is not None:
            self._pg.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK])
            try:
                yield
            finally:
                self._pg.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK])
        else:
            fcntl.flock(self._file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._file, fcntl.LOCK_UN)

    def close(self) -> None:
        for handle in (self._pg, self._file):
            if handle is not None:
                handle.close()
