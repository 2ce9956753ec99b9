"""Test-result parsers: pure functions `(report text) -> {test id: status}`, keyed by runner.

A parser takes the text of one machine-readable report (JUnit XML, `go test -json` lines,
libtest JSON, ...) and returns normalised test ids. Runs that write several report files are
parsed file by file and merged by the validator. The registry is a plain name -> dotted path
map, imported lazily; nothing is parsed at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from envmine.registry import resolve

from envmine.records import TestStatus

Parser = Callable[[str], dict[str, TestStatus]]

# runner name -> "module:function" under envmine.validators.parsers
PARSERS: dict[str, str] = {
    "pytest": "junit:parse_junit",
    "junit": "junit:parse_junit",
    "surefire": "junit:parse_junit",
    "ctest": "ctest:parse_ctest",
    "googletest": "junit:parse_junit",
    "phpunit": "junit:parse_junit",
    "vitest": "jest:parse_vitest",
    "scalatest": "junit:parse_junit",
    "unittest": "unittest:parse_unittest",
    "jest": "jest:parse_jest_json",
    "mocha": "mocha:parse_mocha_json",
    "node_test": "tap:parse_tap",
    "tape": "tape:parse_tape",
    "go_test_json": "gotest:parse_go_test_json",
    "libtest": "libtest:parse_libtest",
    "rspec": "rspec:parse_rspec_json",
    "minitest": "minitest:parse_minitest",
}


def get_parser(runner: str) -> Parser:
    """The parser for `runner`; an unknown name's error lists the valid names."""
    return resolve("runner", __name__, PARSERS, runner)
