"""Helpers shared by the runner parsers: colour stripping, path and id normalisation, merging.

Every parser builds its result through `merge`, so a test id reported twice in one report
(two crates with the same module path, a retried test, a duplicated title) keeps its worst
status and the result does not depend on report order.
"""

from __future__ import annotations

import json
import re

from envmine.records import TestStatus

# Where the validators mount the repository; ids are made relative to it.
WORKDIRS = ("/testbed/",)

# Worse statuses win when one id is reported more than once (`merge`: the one place that decides;
# only the in-sandbox pytest guard, which imports nothing of envmine, keeps its own copy).
SEVERITY = {
    TestStatus.skipped: 0,
    TestStatus.passed: 1,
    TestStatus.failed: 2,
    TestStatus.error: 3,
}

JS_SEP = " > "
"""Separator between a JS test's file, its describe blocks and its title (jest, vitest,
mocha and node's runner all use it)."""


def relative(path: str) -> str:
    """`path` relative to the repository root when it lies under a known workdir."""
    for root in WORKDIRS:
        if path.startswith(root):
            return path[len(root):]
    return path.removeprefix("./")


def merge(results: dict[str, TestStatus], test_id: str, status: TestStatus) -> None:
    """Record `status` for `test_id`, keeping the worse status when it is already there."""
    old = results.get(test_id)
    if old is None or SEVERITY[status] > SEVERITY[TestStatus(old)]:
        results[test_id] = status


def js_id(file: str | None, path: list[str], title: str) -> str:
    """`file > describe > ... > title`, the one id convention for every JS runner."""
    parts = ([relative(file)] if file else []) + [p for p in path if p] + [title]
    return JS_SEP.join(parts)


def json_lines(text: str):
    """The JSON objects in a line-oriented stream; other lines (build output) are skipped."""
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            yield obj


def load_json(text: str) -> dict:
    """The report's JSON object: the whole text, or, where a runner's output surrounds it
    (mocha < 9 prints its report on stdout, among what the tests print), the last object that
    starts a line. ValueError if there is none."""
    first = text.find("{")
    line_starts = [m.start() + 1 for m in re.finditer(r"\n\{", text)]
    decoder = json.JSONDecoder()
    for start in [*reversed(line_starts), *([first] if first >= 0 else [])]:
        try:
            report, _ = decoder.raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(report, dict):
            return report
    raise ValueError("no JSON object in the report")
