"""Run many episodes at once: groups of rollouts per task under a concurrency limit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from envmine.rl.backends.base import Backend
from envmine.rl.formats import ChatFormat
from envmine.rl.scaffold import Environment, EpisodeLimits, EpisodeSetup, run_episode
from envmine.rl.types import Trajectory


async def rollout_groups(
    tasks: list[Any],
    group_size: int,
    make_env: Callable[[], Environment],
    backend_for: Callable[[Any], Backend],
    fmt: ChatFormat,
    setup_for: Callable[[Any, int], EpisodeSetup],
    limits: EpisodeLimits,
    tokenizer: Any = None,
    concurrency: int = 4,
) -> list[list[Trajectory]]:
    """`group_size` episodes of every task, at most `concurrency` at a time, in task order.

    `setup_for(task, attempt)` gives each attempt its (possibly perturbed) setup;
    `backend_for(task)` lets a scripted policy see its task (a model backend ignores it).
    """
    gate = asyncio.Semaphore(max(concurrency, 1))

    async def one(task: Any, attempt: int) -> Trajectory:
        async with gate:
            return await run_episode(make_env(), task, backend_for(task), fmt,
                                     setup_for(task, attempt), limits, tokenizer)

    jobs = [one(task, a) for task in tasks for a in range(group_size)]
    flat = await asyncio.gather(*jobs)
    return [list(flat[i * group_size:(i + 1) * group_size]) for i in range(len(tasks))]
