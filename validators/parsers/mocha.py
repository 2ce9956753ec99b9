"""mocha JSON reports -> test statuses.

Written by `mocha --reporter json --reporter-option output=<file>` (mocha >= 9; older mocha
prints the same JSON on stdout). Ids are `file > describe blocks > title`; the reporter only
gives the joined `fullTitle`, so the describe blocks are one part, joined by spaces, e.g.
`test/calc.spec.js > calc nested > adds`. A failing hook (`"before each" hook for "adds"`)
makes the test it names an ERROR.
"""

from __future__ import annotations

import re

from envmine.records import TestStatus

from .common import js_id, load_json, merge

HOOK = re.compile(r'^"(?:before|after) (?:all|each)" hook(?: in "(?P<suite>.*?)")?(?: for "(?P<test>.*)")?$')


def case_id(case: dict) -> str:
    """`file > describe path > title` for one entry of the report."""
    title, full = case.get("title", ""), case.get("fullTitle", "")
    parents = full[: len(full) - len(title)].strip() if full.endswith(title) else ""
    hook = HOOK.match(title)
    if hook and hook["test"]:
        title = hook["test"]
    return js_id(case.get("file"), [parents], title)


def parse_mocha_json(text: str) -> dict[str, TestStatus]:
    """Statuses from a mocha `--reporter json` report."""
    report = load_json(text)
    results: dict[str, TestStatus] = {}
    for case in report.get("passes", []):
        merge(results, case_id(case), TestStatus.passed)
    for case in report.get("pending", []):
        merge(results, case_id(case), TestStatus.skipped)
    for case in report.get("failures", []):
        hook = HOOK.match(case.get("title", ""))
        merge(results, case_id(case), TestStatus.error if hook else TestStatus.failed)
    return results
