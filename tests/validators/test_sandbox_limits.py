"""Hostile code under test that hits the sandbox's limits: every failure has a name (a reason
code on the run and the reward), nothing crashes the pipeline, nothing is left running."""

from __future__ import annotations

import pytest
import scenarios
import validator_images as vi

from envmine.builders.engine import client
from envmine.reasons import Reason
from envmine.rl.reward import grade_diff

pytestmark = [pytest.mark.docker, pytest.mark.hostile]


def with_code(task, code: str):
    instance, built, settings = task
    diff = vi.diff_of(built.repo, {"calc.py": scenarios.CALC.replace("a - b", "a + b") + "\n\n" + code})
    return grade_diff(instance, diff, settings)


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
    assert client().containers.list(all=True, filters={"ancestor": instance.image}) == []
