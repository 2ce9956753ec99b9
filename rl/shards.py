"""Stream the curated set's Parquet shards into a trainer as a PyTorch `IterableDataset`.

The order of an epoch is a function of (seed, epoch) only: shards are shuffled, then rows
within each shard. Rank r of W takes positions r, r+W, r+2W, ... of that order; dataloader
worker w of K takes every K-th of the rank's positions. Together the ranks and workers cover
every row exactly once (no overlap, no gap), and each worker reads each shard at most once.

Resuming: every item carries `_epoch` and `_position` (its index in the rank's sequence).
`load_state_dict({"epoch": e, "position": p})` makes the next item exactly position p, for
any number of workers (a `DataLoader` with `batch_size=None` yields the rank's positions in
order, since it takes one item from each worker in turn).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from torch.utils.data import IterableDataset, get_worker_info

from envmine.records import TaskInstance


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


class ShardDataset(IterableDataset):
    """One epoch of the shards' rows per iteration, for one rank (split across workers)."""

    def __init__(self, files: list[str | Path], seed: int = 0, rank: int = 0, world_size: int = 1,
                 shuffle: bool = True, columns: list[str] | None = None, drop_last: bool = False):
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in 0..{world_size - 1}")
        self.files = [str(f) for f in files]
        self.counts = [pq.ParquetFile(f).metadata.num_rows for f in self.files]
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.shuffle, self.columns, self.drop_last = shuffle, columns, drop_last
        self.epoch, self.position = 0, 0

    @classmethod
    def from_manifest(cls, manifest: str | Path, **kwargs: Any) -> ShardDataset:
        """The shards a warehouse export lists (paths relative to the manifest's folder)."""
        path = Path(manifest)
        data = json.loads(path.read_text())
        entries = data.get("files") or data.get("shards") or []
        files = [e if isinstance(e, str) else e["path"] for e in entries]
        dataset = cls([p if Path(p).is_absolute() else path.parent / p for p in files], **kwargs)
        dataset.catalog_version = data.get("version", data.get("catalog_version"))
        return dataset

    def __len__(self) -> int:
        return len(self.rank_order(self.epoch))

    def global_order(self, epoch: int) -> list[tuple[int, int]]:
        """(shard, row) of every row, in this epoch's order (the same on every rank)."""
        shards = list(range(len(self.files)))
        if self.shuffle:
            _rng("shards", self.seed, epoch).shuffle(shards)
        order = []
        for s in shards:
            rows = list(range(self.counts[s]))
            if self.shuffle:
                _rng("rows", self.seed, epoch, s).shuffle(rows)
            order += [(s, r) for r in rows]
        if self.drop_last:
            order = order[:len(order) - len(order) % self.world_size]
        return order

    def rank_order(self, epoch: int) -> list[tuple[int, int]]:
        return self.global_order(epoch)[self.rank::self.world_size]

    def state_dict(self) -> dict[str, int]:
        """Where the main-process iterator stands (with workers, use the items' `_position`)."""
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])

    def set_epoch(self, epoch: int) -> None:
        self.epoch, self.position = epoch, 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        epoch, start = self.epoch, self.position
        order = self.rank_order(epoch)
        mine = range(start + worker, len(order), workers)
        for shard, positions in _by_shard(order, mine):
            # Read the shard once, and make Python rows only of the rows this worker yields.
            table = pq.read_table(self.files[shard], columns=self.columns)
            rows = table.take([order[p][1] for p in positions]).to_pylist()
            for position, item in zip(positions, rows):
                item["_epoch"], item["_position"] = epoch, position
                if info is None:
                    self.position = position + 1
                yield item
        if info is None:
            self.position = 0  # a finished pass starts over (call set_epoch for a new order)


def _by_shard(order: list[tuple[int, int]], positions: range) -> Iterator[tuple[int, list[int]]]:
    """Consecutive runs of `positions` that fall in the same shard (epochs are shard-blocked)."""
    run: list[int] = []
    for position in positions:
        if run and order[run[-1]][0] != order[position][0]:
            yield order[run[-1]][0], run
            run = []
        run.append(position)
    if run:
        yield order[run[-1]][0], run


def to_instance(row: dict[str, Any]) -> TaskInstance:
    """A shard row as a TaskInstance (bookkeeping keys dropped, Arrow maps made dicts, NULLs of
    fields added after the export take their defaults) — the catalog's own row reader."""
    from envmine.warehouse.schema import from_row, table_spec

    return from_row(table_spec("instances"), {k: v for k, v in row.items() if not k.startswith("_")})
