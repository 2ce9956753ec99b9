from pathlib import Path

from envmine.records import TestStatus as Status
from envmine.validators.parsers import get_parser
from envmine.validators.parsers.libtest import parse_libtest

FIXTURES = Path(__file__).parent / "fixtures" / "libtest"
P, F, E, S = Status.passed, Status.failed, Status.error, Status.skipped

EXPECTED = {
    "inner::tests::divides": P,
    "inner::tests::div_by_zero_panics": F,
    "inner::tests::should_panic_ok": P,
    "tests::ignored_test": S,
    "tests::ignored_with_reason": S,
    "tests::it_adds": P,
    "tests::it_fails": F,
    "integration_adds": P,
    "integration_fails": F,
    "src/lib.rs - documented": P,
    "src/lib.rs - bad_doc": F,
}


def test_plain_cargo_test_output():
    assert parse_libtest((FIXTURES / "cargo_test_plain.txt").read_text()) == EXPECTED


def test_json_format_gives_the_same_ids():
    assert parse_libtest((FIXTURES / "cargo_test_json.txt").read_text()) == EXPECTED


def test_same_name_in_two_binaries_keeps_the_worse_status():
    text = "test tests::it_works ... ok\ntest tests::it_works ... FAILED\n"
    assert parse_libtest(text) == {"tests::it_works": F}


def test_colour_and_interleaved_output():
    text = "test a::b ... \x1b[32mok\x1b[0m\ntest a::c ... printed by the testFAILED\n"
    assert parse_libtest(text) == {"a::b": P, "a::c": F}


def test_json_test_that_never_finished_is_an_error():
    text = '{ "type": "test", "event": "started", "name": "slow::one" }\n'
    assert parse_libtest(text) == {"slow::one": E}


def test_registry_name():
    assert get_parser("libtest") is parse_libtest
