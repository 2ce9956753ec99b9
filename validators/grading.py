"""Grading: FAIL_TO_PASS / PASS_TO_PASS, stability and the verdict of a validation (pure).

The same functions grade a policy's patch in the RL stage (`grade_patch`), so a task is
resolved exactly when validation would have called the gold patch good.

Trust: statuses come only from the machine-readable report that `run.py` read out of the
container, never from the log; a run counts only when the eval script's nonce-stamped start
and end markers were seen and a report was parsed (`TestRun.suite_ran`), and its exit code
must agree with the report.

Semantics (SWE-bench's, with Multi-SWE-bench's `base` run):
- Three states run: `before` (the test patch only), `after` (test patch + gold patch) and,
  when needed, `base` (neither patch: the repository as it was).
- Each test that passes in every `after` run gets Multi-SWE-bench's category from its `before`
  status: `p2p` (passed), `f2p` (failed or errored), `s2p` (skipped), `n2p` (absent: its module
  could not import or its package could not compile before the fix).
- PASS_TO_PASS: `p2p`, and an `f2p` (errored) or `n2p` test that the test patch neither adds
  nor changes and that passes at `base` too: it has no verdict of its own before (the test
  patch broke its module's import or compile), so it proves nothing about the fix.
- FAIL_TO_PASS: `f2p` tests that failed before, and the other `f2p`/`n2p` tests: the ones the
  test patch adds or changes, or that do not pass at `base`. `s2p` tests are in neither list.
- Flaky: a test that passed in some but not all runs of one state (`before` or `after`) is in
  neither list and is recorded (`Grade.flaky`); the task stays valid while FAIL_TO_PASS
  remains, and is rejected `flaky` only when nothing stable does.

Compiled languages (SWE-bench-java's policy, `ValidationSettings.compile_failure_counts_as_fail`):
a test patch that uses an API the fix adds does not compile before the fix, so the `before` run
ends non-zero with no test results at all. When the caller allows it (`before_may_not_compile`)
and the run looks exactly like that (`is_compile_failure`), the `before` run is graded as
"every test absent" (`n2p`) instead of rejected. The `after` runs are held to the usual rules.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from envmine.reasons import Reason
from envmine.records import TestRun, TestStatus

PASS = TestStatus.passed
MISSING = "MISSING"
"""Outcome of a test the run's report does not mention."""
BEFORE_RAN = "ran"
COMPILE_FAILURE = "compile_failure"
"""`Grade.before` (and the instance's provenance `before`) when the tests did not compile before."""
NO_VERDICT = (TestStatus.error, None)
"""`before` statuses that say nothing about the test itself: it errored outside its body or
was absent (its module did not import, its package did not compile)."""
CATEGORY = {PASS: "p2p", TestStatus.failed: "f2p", TestStatus.error: "f2p", TestStatus.skipped: "s2p", None: "n2p"}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FILE_HEAD = re.compile(r"::| > ")
"""Where a test id that starts with its file (pytest's `::`, the JS runners' ` > `) leaves it."""
_SOURCE_SUFFIXES = (".py", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx")
OUT_OF_MEMORY = re.compile(r"java\.lang\.OutOfMemoryError|\bJava heap space\b|JavaScript heap out of memory"
                           r"|^MemoryError\b|std::bad_alloc", re.M)
"""What runtimes print when a test process runs out of memory (a JVM's heap is a quarter of the
sandbox's memory by default)."""


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
    categories: dict[str, str] = field(default_factory=dict)
    """Per test that passed in every `after` run: `p2p`, `f2p`, `s2p` or `n2p` (Multi-SWE-bench's,
    from its `before` status)."""
    flaky: list[str] = field(default_factory=list)
    """Tests whose repeated runs of one state disagree: left out of both lists."""
    base: str = ""
    """The `base` run, when one was graded: `ran` (its report), `no_results` (it ended without
    any: no test existed yet, or none compiled), "" (not run: no test needed it)."""

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
        if OUT_OF_MEMORY.search(run.log or ""):
            return Reason.test_out_of_memory, (f"{run.phase}: exit code {run.exit_code}, no failure in the report, "
                                               "and a test process ran out of memory")
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


def grade(before: TestRun | Sequence[TestRun], after_runs: list[TestRun], before_may_not_compile: bool = False,
          base: TestRun | None = None, changed: Collection[str] = ()) -> Grade:
    """Grade a candidate from its `before` run(s) (test patch only), its `after` runs and, when
    some test has no verdict before (`needs_base`), its `base` run (neither patch).

    `changed` holds the test ids the test patch adds or changes (`changed_test_ids`). Without a
    `base` run, a test without a verdict before is FAIL_TO_PASS, as SWE-bench counts it. With
    `before_may_not_compile` (a compiled language, and the setting on), a `before` run that
    `is_compile_failure` is graded as "no test compiled" instead of rejected.
    """
    before_runs = [before] if isinstance(before, TestRun) else list(before)
    if not after_runs or not before_runs:
        raise ValueError("grade needs at least one before and one after run")
    compile_failed = before_may_not_compile and all(is_compile_failure(run) for run in before_runs)
    state = COMPILE_FAILURE if compile_failed else BEFORE_RAN
    for run in (*(() if compile_failed else before_runs), *after_runs):
        problem = run_problem(run)
        if problem:
            return Grade(reason=problem[0], detail=problem[1], before=state)
    base_state = _base_state(base)
    if base_state not in ("", "ran", "no_results"):
        return Grade(reason=base_state[0], detail=base_state[1], before=state)
    verdict = _grade_tests(before_runs, after_runs, base, set(changed))
    verdict.before, verdict.base = state, base_state
    return verdict


def _base_state(base: TestRun | None) -> str | tuple[Reason, str]:
    """"" (no base run), `ran`, `no_results` (ended by itself without results), or the problem."""
    if base is None:
        return ""
    if is_compile_failure(base):
        return "no_results"
    return run_problem(base) or "ran"


def needs_base(before: Sequence[TestRun], after_runs: list[TestRun], changed: Collection[str] = ()) -> list[str]:
    """The tests whose category hangs on the `base` run: they pass in every `after` run, have no
    verdict before (`NO_VERDICT` in every `before` run) and the test patch does not touch them."""
    stable = set.intersection(*({t for t, s in run.tests.items() if s == PASS} for run in after_runs))
    return sorted(t for t in stable if t not in changed
                  and all(run.tests.get(t) in NO_VERDICT for run in before))


def _grade_tests(before_runs: list[TestRun], after_runs: list[TestRun], base: TestRun | None,
                 changed: set[str]) -> Grade:
    """F2P/P2P, categories, flakiness and breakage from trustworthy runs."""
    after_ids = sorted(set().union(*(run.tests for run in after_runs)))
    stability = {t: _pass_rate(t, after_runs) for t in after_ids}
    flaky = sorted({t for t in after_ids if 0.0 < stability[t] < 1.0}
                   | {t for t in set().union(*(run.tests for run in before_runs))
                      if 0.0 < _pass_rate(t, before_runs) < 1.0})
    broken = sorted(t for t in set(before_runs[0].tests) - set(flaky)
                    if _pass_rate(t, before_runs) == 1.0 and stability.get(t, 0.0) == 0.0
                    and not _skipped_after(t, after_runs))
    if broken:
        return Grade(stability=stability, flaky=flaky, reason=Reason.gold_patch_breaks_tests,
                     detail=f"passed before, fail after: {broken[:5]}")
    categories = {t: CATEGORY[_before_status(t, before_runs)] for t in after_ids
                  if stability[t] == 1.0 and t not in flaky}
    fail_to_pass, pass_to_pass = [], []
    for test, category in categories.items():
        if category == "p2p" or (base is not None and _passes_at_base(test, before_runs, base, changed)):
            pass_to_pass.append(test)
        elif category != "s2p":
            fail_to_pass.append(test)
    verdict = Grade(fail_to_pass=fail_to_pass, pass_to_pass=pass_to_pass, stability=stability,
                    categories=categories, flaky=flaky)
    if not fail_to_pass:
        verdict.reason = Reason.flaky if flaky else Reason.no_fail_to_pass
        verdict.detail = (f"only flaky tests fail before and pass after: {flaky[:5]}" if flaky
                          else _no_fail_to_pass_detail(pass_to_pass, changed))
    return verdict


def _no_fail_to_pass_detail(pass_to_pass: list[str], changed: set[str]) -> str:
    """Why no test is FAIL_TO_PASS, for the analyst: the tests the patch touches pass before
    already, or none of the tests that ran is one the test patch adds or changes (its tests
    did not run, or it changes no test)."""
    touched = sorted(changed.intersection(pass_to_pass))
    if touched:
        return (f"no test fails before and passes after: the {len(touched)} that the test patch adds or "
                f"changes pass before too ({', '.join(touched[:5])})")
    return (f"no test fails before and passes after: {len(pass_to_pass)} pass in both, none of them one "
            "that the test patch adds or changes")


def _before_status(test: str, before_runs: list[TestRun]) -> TestStatus | None:
    """The test's status before: failed if it failed in any run, else its first one's."""
    statuses = [run.tests.get(test) for run in before_runs]
    return TestStatus.failed if TestStatus.failed in statuses else statuses[0]


def _passes_at_base(test: str, before_runs: list[TestRun], base: TestRun, changed: set[str]) -> bool:
    """An untouched test without a verdict before that passes at `base`: PASS_TO_PASS."""
    return (test not in changed and base.tests.get(test) == PASS
            and all(run.tests.get(test) in NO_VERDICT for run in before_runs))


def changed_test_ids(test_ids: Iterable[str], symbols: Iterable[str]) -> list[str]:
    """The runner's test ids that name a test the test patch adds or changes.

    `symbols` are `path::qualified name` (`envmine.code.test_functions_in_diff`). An id names
    one when the id's words hold every word of the qualified name (the test's and its classes'
    or `describe` blocks' names), and, for an id that starts with a file path
    (`tests/test_x.py::...`, `test/a.test.js > ...`), that path is the symbol's file.
    """
    wanted = [(path, set(_WORD.findall(name))) for path, _, name in (s.partition("::") for s in symbols)]
    found = []
    for test in test_ids:
        words, head = set(_WORD.findall(test)), _FILE_HEAD.split(test, maxsplit=1)[0]
        names_a_file = head != test and ("/" in head or head.endswith(_SOURCE_SUFFIXES))
        if any(needed and needed <= words and (not names_a_file or head == path) for path, needed in wanted):
            found.append(test)
    return sorted(found)


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


def _skipped_after(test: str, after_runs: list[TestRun]) -> bool:
    return all(run.tests.get(test) == TestStatus.skipped for run in after_runs)

