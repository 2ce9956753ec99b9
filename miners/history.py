"""Reading a git history: commits, their diffs and trees, and what mining a history returns.

All git reads of the mine stage go through `run_git` (over envmine.git, the one module that
starts git). Functions here take a git directory (a bare mirror or a work tree) and return
plain values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from envmine.git import READ_ENV, GitError, GitTimeout, git
from envmine.git import git_dir as _git_dir
from envmine.languages import known_languages, load_language
from envmine.records import Candidate, Reject, Repo

# Fields of one commit in `git log` output: NUL between fields, RS after the message.
_LOG_FORMAT = "%H%x00%P%x00%at%x00%B%x1e"


@dataclass
class MineResult:
    """What mining one repository or package history produced."""

    repo: Repo
    candidates: list[Candidate] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


@dataclass(frozen=True)
class Commit:
    """One commit as `git log` reports it (author date, full message)."""

    sha: str
    parents: tuple[str, ...]
    authored_at: datetime
    message: str

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1

    @property
    def subject(self) -> str:
        return self.message.split("\n", 1)[0].strip()


def run_git(git_dir: Path, *args: str, timeout_s: int = 600) -> str:
    """Run a read-only git command on `git_dir`; its stdout as text (invalid UTF-8 replaced)."""
    cmd = ["--git-dir", str(_git_dir(git_dir)), "-c", "core.quotepath=off", *args]
    try:
        proc = git(cmd, env=READ_ENV, timeout_s=timeout_s, check=False)
    except GitTimeout as exc:
        raise GitError(f"git {args[0]} timed out after {timeout_s}s in {git_dir}") from exc
    if proc.returncode != 0:
        raise GitError(f"git {' '.join(args[:2])} failed in {git_dir}: {proc.stderr.strip()[-1000:]}")
    return proc.stdout


def list_commits(git_dir: Path, rev: str = "HEAD") -> list[Commit]:
    """Every commit reachable from `rev`, newest first (children always before parents);
    empty for a repository without commits."""
    try:
        tip = rev.split("..")[-1] or "HEAD"
        run_git(git_dir, "rev-parse", "--verify", "--quiet", f"{tip}^{{commit}}")
    except GitError:
        return []
    out = run_git(git_dir, "log", "--date-order", f"--format={_LOG_FORMAT}", rev, "--")
    commits = []
    for record in out.split("\x1e"):
        record = record.lstrip("\n")
        if not record:
            continue
        sha, parents, at, message = record.split("\x00", 3)
        when = datetime.fromtimestamp(int(at), tz=timezone.utc)
        commits.append(Commit(sha, tuple(parents.split()), when, message.strip()))
    return commits


def changed_paths(git_dir: Path, base: str, head: str) -> list[str]:
    """Paths that differ between `base` and `head` (new names for renames)."""
    out = run_git(git_dir, "diff", "--name-only", "-z", "-M", "--no-ext-diff", base, head, "--")
    return [p for p in out.split("\x00") if p]


def full_diff(git_dir: Path, base: str, head: str) -> str:
    """`git diff base head` with full blob ids and binary hunks, so `git apply` can replay it."""
    return run_git(
        git_dir, "diff", "--full-index", "--binary", "-M", "--no-color", "--no-ext-diff",
        "--src-prefix=a/", "--dst-prefix=b/", base, head, "--",
    )


def default_branch(git_dir: Path) -> str | None:
    """The branch HEAD points at (a mirror's default branch), or None when detached."""
    try:
        ref = run_git(git_dir, "symbolic-ref", "--short", "HEAD").strip()
    except GitError:
        return None
    return ref or None


VENDORED_DIRS = frozenset({"node_modules", "vendor", "third_party", ".git"})
"""Folders of copied-in dependencies (or git's own data), left out of language detection."""


def is_vendored(path: str) -> bool:
    """Whether `path` lies under a vendored folder (any of its folders is in VENDORED_DIRS)."""
    return any(part in VENDORED_DIRS for part in path.split("/")[:-1])


def detect_language(
    files: list[str], languages: list[str] | None = None, default: str = "python"
) -> str:
    """The language whose spec best fits `files`: root manifests first, then extension share.

    Among specs whose `detect_files` sit at the root, the one with the largest share of source
    files wins; without any root manifest, the largest share wins; else `default`. Files under
    vendored folders (`VENDORED_DIRS`, at any depth) are someone else's code and not counted.
    """
    names = languages if languages is not None else known_languages()
    root = {f for f in files if "/" not in f}
    own = [f for f in files if not is_vendored(f)]
    scores: list[tuple[bool, int, str]] = []
    for name in names:
        spec = load_language(name)
        manifest = any(d in root for d in spec.detect_files)
        share = sum(PurePosixPath(f).suffix in spec.extensions for f in own)
        if manifest or share:
            scores.append((manifest, share, name))
    if not scores:
        return default
    # Ties prefer python, the reference language.
    return max(scores, key=lambda s: (s[0], s[1], s[2] == "python"))[2]


_TRAILER = re.compile(
    r"^(signed-off-by|co-authored-by|reviewed-by|acked-by|change-id|cc):.*$", re.I | re.M
)
_PR_MERGE = re.compile(r"^Merge pull request #(\d+)\b")
_SQUASH_PR = re.compile(r"\(#(\d+)\)\s*$")
_CLOSES = re.compile(r"\b(?:fix(?:e[sd])?|close[sd]?|resolve[sd]?)\s*:?\s+#(\d+)\b", re.I)


def clean_message(message: str) -> str:
    """A commit message without sign-off style trailers and surrounding blank lines."""
    return _TRAILER.sub("", message).strip()


def pr_number(commit: Commit) -> int | None:
    """The pull request a commit merged (`Merge pull request #N`) or squashed (`Title (#N)`)."""
    match = _PR_MERGE.match(commit.subject) or _SQUASH_PR.search(commit.subject)
    return int(match.group(1)) if match else None


def closed_issues(text: str) -> list[int]:
    """Issue numbers that `text` says it fixes, closes or resolves, in order, without repeats."""
    return list(dict.fromkeys(int(n) for n in _CLOSES.findall(text)))
