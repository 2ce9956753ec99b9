from pathlib import Path

from envmine.records import TestStatus as Status
from envmine.validators.parsers import get_parser
from envmine.validators.parsers.gotest import parse_go_test_json

FIXTURES = Path(__file__).parent / "fixtures" / "go_test_json"
P, F, E, S = Status.passed, Status.failed, Status.error, Status.skipped


def test_statuses_of_tests_and_subtests():
    results = parse_go_test_json((FIXTURES / "mixed.jsonl").read_text())
    calc = "example.com/capgo/calc/"
    assert results == {
        calc + "TestAdd": P,
        calc + "TestAddFails": F,
        calc + "TestSkipped": S,
        calc + "TestTable": F,
        calc + "TestTable/one_plus_one": P,
        calc + "TestTable/neg/values": P,
        calc + "TestTable/wrong": F,
        calc + "TestNested": P,
        calc + "TestNested/outer": P,
        calc + "TestNested/outer/inner": P,
        calc + "TestNested/outer/inner_skip": S,
        "example.com/capgo/util/TestDiv": P,
        "example.com/capgo/util/TestPanics": F,
        "example.com/capgo/broken": E,
    }


def test_package_that_failed_to_build_is_one_error_entry():
    results = parse_go_test_json((FIXTURES / "mixed.jsonl").read_text())
    assert [t for t in results if t.startswith("example.com/capgo/broken")] == ["example.com/capgo/broken"]
    assert results["example.com/capgo/broken"] == Status.error


def test_partial_build_failure_keeps_the_other_packages():
    # Real `go test -json ./...` (go 1.26): calc's test file calls an undefined Min, strs is fine.
    results = parse_go_test_json((FIXTURES / "partial_build_failure.jsonl").read_text())
    assert results == {"example.com/m/strs/TestUpper": Status.passed, "example.com/m/calc": Status.error}


def test_started_test_without_outcome_is_an_error():
    stream = (
        '{"Action":"run","Package":"m/p","Test":"TestHangs"}\n'
        "panic: test timed out after 1s\n"
        '{"Action":"fail","Package":"m/p","Elapsed":1}\n'
    )
    assert parse_go_test_json(stream) == {"m/p/TestHangs": E}


def test_registry_name():
    assert get_parser("go_test_json") is parse_go_test_json


def test_real_timeout_makes_the_running_test_an_error():
    # `go test -timeout 1s`: the package fails, the hanging test never reports an outcome
    # and the tests after it never start.
    assert parse_go_test_json((FIXTURES / "timeout.jsonl").read_text()) == {
        "example.com/capgo/slow/TestQuick": P,
        "example.com/capgo/slow/TestHangs": E,
    }
