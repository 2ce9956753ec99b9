"""TAP 13 (node's test runner: `node --test --test-reporter=tap`) -> test statuses.

node nests subtests and `describe` blocks by four-space indentation. Only leaves are tests:
a line whose deeper-indented children were reported is a suite and gets no entry of its own
unless it failed without any failing child (a failing hook). Ids are the titles from the
outermost block down, joined with ` > ` like every JS runner; node's TAP does not name the
file a passing test came from. A file that crashed before reporting (syntax error) appears
as a test titled with its path, made relative and marked ERROR.
"""

from __future__ import annotations

import re

from envmine.records import TestStatus, strip_ansi

from .common import JS_SEP, merge, relative

LINE = re.compile(r"^(?P<indent> *)(?P<ok>not ok|ok)\b(?: \d+)?(?: -)?(?P<rest>.*)$")
DIRECTIVE = re.compile(r"\s+#\s+(?P<kind>SKIP|TODO)\b.*$", re.IGNORECASE)
ESCAPES = re.compile(r"\\([\\#])")


def title_and_status(ok: str, rest: str) -> tuple[str, TestStatus]:
    """A result line's unescaped title and status (SKIP and TODO count as skipped)."""
    directive = DIRECTIVE.search(rest)
    title = rest[: directive.start()] if directive else rest
    title = ESCAPES.sub(r"\1", title.strip())
    if directive:
        return title, TestStatus.skipped
    if title.startswith("/"):
        return relative(title), TestStatus.error if ok == "not ok" else TestStatus.passed
    return title, TestStatus.passed if ok == "ok" else TestStatus.failed


def result_lines(text: str) -> list[tuple[int, str, TestStatus]]:
    """(depth, title, status) of every result line, in report order."""
    lines = []
    for raw in strip_ansi(text).splitlines():
        match = LINE.match(raw)
        if match:
            depth = len(match["indent"]) // 4
            lines.append((depth, *title_and_status(match["ok"], match["rest"])))
    return lines


def parse_tap(text: str) -> dict[str, TestStatus]:
    """Statuses of the leaf tests in a node TAP report."""
    results: dict[str, TestStatus] = {}
    # Children are reported before their parent, so collect them until the parent line comes.
    pending: dict[int, list[tuple[str, TestStatus]]] = {}
    for depth, title, status in result_lines(text):
        children = [c for d in sorted(pending) if d > depth for c in pending.pop(d)]
        if children:
            for child, child_status in children:
                pending.setdefault(depth, []).append((f"{title}{JS_SEP}{child}", child_status))
            if status is TestStatus.failed and all(s is not TestStatus.failed for _, s in children):
                pending[depth].append((title, TestStatus.error))
        else:
            pending.setdefault(depth, []).append((title, status))
    for entries in pending.values():
        for test_id, status in entries:
            merge(results, test_id, status)
    return results
