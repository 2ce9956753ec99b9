"""parse_reports: several report files of one run merge into one result."""

from pathlib import Path

from envmine.validators.run import parse_reports

JUNIT = Path(__file__).parent / "fixtures" / "junit"


def test_reports_merge_and_bad_ones_are_named():
    reports = {
        "pytest.xml": (JUNIT / "pytest_xunit1.xml").read_bytes(),
        "interrupted.xml": (JUNIT / "pytest_collection_interrupted.xml").read_bytes(),
        "junk.xml": b"<html>oops",
    }
    tests, problems = parse_reports(reports, "pytest")
    assert len(tests) == 22 and tests["tests/test_basic.py::test_fail"] == "FAILED"
    assert tests["tests/test_broken_import.py"] == "ERROR"
    assert problems == ["junk.xml: not valid JUnit XML: no element found: line 1, column 10"]


def test_no_reports_no_tests():
    assert parse_reports({}, "pytest") == ({}, [])
