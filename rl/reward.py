"""The reward: a policy's diff graded by the validators' one grading path (`grade_solution`).

Resolved iff the run is trustworthy (markers, a parsed report, an exit code that agrees, and
the harness's own channels — the pytest guard, the sentinel — agreeing with the report) and
every FAIL_TO_PASS and PASS_TO_PASS test passed. The exit code alone never decides. What the
diff changed in protected paths (test files, runner configuration, start-up hooks, CI) was
undone before the tests ran; those paths are in `Reward.tampering`, for analysts to query and
trainers to penalise.

A sandbox that cannot be started is an infrastructure failure, not the policy's: it is retried
and, when it persists, reported as `infra_error` so evaluation leaves it out of pass@k.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from envmine.builders.engine import EngineError
from envmine.records import TaskInstance, TestRun
from envmine.settings import Settings
from envmine.validators.grading import PatchGrade
from envmine.validators.run import grade_solution

log = logging.getLogger(__name__)
INFRA_ATTEMPTS = 3
INFRA_ERROR = "infra_error"


@dataclass
class Reward:
    reward: float
    resolved: bool
    grade: PatchGrade | None = None
    run: TestRun | None = None
    detail: str = ""
    tampering: list[str] = field(default_factory=list)
    reason: str = ""
    """Why the graded run could not be trusted (`report_forged`, `timeout`, ...), `infra_error`
    when no sandbox could be had, or "" for a trustworthy run."""

def grade_diff(instance: TaskInstance, diff: str, settings: Settings,
               attempts: int = INFRA_ATTEMPTS, backoff_s: float = 2.0) -> Reward:
    """Grade `diff` on `instance` in a fresh sandbox: 1.0 iff resolved."""
    if not diff.strip():
        return Reward(0.0, False, detail="empty patch")
    for attempt in range(1, attempts + 1):
        try:
            run, verdict = grade_solution(instance, diff, settings)
            break
        except EngineError as exc:
            log.warning("grading %s: sandbox failed (attempt %d/%d): %s", instance.instance_id,
                        attempt, attempts, exc)
            if attempt == attempts:
                return Reward(0.0, False, detail=f"sandbox failed {attempts} times: {exc}"[:500],
                              reason=INFRA_ERROR)
            time.sleep(backoff_s * attempt)
    reason = str(verdict.reason or "")
    detail = reason or (
        f"F2P failed: {verdict.fail_to_pass_failed[:5]} P2P failed: {verdict.pass_to_pass_failed[:5]}")
    return Reward(1.0 if verdict.resolved else 0.0, verdict.resolved, verdict, run, detail,
                  tampering=list(run.tampering), reason=reason)
