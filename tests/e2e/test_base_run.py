"""A compiled language end to end in real Docker: the test patch calls an API only the fix adds,
so the test package does not compile before the fix and no test in it has a verdict. The base
run (neither patch) tells the untouched tests (PASS_TO_PASS: they pass at base and after) from
the new one (FAIL_TO_PASS); without it, every test of the package would be FAIL_TO_PASS."""

from __future__ import annotations

from pathlib import Path

import pytest

from envmine.builders.build import build_env
from envmine.builders.plan import plan_env
from envmine.miners.git_source import mine_git
from envmine.records import EnvSpec
from envmine.settings import Settings
from envmine.testing.langrepos import LangRepo, make_repo
from envmine.validators.grading import grade
from envmine.validators.run import validate

pytestmark = [pytest.mark.docker, pytest.mark.slow]

_CALC = "package calc\n\nfunc Abs(x int) int {\n\tif x < 0 {\n\t\treturn -x\n\t}\n\treturn x\n}\n\n" \
        "func Max(a, b int) int {\n\tif a > b {\n\t\treturn a\n\t}\n\treturn b\n}\n"
_TESTS = "package calc\n\nimport \"testing\"\n\nfunc TestMax(t *testing.T) {\n\tif Max(2, 3) != 3 {\n" \
         "\t\tt.Fatal(\"max\")\n\t}\n}\n\nfunc TestAbs(t *testing.T) {\n\tif Abs(-4) != 4 {\n\t\tt.Fatal(\"abs\")\n\t}\n}\n"
GO_NEW_API = LangRepo(
    language="go",
    initial={"go.mod": "module example.com/calc\n\ngo 1.22\n", "calc.go": _CALC, "calc_test.go": _TESTS},
    fix={"calc.go": _CALC + "\nfunc Min(a, b int) int {\n\tif a < b {\n\t\treturn a\n\t}\n\treturn b\n}\n",
         "calc_test.go": _TESTS + "\nfunc TestMin(t *testing.T) {\n\tif Min(2, 3) != 2 {\n\t\tt.Fatal(\"min\")\n\t}\n}\n"},
    fail_to_pass=["example.com/calc/TestMin"],
    pass_to_pass=["example.com/calc/TestAbs", "example.com/calc/TestMax"],
)


def test_go_test_patch_that_does_not_compile_before_the_fix(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path / "home")
    repo = make_repo(tmp_path / "local", GO_NEW_API)
    (candidate,) = mine_git(str(repo), settings).candidates
    spec = plan_env(candidate, settings)
    assert isinstance(spec, EnvSpec), spec
    builds, reject = build_env(spec, settings)
    assert reject is None, reject.detail[-3000:]

    validation = validate(candidate, spec, settings)
    assert validation.reject is None, (validation.reject, validation.runs[0].log[-3000:])
    before, *after, base = validation.runs
    assert [r.phase for r in validation.runs] == ["before", "after", "after#2", "base"]
    # The test package did not compile: one ERROR entry for the package, no test's own verdict.
    assert before.tests == {"example.com/calc": "ERROR"} and before.exit_code != 0
    assert base.patches == {} and base.tests == {t: "PASSED" for t in GO_NEW_API.pass_to_pass}
    instance = validation.instance
    assert instance.FAIL_TO_PASS == GO_NEW_API.fail_to_pass
    assert instance.PASS_TO_PASS == GO_NEW_API.pass_to_pass
    assert instance.test_categories == {t: "n2p" for t in [*GO_NEW_API.fail_to_pass, *GO_NEW_API.pass_to_pass]}
    assert instance.provenance["base"] == "ran"
    # Without the base run, every test of the package was FAIL_TO_PASS.
    coarse = grade(before, after)
    assert coarse.fail_to_pass == sorted([*GO_NEW_API.fail_to_pass, *GO_NEW_API.pass_to_pass])
    assert coarse.pass_to_pass == []
