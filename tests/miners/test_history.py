"""History helpers: language detection, PR numbers, closed issues, commit messages."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from envmine.miners.history import (
    Commit,
    clean_message,
    closed_issues,
    detect_language,
    is_vendored,
    pr_number,
)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (["go.mod", "main.go", "main_test.go", "scripts/gen.py"], "go"),
        (["package.json", "index.js", "lib/a.js", "test/a.test.js"], "javascript"),
        (["package.json", "tsconfig.json", "src/a.ts", "src/b.ts", "jest.config.js"], "typescript"),
        (["Cargo.toml", "src/lib.rs", "build.py"], "rust"),
        (["pyproject.toml", "pkg/__init__.py", "docs/conf.js"], "python"),
        (["setup.py", "pkg/a.py", "pkg/b.py", "web/x.js", "web/y.js", "web/z.js"], "python"),
        (["README.md"], "python"),
        (["a.py", "b.py"], "python"),
    ],
)
def test_detect_language(files, expected):
    assert detect_language(files) == expected


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # A Python project that commits its web assets' node_modules stays Python.
        (["setup.py", "pkg/a.py", "web/app.js", "web/node_modules/x/index.js",
          "web/node_modules/x/lib/a.js", "web/node_modules/y/index.js"], "python"),
        # No manifest at the root: a Go module's vendor/ of C files must not make it C.
        (["cmd/main.go", "pkg/x.go", "vendor/z/a.c", "vendor/z/b.c", "vendor/z/c.c"], "go"),
        (["src/lib.rs", "third_party/zlib/a.c", "third_party/zlib/b.c"], "rust"),
        (["a.py", ".git/hooks/x.js", ".git/hooks/y.js"], "python"),
        # Only vendored sources and no manifest: nothing of the repository's own -> default.
        (["node_modules/x/index.js", "vendor/a.go"], "python"),
        # A folder merely named like one ("vendors", "my_vendor") still counts.
        (["vendors/a.js", "vendors/b.js", "x.py"], "javascript"),
    ],
)
def test_detect_language_ignores_vendored_folders(files, expected):
    assert detect_language(files) == expected


def test_is_vendored():
    assert is_vendored("node_modules/a.js") and is_vendored("a/b/vendor/c/d.go")
    assert is_vendored(".git/config") and is_vendored("x/third_party/y.c")
    assert not is_vendored("vendor") and not is_vendored("vendors/a.js") and not is_vendored("src/vendor.go")


def test_detect_language_within_a_registry_s_languages():
    assert detect_language(["README.md"], ["javascript", "typescript"], default="javascript") == (
        "javascript"
    )


def _commit(message: str) -> Commit:
    return Commit("f" * 40, ("e" * 40,), datetime(2024, 1, 1, tzinfo=timezone.utc), message)


def test_pr_numbers_and_closed_issues():
    assert pr_number(_commit("Merge pull request #1234 from a/b\n\nTitle")) == 1234
    assert pr_number(_commit("Fix parser on empty input (#88)")) == 88
    assert pr_number(_commit("Refer to #88 in docs")) is None
    text = "Fixes #12, closes #13 and resolves: #12. See #99. fixed #7"
    assert closed_issues(text) == [12, 13, 7]


def test_clean_message_drops_trailers():
    message = "Fix x\n\nBody line.\n\nSigned-off-by: A <a@b>\nCo-authored-by: B <b@c>\n"
    assert clean_message(message) == "Fix x\n\nBody line."
