from pathlib import Path

import pytest

from envmine.records import TestStatus as Status
from envmine.validators.parsers import get_parser
from envmine.validators.parsers.unittest import parse_unittest

FIXTURES = Path(__file__).parent / "fixtures" / "unittest"
P, F, E, S = Status.passed, Status.failed, Status.error, Status.skipped
C = "pkg.test_calc.CalcTest."


@pytest.mark.parametrize("fixture", ["verbose_py38.txt", "verbose_py311.txt", "verbose_py313.txt"])
def test_same_ids_across_python_versions(fixture):
    assert parse_unittest((FIXTURES / fixture).read_text()) == {
        C + "test_adds": P,
        C + "test_docstring": P,  # its print glued "ok" to the output
        C + "test_errors": E,
        C + "test_expected_failure": P,
        C + "test_fails": F,
        C + "test_skipped": S,
        C + "test_subtests": F,  # one failing sub-test fails the test
        C + "test_unexpected_success": F,
        "pkg.test_calc.SetupFails.setUpClass": E,
        "test_broken": E,  # the module failed to import
    }


def test_colour_is_ignored():
    text = "test_a (m.T.test_a) ... \x1b[32mok\x1b[0m\n"
    assert parse_unittest(text) == {"m.T.test_a": P}


def test_registry_name():
    assert get_parser("unittest") is parse_unittest
