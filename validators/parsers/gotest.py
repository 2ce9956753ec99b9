"""`go test -json` events -> test statuses.

Ids are `<import path>/<TestName>[/<subtest>...]`, e.g. `example.com/m/calc/TestTable/neg/values`
(go already replaces spaces in subtest names with underscores). A test that started but never
reported an outcome (the package panicked or timed out under it) is an ERROR. A package that
failed to build, or failed outside any test, gets no entry: its tests are simply missing,
which graders read as not passing.
"""

from __future__ import annotations

from envmine.records import TestStatus

from .common import json_lines, merge

ACTIONS = {"pass": TestStatus.passed, "fail": TestStatus.failed, "skip": TestStatus.skipped}


def parse_go_test_json(text: str) -> dict[str, TestStatus]:
    """Statuses of every test and subtest in a `go test -json` stream."""
    results: dict[str, TestStatus] = {}
    started: set[str] = set()
    for event in json_lines(text):
        test, package = event.get("Test"), event.get("Package")
        if not test or not package:
            continue
        test_id = f"{package}/{test}"
        action = event.get("Action")
        if action == "run":
            started.add(test_id)
        elif action in ACTIONS:
            merge(results, test_id, ACTIONS[action])
    for test_id in started - results.keys():
        results[test_id] = TestStatus.error
    return results
