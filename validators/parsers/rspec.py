"""RSpec JSON reports -> test statuses.

Written by `rspec --format json --out <file>` (add `--format progress` to keep a readable
log). Ids are `file::full description`, e.g. `spec/calc_spec.rb::Calc#add with negatives
adds -1 and 1`; RSpec's own `[1:6:1:2]` ids and line numbers move when a spec file changes,
the descriptions do not. A failure raised by an expectation is FAILED; any other exception is
ERROR; pending and skipped examples are SKIPPED. A spec file that failed to load (RSpec then
runs no example at all) is an ERROR entry whose id is the file, `spec/broken_spec.rb`.
"""

from __future__ import annotations

import re

from envmine.records import TestStatus

from .common import load_json, merge, relative

EXPECTATION_ERRORS = ("RSpec::Expectations::", "RSpec::Mocks::")
LOAD_ERROR = re.compile(r"An error occurred while loading (\S+?\.rb)\b")


def example_status(example: dict) -> TestStatus:
    status = example.get("status")
    if status == "passed":
        return TestStatus.passed
    if status == "pending":
        return TestStatus.skipped
    error = (example.get("exception") or {}).get("class", "")
    return TestStatus.failed if error.startswith(EXPECTATION_ERRORS) else TestStatus.error


def parse_rspec_json(text: str) -> dict[str, TestStatus]:
    """Statuses from an RSpec `--format json` report."""
    report = load_json(text)
    results: dict[str, TestStatus] = {}
    for example in report.get("examples", []):
        test_id = f"{relative(example.get('file_path', ''))}::{example['full_description']}"
        merge(results, test_id, example_status(example))
    for message in report.get("messages", []):
        for path in LOAD_ERROR.findall(message):
            merge(results, relative(path), TestStatus.error)
    return results
