"""Shard streaming: deterministic per seed, no overlap/no gap across ranks and workers, exact resume."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from torch.utils.data import DataLoader

from envmine.rl.shards import ShardDataset, to_instance

SIZES = [7, 5, 9, 1]  # 22 rows, uneven shards


@pytest.fixture(scope="module")
def shard_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    files, n = [], 0
    for i, size in enumerate(SIZES):
        ids = [f"repo__x-{n + j:03d}" for j in range(size)]
        n += size
        table = pa.table({"instance_id": ids, "FAIL_TO_PASS": [[f"t{k}"] for k in range(size)]})
        name = f"instances-{i:05d}-of-{len(SIZES):05d}.parquet"
        pq.write_table(table, root / name)
        files.append({"path": name, "rows": size})
    (root / "manifest.json").write_text(json.dumps({"catalog_version": 3, "shards": files}))
    return root


def ids(items):
    return [x["instance_id"] for x in items]


def test_manifest_and_deterministic_order(shard_dir):
    a = ShardDataset.from_manifest(shard_dir / "manifest.json", seed=5)
    b = ShardDataset.from_manifest(shard_dir / "manifest.json", seed=5)
    c = ShardDataset.from_manifest(shard_dir / "manifest.json", seed=6)
    assert a.catalog_version == 3 and len(a) == 22
    assert ids(a) == ids(b) and ids(a) != ids(c)
    assert sorted(ids(a)) == [f"repo__x-{i:03d}" for i in range(22)]
    a.set_epoch(1)
    assert ids(a) != ids(b)


@pytest.mark.parametrize("world,workers", [(1, 0), (2, 0), (3, 2), (2, 3), (4, 1)])
def test_ranks_and_workers_cover_everything_once(shard_dir, world, workers):
    reference = ids(ShardDataset.from_manifest(shard_dir / "manifest.json", seed=1))
    seen = []
    for rank in range(world):
        ds = ShardDataset.from_manifest(shard_dir / "manifest.json", seed=1, rank=rank, world_size=world)
        got = ids(DataLoader(ds, batch_size=None, num_workers=workers))
        assert got == reference[rank::world]  # each rank's stream is in global order
        seen += got
    assert sorted(seen) == sorted(reference) and len(seen) == 22


@pytest.mark.parametrize("workers,cut", [(0, 0), (0, 4), (2, 5), (3, 1), (2, 11)])
def test_resume_gives_exactly_the_next_item(shard_dir, workers, cut):
    ds = ShardDataset.from_manifest(shard_dir / "manifest.json", seed=9, rank=1, world_size=2)
    full = list(DataLoader(ds, batch_size=None, num_workers=workers))
    state = {"epoch": full[cut - 1]["_epoch"], "position": full[cut - 1]["_position"] + 1} if cut else {"epoch": 0, "position": 0}
    resumed = ShardDataset.from_manifest(shard_dir / "manifest.json", seed=9, rank=1, world_size=2)
    resumed.load_state_dict(state)
    rest = list(DataLoader(resumed, batch_size=None, num_workers=workers))
    assert ids(full[:cut]) + ids(rest) == ids(full)


def test_main_process_state_dict_tracks_position(shard_dir):
    ds = ShardDataset.from_manifest(shard_dir / "manifest.json", seed=2)
    it = iter(ds)
    first = [next(it) for _ in range(6)]
    state = ds.state_dict()
    assert state == {"epoch": 0, "position": 6}
    again = ShardDataset.from_manifest(shard_dir / "manifest.json", seed=2)
    again.load_state_dict(state)
    assert ids(first) + ids(again) == ids(ShardDataset.from_manifest(shard_dir / "manifest.json", seed=2))


def test_drop_last_gives_equal_ranks(shard_dir):
    lens = [len(ShardDataset.from_manifest(shard_dir / "manifest.json", rank=r, world_size=4, drop_last=True))
            for r in range(4)]
    assert lens == [5, 5, 5, 5]


def test_to_instance_converts_arrow_maps():
    row = {"instance_id": "a__b-1", "repo": "a/b", "base_commit": "abc", "patch": "p", "test_patch": "t",
           "problem_statement": "x", "created_at": "2024-01-01T00:00:00+00:00", "FAIL_TO_PASS": ["t1"],
           "PASS_TO_PASS": [], "language": "python", "image": "img", "eval_script": "", "source": "git",
           "runner": "pytest", "test_command": "pytest", "stability": [("t1", 1.0)], "provenance": None,
           "_epoch": 0, "_position": 3}
    inst = to_instance(row)
    assert inst.stability == {"t1": 1.0} and inst.provenance == {}
