from pathlib import Path

from envmine.records import TestStatus as Status
from envmine.validators.parsers import get_parser
from envmine.validators.parsers.tap import parse_tap

FIXTURES = Path(__file__).parent / "fixtures" / "node_test"
P, F, E, S = Status.passed, Status.failed, Status.error, Status.skipped


def test_node_tap_report():
    # Two files with the same tests (merged: node's TAP names no file) and one that crashed.
    assert parse_tap((FIXTURES / "report.tap").read_text()) == {
        "top level pass": P,
        "other pass": P,
        "top level fail": F,
        "skipped": S,
        "todo one": S,
        "with subtests > sub pass": P,
        "with subtests > sub fail": F,
        "suite A > a1 works": P,
        "suite A > inner > a2 # tricky name": F,
        "suite A > param 1": P,
        "suite A > param 2": P,
        "nodet/bad.test.js": E,
    }


def test_suite_failing_without_failing_child_is_an_error():
    text = (
        "TAP version 13\n"
        "# Subtest: s\n"
        "    # Subtest: a\n"
        "    ok 1 - a\n"
        "    1..1\n"
        "not ok 1 - s\n"
    )
    assert parse_tap(text) == {"s > a": P, "s": E}


def test_registry_name():
    assert get_parser("node_test") is parse_tap
