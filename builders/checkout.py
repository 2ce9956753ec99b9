"""The builders' git edge: read files at a commit from the clone cache, and cut /testbed.

/testbed is a fresh repository holding exactly one commit (the task's base commit, depth 1):
no remotes, no tags, no other branches, no reflog, so the image cannot leak the answer.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from envmine.git import READ_ENV, GitError, GitTimeout
from envmine.git import git as run

GIT_TIMEOUT_S = 600
TESTBED_EXCLUDES = ("*.egg-info/", "build/", ".eggs/", "__pycache__/")


class CheckoutError(GitError):
    """git could not produce the requested commit or files."""


def git(args: list[str], cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        proc = run(args, cwd=cwd, env=READ_ENV, timeout_s=GIT_TIMEOUT_S, check=False)
    except GitTimeout as exc:
        raise CheckoutError(f"git {args[0]} timed out after {GIT_TIMEOUT_S}s") from exc
    if check and proc.returncode != 0:
        raise CheckoutError(f"git {args[0]} failed ({proc.returncode}): {proc.stderr.strip()[-1000:]}")
    return proc


def read_files(repo: Path, commit: str, paths: list[str]) -> dict[str, str]:
    """The text of each path that exists at `commit` (missing paths are left out)."""
    files = {}
    for path in paths:
        proc = git(["-C", str(repo), "show", f"{commit}:{path}"], check=False)
        if proc.returncode == 0:
            files[path] = proc.stdout
    return files


def testbed_tar(mirror: Path, commit: str, uid: int, work_dir: Path) -> bytes:
    """A tar of `testbed/`: `commit` alone (depth 1) in a fresh repository, owned by `uid`."""
    work_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="testbed-", dir=work_dir))
    try:
        repo = tmp / "testbed"
        git(["-c", "init.defaultBranch=main", "init", "-q", str(repo)])
        git(["-C", str(repo), "-c", "protocol.version=2", "fetch", "-q", "--no-tags", "--depth", "1",
             f"file://{mirror.resolve()}", commit])
        git(["-C", str(repo), "reset", "-q", "--hard", "FETCH_HEAD"])
        _scrub(repo)
        return _tar(repo, uid)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _scrub(repo: Path) -> None:
    """Drop everything that names another commit or where this one came from."""
    git(["-C", str(repo), "reflog", "expire", "--expire=now", "--all"])
    for name in ("FETCH_HEAD", "ORIG_HEAD", "logs", "hooks", "description"):
        target = repo / ".git" / name
        shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    git(["-C", str(repo), "gc", "-q", "--prune=now"])
    with open(repo / ".git" / "info" / "exclude", "a") as handle:
        handle.write("".join(f"{p}\n" for p in TESTBED_EXCLUDES))


def _tar(repo: Path, uid: int) -> bytes:
    def owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = uid
        info.uname = info.gname = ""
        return info

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(repo, arcname="testbed", filter=owned)
    return buf.getvalue()
