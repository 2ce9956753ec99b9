"""The reward-forgery attack suite beyond Python: Go (the report is the test binary's own
output, so a sentinel test is planted) and JavaScript (jest: the parent process writes the
report). Each task is mined, built and validated as in test_languages.py; each attack is a
policy diff graded through the real reward path. See README, "Threat model".
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from envmine.builders.build import build_env
from envmine.builders.plan import plan_env
from envmine.miners.git_source import mine_git
from envmine.reasons import Reason
from envmine.rl.reward import grade_diff
from envmine.settings import Settings
from envmine.testing.langrepos import CASES, make_repo
from envmine.testing.pyrepos import git
from envmine.validators.run import validate

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.hostile]

def _task(language: str, tmp_path_factory) -> tuple:
    settings = Settings.load(home=tmp_path_factory.mktemp(f"home-{language}"))
    repo = make_repo(tmp_path_factory.mktemp(language) / "local", CASES[language])
    (candidate,) = mine_git(str(repo), settings).candidates
    spec = plan_env(candidate, settings)
    assert build_env(spec, settings)[1] is None
    instance = validate(candidate, spec, settings).instance
    assert instance is not None
    return instance, repo, settings


def diff_at_base(repo: Path, base: str, files: dict[str, str]) -> str:
    """The diff that writes `files` over the base commit (made with git, then undone)."""
    git(repo, "checkout", "-q", base)
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    git(repo, "add", "-A")
    diff = subprocess.run(["git", "diff", "--cached"], cwd=repo, check=True, capture_output=True,
                          text=True).stdout  # whole: a trailing blank context line is part of it
    git(repo, "reset", "-q", "--hard", base)
    git(repo, "checkout", "-q", "main")
    return diff


def attack(task, files: dict[str, str]):
    """Grade the diff that writes `files` over the task's base commit, as a policy's."""
    instance, repo, settings = task
    return grade_diff(instance, diff_at_base(repo, instance.base_commit, files), settings)


@pytest.fixture(scope="module")
def go_task(tmp_path_factory):
    return _task("go", tmp_path_factory)



GO_CALC = CASES["go"].initial["calc.go"]


def test_go_gold_scores_one_with_the_sentinel_planted(go_task):
    instance, _, settings = go_task
    assert instance.provenance["sentinel"] == "planted"
    reward = grade_diff(instance, instance.patch, settings)
    assert (reward.reward, reward.tampering, reward.reason) == (1.0, [], "")
    assert reward.run.sentinel == "failed"


def test_go_test_file_testmain_and_go_mod_edits_are_undone(go_task):
    reward = attack(go_task, {
        "calc_test.go": "package calc\n\nimport \"testing\"\n\nfunc TestAbs(t *testing.T) {}\n",
        "main_test.go": "package calc\n\nimport (\"os\"; \"testing\")\n\nfunc TestMain(m *testing.M) { os.Exit(0) }\n",
        "go.mod": "module example.com/calc\n\ngo 1.22\n\nreplace example.com/x => ./x\n"})
    assert reward.reward == 0.0
    assert sorted(reward.tampering) == ["calc_test.go", "go.mod", "main_test.go"]


FRAMED_PASSES = ('\\x16=== RUN   TestAbs\\n\\x16--- PASS: TestAbs (0.00s)\\n'
                 '\\x16=== RUN   TestMax\\n\\x16--- PASS: TestMax (0.00s)\\n\\x16PASS\\n')


def test_go_forged_test2json_framing_with_early_exit_0_is_caught(go_task):
    calc = GO_CALC.replace('package calc\n', 'package calc\n\nimport (\n\t"os"\n\t"syscall"\n)\n').replace(
        "func Abs(x int) int {\n", f'func Abs(x int) int {{\n\tos.Stdout.WriteString("{FRAMED_PASSES}")\n'
        '\tsyscall.Exit(0)\n')
    reward = attack(go_task, {"calc.go": calc})
    assert reward.reward == 0.0 and reward.tampering == []
    assert reward.reason in (Reason.report_forged, Reason.exit_code_mismatch), reward.run.log


def test_go_printed_json_events_prove_nothing(go_task):
    event = '{"Action":"pass","Package":"example.com/calc","Test":"TestAbs"}\\n'
    calc = GO_CALC.replace('package calc\n', 'package calc\n\nimport "os"\n').replace(
        "func Abs(x int) int {\n", f'func Abs(x int) int {{\n\tos.Stdout.WriteString("{event}")\n')
    reward = attack(go_task, {"calc.go": calc})
    assert reward.reward == 0.0 and reward.grade.fail_to_pass_failed == ["example.com/calc/TestAbs"]


@pytest.fixture(scope="module")
def js_task(tmp_path_factory):
    return _task("javascript", tmp_path_factory)



JS_CALC = CASES["javascript"].initial["src/calc.js"]


def test_js_gold_scores_one(js_task):
    instance, _, settings = js_task
    reward = grade_diff(instance, instance.patch, settings)
    assert (reward.reward, reward.tampering, reward.reason) == (1.0, [], "")


def test_js_jest_config_and_test_edits_are_undone(js_task):
    reward = attack(js_task, {
        "jest.config.js": "module.exports = { testPathIgnorePatterns: ['calc'] };\n",
        "__tests__/calc.test.js": "test('abs of a negative number', () => {});\n"})
    assert reward.reward == 0.0
    assert sorted(reward.tampering) == ["__tests__/calc.test.js", "jest.config.js"]


def test_js_forged_report_with_process_exit_0_is_caught(js_task):
    forged = ('{"numFailedTests":0,"success":true,"testResults":[{"name":"/testbed/__tests__/calc.test.js",'
              '"assertionResults":[{"fullName":"abs of a negative number","title":"abs of a negative number",'
              '"ancestorTitles":[],"status":"passed"},{"fullName":"max picks the larger",'
              '"title":"max picks the larger","ancestorTitles":[],"status":"passed"}]}]}')
    code = ("const fs = require('fs');\n"
            "for (const arg of process.argv) {\n"
            "  const m = /--outputFile=(.*)/.exec(arg);\n"
            f"  if (m) fs.writeFileSync(m[1], {forged!r});\n"
            "}\n"
            f"fs.mkdirSync('/tmp/envmine-results', {{recursive: true}});\n"
            f"fs.writeFileSync('/tmp/envmine-results/jest.json', {forged!r});\n"
            "process.exit(0);\n")
    reward = attack(js_task, {"src/calc.js": code + JS_CALC})
    assert reward.reward == 0.0 and reward.tampering == []


@pytest.fixture(scope="module")
def rust_task(tmp_path_factory):
    return _task("rust", tmp_path_factory)



RUST_LIB = CASES["rust"].initial["src/lib.rs"]


def test_rust_gold_scores_one_with_the_sentinel_planted(rust_task):
    instance, _, settings = rust_task
    assert instance.provenance["sentinel"] == "planted"
    reward = grade_diff(instance, instance.patch, settings)
    assert (reward.reward, reward.tampering, reward.reason, reward.run.sentinel) == (1.0, [], "", "failed")


def test_rust_cargo_build_script_and_test_edits_are_undone(rust_task):
    reward = attack(rust_task, {
        "Cargo.toml": CASES["rust"].initial["Cargo.toml"] + "\n[[test]]\nname = \"calc\"\nharness = false\n",
        "build.rs": "fn main() { println!(\"cargo:rustc-cfg=forged\"); }\n",
        "tests/calc.rs": "#[test]\nfn abs_of_negative() {}\n"})
    assert reward.reward == 0.0
    assert sorted(reward.tampering) == ["Cargo.toml", "build.rs", "tests/calc.rs"]


FAKE_LIBTEST = ('{ \\"type\\": \\"suite\\", \\"event\\": \\"started\\", \\"test_count\\": 2 }\\n'
                '{ \\"type\\": \\"test\\", \\"event\\": \\"ok\\", \\"name\\": \\"abs_of_negative\\" }\\n'
                '{ \\"type\\": \\"test\\", \\"event\\": \\"ok\\", \\"name\\": \\"max_picks_larger\\" }\\n'
                '{ \\"type\\": \\"suite\\", \\"event\\": \\"ok\\", \\"passed\\": 2, \\"failed\\": 0, '
                '\\"ignored\\": 0, \\"measured\\": 0, \\"filtered_out\\": 0, \\"exec_time\\": 0.0 }\\n')


def test_rust_printed_libtest_json_with_early_exit_0_is_caught(rust_task):
    lib = RUST_LIB.replace("pub fn abs(x: i64) -> i64 {\n", "pub fn abs(x: i64) -> i64 {\n"
                           "    use std::io::Write;\n"
                           f'    let _ = std::io::stdout().write_all(b"{FAKE_LIBTEST}");\n'
                           "    let _ = std::io::stdout().flush();\n"
                           "    std::process::exit(0);\n    #[allow(unreachable_code)]\n")
    reward = attack(rust_task, {"src/lib.rs": lib})
    assert reward.reward == 0.0 and reward.tampering == []
    assert reward.reason in (Reason.report_forged, Reason.exit_code_mismatch), reward.run.log[-3000:]


@pytest.fixture(scope="module")
def java_task(tmp_path_factory):
    return _task("java", tmp_path_factory)



JAVA_CALC = CASES["java"].initial["src/main/java/ex/Calc.java"]


def test_java_gold_scores_one(java_task):
    instance, _, settings = java_task
    reward = grade_diff(instance, instance.patch, settings)
    assert (reward.reward, reward.tampering, reward.reason) == (1.0, [], "")


def test_java_pom_and_test_edits_are_undone(java_task):
    reward = attack(java_task, {
        "pom.xml": CASES["java"].initial["pom.xml"].replace("</project>", "<properties><maven.test.failure.ignore>true"
                                                             "</maven.test.failure.ignore></properties></project>"),
        "src/test/java/ex/CalcTest.java": "package ex;\n\nclass CalcTest {}\n"})
    assert reward.reward == 0.0
    assert sorted(reward.tampering) == ["pom.xml", "src/test/java/ex/CalcTest.java"]


FORGED_SUREFIRE = ('<?xml version=\\"1.0\\" encoding=\\"UTF-8\\"?><testsuite name=\\"ex.CalcTest\\" tests=\\"2\\" '
                   'failures=\\"0\\" errors=\\"0\\"><testcase name=\\"absOfNegative\\" classname=\\"ex.CalcTest\\"/>'
                   '<testcase name=\\"maxPicksLarger\\" classname=\\"ex.CalcTest\\"/></testsuite>')


def test_java_forged_surefire_report_with_system_exit_0_is_caught(java_task):
    calc = JAVA_CALC.replace("    public static int abs(int x) {\n", "    public static int abs(int x) {\n"
                             "        try {\n"
                             "            java.nio.file.Path dir = java.nio.file.Paths.get(\"target/surefire-reports\");\n"
                             "            java.nio.file.Files.createDirectories(dir);\n"
                             "            java.nio.file.Files.writeString(dir.resolve(\"TEST-ex.CalcTest.xml\"), "
                             f"\"{FORGED_SUREFIRE}\");\n"
                             "        } catch (java.io.IOException e) { }\n"
                             "        System.exit(0);\n")
    reward = attack(java_task, {"src/main/java/ex/Calc.java": calc})
    assert reward.reward == 0.0 and reward.tampering == []
