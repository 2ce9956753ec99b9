"""Helpers for the miner tests: small git repositories built in tmp_path with the git CLI."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from envmine.settings import Settings

ENV = {
    "GIT_AUTHOR_NAME": "Ada",
    "GIT_AUTHOR_EMAIL": "ada@example.org",
    "GIT_COMMITTER_NAME": "Ada",
    "GIT_COMMITTER_EMAIL": "ada@example.org",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
}


class GitRepo:
    """A work tree the test writes commits into; dates are fixed so shas are reproducible."""

    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True)
        self.clock = 1_700_000_000
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        if args[0] in ("commit", "merge", "tag"):
            self.clock += 60
        date = f"@{self.clock} +0000"
        env = {**os.environ, **ENV, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        proc = subprocess.run(["git", *args], cwd=self.path, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    def commit(self, message: str, files: dict[str, str | bytes | None]) -> str:
        """Write (or delete, for None) `files` and commit them; returns the new sha."""
        for name, content in files.items():
            target = self.path / name
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def git_repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "acme" / "widgets")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")
