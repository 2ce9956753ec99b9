"""parse_reports / select_reports: the report files of one run (those matching the spec's
report_glob) merge into one result."""

from datetime import datetime, timezone
from pathlib import Path

from envmine.builders.lang_env import lang_spec, plan_language
from envmine.languages import load_language
from envmine.records import Candidate
from envmine.settings import Settings
from envmine.validators.run import parse_reports, select_reports

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


SUREFIRE = Path(__file__).parent / "parsers" / "fixtures" / "surefire"
LIBTEST = Path(__file__).parent / "parsers" / "fixtures" / "libtest"


def test_only_files_matching_the_report_glob_are_parsed():
    files = {
        "TEST-com.example.CalcTest.xml": (SUREFIRE / "TEST-com.example.CalcTest.xml").read_bytes(),
        "TEST-com.example.CalcTest-Inner.xml": (SUREFIRE / "TEST-com.example.CalcTest-Inner.xml").read_bytes(),
        # surefire's plain-text summary beside the XML: not JUnit, it must not reach the parser.
        "com.example.CalcTest.txt": b"Tests run: 3, Failures: 1, Errors: 0, Skipped: 0\n",
    }
    reports = select_reports(files, "TEST-*.xml")
    assert sorted(reports) == ["TEST-com.example.CalcTest-Inner.xml", "TEST-com.example.CalcTest.xml"]
    tests, problems = parse_reports(reports, "surefire")
    assert problems == [] and tests
    # Every file, as before report_glob existed, names the text file as a problem.
    _, all_problems = parse_reports(files, "surefire")
    assert [p.split(":")[0] for p in all_problems] == ["com.example.CalcTest.txt"]


def test_report_glob_matches_the_file_name_not_its_folder():
    files = {"sub/libtest.json": (LIBTEST / "cargo_test_json.txt").read_bytes(), "sub/cargo.log": b"Compiling"}
    assert list(select_reports(files, "*.json")) == ["sub/libtest.json"]
    assert select_reports(files) == files
    assert select_reports(files, "ctest.xml") == {}


def test_lang_env_puts_the_frameworks_report_glob_on_the_env_spec(tmp_path):
    spec = load_language("java")
    plan = plan_language(spec, ["pom.xml", "src/test/java/CalcTest.java"], {"pom.xml": "<project/>"})
    candidate = Candidate(
        instance_id="o__r-1", repo="o/r", source="git", repo_url="/nonexistent", base_commit="a" * 40,
        head_commit="b" * 40, patch="", test_patch="", problem_statement="p",
        created_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    env = lang_spec(candidate, Settings(home=tmp_path), plan, spec, ca_bundle="")
    assert env.report_glob == "TEST-*.xml" == env.toolchain["report_glob"]
