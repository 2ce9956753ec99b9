"""modified_functions reads the clone at the base commit and maps the gold patch's hunks."""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone

from envmine.records import Candidate
from envmine.settings import Settings
from envmine.validators.annotate import modified_functions

BEFORE = "class Calc:\n    def add(self, a, b):\n        return a - b\n\n    def neg(self, a):\n        return -a\n"


def _git(repo, *args):
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin", "HOME": str(repo)}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


def test_gold_patch_hunks_map_to_the_methods_they_change(tmp_path):
    repo = tmp_path / "r"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "calc.py").write_text(BEFORE)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    base = _git(repo, "rev-parse", "HEAD")
    (repo / "calc.py").write_text(BEFORE.replace("a - b", "a + b"))
    patch = _git(repo, "diff") + "\n"
    candidate = Candidate(instance_id="t__r-1", repo="t/r", source="git", repo_url=str(repo), base_commit=base,
                          head_commit=base, patch=patch, test_patch="", problem_statement="p",
                          created_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert modified_functions(candidate, Settings(home=tmp_path / "home")) == ["calc.py::Calc.add"]
    missing = candidate.model_copy(update={"repo_url": str(tmp_path / "nowhere")})
    assert modified_functions(missing, Settings(home=tmp_path / "home")) == []
