"""History helpers: language detection, PR numbers, closed issues, commit messages."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from envmine.miners.history import Commit, clean_message, closed_issues, detect_language, pr_number


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
