"""`python -m unittest -v` (and Django's `manage.py test -v 2`) output -> test statuses.

Ids are dotted, `package.module.Class.method`, from both the Python >= 3.11 header
`test_x (pkg.mod.Class.test_x)` and the older `test_x (pkg.mod.Class)`. Sub-tests fold into
their test (a failing sub-test fails the test): passing sub-tests are never printed, so their
own ids would not be stable. Expected failures count as passed, unexpected successes as failed.
Errors outside a test (`setUpClass (pkg.mod.Class)`, a module that failed to import) are
ERROR entries under their own names. The FAIL/ERROR sections after the run override the
progress lines, which a test's own prints can garble.
"""

from __future__ import annotations

import re

from envmine.records import TestStatus, strip_ansi

from .common import merge

HEADER = re.compile(r"(?m)(?:^|(?<= \.\.\. ))(?P<name>\w+) \((?P<where>[\w.]+)\)(?P<sub> \(.*?\))?")
SECTION = re.compile(r"(?m)^(?P<kind>FAIL|ERROR): (?P<name>\w+) \((?P<where>[\w.]+)\)")
RULE = re.compile(r"(?m)^={70}$")
RESULT = re.compile(r"(ok|FAIL|ERROR|skipped\b.*|expected failure|unexpected success)$")
FAILED_IMPORT = "unittest.loader._FailedTest."

WORDS = {
    "ok": TestStatus.passed,
    "FAIL": TestStatus.failed,
    "ERROR": TestStatus.error,
    "expected failure": TestStatus.passed,
    "unexpected success": TestStatus.failed,
}


def test_id(name: str, where: str) -> str:
    """The dotted id of `name (where)` for old and new header styles."""
    dotted = where if where.endswith(f".{name}") else f"{where}.{name}"
    return dotted.removeprefix(FAILED_IMPORT)


def word_status(word: str) -> TestStatus:
    return TestStatus.skipped if word.startswith("skipped") else WORDS[word]


def progress_status(region: str) -> TestStatus | None:
    """The status printed after a header: on the ` ... ` line, or alone on a later line."""
    _, dots, rest = region.partition(" ... ")
    lines = rest.splitlines() if dots else region.splitlines()[1:]
    for index, line in enumerate(lines):
        match = RESULT.search(line.rstrip())
        if match and (index == 0 or match.group(0) == line.strip()):
            return word_status(match.group(1))
    return None


def parse_unittest(text: str) -> dict[str, TestStatus]:
    """Statuses from verbose unittest output."""
    text = strip_ansi(text)
    rule = RULE.search(text)
    progress = text[: rule.start()] if rule else text
    results: dict[str, TestStatus] = {}
    headers = list(HEADER.finditer(progress))
    for match, following in zip(headers, headers[1:] + [None]):
        end = following.start() if following else len(progress)
        status = progress_status(progress[match.end():end])
        if status is not None:
            merge(results, test_id(match["name"], match["where"]), status)
    for match in SECTION.finditer(text[rule.start():] if rule else ""):
        status = TestStatus.failed if match["kind"] == "FAIL" else TestStatus.error
        merge(results, test_id(match["name"], match["where"]), status)
    return results
