"""Grading: FAIL_TO_PASS / PASS_TO_PASS, stability and the verdict of a validation (pure).

The same functions grade a policy's patch in the RL stage (`grade_patch`), so a task is
resolved exactly when validation would have called the gold patch good.

Trust: statuses come only from the machine-readable report that `run.py` read out of the
container, never from the log; a run counts only when the eval script's nonce-stamped start
and end markers were seen and a report was parsed (`TestRun.suite_ran`), and its exit code
must agree with the report.

Semantics (SWE-bench's):
- FAIL_TO_PASS: failed, errored or absent before (a module that cannot be imported before the
  fix has no test entries), and passed in every `after` run.
- PASS_TO_PASS: passed before and passed in every `after` run.
- Skipped tests are in neither list.

Compiled languages (SWE-bench-java's policy, `ValidationSettings.compile_failure_counts_as_fail`):
a test patch that uses an API the fix adds does not compile before the fix, so the `before` run
ends non-zero with no test results at all. When the caller allows it (`before_may_not_compile`)
and the run looks exactly like that (`is_compile_failure`), every test that passes in all
`after` runs is FAIL_TO_PASS and PASS_TO_PASS is empty (no test ran before). The `after` runs
are held to the usual rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from envmine.reasons import Reason
from envmine.records import TestRun, TestStatus

PASS = TestStatus.passed
MISSING = "MISSING"
"""Outcome of a test the run's report does not mention."""
BEFORE_RAN = "ran"
COMPILE_FAILURE = "compile_failure"
"""`Grade.before` (and the instance's provenance `before`) when the tests did not compile before."""


@dataclass
class Grade:
    """The verdict on one candidate's runs."""

    fail_to_pass: list[str] = field(default_factory=list)
    pass_to_pass: list[str] = field(default_factory=list)
    stability: dict[str, float] = field(default_factory=dict)
    """Per test seen after: the share of `after` runs in which it passed."""
    reason: Reason | None = None
    """None when the candidate is a valid task; otherwise why it is rejected."""
    detail: str = ""
    before: str = BEFORE_RAN
    """How the `before` run was read: `ran` (its report), or `compile_failure` (no report: the
    tests could not compile before the fix)."""

    @property
    def ok(self) -> bool:
        return self.reason is None


@dataclass
class PatchGrade:
    """How one patch did against a task's FAIL_TO_PASS and PASS_TO_PASS tests."""

    resolved: bool
    outcomes: dict[str, str]
    """Test id -> its status in the run (`PASSED`, `FAILED`, ...) or `MISSING`."""
    fail_to_pass_passed: list[str] = field(default_factory=list)
    fail_to_pass_failed: list[str] = field(default_factory=list)
    pass_to_pass_passed: list[str] = field(default_factory=list)
    pass_to_pass_failed: list[str] = field(default_factory=list)
    reason: Reason | None = None
    """Why the run itself cannot be trusted (timeout, suite_did_not_run, ...), if it cannot."""


def run_problem(run: TestRun, patch_reasons: dict[str, Reason] | None = None) -> tuple[Reason, str] | None:
    """Why `run` cannot be graded at all, or None when it is trustworthy.

    `patch_reasons` maps a patch name to the reason used when that patch failed to apply.
    """
    reasons = patch_reasons or {"test_patch": Reason.test_patch_failed_to_apply,
                                "patch": Reason.gold_patch_failed_to_apply}
    for name, method in run.patches.items():
        if method == "failed":
            return reasons.get(name, Reason.gold_patch_failed_to_apply), f"{run.phase}: {name} did not apply"
    if run.limit:
        return Reason(run.limit), f"{run.phase}: the sandbox's limit was hit ({run.limit})"
    if run.timed_out:
        return Reason.timeout, f"{run.phase}: tests ran past the time limit"
    if run.forgery:
        return Reason(run.forgery), f"{run.phase}: the report disagrees with the harness's own channel"
    if not run.suite_ran or not run.tests:
        return Reason.suite_did_not_run, f"{run.phase}: no markers or no test results in the report"
    return exit_code_problem(run)


def exit_code_problem(run: TestRun) -> tuple[Reason, str] | None:
    """The report and the exit code must agree: all passed <=> exit 0 (a planted sentinel that
    failed, as it must, counts as a failure)."""
    failing = sorted(t for t, s in run.tests.items() if s in (TestStatus.failed, TestStatus.error))
    failing += ["(sentinel)"] if run.sentinel == "failed" else []
    if not failing and run.exit_code != 0:
        return Reason.exit_code_mismatch, f"{run.phase}: report has no failures but exit code {run.exit_code}"
    if failing and run.exit_code == 0:
        return Reason.exit_code_mismatch, f"{run.phase}: exit code 0 but the report fails {failing[:5]}"
    return None


def is_compile_failure(run: TestRun) -> bool:
    """Whether `run` ended by itself, non-zero, with every patch applied and no test results.

    `exit_code` comes only from the eval script's nonce-stamped end marker, so a run that was
    killed or never finished has none; a timeout does not count either. For a compiled
    language this is a suite that did not compile (the caller decides whether that applies).
    """
    return (run.exit_code is not None and run.exit_code != 0 and not run.timed_out
            and not run.tests and all(method != "failed" for method in run.patches.values()))


def grade(before: TestRun, after_runs: list[TestRun], before_may_not_compile: bool = False) -> Grade:
    """Grade a candidate from its `before` run (test patch only) and its `after` runs.

    With `before_may_not_compile` (a compiled language, and the setting on), a `before` run
    that `is_compile_failure` is graded as "every test failed to compile" instead of rejected.
    """
    if not after_runs:
        raise ValueError("grade needs at least one after run")
    compile_failed = before_may_not_compile and is_compile_failure(before)
    state = COMPILE_FAILURE if compile_failed else BEFORE_RAN
    for run in (*(() if compile_failed else (before,)), *after_runs):
        problem = run_problem(run)
        if problem:
            return Grade(reason=problem[0], detail=problem[1], before=state)
    verdict = _grade_tests(before, after_runs)
    verdict.before = state
    return verdict


def _grade_tests(before: TestRun, after_runs: list[TestRun]) -> Grade:
    """F2P/P2P, flakiness and breakage from trustworthy runs (an empty `before` counts every
    test as not passing before)."""
    after_ids = sorted(set().union(*(run.tests for run in after_runs)))
    stability = {t: _pass_rate(t, after_runs) for t in after_ids}
    flaky = [t for t in after_ids if 0.0 < stability[t] < 1.0 and _relevant(t, before, after_runs)]
    if flaky:
        return Grade(stability=stability, reason=Reason.flaky, detail=f"after runs disagree on {flaky[:5]}")
    broken = sorted(t for t, s in before.tests.items() if s == PASS and stability.get(t, 0.0) == 0.0
                    and not _skipped_after(t, after_runs))
    if broken:
        return Grade(stability=stability, reason=Reason.gold_patch_breaks_tests,
                     detail=f"passed before, fail after: {broken[:5]}")
    fail_to_pass = [t for t in after_ids if stability[t] == 1.0 and before.tests.get(t) != PASS
                    and before.tests.get(t) != TestStatus.skipped]
    pass_to_pass = [t for t in after_ids if stability[t] == 1.0 and before.tests.get(t) == PASS]
    if not fail_to_pass:
        return Grade(pass_to_pass=pass_to_pass, stability=stability, reason=Reason.no_fail_to_pass,
                     detail="no test fails before and passes after")
    return Grade(fail_to_pass=fail_to_pass, pass_to_pass=pass_to_pass, stability=stability)


def grade_patch(fail_to_pass: Iterable[str], pass_to_pass: Iterable[str], run: TestRun) -> PatchGrade:
    """Resolved iff the run is trustworthy and every F2P and every P2P test passed in it."""
    f2p, p2p = list(fail_to_pass), list(pass_to_pass)
    outcomes = {t: str(run.tests.get(t, MISSING)) for t in (*f2p, *p2p)}
    problem = run_problem(run)
    result = PatchGrade(
        resolved=False, outcomes=outcomes,
        fail_to_pass_passed=[t for t in f2p if outcomes[t] == PASS],
        fail_to_pass_failed=[t for t in f2p if outcomes[t] != PASS],
        pass_to_pass_passed=[t for t in p2p if outcomes[t] == PASS],
        pass_to_pass_failed=[t for t in p2p if outcomes[t] != PASS],
        reason=problem[0] if problem else None,
    )
    result.resolved = (problem is None and bool(f2p)
                       and not result.fail_to_pass_failed and not result.pass_to_pass_failed)
    return result


def _pass_rate(test: str, runs: list[TestRun]) -> float:
    return sum(run.tests.get(test) == PASS for run in runs) / len(runs)


def _relevant(test: str, before: TestRun, after_runs: list[TestRun]) -> bool:
    """Would this test be in F2P or P2P if its after runs agreed? (skips are not)."""
    return before.tests.get(test) != TestStatus.skipped and all(
        run.tests.get(test) != TestStatus.skipped for run in after_runs)


def _skipped_after(test: str, after_runs: list[TestRun]) -> bool:
    return all(run.tests.get(test) == TestStatus.skipped for run in after_runs)

