"""grade() and grade_patch() on TestRuns captured from real validation runs in Docker.

The fixtures under fixtures/runs/ were written by capture_fixtures.py; each is one real run
of a scenario in envmine/testing/scenarios.py (report parsed from the container, markers,
exit code, log).
"""

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from envmine.languages import known_languages
from envmine.reasons import Reason
from envmine.records import Candidate, EnvSpec, LayerSpec
from envmine.records import TestRun as Run
from envmine.records import TestStatus as Status
from envmine.settings import Settings, ValidationSettings
from envmine.validators.grading import (
    COMPILE_FAILURE,
    MISSING,
    changed_test_ids,
    exit_code_problem,
    grade,
    grade_patch,
    is_compile_failure,
    needs_base,
    run_problem,
)
from envmine.validators.run import before_may_not_compile, spec_of, task_instance

RUNS = Path(__file__).parent / "fixtures" / "runs"

F2P = ["tests/test_add.py::test_add", "tests/test_add.py::test_add_zero"]
P2P = [
    "tests/test_calc.py::TestMul::test_identity[0]",
    "tests/test_calc.py::TestMul::test_identity[1]",
    "tests/test_calc.py::test_mul",
]


def run(name: str) -> Run:
    return Run.model_validate(json.loads((RUNS / f"{name}.json").read_text()))


def test_bug_fix_gives_exact_fail_to_pass_and_pass_to_pass():
    verdict = grade(run("fix.before"), [run("fix.after"), run("fix.after_2")])
    assert verdict.ok and verdict.reason is None
    assert verdict.fail_to_pass == ["tests/test_add.py::test_add"]
    # test_add_zero passes before too (0 - 0 == 0): it is PASS_TO_PASS, not FAIL_TO_PASS.
    assert verdict.pass_to_pass == ["tests/test_add.py::test_add_zero", *P2P]
    assert verdict.stability == {**{t: 1.0 for t in F2P + P2P}, "tests/test_calc.py::test_skipped": 0.0}


def test_tests_of_a_module_that_cannot_import_before_are_fail_to_pass():
    before = run("new_api.before")
    assert before.tests["tests/test_sub.py"] == Status.error and "tests/test_sub.py::test_sub" not in before.tests
    verdict = grade(before, [run("new_api.after"), run("new_api.after_2")])
    assert verdict.fail_to_pass == ["tests/test_sub.py::test_sub"]
    assert verdict.pass_to_pass == P2P


def test_fix_that_breaks_another_test():
    verdict = grade(run("breaks.before"), [run("breaks.after"), run("breaks.after_2")])
    assert verdict.reason == Reason.gold_patch_breaks_tests
    assert "tests/test_calc.py::test_mul" in verdict.detail


def test_no_tests_is_suite_did_not_run():
    before = run("no_tests.before")
    assert before.tests == {} and before.exit_code == 4
    assert run_problem(before)[0] == Reason.suite_did_not_run


def test_hang_is_timeout():
    before = run("hang.before")
    assert before.timed_out and before.exit_code == 124 and not before.suite_ran
    verdict = grade(before, [run("fix.after")])
    assert verdict.reason == Reason.timeout


def test_fake_passed_lines_and_markers_do_not_pass():
    after = run("fake.after")
    assert "tests/test_add.py::test_add PASSED" in after.log  # the forgery is in the log...
    assert "+++ envmine end 00000000000000000000000000000000 exit=0" in after.log
    assert after.tests["tests/test_add.py::test_add"] == Status.failed  # ...the report disagrees
    verdict = grade(run("fake.before"), [after])
    assert verdict.reason == Reason.exit_code_mismatch
    graded = grade_patch(["tests/test_add.py::test_add"], P2P, after)
    assert not graded.resolved
    assert graded.fail_to_pass_failed == ["tests/test_add.py::test_add"]


def test_disagreeing_after_runs_are_flaky():
    # The `before` run of the same tree is a real run in which test_add failed.
    second = run("fix.before").model_copy(update={"phase": "after#2"})
    verdict = grade(run("fix.before"), [run("fix.after"), second])
    assert verdict.reason == Reason.flaky
    assert verdict.stability["tests/test_add.py::test_add"] == 0.5


def test_same_tree_before_and_after_has_no_fail_to_pass():
    verdict = grade(run("fix.after"), [run("fix.after_2")])
    assert verdict.reason == Reason.no_fail_to_pass
    assert verdict.pass_to_pass == ["tests/test_add.py::test_add", "tests/test_add.py::test_add_zero", *P2P]
    assert verdict.detail == ("no test fails before and passes after: 5 pass in both, none of them one "
                              "that the test patch adds or changes")
    touched = grade(run("fix.after"), [run("fix.after_2")], changed=["tests/test_add.py::test_add", "gone"])
    assert touched.detail == ("no test fails before and passes after: the 1 that the test patch adds or "
                              "changes pass before too (tests/test_add.py::test_add)")


def test_patch_that_failed_to_apply():
    failed_gold = run("fix.after").model_copy(update={"patches": {"patch": "failed"}, "tests": {},
                                                      "suite_ran": False})
    assert grade(run("fix.before"), [failed_gold]).reason == Reason.gold_patch_failed_to_apply
    failed_test = run("fix.before").model_copy(update={"patches": {"test_patch": "failed"}})
    assert grade(failed_test, [run("fix.after")]).reason == Reason.test_patch_failed_to_apply


@pytest.mark.parametrize("exit_code, expected", [(0, None), (1, Reason.exit_code_mismatch),
                                                 (5, Reason.exit_code_mismatch)])
def test_all_passed_needs_exit_zero(exit_code, expected):
    all_passed = run("fix.after").model_copy(update={"exit_code": exit_code})
    assert (exit_code_problem(all_passed) or (None,))[0] == expected


# commons-text under a 2 GiB sandbox: surefire's fork died in a test written for 7 GiB
SUREFIRE_HEAP = ("[INFO] Running org.apache.commons.text.TextStringBuilderTest\n[ERROR] Java heap space\n"
                 "[INFO] Tests run: 251, Failures: 0, Errors: 0, Skipped: 0\n[INFO] BUILD FAILURE\n"
                 "[ERROR] There was an error in the forked process\n[ERROR] Java heap space\n")


@pytest.mark.parametrize(("log", "expected"), [
    (SUREFIRE_HEAP, Reason.test_out_of_memory),
    ("<--- Last few GCs --->\nFATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n",
     Reason.test_out_of_memory),
    ("Traceback (most recent call last):\n  File \"x.py\", line 1\nMemoryError\n", Reason.test_out_of_memory),
    # a test that names the error in passing is not the runtime running out
    ("PASSED test_raises_memory_error_on_huge_input (expects MemoryError)\n", Reason.exit_code_mismatch),
])
def test_a_runner_that_ran_out_of_memory_is_named(log, expected):
    crashed = run("fix.after").model_copy(update={"exit_code": 1, "log": log})
    problem = exit_code_problem(crashed)
    assert problem[0] == expected
    if expected == Reason.test_out_of_memory:
        assert problem[1] == "after: exit code 1, no failure in the report, and a test process ran out of memory"


def test_failures_with_exit_zero_is_a_mismatch():
    lying = run("fix.before").model_copy(update={"exit_code": 0})
    assert exit_code_problem(lying)[0] == Reason.exit_code_mismatch
    assert exit_code_problem(run("fix.before")) is None  # pytest's exit 1 with failures is expected


def test_grade_patch_resolves_the_gold_run():
    graded = grade_patch(["tests/test_add.py::test_add"], P2P, run("fix.after"))
    assert graded.resolved and graded.reason is None
    assert graded.outcomes["tests/test_add.py::test_add"] == "PASSED"


def test_grade_patch_unresolved_when_p2p_breaks_or_tests_are_missing():
    broken = grade_patch(["tests/test_add.py::test_add"], P2P, run("breaks.after"))
    assert not broken.resolved
    assert broken.pass_to_pass_failed == P2P  # mul() is off by one after this "fix"
    missing = grade_patch(["tests/test_gone.py::test_x"], [], run("fix.after"))
    assert not missing.resolved and missing.outcomes == {"tests/test_gone.py::test_x": MISSING}


def test_large_test_output_keeps_the_markers():
    before = run("noisy.before")  # a failing test printed 600 kB
    assert before.suite_ran and len(before.log) <= 20_000
    verdict = grade(before, [run("noisy.after"), run("noisy.after_2")])
    assert verdict.fail_to_pass == ["tests/test_noisy.py::test_add_loudly"]


def test_grade_patch_on_a_timed_out_run():
    graded = grade_patch(["tests/test_add.py::test_add"], [], run("hang.before"))
    assert not graded.resolved and graded.reason == Reason.timeout


# Compiled languages: a test patch that calls an API only the fix adds does not compile before.
# go_new_api.* are real validation runs in Docker (capture_compile_failure.py): before, the test
# package fails to build (exit 1; go-test.json holds build events and no test); after, all pass.
GO_TESTS = ["example.com/calc/TestMax", "example.com/calc/TestMin"]


def go_runs() -> tuple[Run, list[Run]]:
    return run("go_new_api.before"), [run("go_new_api.after"), run("go_new_api.after_2")]


def test_go_compile_failure_before_makes_every_passing_test_fail_to_pass():
    before, after = go_runs()
    assert before.tests == {} and before.exit_code == 1 and not before.timed_out
    assert before.suite_ran and run_problem(before)[0] == Reason.suite_did_not_run  # a report, no test
    assert is_compile_failure(before)
    verdict = grade(before, after, before_may_not_compile=True)
    assert verdict.ok and verdict.before == COMPILE_FAILURE
    assert verdict.fail_to_pass == GO_TESTS and verdict.pass_to_pass == []
    assert verdict.stability == {t: 1.0 for t in GO_TESTS}


def test_compile_failure_is_rejected_when_the_policy_does_not_apply():
    before, after = go_runs()
    verdict = grade(before, after)  # Python, JS, Ruby, PHP, or the setting off
    assert verdict.reason == Reason.suite_did_not_run and verdict.before == "ran"
    assert grade(run("fix.before"), [run("fix.after"), run("fix.after_2")], True).before == "ran"


@pytest.mark.parametrize("change, reason", [
    ({"timed_out": True}, Reason.timeout),
    ({"exit_code": None}, Reason.suite_did_not_run),  # no end marker: the script never finished
    ({"exit_code": 0}, Reason.suite_did_not_run),
    ({"patches": {"test_patch": "failed"}}, Reason.test_patch_failed_to_apply),
])
def test_only_a_clean_non_zero_end_without_results_is_a_compile_failure(change, reason):
    before, after = go_runs()
    before = before.model_copy(update=change)
    assert not is_compile_failure(before)
    assert grade(before, after, before_may_not_compile=True).reason == reason


def test_after_runs_stay_strict_after_a_compile_failure():
    before, (after, after_2) = go_runs()
    # The second after run fails TestMax: the after runs disagree on it, so it is dropped and
    # recorded; TestMin stays FAIL_TO_PASS and the task stays valid.
    flaky = after_2.model_copy(update={"exit_code": 1,
                                       "tests": {**after_2.tests, "example.com/calc/TestMax": Status.failed}})
    verdict = grade(before, [after, flaky], True)
    assert verdict.ok and verdict.flaky == ["example.com/calc/TestMax"]
    assert verdict.fail_to_pass == ["example.com/calc/TestMin"] and verdict.pass_to_pass == []
    assert verdict.stability == {"example.com/calc/TestMax": 0.5, "example.com/calc/TestMin": 1.0}
    # When every test that would be FAIL_TO_PASS is flaky, nothing stable remains: `flaky`.
    both = flaky.model_copy(update={"tests": {t: Status.failed for t in GO_TESTS}})
    assert grade(before, [after, both], True).reason == Reason.flaky
    # An after run without a report, or one that does not compile either, is ungradable.
    assert grade(before, [after, before.model_copy(update={"phase": "after#2"})], True).reason == (
        Reason.suite_did_not_run)
    timed_out = after_2.model_copy(update={"timed_out": True})
    rejected = grade(before, [after, timed_out], True)
    assert rejected.reason == Reason.timeout and rejected.before == COMPILE_FAILURE


def test_compile_failure_policy_follows_the_spec_and_the_setting(tmp_path):
    before, _ = go_runs()
    on, off = Settings(home=tmp_path), Settings(home=tmp_path, validation=ValidationSettings(
        compile_failure_counts_as_fail=False))
    assert on.validation.compile_failure_counts_as_fail is True

    def spec(language: str) -> EnvSpec:
        return EnvSpec(instance_id="x", repo="o/r", language=language, base_commit="a" * 40,
                       layers=[LayerSpec(name="task", dockerfile="", tag="t")], test_command="true", runner="r")

    # PHP too: phpunit stops loading the suite (exit 255, empty report) on a class the fix adds.
    compiled = ["c", "cpp", "go", "java", "kotlin", "php", "rust", "scala"]
    assert [lang for lang in known_languages() if before_may_not_compile(spec(lang), on)] == compiled
    assert not before_may_not_compile(spec("go"), off)
    assert not before_may_not_compile(spec("cobol"), on)


def test_compile_failure_is_recorded_in_the_instance_provenance(tmp_path):
    before, after = go_runs()
    settings = Settings(home=tmp_path)
    candidate = Candidate(
        instance_id="example__calc-new_api", repo="example/calc", source="git", repo_url="/nonexistent",
        base_commit="a" * 40, head_commit="b" * 40, patch="", test_patch="", problem_statement="p",
        created_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    spec = EnvSpec(instance_id=candidate.instance_id, repo=candidate.repo, language="go",
                   base_commit=candidate.base_commit, layers=[LayerSpec(name="task", dockerfile="", tag="t")],
                   test_command="go test -json ./... > /tmp/envmine-results/go-test.json",
                   runner="go_test_json", report_glob="*.json")
    instance = task_instance(candidate, spec, grade(before, after, True), settings)
    assert instance.provenance["before"] == "compile_failure" and instance.PASS_TO_PASS == []
    assert instance.FAIL_TO_PASS == GO_TESTS and instance.report_glob == "*.json"
    assert spec_of(instance).report_glob == "*.json"
    plain = task_instance(candidate, spec, grade(run("fix.before"), [run("fix.after")]), settings)
    assert "before" not in plain.provenance


# The base run (neither patch), Multi-SWE-bench's third state. module_breaks.* are real runs
# (capture_fixtures.py): the test patch imports `sub`, which only the fix adds, into the existing
# tests/test_calc.py, adds test_sub and changes test_mul; before, the whole module fails to import.
IDENTITY = ["tests/test_calc.py::TestMul::test_identity[0]", "tests/test_calc.py::TestMul::test_identity[1]"]
MUL, SUB = "tests/test_calc.py::test_mul", "tests/test_calc.py::test_sub"
CHANGED_SYMBOLS = ["tests/test_calc.py::test_mul", "tests/test_calc.py::test_sub"]
"""What `test_functions_in_diff` reads in module_breaks' test patch (test_validate_docker checks it)."""


def module_breaks() -> tuple[Run, list[Run], Run]:
    return run("module_breaks.before"), [run("module_breaks.after"), run("module_breaks.after_2")], run(
        "module_breaks.base")


def test_without_a_base_run_every_test_of_a_module_that_cannot_import_is_fail_to_pass():
    before, after, _ = module_breaks()
    assert before.tests == {"tests/test_calc.py": Status.error}
    verdict = grade(before, after)
    assert verdict.fail_to_pass == [*IDENTITY, MUL, SUB] and verdict.pass_to_pass == []
    assert verdict.categories == {t: "n2p" for t in [*IDENTITY, MUL, SUB]} and verdict.base == ""


def test_base_run_makes_untouched_tests_that_pass_at_base_pass_to_pass():
    before, after, base = module_breaks()
    changed = changed_test_ids(after[0].tests, CHANGED_SYMBOLS)
    assert changed == [MUL, SUB]
    assert needs_base([before], after, changed) == IDENTITY
    verdict = grade(before, after, base=base, changed=changed)
    assert verdict.ok and verdict.base == "ran"
    # test_sub is new, test_mul changed: FAIL_TO_PASS; the identity tests are untouched and pass
    # at base: PASS_TO_PASS although the module did not import before. test_skipped: neither.
    assert verdict.fail_to_pass == [MUL, SUB] and verdict.pass_to_pass == IDENTITY
    assert verdict.categories == {t: "n2p" for t in [*IDENTITY, MUL, SUB]}
    # Without knowing what the test patch changed, a test that passes at base is PASS_TO_PASS.
    unknown = grade(before, after, base=base)
    assert unknown.fail_to_pass == [SUB] and unknown.pass_to_pass == [*IDENTITY, MUL]


def test_a_base_run_without_results_or_that_cannot_be_trusted():
    before, after, base = module_breaks()
    empty = base.model_copy(update={"tests": {}, "exit_code": 5})  # no test existed yet
    verdict = grade(before, after, base=empty, changed=[SUB])
    assert verdict.ok and verdict.base == "no_results" and verdict.fail_to_pass == [*IDENTITY, MUL, SUB]
    hung = base.model_copy(update={"timed_out": True})
    assert grade(before, after, base=hung).reason == Reason.timeout
    lying = base.model_copy(update={"exit_code": 0, "tests": {**base.tests, MUL: Status.failed}})
    assert grade(before, after, base=lying).reason == Reason.exit_code_mismatch


def test_tests_with_a_verdict_before_need_no_base_run():
    assert needs_base([run("fix.before")], [run("fix.after"), run("fix.after_2")]) == []
    assert needs_base([run("new_api.before")], [run("new_api.after")]) == ["tests/test_sub.py::test_sub"]
    assert needs_base([run("new_api.before")], [run("new_api.after")], ["tests/test_sub.py::test_sub"]) == []
    before, after = go_runs()
    assert needs_base([before], after) == GO_TESTS


@pytest.mark.parametrize("test_id, symbols, expected", [
    ("tests/test_calc.py::TestMul::test_identity[0]", ["tests/test_calc.py::TestMul.test_identity"], True),
    ("tests/test_calc.py::test_identity", ["tests/test_calc.py::TestMul.test_identity"], False),
    ("tests/test_other.py::test_mul", ["tests/test_calc.py::test_mul"], False),
    ("example.com/calc/TestMin", ["calc_test.go::TestMin"], True),
    ("example.com/calc/TestMin/negative", ["calc_test.go::TestMin"], True),
    ("example.com/calc/TestMax", ["calc_test.go::TestMin"], False),
    ("ex.CalcTest::absOfNegative", ["src/test/java/ex/CalcTest.java::CalcTest.absOfNegative"], True),
    ("ex.OtherTest::absOfNegative", ["src/test/java/ex/CalcTest.java::CalcTest.absOfNegative"], False),
    ("test/calc.test.js > abs > handles negative numbers", ["test/calc.test.js::abs > handles negative numbers"], True),
    ("test/calc.test.js > abs > handles zero", ["test/calc.test.js::abs > handles negative numbers"], False),
    ("test/other.test.js > abs > handles negative numbers", ["test/calc.test.js::abs > handles negative numbers"],
     False),
])
def test_changed_test_ids_match_runner_ids_to_changed_symbols(test_id, symbols, expected):
    assert (changed_test_ids([test_id], symbols) == [test_id]) is expected


# flaky.* are real runs: tests/test_coin.py fails in about every other run (a coin seeded by the
# sandbox's host name); in these, the two runs of each state disagree on it.
def test_a_flaky_test_is_dropped_and_recorded_while_the_task_stays_valid():
    befores = [run("flaky.before"), run("flaky.before_2")]
    afters = [run("flaky.after"), run("flaky.after_2")]
    coin = "tests/test_coin.py::test_coin"
    assert [r.tests[coin] for r in (*befores, *afters)] == ["FAILED", "PASSED", "FAILED", "PASSED"]
    verdict = grade(befores, afters)
    assert verdict.ok and verdict.flaky == [coin]
    assert verdict.fail_to_pass == ["tests/test_add.py::test_add"]
    assert verdict.pass_to_pass == ["tests/test_add.py::test_add_zero", *P2P]
    assert verdict.stability[coin] == 0.5 and coin not in verdict.categories
    # One disagreeing run among many is enough: flaky in the `before` runs alone.
    steady_after = [afters[1], afters[1].model_copy(update={"phase": "after#2"})]
    assert grade(befores, steady_after).flaky == [coin]
    # When the only test that would be FAIL_TO_PASS is the flaky one, nothing stable remains.
    def coin_only(r: Run) -> Run:
        return r.model_copy(update={"tests": {coin: r.tests[coin]}, "exit_code": int(r.tests[coin] != "PASSED")})

    verdict = grade([coin_only(b) for b in befores], [coin_only(a) for a in afters])
    assert verdict.reason == Reason.flaky and verdict.flaky == [coin]
