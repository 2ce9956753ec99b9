from pathlib import Path

from envmine.records import TestStatus as Status
from envmine.validators.parsers import get_parser
from envmine.validators.parsers.tape import LOAD_ERROR, parse_tape

FIXTURES = Path(__file__).parent / "fixtures" / "tape"
P, F, E, S = Status.passed, Status.failed, Status.error, Status.skipped

BASIC = {
    "adds numbers": P,
    "fails an assertion": F,
    "has skipped assertion": P,  # one `t.skip` assertion, one passing
    "todo test": S,
    "outer": P,
    "inner pass": P,  # t.test subtests are flat `# name` lines in tape's TAP
    "inner fail": F,
    "deepest": P,
}


def read(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_one_file_with_failing_todo_and_nested_tests():
    # `test.skip('skipped whole test')` prints nothing in tape 5, so it has no entry.
    assert parse_tape(read("basic.tap")) == BASIC


def test_two_files_merge_a_repeated_name_and_ignore_the_summary():
    # `adds numbers` passes in both files; `# tests 13` / `# pass 11` are not tests.
    assert parse_tape(read("two_files.tap")) == BASIC | {"second file passes": P}


def test_exception_inside_a_test_is_an_error_of_that_test():
    assert parse_tape(read("crash.tap")) == {"before crash": P, "throws inside": E}


def test_file_throwing_at_load_is_an_error_keyed_by_that_file():
    # tape loads all files first: the other file's tests never ran and are absent.
    assert parse_tape(read("load_error.tap")) == {"test/loadfail.js": E}


def test_test_that_never_ends_fails_with_the_one_it_blocked():
    assert parse_tape(read("no_end.tap")) == {"never ends": F, "after it": F}


def test_crash_naming_no_file_gets_the_synthetic_id():
    assert parse_tape("Segmentation fault\n") == {LOAD_ERROR: E}
    assert parse_tape("") == {}


def test_failing_assertion_before_any_test_is_an_error():
    text = "TAP version 13\nnot ok 1 Error: boom\n\n1..1\n# tests 1\n# fail  1\n"
    assert parse_tape(text) == {LOAD_ERROR: E}


def test_registered_as_tape_runner():
    assert get_parser("tape") is parse_tape


def test_real_all_passing_run_ignores_the_trailing_ok_comment():
    # minimist 1.2.8's base commit in its envmine task image (tape 5.10.2, node 20.19):
    # `npx --no-install tape 'test/*.js'`; a clean run ends with `# ok` after the plan.
    result = parse_tape(read("minimist_pass.tap"))
    assert len(result) == 58
    assert set(result.values()) == {P}
    assert "ok" not in result
    assert result["whitespace should be whitespace"] == P
