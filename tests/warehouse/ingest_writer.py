"""A writer process for the ingest tests (run as a script, not collected).

    python ingest_writer.py CATALOG_DIR PREFIX COUNT [hold]
        acknowledge COUNT outcomes through `Ingest` (printing `acked N` after each), then
        close (flush) and exit, or with `hold` wait to be killed with nothing flushed.
The store comes from ENVMINE_TEST_STORE (a JSON `[settings.catalog]` table), batching included.
"""

from __future__ import annotations

import json
import os
import sys
import time

from envmine.settings import CatalogSettings
from envmine.testing.lake_records import outcome
from envmine.warehouse.catalog import Catalog
from envmine.warehouse.ingest import Ingest


def main(catalog_dir: str, prefix: str, count: str, mode: str = "close") -> None:
    store = CatalogSettings.model_validate(json.loads(os.environ.get("ENVMINE_TEST_STORE", "{}")))
    with Catalog.open(catalog_dir, store=store) as catalog:
        ingest = Ingest.open(catalog, store)
        for n in range(int(count)):
            ingest.commit(*outcome(n, tests=20, prefix=prefix))
            print(f"acked {n}", flush=True)
        if mode == "hold":
            time.sleep(600)
        ingest.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
