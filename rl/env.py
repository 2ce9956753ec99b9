"""The Docker environment: an episode's sandbox from the task image, tool calls inside it,
and the reward from a fresh container. Asynchronous: Docker calls run in worker threads, so
many episodes proceed at once; `rollout_groups` sets how many.

A `WarmPool` keeps started sandboxes ready per image, so `reset` need not wait for a
container start. A sandbox serves one episode and is then removed (always: `close` runs in
the scaffold's `finally`, and the pool removes what it still holds when closed).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from contextlib import AbstractContextManager
from dataclasses import dataclass

from envmine.builders import engine, hosts
from envmine.builders.sandbox import Sandbox, sandbox
from envmine.records import TaskInstance
from envmine.rl.reward import grade_diff
from envmine.rl.scaffold import Grade
from envmine.rl.tools import DIFF, ToolBox, execute
from envmine.rl.types import ToolCall, ToolResult
from envmine.settings import DockerHost, Limits, Settings

log = logging.getLogger(__name__)
DIFF_FILE = "/root/envmine-agent.diff"


class SandboxLimitHit(RuntimeError):
    """The episode's sandbox was killed at one of its limits (the message names it: `disk_full`)."""


@dataclass
class _Held:
    box: Sandbox
    cm: AbstractContextManager
    host: DockerHost | None = None
    """The Docker host it runs on (None: the default engine); the episode is graded there."""

    def remove(self) -> None:
        self.cm.__exit__(None, None, None)


def _start(image: str, limits: Limits, user: str, settings: Settings | None = None) -> _Held:
    """A started sandbox of `image`, on the host `hosts.place_image` picks when `settings`
    configure several (the least loaded that holds the image)."""
    host = hosts.place_image(image, settings) if settings is not None else None
    with engine.on_host(host):
        cm = sandbox(image, limits, user=user, network=False)
        return _Held(cm.__enter__(), cm, host)


class WarmPool:
    """Started sandboxes waiting per image; `size` is how many to keep ready for each image
    (placed over `settings`' Docker hosts when given)."""

    def __init__(self, limits: Limits, user: str = "envmine", size: int = 1, settings: Settings | None = None):
        self.limits, self.user, self.size, self.settings = limits, user, size, settings
        self._ready: dict[str, list[_Held]] = defaultdict(list)
        self._refills: set[asyncio.Task] = set()
        self.hits = self.misses = 0

    async def acquire(self, image: str) -> _Held:
        """A ready sandbox of `image`, or a freshly started one; then refill in the background."""
        if self._ready[image]:
            self.hits += 1
            held = self._ready[image].pop()
        else:
            self.misses += 1
            held = await asyncio.to_thread(_start, image, self.limits, self.user, self.settings)
        self.fill(image)
        return held

    def fill(self, image: str) -> None:
        """Start sandboxes of `image` in the background until `size` are ready."""
        missing = self.size - len(self._ready[image]) - sum(1 for t in self._refills if t.get_name() == image)
        for _ in range(max(missing, 0)):
            task = asyncio.get_running_loop().create_task(self._refill(image), name=image)
            self._refills.add(task)
            task.add_done_callback(self._refills.discard)

    async def _refill(self, image: str) -> None:
        try:
            self._ready[image].append(await asyncio.to_thread(_start, image, self.limits, self.user, self.settings))
        except Exception as exc:  # a failed warm start only costs a cold start later
            log.warning("warm pool could not start %s: %s", image, exc)

    async def settle(self) -> None:
        """Wait for the starts under way, so that no event loop ends with one in flight."""
        if self._refills:
            await asyncio.gather(*list(self._refills), return_exceptions=True)

    async def close(self) -> None:
        """Remove every sandbox the pool holds (waiting for starts still under way)."""
        await self.settle()
        for image, held in list(self._ready.items()):
            for h in held:
                await asyncio.to_thread(h.remove)
            held.clear()


class DockerEnvironment:
    """One episode against one curated task (create one per episode)."""

    def __init__(self, settings: Settings, pool: WarmPool | None = None, toolbox: ToolBox | None = None,
                 limits: Limits | None = None):
        self.settings, self.pool = settings, pool
        self.toolbox = toolbox or ToolBox()
        self.limits = limits or settings.validation.limits
        self.instance: TaskInstance | None = None
        self._held: _Held | None = None
        self._host: DockerHost | None = None
        self.last_reward = None

    async def reset(self, instance: TaskInstance) -> None:
        """Start the task's sandbox (from the warm pool when one is ready)."""
        self.instance = instance
        if self.pool is not None:
            self._held = await self.pool.acquire(instance.image)
        else:
            self._held = await asyncio.to_thread(_start, instance.image, self.limits,
                                                 self.settings.docker.sandbox_user, self.settings)
        self._host = self._held.host

    async def step(self, call: ToolCall) -> ToolResult:
        """Run one (canonically named) tool call in the sandbox and return its observation."""
        if self._held is None:
            raise RuntimeError("step() before reset()")
        return await asyncio.to_thread(execute, self.toolbox, self._held.box, call)

    async def diff(self) -> str:
        """The agent's changes to /testbed, as a git diff (new files included)."""
        if self._held is None:
            raise RuntimeError("diff() before reset()")
        box = self._held.box
        # Written to a root-only file and read back whole (exec output is only a tail).
        command = f"{DIFF} > {DIFF_FILE}"
        result = await asyncio.to_thread(box.exec, command, 120, "root")
        if result.limit:
            raise SandboxLimitHit(result.limit)
        data = await asyncio.to_thread(box.read_file, DIFF_FILE)
        if result.exit_code != 0 or data is None:
            raise RuntimeError(f"could not read the agent's diff: exit {result.exit_code}")
        return data.decode("utf-8", errors="replace")

    async def grade(self, answer: str) -> Grade:
        """The agent's diff, applied to a fresh container and graded per test."""
        assert self.instance is not None
        try:
            diff = await self.diff()
        except SandboxLimitHit as hit:  # the policy's doing (e.g. it filled the disk): a 0 with its name
            await self.close()
            return Grade(0.0, False, f"the episode's sandbox was killed at its limit ({hit})", reason=str(hit))
        await self.close()  # free the episode's sandbox before the test run starts another
        reward = await asyncio.to_thread(self._grade_on_host, diff)
        self.last_reward = reward
        return Grade(reward.reward, reward.resolved, reward.detail, reward.tampering, reward.reason, diff)

    def _grade_on_host(self, diff: str):
        """Grade where the episode ran: that host holds the task image."""
        with engine.on_host(self._host):
            return grade_diff(self.instance, diff, self.settings)

    async def close(self) -> None:
        """Remove the episode's sandbox; safe to call twice."""
        held, self._held = self._held, None
        if held is not None:
            await asyncio.to_thread(held.remove)
