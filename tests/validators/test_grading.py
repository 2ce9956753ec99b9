"""grade() and grade_patch() on TestRuns captured from real validation runs in Docker.

The fixtures under fixtures/runs/ were written by capture_fixtures.py; each is one real run
of a scenario in scenarios.py (report parsed from the container, markers, exit code, log).
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
    exit_code_problem,
    grade,
    grade_patch,
    is_compile_failure,
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
    # The second after run fails TestMax: the after runs disagree.
    flaky = after_2.model_copy(update={"exit_code": 1,
                                       "tests": {**after_2.tests, "example.com/calc/TestMax": Status.failed}})
    assert grade(before, [after, flaky], True).reason == Reason.flaky
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
