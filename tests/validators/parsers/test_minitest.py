from pathlib import Path

from envmine.records import TestStatus as Status
from envmine.validators.parsers import get_parser
from envmine.validators.parsers.minitest import parse_minitest

FIXTURES = Path(__file__).parent / "fixtures" / "minitest"
P, F, E, S = Status.passed, Status.failed, Status.error, Status.skipped


def test_minitest_verbose_output():
    assert parse_minitest((FIXTURES / "verbose.txt").read_text()) == {
        "CalcTest#test_adds": P,
        "CalcTest#test_fails": F,
        "CalcTest#test_errors": E,
        "CalcTest#test_skipped": S,
        "Outer::NestedTest#test_double_1": P,
        "Outer::NestedTest#test_double_2": P,
        "Calc#adds in spec style": P,  # spec-style counters dropped
        "Calc::nested#fails in spec style": F,
    }


def test_output_between_name_and_result():
    # Real output of tests that print: the result lands after the printed text.
    assert parse_minitest((FIXTURES / "noisy.txt").read_text()) == {
        "NoisyTest#test_prints": P,
        "NoisyTest#test_puts_lines": F,
    }


def test_registry_name():
    assert get_parser("minitest") is parse_minitest
