"""A writer process for the concurrency and crash tests (run as a script, not collected).

    python lake_writer.py CATALOG_DIR loop PREFIX BATCHES BATCH_SIZE
        upsert BATCHES batches of BATCH_SIZE new candidates, one transaction each
    python lake_writer.py CATALOG_DIR gated PREFIX BATCHES BATCH_SIZE GATE_DIR
        like loop, but after half the batches writes GATE_DIR/half and waits (up to 120 s)
        for GATE_DIR/go before committing the rest (a reader is sure to overlap the writer)
    python lake_writer.py CATALOG_DIR crash-at-commit PREFIX BATCH_SIZE
        upsert one batch, but end the process (os._exit) when the transaction is about to
        commit: the delete and the insert have run, nothing is committed
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from envmine.testing.lake_records import candidate
from envmine.warehouse.catalog import Catalog

CRASH_EXIT = 17


class CrashAtCommit:
    """Wraps the DuckDB connection (the process edge, not project code): dies on COMMIT."""

    def __init__(self, con):
        self._con = con

    def execute(self, query, *args):
        if query.strip().upper() == "COMMIT":
            os._exit(CRASH_EXIT)
        return self._con.execute(query, *args)

    def __getattr__(self, name):
        return getattr(self._con, name)


def _wait_at_gate(gate: Path) -> None:
    (gate / "half").touch()
    for _ in range(1200):
        if (gate / "go").exists():
            return
        time.sleep(0.1)
    raise SystemExit("gate never opened")


def main(catalog_dir: str, mode: str, prefix: str, *sizes: str) -> None:
    with Catalog.open(catalog_dir) as catalog:
        if mode in ("loop", "gated"):
            batches, size = int(sizes[0]), int(sizes[1])
            for b in range(batches):
                if mode == "gated" and b == batches // 2:
                    _wait_at_gate(Path(sizes[2]))
                catalog.upsert("candidates", [candidate(f"{prefix}{b}x{i}") for i in range(size)])
                print(f"committed {b}", flush=True)
        elif mode == "crash-at-commit":
            catalog._con = CrashAtCommit(catalog._con)
            catalog.upsert("candidates", [candidate(f"{prefix}{i}", hints_text="crash") for i in range(int(sizes[0]))])
        else:
            raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(*sys.argv[1:])
