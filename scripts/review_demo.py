"""Record real evaluation episodes for the review app's trajectory pages: on one curated task,
the gold policy and a scripted policy that skips a test instead of fixing the code, each in a
real sandbox, graded by the real grader.

    .venv/bin/python scripts/review_demo.py --home /work/home-14 [--instance ID]
"""

from __future__ import annotations

import argparse
import asyncio
import re
from typing import Any

from envmine.records import TaskInstance
from envmine.review.store import record_episodes
from envmine.rl.env import DockerEnvironment
from envmine.rl.formats import get_format
from envmine.rl.policies import edit_turns, gold, scripted
from envmine.rl.rollout import rollout_groups
from envmine.rl.scaffold import EpisodeLimits
from envmine.rl.perturb import setup_for
from envmine.settings import Settings
from envmine.warehouse.catalog import Catalog


class DiffKeepingEnv:
    """A DockerEnvironment that keeps the agent's final diff (read just before grading)."""

    diffs: dict[str, list[str]] = {}

    def __init__(self, settings: Settings) -> None:
        self.inner = DockerEnvironment(settings)

    async def reset(self, instance: Any) -> None:
        self.instance_id = instance.instance_id
        await self.inner.reset(instance)

    async def step(self, call: Any) -> Any:
        return await self.inner.step(call)

    async def grade(self, answer: str) -> Any:
        self.diffs.setdefault(self.instance_id, []).append(await self.inner.diff())
        return await self.inner.grade(answer)

    async def close(self) -> None:
        await self.inner.close()


def skip_a_test(instance: TaskInstance) -> list:
    """Turns that put a skip marker on a test the task's test file already has."""
    path = re.search(r"^diff --git a/(\S+)", instance.test_patch, re.M).group(1)
    line = next(l[1:] for l in instance.test_patch.splitlines() if l.startswith(" def test_"))
    return edit_turns(path, line, "@__import__('pytest').mark.skip\n" + line)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", required=True)
    parser.add_argument("--instance", default="pypi__iniconfig-2.3.0")
    args = parser.parse_args()
    settings = Settings.load(home=args.home)
    with Catalog.open(settings.catalog_dir) as catalog:
        instance = next(i for i in catalog.instances() if i.instance_id == args.instance)
    fmt = get_format("minimax_m2")
    policies = {"gold": gold, "skips-a-test": lambda task: scripted(skip_a_test(task))}
    for name, policy in policies.items():
        groups = asyncio.run(rollout_groups([instance], 1, lambda: DiffKeepingEnv(settings), policy, fmt,
                                            lambda task, attempt: setup_for(task, None), EpisodeLimits(), None, 1))
        diffs = {(instance.instance_id, 0): DiffKeepingEnv.diffs[instance.instance_id].pop()}
        with Catalog.open(settings.catalog_dir) as catalog:
            written = record_episodes(catalog, f"demo-{name}", name, [instance], groups, diffs)
        t = groups[0][0]
        print(f"{name}: reward {t.reward} stop {t.stop_reason} error {t.error!r}; {written} rows")


if __name__ == "__main__":
    main()
