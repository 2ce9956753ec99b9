"""jest / vitest JSON reports -> test statuses.

jest writes it with `jest --json --outputFile=<file>`; vitest writes the same shape with
`vitest run --reporter=json --outputFile=<file>` (preferred: same ids as jest and mocha). A
vitest JUnit report (`--reporter=junit`) is handed to the JUnit parser instead. Ids are `file > describe > ... > title`
with the file relative to the repository root. A test file that failed to run at all (syntax
error, missing import) is one ERROR entry whose id is the file itself.
"""

from __future__ import annotations


from envmine.records import TestStatus

from .common import js_id, load_json, merge, relative

STATUS = {
    "passed": TestStatus.passed,
    "failed": TestStatus.failed,
    "pending": TestStatus.skipped,
    "skipped": TestStatus.skipped,
    "todo": TestStatus.skipped,
    "disabled": TestStatus.skipped,
    "focused": TestStatus.passed,
}


def parse_jest_json(text: str) -> dict[str, TestStatus]:
    """Statuses from a jest (or vitest `--reporter=json`) report."""
    report = load_json(text)
    results: dict[str, TestStatus] = {}
    for suite in report.get("testResults", []):
        file = suite.get("name") or suite.get("testFilePath")
        assertions = suite.get("assertionResults") or []
        for case in assertions:
            status = STATUS.get(case.get("status", ""), TestStatus.failed)
            merge(results, js_id(file, case.get("ancestorTitles") or [], case["title"]), status)
        if not assertions and suite.get("status") == "failed" and file:
            merge(results, relative(file), TestStatus.error)
    return results


def parse_vitest(text: str) -> dict[str, TestStatus]:
    """Statuses from a vitest report: JSON (`--reporter=json`) or JUnit XML (`--reporter=junit`)."""
    if text.lstrip().startswith("<"):
        from .junit import parse_junit

        return parse_junit(text)
    return parse_jest_json(text)
