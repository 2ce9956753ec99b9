"""tape's TAP (`npx tape files... > tape.tap 2>&1`) -> test statuses.

tape does not nest its TAP: every test, a `t.test` subtest included, starts with a `# name`
line at column 0, and the `ok N msg` / `not ok N msg` lines after it are its assertions. So
ids are the plain test names (tape prints no file and no parent name; a name used twice keeps
its worst status). A test is FAILED when any assertion failed, PASSED when one passed or it
made none (tape counts that as a pass), SKIPPED when it is a todo test (`# TODO name`) or all
its assertions were skipped. tape 5 prints nothing at all for `test.skip`, so those tests are
absent. Summary comments (`# tests 3`, `# pass 3`) follow the final plan `1..N` and are not
tests. `not ok N test exited without ending: NAME` fails the test it names.

Crashes. tape's CLI loads every file before running any test, so a file that throws while
loading stops the run with no TAP at all; an exception inside a test stops it in mid-report,
without the final plan. The report holds stderr too, so when the plan is missing the crash is
an ERROR: of the test that was running, else of the file that threw (the first repository
file the error names), else of the synthetic id `LOAD_ERROR`. An empty report is no tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from envmine.records import TestStatus, strip_ansi

from .common import merge, relative

ASSERTION = re.compile(r"^(?P<ok>not ok|ok)\b(?: \d+)?(?: -)?(?P<msg>.*)$")
DIRECTIVE = re.compile(r"\s#\s*(?P<kind>SKIP|TODO)\b.*$", re.IGNORECASE)
HEADER = re.compile(r"^# (?:(?P<kind>TODO|SKIP) )?(?P<name>.*\S)\s*$")
PLAN = re.compile(r"^1\.\.\d+\s*$")
NO_END = re.compile(r"test exited without ending: (?P<name>.+)$")
# Where a Node error names a file: its first line (`/path/x.js:10`), a stack frame, or the
# require stack (`- /path/x.js`).
ERROR_FILE = re.compile(r"^(?P<a>/\S+\.[cm]?[jt]sx?):\d+$|\((?P<b>/\S+?):\d+:\d+\)$|^- (?P<c>/\S+)$")

LOAD_ERROR = "tape: load error"
"""Id of a crash that no test and no repository file can be blamed for."""


@dataclass
class _Test:
    name: str
    todo: bool = False
    statuses: list[TestStatus] = field(default_factory=list)

    def status(self) -> TestStatus:
        if self.todo:
            return TestStatus.skipped
        for status in (TestStatus.failed, TestStatus.passed):
            if status in self.statuses:
                return status
        return TestStatus.skipped if self.statuses else TestStatus.passed


def assertion_status(ok: str, msg: str) -> TestStatus:
    """An assertion's status: skipped for `# SKIP` and `# TODO` directives."""
    if DIRECTIVE.search(msg):
        return TestStatus.skipped
    return TestStatus.passed if ok == "ok" else TestStatus.failed


def crashed_file(lines: list[str]) -> str | None:
    """The first repository file (not node's, not a dependency) an error output names."""
    for line in lines:
        match = ERROR_FILE.search(line.strip() if line.startswith(" ") else line)
        path = match and (match["a"] or match["b"] or match["c"])
        if path and "/node_modules/" not in path:
            return relative(path)
    return None


def parse_tape(text: str) -> dict[str, TestStatus]:
    """Statuses of the tests in one tape run's output (TAP with stderr mixed in)."""
    lines = strip_ansi(text).splitlines()
    results: dict[str, TestStatus] = {}
    current: _Test | None = None
    planned = False
    for line in lines:
        if planned:
            break
        if PLAN.match(line):
            planned = True
        elif header := HEADER.match(line):
            if current:
                merge(results, current.name, current.status())
            current = _Test(header["name"], todo=header["kind"] is not None)
        elif assertion := ASSERTION.match(line):
            msg = assertion["msg"].strip()
            if no_end := NO_END.search(msg):
                merge(results, no_end["name"], TestStatus.failed)
            elif current:
                current.statuses.append(assertion_status(assertion["ok"], msg))
            elif assertion["ok"] == "not ok":
                merge(results, LOAD_ERROR, TestStatus.error)
    if current:
        merge(results, current.name, current.status() if planned else TestStatus.error)
    elif not planned and any(line.strip() for line in lines):
        merge(results, crashed_file(lines) or LOAD_ERROR, TestStatus.error)
    return results
