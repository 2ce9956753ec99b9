"""The git edge: the one module that starts `git`, and the few reads every stage shares.

Miners (history, clones, registry histories) and builders (checkouts, /testbed) call `git()`
with their own arguments; errors are `GitError`s (clone and checkout errors subclass it).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

BASE_ENV = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
"""Never prompt for credentials; messages in one language (callers add their own)."""
READ_ENV = {"GIT_CONFIG_NOSYSTEM": "1"}
"""Reads of repositories ignore the machine's system-wide git config."""
TIMEOUT_S = 600


class GitError(RuntimeError):
    """git failed, or did not finish in time."""


class GitTimeout(GitError):
    """git did not finish within its timeout."""


def git(args: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout_s: float = TIMEOUT_S, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `git ARGS`; its output as text (invalid UTF-8 replaced). A non-zero exit raises a
    `GitError` with the tail of stderr unless `check` is false; a timeout raises `GitTimeout`."""
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=timeout_s,
                              env={**os.environ, **BASE_ENV, **(env or {})})
    except subprocess.TimeoutExpired as exc:
        raise GitTimeout(f"git {subcommand(args)} timed out after {timeout_s:g}s") from exc
    done = subprocess.CompletedProcess(proc.args, proc.returncode, _text(proc.stdout), _text(proc.stderr))
    if check and done.returncode != 0:
        raise GitError(f"git {subcommand(args)} failed ({done.returncode}): {done.stderr.strip()[-1000:]}")
    return done


def subcommand(args: list[str]) -> str:
    """The git command `args` run (`log` in `-C DIR -c k=v log ...`), for messages."""
    words = iter(args)
    for word in words:
        if word in ("-C", "-c", "--git-dir", "--work-tree"):
            next(words, None)
        elif not word.startswith("-"):
            return word
    return args[0] if args else ""


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def git_dir(path: Path) -> Path:
    """The repository folder git reads: `path/.git` for a work tree, `path` for a bare mirror."""
    path = Path(path)
    return path / ".git" if (path / ".git").is_dir() else path


def tree_files(repo: Path, rev: str = "HEAD") -> list[str]:
    """Every file path in the tree of `rev`."""
    out = git(["--git-dir", str(git_dir(repo)), "-c", "core.quotepath=off", "ls-tree", "-r", "-z", "--name-only", rev],
              env=READ_ENV)
    return [p for p in out.stdout.split("\x00") if p]


def has_commit(repo: Path, sha: str) -> bool:
    """Whether `sha` names a commit the repository holds."""
    return git(["--git-dir", str(git_dir(repo)), "cat-file", "-e", f"{sha}^{{commit}}"], env=READ_ENV,
               check=False).returncode == 0
