"""`go test -json` events -> test statuses.

Ids are `<import path>/<TestName>[/<subtest>...]`, e.g. `example.com/m/calc/TestTable/neg/values`
(go already replaces spaces in subtest names with underscores). A test that started but never
reported an outcome (the package panicked or timed out under it) is an ERROR. A package that
failed to build, or failed without any test reporting a failure, gets one ERROR entry under
its import path, so the report agrees with the exit code; its tests are missing, which
graders read as not passing.
"""

from __future__ import annotations

from envmine.records import TestStatus

from .common import json_lines, merge

ACTIONS = {"pass": TestStatus.passed, "fail": TestStatus.failed, "skip": TestStatus.skipped}


def parse_go_test_json(text: str) -> dict[str, TestStatus]:
    """Statuses of every test and subtest in a `go test -json` stream."""
    results: dict[str, TestStatus] = {}
    started: set[str] = set()
    failed_packages: list[str] = []
    for event in json_lines(text):
        test, package = event.get("Test"), event.get("Package")
        if package and not test and event.get("Action") == "fail":
            failed_packages.append(package)
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
    for package in failed_packages:
        own = [status for test_id, status in results.items() if test_id.startswith(f"{package}/")]
        if TestStatus.failed not in own and TestStatus.error not in own:
            results[package] = TestStatus.error
    return results
