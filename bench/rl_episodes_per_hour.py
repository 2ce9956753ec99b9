"""Episodes per hour at several concurrencies: the gold policy on the RL tests' real task.

    python bench/rl_episodes_per_hour.py [--concurrency 1 2 4] [--episodes 8] [--warm-pool 0]

Every episode is a full one: sandbox start, three tool calls, the diff, and grading in a
fresh container (the task's pytest run).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from envmine.rl.evaluate import run_evaluation
from envmine.settings import Settings


def _task(settings: Settings):
    from envmine.testing.rl_task import validated_task

    return validated_task(Path(tempfile.mkdtemp()), settings)


def main(levels: list[int], episodes: int, warm_pool: int) -> None:
    settings = Settings.load(home=tempfile.mkdtemp())
    task = _task(settings)
    print(f"{'concurrency':>11} {'episodes':>8} {'seconds':>8} {'episodes/hour':>13} {'mean reward':>11}")
    for level in levels:
        start = time.perf_counter()
        groups = asyncio.run(run_evaluation([task], "gold", settings, k=episodes, concurrency=level,
                                            warm_pool=warm_pool))
        elapsed = time.perf_counter() - start
        rewards = [t.reward for t in groups[0]]
        print(f"{level:>11} {episodes:>8} {elapsed:>8.1f} {episodes / elapsed * 3600:>13.0f} "
              f"{sum(rewards) / len(rewards):>11.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--warm-pool", type=int, default=0)
    args = parser.parse_args()
    main(args.concurrency, args.episodes, args.warm_pool)
