"""Patch splitting on diffs that git itself printed (renames, binaries, odd names)."""

from __future__ import annotations

import subprocess

from envmine.languages import load_language
from envmine.miners.history import full_diff
from envmine.miners.patches import (
    changed_lines, drop_files, file_diffs, has_code_change, split_patch, unquote_path,
)

PY = load_language("python")


def _diff(git_repo, base):
    return full_diff(git_repo.path, base, "HEAD")


def test_new_deleted_renamed_binary_and_quoted_files(git_repo):
    base = git_repo.commit("base", {
        "pkg/old_name.py": "".join(f"line {i}\n" for i in range(20)),
        "pkg/gone.py": "x = 1\n",
        "tests/test_gone.py": "def test_gone():\n    pass\n",
        "tests/data.bin": bytes([0, 1, 2, 3]),
    })
    git_repo.commit("change", {
        "pkg/old_name.py": None,
        "pkg/new_name.py": "".join(f"line {i}\n" for i in range(20)) + "line 20\n",
        "pkg/gone.py": None,
        "tests/test_gone.py": None,
        "tests/data.bin": bytes([0, 1, 2, 3, 4, 255]),
        "pkg/with space.py": "y = 2\n",
        "pkg/naïve.py": "z = 3\n",
        'tests/we"ird.py': "def test_q():\n    pass\n",
    })
    diff = _diff(git_repo, base)
    by_path = {fd.path: fd for fd in file_diffs(diff)}
    assert sorted(by_path) == sorted([
        "pkg/gone.py", "pkg/naïve.py", "pkg/new_name.py", "pkg/with space.py",
        "tests/data.bin", "tests/test_gone.py", 'tests/we"ird.py',
    ])
    assert by_path["pkg/new_name.py"].old_path == "pkg/old_name.py"
    assert "rename from pkg/old_name.py" in by_path["pkg/new_name.py"].text
    assert by_path["pkg/gone.py"].old_path == "pkg/gone.py"
    assert "deleted file mode" in by_path["pkg/gone.py"].text
    assert by_path["pkg/with space.py"].old_path == ""
    assert by_path["tests/data.bin"].binary
    assert not by_path["pkg/gone.py"].binary
    assert "".join(fd.text for fd in file_diffs(diff)) == diff  # byte for byte

    split = split_patch(diff, PY)
    assert split.test_files == ["tests/data.bin", "tests/test_gone.py", 'tests/we"ird.py']
    assert split.patch_files == ["pkg/gone.py", "pkg/naïve.py", "pkg/new_name.py", "pkg/with space.py"]
    assert split.binary_files == ["tests/data.bin"]
    assert split.patch + split.test_patch != ""

    # both halves apply on the base commit, in either order
    git_repo.git("checkout", "-q", base)
    for part in (split.test_patch, split.patch):
        proc = subprocess.run(["git", "apply", "--binary", "-"], cwd=git_repo.path, input=part.encode(),
                              capture_output=True)
        assert proc.returncode == 0, proc.stderr


def test_a_rename_is_classified_by_its_new_path():
    diff = (
        "diff --git a/tests/helper.py b/pkg/helper.py\n"
        "similarity index 100%\nrename from tests/helper.py\nrename to pkg/helper.py\n"
    )
    split = split_patch(diff, PY)
    assert split.patch_files == ["pkg/helper.py"]
    assert file_diffs(diff)[0].old_path == "tests/helper.py"
    assert split.test_patch == ""


def test_unquote_path():
    assert unquote_path('"pkg/na\\303\\257ve.py"') == "pkg/naïve.py"
    assert unquote_path('"a\\"b\\tc"') == 'a"b\tc'
    assert unquote_path("plain/path.py") == "plain/path.py"


def test_changed_lines_and_code_change(git_repo):
    base = git_repo.commit("base", {"pkg/v.py": '__version__ = "1.0"\n', "README.md": "a\n"})
    git_repo.commit("bump", {"pkg/v.py": '__version__ = "1.1"\n\n', "README.md": "b\n"})
    diff = _diff(git_repo, base)
    assert changed_lines(diff) == ["a", "b", '__version__ = "1.0"', '__version__ = "1.1"', ""]
    assert has_code_change(diff, PY)
    assert not has_code_change(diff, PY, trivial_line=lambda line: "__version__" in line)


def test_drop_files(git_repo):
    base = git_repo.commit("base", {"pkg/a.py": "1\n", "docs/index.rst": "x\n"})
    git_repo.commit("both", {"pkg/a.py": "2\n", "docs/index.rst": "y\n"})
    kept, dropped = drop_files(_diff(git_repo, base), [r"^docs/"])
    assert dropped == ["docs/index.rst"]
    assert [fd.path for fd in file_diffs(kept)] == ["pkg/a.py"]
