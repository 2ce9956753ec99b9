"""End-to-end validation in real Docker sandboxes, one small repository per scenario."""

from __future__ import annotations

import dataclasses

import pytest

from envmine.builders.engine import client
from envmine.builders.sandbox import sandbox
from envmine.reasons import Reason, Stage
from envmine.records import TestRun as Run
from envmine.rl.reward import grade_diff
from envmine.settings import Limits, Settings, ValidationSettings
from envmine.testing import scenarios
from envmine.testing import validator_images
from envmine.validators.grading import grade_patch
from envmine.validators.leakage import leak_check_for, leak_reject
from envmine.validators.markers import read_markers
from envmine.validators.parsers import get_parser
from envmine.validators.run import grade_solution, run_in, run_tests, validate

pytestmark = [pytest.mark.docker, pytest.mark.slow]

F2P = ["tests/test_add.py::test_add"]
P2P = [
    "tests/test_add.py::test_add_zero",
    "tests/test_calc.py::TestMul::test_identity[0]",
    "tests/test_calc.py::TestMul::test_identity[1]",
    "tests/test_calc.py::test_mul",
]


def built(name: str, toolchain: str, tmp_path, **changes) -> scenarios.Built:
    scenario = dataclasses.replace(scenarios.SCENARIOS[name], **changes)
    return scenarios.build(scenario, toolchain, tmp_path)


def containers_of(image: str) -> list:
    return client().containers.list(all=True, filters={"ancestor": image})


def test_bug_fix_with_a_new_test(toolchain, settings, tmp_path):
    b = built("fix", toolchain, tmp_path)
    v = validate(b.candidate, b.spec, settings)
    assert v.reject is None
    assert [r.phase for r in v.runs] == ["before", "after", "after#2"]
    assert all(r.suite_ran and r.patches["test_patch"] == "git" for r in v.runs)
    # pytest's start-up alone costs CPU; the sandbox's quota caps it at `cpus` per second
    cpus = settings.validation.limits.cpus
    assert all(0.05 < r.cpu_s <= r.duration_s * cpus + 0.5 for r in v.runs), [(r.cpu_s, r.duration_s) for r in v.runs]
    inst = v.instance
    assert inst.FAIL_TO_PASS == F2P and inst.PASS_TO_PASS == P2P
    assert inst.stability == {t: 1.0 for t in F2P + P2P}
    assert (inst.image, inst.runner, inst.language, inst.source) == (b.image, "pytest", "python", "git")
    assert inst.base_commit == b.candidate.base_commit and inst.patch == b.candidate.patch
    assert inst.provenance["head_commit"] == b.candidate.head_commit
    assert containers_of(b.image) == []


def test_instance_eval_script_runs_under_another_harness(toolchain, settings, tmp_path):
    """A harness that knows nothing of envmine: apply the patch, run eval_script, read markers."""
    b = built("fix", toolchain, tmp_path)
    inst = validate(b.candidate, b.spec, settings).instance
    parse = get_parser(inst.runner)
    outcomes = {}
    for label, patch in [("gold", inst.patch), ("none", "")]:
        with sandbox(inst.image, settings.validation.limits) as box:
            box.write_file("/home/envmine/eval.sh", inst.eval_script, mode=0o755)
            box.write_file("/home/envmine/model.diff", patch or "\n")
            apply = "git apply /home/envmine/model.diff && " if patch else ""
            out = box.exec(f"{apply}ENVMINE_NONCE=harness42 bash /home/envmine/eval.sh").output
            evidence = read_markers(out, "harness42")
            report = box.exec("cat /tmp/envmine-results/pytest.xml").output
        run = _run(inst, evidence, parse(report))
        outcomes[label] = grade_patch(inst.FAIL_TO_PASS, inst.PASS_TO_PASS, run)
    assert outcomes["gold"].resolved
    assert not outcomes["none"].resolved
    assert outcomes["none"].fail_to_pass_failed == F2P and outcomes["none"].pass_to_pass_failed == []


def _run(inst, evidence, tests):
    return Run(instance_id=inst.instance_id, phase="eval", image=inst.image,
               exit_code=evidence.exit_code, suite_ran=evidence.started and evidence.ended,
               tests=tests, patches=evidence.patches)


def test_grade_solution_grades_policy_patches(toolchain, settings, tmp_path):
    b = built("fix", toolchain, tmp_path)
    inst = validate(b.candidate, b.spec, settings).instance
    run, graded = grade_solution(inst, inst.patch, settings)
    assert graded.resolved and run.phase == "eval" and run.patches == {"patch": "git", "test_patch": "git"}
    assert run.tampering == [] and run.forgery == ""
    # A "solution" that writes its own, empty version of the new test file: the change to a
    # test file is undone (and recorded), then the test patch applies, so the real test fails.
    cheat = ("diff --git a/tests/test_add.py b/tests/test_add.py\nnew file mode 100644\n"
             "--- /dev/null\n+++ b/tests/test_add.py\n@@ -0,0 +1,2 @@\n+def test_add():\n+    pass\n")
    reward = grade_diff(inst, cheat, settings)
    assert reward.run.patches == {"patch": "git", "test_patch": "git"}
    assert reward.reward == 0.0 and reward.grade.fail_to_pass_failed == F2P
    assert reward.tampering == ["tests/test_add.py"]
    assert containers_of(inst.image) == []


def test_large_test_output_does_not_hide_the_markers(toolchain, settings, tmp_path):
    b = built("noisy", toolchain, tmp_path)
    v = validate(b.candidate, b.spec, settings)
    assert v.reject is None
    assert v.instance.FAIL_TO_PASS == ["tests/test_noisy.py::test_add_loudly"]
    assert v.instance.PASS_TO_PASS == P2P[1:]


def test_new_test_module_that_cannot_import_before(toolchain, settings, tmp_path):
    b = built("new_api", toolchain, tmp_path)
    v = validate(b.candidate, b.spec, settings)
    assert v.runs[0].tests["tests/test_sub.py"] == "ERROR"  # the collection error, before
    assert v.instance.FAIL_TO_PASS == ["tests/test_sub.py::test_sub"]
    assert v.instance.PASS_TO_PASS == P2P[1:]


def test_existing_module_that_cannot_import_before_is_graded_with_the_base_run(toolchain, settings, tmp_path):
    """The test patch imports an API only the fix adds into tests/test_calc.py, changes test_mul
    and adds test_sub: before, the module cannot import, so no test in it has a verdict; the
    base run (neither patch) shows the untouched tests passing, so they are PASS_TO_PASS."""
    b = built("module_breaks", toolchain, tmp_path)
    v = validate(b.candidate, b.spec, settings)
    assert [r.phase for r in v.runs] == ["before", "after", "after#2", "base"]
    assert v.runs[0].tests == {"tests/test_calc.py": "ERROR"}
    assert v.runs[-1].patches == {} and v.runs[-1].tests["tests/test_calc.py::test_mul"] == "PASSED"
    inst = v.instance
    assert inst.FAIL_TO_PASS == ["tests/test_calc.py::test_mul", "tests/test_calc.py::test_sub"]
    assert inst.PASS_TO_PASS == P2P[1:3]
    assert inst.test_categories == {t: "n2p" for t in [*P2P[1:], "tests/test_calc.py::test_sub"]}
    assert inst.provenance["base"] == "ran" and inst.flaky_tests == []


def test_flaky_test_is_dropped_and_recorded(toolchain, tmp_path):
    """tests/test_coin.py fails in about every other run (a coin seeded by the sandbox's host
    name). Validated again until the repeated runs of one state disagree on it (each try does
    with probability 3/4): then it is dropped and recorded and the task stays valid."""
    b = built("flaky", toolchain, tmp_path)
    settings = Settings(home=tmp_path, validation=ValidationSettings(limits=Limits(timeout_s=120),
                                                                     before_runs=2, after_runs=2))
    coin = "tests/test_coin.py::test_coin"
    for _ in range(6):
        v = validate(b.candidate, b.spec, settings)
        assert [r.phase for r in v.runs] == ["before", "before#2", "after", "after#2"]
        outcomes = [r.tests[coin] for r in v.runs]
        if len(set(outcomes[:2])) == 2 or len(set(outcomes[2:])) == 2:
            break
    else:
        pytest.fail("six validations never disagreed on the coin test")
    inst = v.instance
    assert inst is not None, v.reject
    assert inst.FAIL_TO_PASS == F2P and inst.PASS_TO_PASS == P2P
    assert inst.flaky_tests == [coin] and inst.stability[coin] == outcomes[2:].count("PASSED") / 2
    assert coin not in inst.test_categories and inst.provenance["before_runs"] == "2"


def test_fix_that_breaks_another_test(toolchain, settings, tmp_path):
    b = built("breaks", toolchain, tmp_path)
    v = validate(b.candidate, b.spec, settings)
    assert v.instance is None
    assert (v.reject.stage, v.reject.reason) == (Stage.validate, Reason.gold_patch_breaks_tests)
    assert "tests/test_calc.py::test_mul" in v.reject.detail


def test_repository_without_tests_is_suite_did_not_run(toolchain, settings, tmp_path):
    # No test ran at all, so nothing was observed: "no_fail_to_pass" would claim that tests
    # ran and none flipped. The report exists but holds zero test cases (pytest exit 4).
    b = built("no_tests", toolchain, tmp_path)
    v = validate(b.candidate, b.spec, settings)
    assert v.reject.reason == Reason.suite_did_not_run
    assert [(r.phase, r.exit_code, r.tests) for r in v.runs] == [("before", 4, {})]


def test_hanging_tests_time_out_and_the_container_is_removed(toolchain, tmp_path):
    b = built("hang", toolchain, tmp_path)
    settings = Settings(home=tmp_path, validation=ValidationSettings(limits=Limits(timeout_s=5)))
    v = validate(b.candidate, b.spec, settings)
    assert v.reject.reason == Reason.timeout
    (before,) = v.runs
    assert before.timed_out and before.exit_code == 124 and before.duration_s < 30
    assert containers_of(b.image) == []


def test_fake_passed_lines_and_markers_do_not_pass(toolchain, settings, tmp_path):
    b = built("fake", toolchain, tmp_path)
    v = validate(b.candidate, b.spec, settings)
    # Its forged exit code 0 disagrees with the status pytest finished with (the guard's record).
    assert v.instance is None and v.reject.reason == Reason.report_forged
    after = v.runs[-1]
    assert "tests/test_add.py::test_add PASSED" in after.log
    assert after.tests["tests/test_add.py::test_add"] == "FAILED" and after.exit_code == 0
    graded = grade_patch(F2P, P2P, after)
    assert not graded.resolved


def test_test_patch_that_does_not_apply(toolchain, settings, tmp_path):
    b = built("fix", toolchain, tmp_path)
    bad = b.candidate.model_copy(update={"test_patch": b.candidate.patch.replace("-    return a - b",
                                                                                   "-    return a / b")})
    v = validate(bad, b.spec, settings)
    assert v.reject.reason == Reason.test_patch_failed_to_apply
    assert v.runs[0].patches == {"test_patch": "failed"} and not v.runs[0].suite_ran


def test_run_tests_without_patches(toolchain, settings, tmp_path):
    b = built("fix", toolchain, tmp_path)
    run = run_tests(b.image, b.spec, "base", [], settings)
    assert run.suite_ran and run.exit_code == 0 and run.patches == {}
    assert set(run.tests) == {"tests/test_calc.py::test_mul", "tests/test_calc.py::test_skipped",
                              "tests/test_calc.py::TestMul::test_identity[0]",
                              "tests/test_calc.py::TestMul::test_identity[1]"}


SANDBOX_TEST = """\
import os
import socket


def test_runs_as_the_unprivileged_user():
    assert os.getuid() == 1000 and os.environ["HOME"] == "/home/envmine"


def test_has_no_network():
    sock = socket.socket()
    sock.settimeout(2)
    try:
        sock.connect(("1.1.1.1", 80))
        connected = True
    except OSError:
        connected = False
    assert not connected


def test_cannot_read_the_eval_script_or_its_nonce():
    assert not os.access("/root/envmine-eval.sh", os.R_OK)
    assert not any("NONCE" in key for key in os.environ)
"""


def test_tests_run_isolated(toolchain, settings, tmp_path):
    b = built("fix", toolchain, tmp_path)
    test_patch = validator_images.diff_of(b.repo, {"tests/test_sandbox.py": SANDBOX_TEST})
    run = run_tests(b.image, b.spec, "probe", [test_patch], settings, names=["test_patch"])
    probes = {t: s for t, s in run.tests.items() if t.startswith("tests/test_sandbox.py")}
    assert probes == {
        "tests/test_sandbox.py::test_runs_as_the_unprivileged_user": "PASSED",
        "tests/test_sandbox.py::test_has_no_network": "PASSED",
        "tests/test_sandbox.py::test_cannot_read_the_eval_script_or_its_nonce": "PASSED",
    }, run.log


LEAKY = """\
RUN cd /testbed && echo '# future' >> calc.py \\
 && git -c safe.directory='*' -c user.name=f -c user.email=f@f commit -qam future \\
 && git -c safe.directory='*' tag v9 \\
 && git -c safe.directory='*' reset -q --hard HEAD~1 \\
 && git -c safe.directory='*' remote add origin https://example.invalid/calc.git \\
 && chown -R envmine:envmine /testbed
"""
GOLD_APPLIED = "RUN sed -i 's/a - b/a + b/' /testbed/calc.py\n"


def check_leakage(b, settings):
    """The leak check as `validate` runs it: first in the `before` run's eval script."""
    with sandbox(b.image, settings.validation.limits, user=settings.docker.sandbox_user) as box:
        _, report = run_in(box, b.image, b.spec, "before", [b.candidate.test_patch], settings,
                           names=["test_patch"], leak=leak_check_for(b.candidate), sentinel=True,
                           require_sentinel=False)
    return leak_reject(report, b.candidate)


def test_clean_image_has_no_leak(toolchain, settings, tmp_path):
    b = built("fix", toolchain, tmp_path)
    assert check_leakage(b, settings) is None


def test_leaky_image_is_rejected(toolchain, settings, tmp_path):
    b = built("fix", toolchain, tmp_path, extra_dockerfile=LEAKY)
    reject = check_leakage(b, settings)
    assert reject.reason == Reason.leak
    assert "remote origin" in reject.detail and "tag refs/tags/v9" in reject.detail
    assert "future-commit" in reject.detail
    v = validate(b.candidate, b.spec, settings)
    assert v.reject.reason == Reason.leak and v.runs == []


def test_gold_patch_already_applied_is_a_leak(toolchain, settings, tmp_path):
    b = built("fix", toolchain, tmp_path, extra_dockerfile=GOLD_APPLIED)
    reject = check_leakage(b, settings)
    assert reject.reason == Reason.leak and reject.detail == "gold-patch-applied"
