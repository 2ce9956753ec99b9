"""Capture the Go compile-failure run fixtures (tests/validators/fixtures/runs/go_new_api.*.json).

A Go repository whose fix adds `Min` and a `TestMin` that calls it: before the fix the test
package does not compile, so `go test -json` reports a build failure and no test at all. The
whole pipeline runs for real in Docker (mine -> plan from go.toml -> build -> validate) and
each TestRun is stored as JSON, so the grading unit tests grade real outputs without Docker:

    .venv/bin/python tests/validators/capture_compile_failure.py
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from envmine.builders.build import build_env
from envmine.builders.plan import plan_env
from envmine.miners.git_source import mine_git
from envmine.settings import Settings
from envmine.testing.langrepos import LangRepo, make_repo
from envmine.validators.run import validate

OUT = Path(__file__).parent / "fixtures" / "runs"
MAX = "package calc\n\nfunc Max(a, b int) int {\n\tif a > b {\n\t\treturn a\n\t}\n\treturn b\n}\n"
MIN = "\n// Min is new: the test patch's TestMin cannot compile without it.\n" \
      "func Min(a, b int) int {\n\tif a < b {\n\t\treturn a\n\t}\n\treturn b\n}\n"
TEST_MAX = 'package calc\n\nimport "testing"\n\nfunc TestMax(t *testing.T) {\n\tif Max(2, 3) != 3 {\n\t\tt.Fatal("max")\n\t}\n}\n'
TEST_MIN = '\nfunc TestMin(t *testing.T) {\n\tif Min(2, 3) != 2 {\n\t\tt.Fatal("min")\n\t}\n}\n'
CASE = LangRepo(
    language="go",
    initial={"go.mod": "module example.com/calc\n\ngo 1.22\n", "calc.go": MAX, "calc_test.go": TEST_MAX},
    fix={"calc.go": MAX + MIN, "calc_test.go": TEST_MAX + TEST_MIN},
    fail_to_pass=["example.com/calc/TestMax", "example.com/calc/TestMin"], pass_to_pass=[],
)


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="envmine-capture-go-"))
    settings = Settings.load(home=home)
    (candidate,) = mine_git(str(make_repo(home / "local", CASE)), settings).candidates
    spec = plan_env(candidate, settings)
    _, reject = build_env(spec, settings)
    assert reject is None, reject
    validation = validate(candidate, spec, settings)
    for run in validation.runs:
        name = f"go_new_api.{run.phase.replace('#', '_')}.json"
        (OUT / name).write_text(json.dumps(run.model_dump(mode="json"), indent=1, sort_keys=True) + "\n")
        print(name, run.exit_code, dict(run.tests))
    print("instance:", validation.instance and validation.instance.provenance, validation.reject)


if __name__ == "__main__":
    main()
