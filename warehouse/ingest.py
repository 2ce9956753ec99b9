"""Batched, durable catalog writes for the flow's stream of candidate outcomes.

    with Catalog.open(...) as catalog, Ingest.open(catalog, settings.catalog) as ingest:
        ingest.commit({"instances": [...], "validations": [...]}, retract={"rejects": [...]})

One lake transaction per outcome costs a DuckLake snapshot each (~0.1 s); batching many
outcomes into one transaction is what makes ingest keep up with the sandboxes. What
`commit` returning means (the acknowledgement): the outcome is one line of JSON in this
writer's spool file (`<catalog_dir>/spool/`), written and fsynced. The spool is flushed to the
lake as ONE transaction when `batch_outcomes` outcomes are pending, when the oldest pending one
is `batch_seconds` old (a background timer), on `flush()` and on `close()`; then it is
truncated. A writer that dies (SIGKILL, power loss) leaves its spool behind, still locked
until the process is gone; the next `Ingest.open` on that machine replays every unlocked
spool into the lake before anything reads. Replaying is idempotent (upserts of unchanged
records write nothing), so a crash between the lake commit and the truncation duplicates
nothing. A torn last line was never acknowledged and is ignored.

Merged outcomes keep the per-outcome meaning: for each key, the last outcome that touched it
decides (its record, or its retraction), exactly as applying them one by one would.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from pydantic import BaseModel

from envmine.settings import CatalogSettings
from envmine.warehouse.schema import table_spec

SPOOL_DIR = "spool"
SPOOL_SUFFIX = ".jsonl"

Upserts = dict[str, Sequence[BaseModel]]
Retract = dict[str, Sequence[str]]


def _encode(upserts: Upserts, retract: Retract) -> bytes:
    """One outcome as one JSON line (table names checked against the schema first)."""
    for table in [*upserts, *retract]:
        table_spec(table)
    body = ",".join(
        f'{json.dumps(table)}:[{",".join(r.model_dump_json() for r in records)}]'
        for table, records in upserts.items() if records
    )
    drops = json.dumps({table: list(keys) for table, keys in retract.items() if keys})
    return f'{{"u":{{{body}}},"r":{drops}}}\n'.encode()


def _decode(line: bytes) -> tuple[Upserts, Retract]:
    entry = json.loads(line)
    upserts = {table: [table_spec(table).record.model_validate(r) for r in rows] for table, rows in entry["u"].items()}
    return upserts, entry["r"]


def merge(outcomes: Sequence[tuple[Upserts, Retract]]) -> tuple[Upserts, Retract]:
    """Many outcomes as one (upserts, retract) pair: per key, the last outcome decides; within
    one outcome its retractions come before its upserts (as in `Catalog.commit`)."""
    final: dict[str, dict[str, BaseModel | None]] = {}
    for upserts, retract in outcomes:
        for table, keys in retract.items():
            final.setdefault(table, {}).update(dict.fromkeys(keys))
        for table, records in upserts.items():
            final.setdefault(table, {}).update((r.key, r) for r in records)
    merged_upserts = {t: [r for r in rows.values() if r is not None] for t, rows in final.items()}
    merged_retract = {t: [k for k, r in rows.items() if r is None] for t, rows in final.items()}
    return merged_upserts, merged_retract


def _read_spool(path: Path) -> list[tuple[Upserts, Retract]]:
    """The acknowledged outcomes in a spool file (a torn last line was never acknowledged)."""
    lines = path.read_bytes().split(b"\n")
    return [_decode(line) for line in lines[:-1] if line]


def _locked(path: Path) -> IO[bytes] | None:
    """`path` opened and locked, or None while another live process holds it."""
    handle = path.open("ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


class Ingest:
    """Spooled, batched writer over one open `Catalog`; use as a context manager."""

    def __init__(self, catalog, settings: CatalogSettings) -> None:
        self.catalog = catalog
        self.settings = settings
        self.spool_dir = Path(catalog.catalog_dir) / SPOOL_DIR
        self._pending: list[tuple[Upserts, Retract]] = []
        self._oldest = 0.0
        self._last_compaction = time.monotonic()
        self._failure: BaseException | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._spool, self.spool_path = self._create_spool()
        self._timer = threading.Thread(target=self._flush_on_time, name="envmine-ingest", daemon=True)

    @classmethod
    def open(cls, catalog, settings: CatalogSettings) -> Ingest:
        """A writer with its own spool, after replaying the spools that dead writers left."""
        ingest = cls(catalog, settings)
        try:
            ingest.replay()
        except BaseException:
            ingest.close()
            raise
        ingest._timer.start()
        return ingest

    def __enter__(self) -> Ingest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _create_spool(self) -> tuple[IO[bytes], Path]:
        """A new spool file, locked before it gets the name that replay looks for."""
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        temporary = self.spool_dir / f"{name}.new"
        handle = _locked(temporary)
        final = self.spool_dir / f"{name}{SPOOL_SUFFIX}"
        os.rename(temporary, final)
        return handle, final

    def replay(self) -> int:
        """Write the outcomes that dead writers acknowledged but never flushed; returns how many."""
        replayed = 0
        for path in sorted(self.spool_dir.glob(f"*{SPOOL_SUFFIX}")):
            if path == self.spool_path:
                continue
            handle = _locked(path)
            if handle is None:
                continue  # its writer is alive
            with handle:
                outcomes = _read_spool(path)
                if outcomes:
                    self.catalog.commit(*merge(outcomes))
                path.unlink()
            replayed += len(outcomes)
        return replayed

    def commit(self, upserts: Upserts, retract: Retract | None = None) -> None:
        """Acknowledge one outcome: durable in the spool when this returns, in the lake by
        the next flush (raises the error of a failed background flush, if any)."""
        line = _encode(upserts, retract or {})
        with self._lock:
            self._raise_failure()
            self._spool.write(line)
            self._spool.flush()
            os.fdatasync(self._spool.fileno())
            if not self._pending:
                self._oldest = time.monotonic()
            self._pending.append((upserts, retract or {}))
            if len(self._pending) >= self.settings.batch_outcomes:
                self._flush()

    def flush(self) -> None:
        """Write every pending outcome to the lake now, in one transaction."""
        with self._lock:
            self._raise_failure()
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self.catalog.commit(*merge(self._pending))
            self._pending = []
            self._spool.truncate(0)
            os.fsync(self._spool.fileno())
        if time.monotonic() - self._last_compaction >= self.settings.compact_every_s:
            self.catalog.compact()
            self._last_compaction = time.monotonic()

    def _flush_on_time(self) -> None:
        while not self._stop.wait(self.settings.batch_seconds / 4):
            with self._lock:
                due = self._pending and time.monotonic() - self._oldest >= self.settings.batch_seconds
                if due and self._failure is None:
                    try:
                        self._flush()
                    except Exception as exc:  # noqa: BLE001 - handed to the flow's next call
                        self._failure = exc

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def close(self) -> None:
        """Flush and remove the spool (idempotent); if the flush fails the spool stays, for
        the next writer to replay."""
        self._stop.set()
        if self._timer.is_alive():
            self._timer.join()
        with self._lock:
            if self._spool.closed:
                return
            try:
                self._raise_failure()
                self._flush()
                self.spool_path.unlink()
            finally:
                self._spool.close()
