"""What makes a verdict unforgeable, host side (pure): which paths a solution may not change,
the pytest guard and the sentinel test planted in a run, and reading their evidence back.

Every grading path — validation, `envmine eval`, the RL reward and the instance's exported
`eval_script` — runs the same eval script (`scripts.render_eval_script`) with these steps, so
what is checked here is what production checks. See README, "Threat model".
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from functools import cache
from importlib import resources

import jinja2

from envmine.languages import load_language
from envmine.languages.spec import Sentinel, common_protected
from envmine.miners.patches import file_diffs
from envmine.reasons import Reason
from envmine.records import TestStatus
from envmine.validators.guards import pytest_guard
from envmine.validators.scripts import GuardStep, SentinelStep, heredoc_delimiter

GUARDED_RUNNERS = ("pytest",)
"""Runners whose test process gets the guard (the others' channels: README, "Threat model")."""
GUARD_STREAM = "envmine-guard/stream"
"""The guard's stream in a run's reports tar (no report glob matches a folder name)."""
_ID_SPACE = re.compile(r"\s+")


def protected_patterns(language: str) -> list[str]:
    """The regular expressions of the paths a solution in `language` may not change (only the
    language-independent ones for a language without a spec)."""
    try:
        return load_language(language).protected
    except KeyError:
        return list(common_protected())


@cache
def _guard_source() -> str:
    return resources.files("envmine.validators.guards").joinpath("pytest_guard.py").read_text()


def new_guard(runner: str, standalone: bool = False) -> GuardStep | None:
    """The guard for one run of `runner` (with a fresh key), or None where none applies."""
    if runner not in GUARDED_RUNNERS:
        return None
    source = _guard_source()
    return GuardStep(source=source.rstrip("\n"), delimiter=heredoc_delimiter(source),
                     key=None if standalone else secrets.token_hex(32))


def sentinel_spec(language: str, runner: str) -> Sentinel | None:
    """The sentinel of the language's first framework that uses `runner`, if it has one."""
    try:
        frameworks = load_language(language).frameworks
    except KeyError:
        return None
    return next((f.sentinel for f in frameworks if f.runner == runner and f.sentinel), None)


def new_sentinel(language: str, runner: str, test_patch: str) -> SentinelStep | None:
    """A must-fail test for one run, appended to the test patch's first file the sentinel
    fits, with a fresh random name; None when the runner needs none or no file fits."""
    spec = sentinel_spec(language, runner)
    if spec is None:
        return None
    files = [fd.path for fd in file_diffs(test_patch) if fd.path and "+++ /dev/null" not in fd.text]
    target = next((path for path in files if re.search(spec.files, path)), None)
    if target is None:
        return None
    name = f"q{secrets.token_hex(6)}"
    text = jinja2.Template(spec.text, undefined=jinja2.StrictUndefined).render(name=name)
    return SentinelStep(file=target, requires=spec.requires or ".", text=text.rstrip("\n"),
                        name=name, delimiter=heredoc_delimiter(text))


@dataclass
class Integrity:
    """What the harness's own channels say about one run's report."""

    tests: dict[str, TestStatus]
    """The report's statuses without the sentinel."""
    forgery: str = ""
    detail: str = ""
    sentinel: str = ""


def check(tests: dict[str, TestStatus], exit_code: int | None, guard: GuardStep | None,
          stream: bytes | None, sentinel: str | None, require_sentinel: bool = True) -> Integrity:
    """Cross-check a run's parsed report with the guard's stream and the planted sentinel.

    Only runs whose report was parsed are checked (a run without one is ungradable anyway).
    Without `require_sentinel` the sentinel's status is only recorded (validation's `before`
    run learns from it whether the sentinel runs at all for the task).
    """
    result = Integrity(tests=dict(tests))
    if sentinel:
        result.sentinel = _take_sentinel(result.tests, sentinel)
    if guard is not None and guard.key and tests:
        verdict = pytest_guard.verify(stream or b"", guard.key.encode(), exit_code)
        if not verdict.ok:
            result.forgery, result.detail = verdict.reason, verdict.detail
        else:
            result.forgery, result.detail = _disagreement(result.tests, verdict.outcomes)
    if not result.forgery and sentinel and require_sentinel and tests and result.sentinel != "failed":
        result.forgery = Reason.report_forged
        result.detail = f"the planted failing test {result.sentinel}"
    return result


def _take_sentinel(tests: dict[str, TestStatus], name: str) -> str:
    ids = [test for test in tests if name in test]
    statuses = {tests.pop(test) for test in ids}
    if not statuses:
        return "missing"
    return "failed" if statuses <= {TestStatus.failed, TestStatus.error} else "passed"


def _disagreement(tests: dict[str, TestStatus], guard: dict[str, str]) -> tuple[str, str]:
    """Every test the report says passed must have passed in the guard's eyes too."""
    seen = {_normal(test): status for test, status in guard.items()}
    forged = [test for test, status in tests.items()
              if status == TestStatus.passed and seen.get(_normal(test)) != "passed"]
    if forged:
        return Reason.report_forged, f"the report passes tests the runner did not pass: {sorted(forged)[:5]}"
    return "", ""


def _normal(test_id: str) -> str:
    return _ID_SPACE.sub(" ", test_id).strip()
