"""The clone cache: one bare mirror per repository under `<cache_dir>/repos/`.

Miners and builders share it. `ensure_clone` is idempotent: it clones once and fetches on
later calls. Its git commands go through envmine.git, the one module that starts `git`.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from envmine.git import GitError, GitTimeout, git, has_commit
from envmine.records import content_key

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_GIT_ENV = {"GIT_ASKPASS": "true"}


class CloneError(GitError):
    """Cloning or fetching a repository failed; the message never contains credentials.
    `retryable` is False when retrying cannot help (a local path that is no repository)."""

    def __init__(self, message: str, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


def redact(url: str) -> str:
    """`url` without user name or password (safe for logs and exceptions)."""
    parts = urlsplit(url)
    if not parts.netloc or "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def is_remote(url_or_path: str) -> bool:
    """Whether `url_or_path` is a URL (`scheme://`, `user@host:path`) rather than a folder."""
    return "://" in url_or_path or re.match(r"^[\w.-]+@[\w.-]+:", url_or_path) is not None


def owner_and_name(url_or_path: str) -> tuple[str, str]:
    """`(owner, name)` from a URL (`.../owner/name(.git)`) or a local folder (`parent/name`)."""
    if is_remote(url_or_path):
        path = urlsplit(url_or_path).path if "://" in url_or_path else url_or_path.split(":", 1)[1]
        parts = [p for p in path.strip("/").split("/") if p]
    else:
        parts = list(Path(url_or_path).expanduser().resolve().parts[1:])
    if not parts:
        raise ValueError(f"cannot name a repository from {redact(url_or_path)!r}")
    name = parts[-1].removesuffix(".git") or parts[-1]
    owner = parts[-2] if len(parts) > 1 else "local"
    return sanitise(owner), sanitise(name)


def sanitise(part: str) -> str:
    """A path- and id-safe version of an owner or repository name."""
    return _UNSAFE.sub("-", part).strip("-.") or "x"


def normalise_source(url_or_path: str) -> str:
    """Remote URLs stay as given; local paths become absolute."""
    if is_remote(url_or_path):
        return url_or_path
    return str(Path(url_or_path).expanduser().resolve())


def clone_path(url_or_path: str, cache_dir: Path) -> Path:
    """Where the mirror of `url_or_path` lives: `repos/<owner>__<name>-<hash8>.git`.

    The hash of the normalised (credential-free) source keeps two hosts' `owner/name` apart.
    """
    owner, name = owner_and_name(url_or_path)
    digest = content_key(redact(normalise_source(url_or_path)), length=8)
    return Path(cache_dir) / "repos" / f"{owner}__{name}-{digest}.git"


def ensure_clone(
    url_or_path: str, cache_dir: Path, *, partial: bool = False, timeout_s: int = 1800,
    needs: str | None = None,
) -> Path:
    """A bare mirror of `url_or_path` in the cache, cloned once and fetched on later calls.

    `needs`: the commit the caller reads; a mirror that holds it is not fetched (a commit
    never changes, and planning, building and grading each read one per candidate: a fetch of
    a remote source for each of them). `partial=True` clones with `--filter=blob:none` (blobs
    are fetched on demand). Raises `CloneError` when git fails or times out.
    """
    source = normalise_source(url_or_path)
    if not is_remote(source) and not Path(source).exists():
        raise CloneError(f"no such repository: {source}", retryable=False)
    dest = clone_path(source, cache_dir)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(dest.with_suffix(".lock")):
        if (dest / "HEAD").is_file():
            if needs and has_commit(dest, needs):
                return dest
            _git(["-C", str(dest), "remote", "update", "--prune"], source, timeout_s)
        else:
            _clone_into(source, dest, partial, timeout_s)
    return dest


def _clone_into(source: str, dest: Path, partial: bool, timeout_s: int) -> None:
    # Clone next to the destination, then rename: a crash never leaves a half clone in place.
    tmp = Path(tempfile.mkdtemp(prefix=dest.name + ".", dir=dest.parent))
    try:
        args = ["clone", "--mirror", "--quiet"]
        if partial:
            args.append("--filter=blob:none")
        _git([*args, "--", source, str(tmp / "m.git")], source, timeout_s)
        os.replace(tmp / "m.git", dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _git(args: list[str], source: str, timeout_s: int) -> None:
    try:
        proc = git(args, env=_GIT_ENV, timeout_s=timeout_s, check=False)
    except GitTimeout as exc:
        raise CloneError(f"git {args[0]} of {redact(source)} timed out after {timeout_s}s") from exc
    if proc.returncode != 0:
        tail = _scrub(proc.stderr.strip()[-2000:], source)
        raise CloneError(f"git {args[0]} of {redact(source)} failed ({proc.returncode}): {tail}")


def _scrub(text: str, source: str) -> str:
    if source != redact(source):
        text = text.replace(source, redact(source))
    return re.sub(r"://[^/@\s]+@", "://", text)


@contextmanager
def file_lock(lock_path: Path) -> Iterator[None]:
    """An exclusive file lock, so two flows never clone or fetch the same mirror at once."""
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
