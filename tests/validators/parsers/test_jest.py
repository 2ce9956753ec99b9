from pathlib import Path

import pytest

from envmine.records import TestStatus as Status
from envmine.validators.parsers import get_parser
from envmine.validators.parsers.jest import parse_jest_json, parse_vitest

FIXTURES = Path(__file__).parent / "fixtures"
P, F, E, S = Status.passed, Status.failed, Status.error, Status.skipped

MATH = "src/math.test.js > "
EXPECTED = {
    MATH + "math > adds numbers": P,
    MATH + "math > fails on purpose": F,
    MATH + "math > skipped one": S,
    MATH + "math > write more tests": S,
    MATH + "math > nested group > works deep": P,
    MATH + "math > add(1, 1) = 2": P,
    MATH + "math > add(2, 3) = 5": P,
    MATH + "math > add(1, 1) = 3": F,
    MATH + "top-level test": F,
    "src/broken.test.js": E,
}


def test_jest_report():
    assert parse_jest_json((FIXTURES / "jest" / "report.json").read_text()) == EXPECTED


def test_vitest_json_report_has_the_jest_ids():
    assert parse_vitest((FIXTURES / "vitest" / "report.json").read_text()) == EXPECTED


def test_vitest_junit_report_goes_to_the_junit_parser():
    results = parse_vitest((FIXTURES / "vitest" / "report.xml").read_text())
    assert results["src/math.test.js::math > nested group > works deep"] == P
    assert results["src/math.test.js::math > add(1, 1) = 3"] == F
    assert len(results) == 10


def test_registry_names():
    assert get_parser("jest") is parse_jest_json
    assert get_parser("vitest") is parse_vitest


def test_a_truncated_report_is_a_value_error():
    text = (FIXTURES / "jest" / "report.json").read_text()
    with pytest.raises(ValueError):
        parse_jest_json(text[: len(text) // 2])
    with pytest.raises(ValueError):
        parse_jest_json("")
