"""The git edge: the one module that starts `git`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from envmine.builders.checkout import CheckoutError
from envmine.git import GitError, GitTimeout, git, has_commit, tree_files
from envmine.miners.clone import CloneError

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ["envmine", "miners", "builders", "validators", "warehouse", "rl", "flows", "review", "bench", "scripts"]


def _repo(tmp_path: Path) -> tuple[Path, str]:
    work = tmp_path / "work"
    work.mkdir()
    (work / "dir").mkdir()
    (work / "dir" / "é.txt").write_text("x")
    (work / "a.py").write_text("y")
    env = ["-c", "user.name=t", "-c", "user.email=t@t"]
    git(["init", "-q", str(work)])
    git(["-C", str(work), "add", "."])
    git(["-C", str(work), *env, "commit", "-q", "-m", "one"])
    return work, git(["-C", str(work), "rev-parse", "HEAD"]).stdout.strip()


def test_reads_a_tree_and_tells_commits_apart(tmp_path):
    work, sha = _repo(tmp_path)
    assert tree_files(work) == ["a.py", "dir/é.txt"] and tree_files(work / ".git", sha) == ["a.py", "dir/é.txt"]
    assert has_commit(work, sha) and not has_commit(work, "0" * 40)


def test_a_failure_is_a_git_error_with_what_git_said(tmp_path):
    with pytest.raises(GitError, match=r"git rev-parse failed \(128\): fatal: not a git repository"):
        git(["-C", str(tmp_path), "rev-parse", "HEAD"])
    assert git(["-C", str(tmp_path), "rev-parse", "HEAD"], check=False).returncode == 128
    assert issubclass(CloneError, GitError) and issubclass(CheckoutError, GitError)


def test_a_hung_git_is_stopped(tmp_path):
    with pytest.raises(GitTimeout, match="git hang timed out after 0.5s"):
        git(["-c", "alias.hang=!sleep 2", "hang"], cwd=tmp_path, timeout_s=0.5)


def test_no_other_module_starts_git():
    starts = re.compile(r"""(subprocess\.\w+|Popen|check_output)\(\s*\[\s*["']git["']""")
    found = [str(p.relative_to(ROOT)) for d in PRODUCT for p in (ROOT / d).rglob("*.py")
             if starts.search(p.read_text()) and p != ROOT / "envmine" / "git.py"]
    assert found == []
    assert starts.search((ROOT / "envmine" / "git.py").read_text())  # the pattern sees the edge itself
