"""Hostile code under test that hits the sandbox's limits: every failure has a name (a reason
code on the run and the reward), nothing crashes the pipeline, nothing is left running."""

from __future__ import annotations

import os

import pytest

from envmine.builders.engine import client
from envmine.reasons import Reason
from envmine.rl.reward import grade_diff
from envmine.testing import scenarios
from envmine.testing import validator_images as vi

pytestmark = [pytest.mark.docker, pytest.mark.hostile]


def with_code(task, code: str, settings=None):
    """The reward of the fix with `code` run at import (graded under `settings`, else the task's)."""
    instance, built, task_settings = task
    diff = vi.diff_of(built.repo, {"calc.py": scenarios.CALC.replace("a - b", "a + b") + "\n\n" + code})
    return grade_diff(instance, diff, settings or task_settings)


def test_memory_bomb_is_named_oom_killed(task):
    reward = with_code(task, "_hog = bytearray(3 * 1024 ** 3)\n")
    assert reward.reward == 0.0 and reward.reason == Reason.oom_killed


def test_filling_the_scratch_disk_is_named_disk_full(task):
    code = ("def _fill():\n"
            "    with open('/tmp/envmine-fill', 'wb') as f:\n"
            "        try:\n"
            "            while True:\n"
            "                f.write(b'0' * (1 << 20))\n"
            "        except OSError:\n"
            "            pass\n"
            "_fill()\n")
    reward = with_code(task, code)
    assert reward.reward == 0.0 and reward.reason == Reason.disk_full


def test_a_huge_report_is_not_read(task):
    code = ("import atexit as _ae, os as _os\n"
            "def _bloat():\n"
            "    with open('/tmp/envmine-results/pytest.xml', 'ab') as f:\n"
            "        f.write(b' ' * (80 << 20))\n"
            "_ae.register(_bloat)\n")
    reward = with_code(task, code)
    assert reward.reward == 0.0 and reward.reason == Reason.report_too_large
    instance = task[0]
    assert client().containers.list(all=True, filters=ours(instance.image)) == []


def ours(image: str) -> dict:
    """Engine filters for this process's containers of `image` (other sessions may run it too)."""
    return {"ancestor": image, "label": f"envmine.pid={os.getpid()}"}


class WriteMeter:
    """The most any container of `image` has written over its image while it ran (the engine's
    SizeRw, asked again as soon as answered: a killed sandbox is removed within ~0.1 s), and
    the data root's filesystem use before and after."""

    def __init__(self, image: str):
        import shutil
        import threading

        self.image, self.peak, self._done = image, 0, threading.Event()
        self._root = client().info()["DockerRootDir"]
        self.used_before = shutil.disk_usage(self._root).used
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.002):
            for found in client().api.containers(all=True, size=True, filters=ours(self.image)):
                self.peak = max(self.peak, int(found.get("SizeRw") or 0))

    def stop(self) -> int:
        """Bytes the data root's filesystem grew by (other writers on the machine included)."""
        import shutil

        self._done.set()
        self._thread.join()
        return shutil.disk_usage(self._root).used - self.used_before


def assert_disk_full_and_bounded(task, code: str) -> None:
    """`code` under a 512 MiB writable disk is named disk_full, and was stopped near the limit."""
    instance, _, settings = task
    limited = settings.model_copy(deep=True)
    limited.validation.limits.writable_disk = "512m"
    meter = WriteMeter(instance.image)
    reward = with_code(task, code, limited)
    assert reward.reward == 0.0 and reward.reason == Reason.disk_full, reward.detail
    growth = meter.stop()
    limit = 512 << 20
    # It wrote past the limit (the attack ran), and the kernel stopped its file one byte past it
    # (RLIMIT_FSIZE; the rest is the run's other files): the disk watch's timing does not count.
    assert limit < meter.peak < limit + (16 << 20), meter.peak
    assert growth < 1 << 30, growth  # what it wrote went with the container
    assert client().containers.list(all=True, filters=ours(instance.image)) == []


def test_writing_3_gib_into_the_testbed_is_named_disk_full(task):
    code = ("import os as _os\n"
            "with open('/testbed/envmine-fill.bin', 'wb') as _f:\n"
            "    for _ in range(3 * 1024):\n"
            "        _f.write(b'0' * (1 << 20))\n")
    assert_disk_full_and_bounded(task, code)


def test_a_1_6_gb_stdout_flood_is_named_disk_full(task):
    # After pytest has ended (its capture undone), straight into the test log's file.
    code = ("import atexit as _ae, os as _os\n"
            "def _flood():\n"
            "    line = b'x' * (1 << 20)\n"
            "    for _ in range(1600):\n"
            "        _os.write(1, line)\n"
            "_ae.register(_flood)\n")
    assert_disk_full_and_bounded(task, code)
