"""The integrity steps' pure parts: protected paths as data (Python and bash read the same
patterns alike), the guard's stream verification, the sentinel's choice and reading."""

from __future__ import annotations

import re
import subprocess

import pytest

from envmine.languages import known_languages, load_language
from envmine.reasons import Reason
from envmine.records import TestStatus
from envmine.validators.guards.pytest_guard import sign, verify
from envmine.validators.integrity import check, new_guard, new_sentinel, protected_patterns

PATHS = [
    "conftest.py", "tests/conftest.py", "src/pkg/core.py", "pytest.ini", "pyproject.toml", "setup.py",
    "src/sitecustomize.py", "lib/evil.pth", "pkg.egg-info/entry_points.txt", ".github/workflows/ci.yml",
    "calc_test.go", "calc.go", "go.mod", "vendor/x/y.go", "Cargo.toml", "build.rs", "src/lib.rs",
    "tests/calc.rs", "target/debug/x", "package.json", "jest.config.js", "src/index.js",
    "__tests__/a.test.js", "node_modules/chai/index.js", "pom.xml", "src/main/java/A.java",
    "src/test/java/ATest.java", "CMakeLists.txt", "src/a.c", "build/CTestTestfile.cmake",
    "docs/readme.md", "a b/test_x.py", ".gitignore", "tox.ini",
]


def protected(language: str, path: str) -> bool:
    """Python's reading of a language's protected patterns (the eval script reads them in bash)."""
    return any(re.search(p, path) for p in load_language(language).protected)


@pytest.mark.parametrize("language", known_languages())
def test_bash_reads_the_protected_patterns_as_python_does(language):
    patterns = protected_patterns(language)
    script = ('pats=("$@"); while IFS= read -r p; do m=0; for re in "${pats[@]}"; do '
              '[[ "$p" =~ $re ]] && { m=1; break; }; done; echo "$m"; done')
    out = subprocess.run(["bash", "-c", script, "_", *patterns], input="\n".join(PATHS) + "\n",
                         capture_output=True, text=True, check=True).stdout.split()
    expected = [str(int(protected(language, path))) for path in PATHS]
    assert out == expected


def test_what_is_protected_per_language():
    assert [p for p in PATHS if protected("python", p)] == [
        "conftest.py", "tests/conftest.py", "pytest.ini", "pyproject.toml", "src/sitecustomize.py", "lib/evil.pth",
        "pkg.egg-info/entry_points.txt", ".github/workflows/ci.yml", "tests/calc.rs", "src/test/java/ATest.java", "a b/test_x.py", ".gitignore", "tox.ini"]
    assert not protected("python", "src/pkg/core.py") and not protected("python", "setup.py")
    assert protected("go", "calc_test.go") and protected("go", "go.mod") and not protected("go", "calc.go")


KEY = b"k" * 16


def stream(*events: tuple[str, str]) -> bytes:
    return b"".join(f"{seq}\t{kind}\t{payload}\t{sign(KEY, seq, kind, payload)}\n".encode()
                    for seq, (kind, payload) in enumerate(events))


REPORTS = [("report", '{"nodeid":"t.py::a","outcome":"passed","when":"call"}'),
           ("report", '{"nodeid":"t.py::b","outcome":"failed","when":"call"}')]


def test_guard_stream_with_the_runner_finished_is_ok():
    verdict = verify(stream(*REPORTS, ("finish", '{"exitstatus":1,"patched":[]}')), KEY, 1)
    assert verdict.ok and verdict.outcomes == {"t.py::a": "passed", "t.py::b": "failed"}


@pytest.mark.parametrize(("events", "exit_code", "reason", "detail"), [
    (REPORTS, 0, "runner_exit_skipped", "ended before pytest finished"),
    ([*REPORTS, ("finish", '{"exitstatus":1,"patched":[]}')], 0, "report_forged", "process exited 0"),
    ([*REPORTS, ("forged", '{"why":"x","nodeid":"t.py::b"}'), ("finish", '{"exitstatus":1,"patched":[]}')], 1,
     "report_forged", "x: t.py::b"),
    ([*REPORTS, ("finish", '{"exitstatus":1,"patched":["_pytest.runner.call_and_report"]}')], 1,
     "report_forged", "internals replaced"),
])
def test_guard_stream_forgeries(events, exit_code, reason, detail):
    verdict = verify(stream(*events), KEY, exit_code)
    assert (verdict.ok, verdict.reason) == (False, reason) and detail in verdict.detail


def test_guard_lines_without_the_key_or_out_of_order_are_forged():
    good = stream(*REPORTS, ("finish", '{"exitstatus":1,"patched":[]}'))
    tampered = good.replace(b'"outcome":"failed"', b'"outcome":"passed"')
    assert verify(tampered, KEY, 1).detail == "guard line 1 is not authentic"
    lines = good.splitlines(keepends=True)
    assert not verify(lines[1] + lines[0] + lines[2], KEY, 1).ok
    assert not verify(good + good.splitlines(keepends=True)[0], KEY, 1).ok  # a line after finish


def test_report_must_agree_with_the_guard():
    guard = new_guard("pytest")
    finished = stream(*REPORTS, ("finish", '{"exitstatus":1,"patched":[]}'))
    guard = type(guard)(source=guard.source, delimiter=guard.delimiter, key=KEY.decode())
    honest = {"t.py::a": TestStatus.passed, "t.py::b": TestStatus.failed}
    assert check(honest, 1, guard, finished, None).forgery == ""
    forged = {"t.py::a": TestStatus.passed, "t.py::b": TestStatus.passed}
    assert check(forged, 1, guard, finished, None).forgery == Reason.report_forged
    assert check(honest, 1, guard, b"", None).forgery == Reason.runner_exit_skipped


GO_TEST_PATCH = ("diff --git a/calc_test.go b/calc_test.go\n--- a/calc_test.go\n+++ b/calc_test.go\n"
                 "@@ -1 +1,2 @@\n x\n+y\n")


def test_sentinel_is_planted_in_a_test_file_of_the_test_patch_and_read_back():
    planted = new_sentinel("go", "go_test_json", GO_TEST_PATCH)
    assert planted.file == "calc_test.go" and f"func TestZ{planted.name}(t *testing.T)" in planted.text
    assert new_sentinel("python", "pytest", GO_TEST_PATCH) is None  # pytest has the guard instead
    tests = {"m/TestAbs": TestStatus.passed, f"m/TestZ{planted.name}": TestStatus.failed}
    ok = check(tests, 1, None, None, planted.name)
    assert (ok.forgery, ok.sentinel, ok.tests) == ("", "failed", {"m/TestAbs": TestStatus.passed})
    passed = check({**tests, f"m/TestZ{planted.name}": TestStatus.passed}, 0, None, None, planted.name)
    assert (passed.forgery, passed.sentinel) == (Reason.report_forged, "passed")
    missing = check({"m/TestAbs": TestStatus.passed}, 0, None, None, planted.name)
    assert (missing.forgery, missing.sentinel) == (Reason.report_forged, "missing")
    learning = check({"m/TestAbs": TestStatus.passed}, 0, None, None, planted.name, require_sentinel=False)
    assert (learning.forgery, learning.sentinel) == ("", "missing")
