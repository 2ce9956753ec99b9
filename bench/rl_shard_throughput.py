"""Shard streaming throughput against a raw pyarrow read of the same files.

    python bench/rl_shard_throughput.py [--rows 20000] [--shards 20] [--workers 0 2]

Writes synthetic instance rows (realistic text sizes) as Parquet shards, then compares rows/s
of `ShardDataset` (iterated directly, and through a DataLoader, one rank) with `pq.read_table(...).to_pylist()`
over the same files (and a plain `pq.read_table`, which makes no Python rows).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from torch.utils.data import DataLoader

from envmine.rl.shards import ShardDataset


def write_shards(root: Path, rows: int, shards: int) -> Path:
    rng = random.Random(0)
    per = rows // shards
    entries = []
    for s in range(shards):
        n = per
        table = pa.table({
            "instance_id": [f"org__repo-{s * per + i}" for i in range(n)],
            "problem_statement": ["".join(rng.choices("abcdefgh \n", k=1500)) for _ in range(n)],
            "patch": ["".join(rng.choices("+-abc \n", k=3000)) for _ in range(n)],
            "FAIL_TO_PASS": [[f"tests/test_x.py::test_{i}"] for i in range(n)],
            "PASS_TO_PASS": [[f"tests/test_y.py::test_{j}" for j in range(20)] for _ in range(n)],
        })
        name = f"instances-{s:05d}-of-{shards:05d}.parquet"
        pq.write_table(table, root / name)
        entries.append({"path": name, "rows": n})
    (root / "manifest.json").write_text(json.dumps({"catalog_version": 1, "shards": entries}))
    return root / "manifest.json"


def timed(fn) -> tuple[int, float]:
    start = time.perf_counter()
    n = fn()
    return n, time.perf_counter() - start


def main(rows: int, shards: int, workers: list[int]) -> None:
    root = Path(tempfile.mkdtemp())
    manifest = write_shards(root, rows, shards)
    files = sorted(root.glob("*.parquet"))
    n, t = timed(lambda: sum(pq.read_table(f).num_rows for f in files))
    print(f"raw pq.read_table:            {n / t:>10.0f} rows/s")
    n, raw_t = timed(lambda: sum(len(pq.read_table(f).to_pylist()) for f in files))
    raw = n / raw_t
    print(f"raw pq.read_table+to_pylist:  {raw:>10.0f} rows/s")
    ds = ShardDataset.from_manifest(manifest, seed=0)
    n, t = timed(lambda: sum(1 for _ in ds))
    print(f"ShardDataset, iterated:       {n / t:>10.0f} rows/s  (ratio to raw+to_pylist {n / t / raw:.2f})")
    for w in workers:
        ds = ShardDataset.from_manifest(manifest, seed=0)
        loader = DataLoader(ds, batch_size=None, num_workers=w, collate_fn=_rows)
        n, t = timed(lambda: sum(1 for _ in loader))
        print(f"DataLoader, {w} workers:       {n / t:>10.0f} rows/s  (ratio to raw+to_pylist {n / t / raw:.2f})")


def _rows(item):
    """Rows pass through as dicts (the default collate walks every list and string)."""
    return item


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--shards", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    args = parser.parse_args()
    main(args.rows, args.shards, args.workers)
