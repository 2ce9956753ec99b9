"""The reward: the agent's diff applied to a fresh container and graded per test.

The same grader the validators use (`grade_patch`): resolved iff the run is trustworthy
(markers, a parsed report, an exit code that agrees) and every FAIL_TO_PASS and PASS_TO_PASS
test passed. The exit code alone never decides. The task's own test files are restored: any
change the agent made to a file the test patch touches is dropped before grading.
"""

from __future__ import annotations

from dataclasses import dataclass

from envmine.miners.patches import file_diffs
from envmine.records import TaskInstance, TestRun
from envmine.settings import Settings
from envmine.validators.grading import PatchGrade, grade_patch
from envmine.validators.run import run_tests, spec_of


@dataclass
class Reward:
    reward: float
    resolved: bool
    grade: PatchGrade | None = None
    run: TestRun | None = None
    detail: str = ""


def agent_patch(diff: str, test_patch: str) -> str:
    """The agent's diff without the files the task's test patch owns."""
    test_files = {fd.path for fd in file_diffs(test_patch)}
    return "".join(fd.text for fd in file_diffs(diff) if fd.path not in test_files)


def grade_diff(instance: TaskInstance, diff: str, settings: Settings) -> Reward:
    """Apply `diff` and the test patch in a fresh sandbox, run the tests, grade F2P and P2P."""
    patch = agent_patch(diff, instance.test_patch)
    if not patch.strip():
        return Reward(0.0, False, detail="empty patch")
    run = run_tests(instance.image, spec_of(instance), "agent", [patch, instance.test_patch],
                    settings, names=["patch", "test_patch"])
    verdict = grade_patch(instance.FAIL_TO_PASS, instance.PASS_TO_PASS, run)
    detail = str(verdict.reason or "") or (
        f"F2P failed: {verdict.fail_to_pass_failed[:5]} P2P failed: {verdict.pass_to_pass_failed[:5]}")
    return Reward(1.0 if verdict.resolved else 0.0, verdict.resolved, verdict, run, detail)
