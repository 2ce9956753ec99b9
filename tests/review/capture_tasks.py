"""Capture real tasks from a catalog for the review tests (instances, their validation runs and
builds, logs as stored):

    .venv/bin/python tests/review/capture_tasks.py /work/home-14 tests/review/fixtures/default_tasks.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from envmine.warehouse.catalog import Catalog

TABLES = ("instances", "validations", "builds")
MAX_LOG = 3000


def capture(home: Path) -> dict[str, list[dict]]:
    with Catalog.open(home / "catalog", read_only=True) as catalog:
        out = {table: [r.model_dump(mode="json") for r in catalog.records(table)] for table in TABLES}
    for row in out["builds"]:
        row["log"] = row["log"][-MAX_LOG:]
    return out


if __name__ == "__main__":
    data = capture(Path(sys.argv[1]))
    Path(sys.argv[2]).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print({table: len(rows) for table, rows in data.items()})
