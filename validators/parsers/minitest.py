"""minitest verbose output (`ruby -Itest test/x_test.rb -v`, `rake test TESTOPTS=-v`) -> statuses.

Each result is `Class#test_name = 0.00 s = .` with `.` pass, `F` failure, `E` error, `S`
skip. A test's own prints can land between the name and the timing, so a name line without a
result waits for the next line that ends in one. Ids are `Class#test_name`; spec-style tests
(`describe`/`it`) lose minitest's counter, `Calc::nested#test_0001_fails` -> `Calc::nested#fails`,
which would otherwise shift whenever a test is added above.
"""

from __future__ import annotations

import re

from envmine.records import TestStatus, strip_ansi

from .common import merge

START = re.compile(r"^(?P<name>[A-Z][\w:]*#\S.*?) = ")
END = re.compile(r"(?:^|= |\D)\d+\.\d+ s = (?P<mark>[.FES])$")
SPEC_COUNTER = re.compile(r"#test_\d{4}_")
MARKS = {".": TestStatus.passed, "F": TestStatus.failed, "E": TestStatus.error, "S": TestStatus.skipped}


def parse_minitest(text: str) -> dict[str, TestStatus]:
    """Statuses from minitest's verbose progress lines."""
    results: dict[str, TestStatus] = {}
    current: str | None = None
    for line in strip_ansi(text).splitlines():
        line = line.rstrip()
        start = START.match(line)
        if start:
            current = SPEC_COUNTER.sub("#", start["name"])
        end = END.search(line)
        if end and current:
            merge(results, current, MARKS[end["mark"]])
            current = None
    return results
