"""Leakage check: the task image must not contain the answer.

/testbed may hold the base commit and its ancestors only: no head commit (or any mention of
it in .git), no remote, no tag, no ref or reflog entry outside the base commit's ancestry, and
the gold patch must not already be applied (`git apply --check -R` must fail). Tags are
refused even on old commits: a built /testbed has no reason to carry any.

`validate` runs it inside its `before` run's eval script, before the test patch applies (one
exec for both).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from envmine.reasons import Reason, Stage
from envmine.records import Candidate, Reject
from envmine.validators.scripts import LeakCheck, inline_patch


@dataclass
class LeakReport:
    leaks: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    completed: bool = False
    """The check reached its end (a check that did not run must not read as clean)."""


def leak_check_for(candidate: Candidate) -> LeakCheck:
    """The leak check's inputs for `candidate` (the gold patch goes inline)."""
    gold = inline_patch("gold", candidate.patch) if candidate.patch.strip() else None
    return LeakCheck(base_commit=candidate.base_commit, head_commit=candidate.head_commit, gold=gold)


def parse_leak_output(output: str) -> LeakReport:
    """Findings from the leak check's output lines (pure)."""
    report = LeakReport()
    for line in output.splitlines():
        if line.startswith("leak "):
            report.leaks.append(line[len("leak "):].strip())
        elif line.startswith("check-error "):
            report.errors.append(line[len("check-error "):].strip())
        elif line.strip() == "check-done":
            report.completed = True
    return report


def leak_reject(report: LeakReport, candidate: Candidate) -> Reject | None:
    """A Reject(leak) for findings, Reject(sandbox_error) when the check could not run."""
    if report.leaks:
        reason, detail = Reason.leak, "; ".join(report.leaks)
    elif report.errors or not report.completed:
        reason, detail = Reason.sandbox_error, "leak check: " + ("; ".join(report.errors) or "did not finish")
    else:
        return None
    return Reject.of(Stage.validate, reason, candidate, detail)

