"""A package's releases laid out as a git history (one commit per release, dated by its upload,
tagged with its version), and the hooks that describe a release commit to the history walk
(its changelog section is the problem statement; version bumps are trivial lines)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from envmine.git import git, tree_files
from envmine.miners.archives import extract
from envmine.miners.changelog import changelog_section, find_changelog
from envmine.miners.clone import file_lock, sanitise
from envmine.miners.git_source import Hooks
from envmine.miners.history import Commit, run_git
from envmine.records import content_key

if TYPE_CHECKING:
    from envmine.miners.registry import Release, RegistrySource

_AUTHOR = {"GIT_AUTHOR_NAME": "envmine", "GIT_AUTHOR_EMAIL": "envmine@localhost",
           "GIT_COMMITTER_NAME": "envmine", "GIT_COMMITTER_EMAIL": "envmine@localhost",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "LC_ALL": "C"}
# Metadata that packaging tools write into archives: never part of a release's change.
COMMON_IGNORED = ("PKG-INFO", "*.egg-info", "*.egg-info/*", ".git", ".git/*")
# Documentation, changelogs and CI configuration: kept in the history, left out of gold
# patches (they cannot make a test pass, and the changelog is the problem statement).
DOC_PATTERNS = (
    r"(^|/)docs?/", r"(^|/)documentation/", r"\.(md|rst|markdown|adoc)$", r"^\.github/",
    r"^\.(pre-commit-config|readthedocs|travis|cirrus|coveragerc|git[a-z_]*)", r"^appveyor\.yml$",
    r"(?i)^(licen[cs]e|copying|notice|authors|contributors|changes|changelog|history|news)(\.|$)",
)


def lay_out(
    source: RegistrySource, package: str, archives: list[tuple[Release, Path]], root: Path
) -> Path:
    """A git work tree with one commit per release (oldest first), reused when it exists.

    Authors and dates are fixed by the releases, so the same releases give the same shas.
    """
    key = content_key(str(source.kind), package,
                      *(f"{r.version}:{r.digest or r.filename}" for r, _ in archives))
    dest = root / str(source.kind) / f"{sanitise(package)}-{key[:12]}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(dest.with_name(dest.name + ".lock")):
        if (dest / ".git" / "envmine-complete").is_file():
            return dest
        shutil.rmtree(dest, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=dest.name + ".", dir=dest.parent))
        try:
            _build_history(source, package, archives, tmp)
            (tmp / ".git" / "envmine-complete").write_text("")
            os.replace(tmp, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _build_history(
    source: RegistrySource, package: str, archives: list[tuple[Release, Path]], tree: Path
) -> None:
    _git(tree, {}, "init", "-q", "-b", "main")
    ignored = (*COMMON_IGNORED, *source.ignored)
    for release, archive in archives:
        for child in tree.iterdir():
            if child.name != ".git":
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        prefix = source.strip_prefix(release, package) if source.strip_prefix else None
        extract(archive, tree, ignored, prefix)
        date = {"GIT_AUTHOR_DATE": release.uploaded_at.isoformat(),
                "GIT_COMMITTER_DATE": release.uploaded_at.isoformat()}
        _git(tree, {}, "add", "-A", "-f", ".")
        _git(tree, date, "commit", "-q", "--allow-empty", "--no-verify", "-m",
             f"{package} {release.version}")
        _git(tree, date, "tag", re.sub(r"[^\w.+-]", "-", release.version))


def _git(tree: Path, env: dict[str, str], *args: str) -> None:
    proc = git(list(args), cwd=tree, env={**_AUTHOR, **env}, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"git {args[0]} failed laying out {tree}: {proc.stderr.strip()[-500:]}")


def release_hooks(work_tree: Path, releases: list[Release]) -> Hooks:
    """Hooks that describe a release commit: changelog section, version bumps, ids."""
    by_version = {r.version: (r, prev) for prev, r in zip([None, *releases], releases)}

    def lookup(commit: Commit) -> tuple[Release, Release | None]:
        # Release commits are titled `<package> <version>` by `lay_out`.
        return by_version[commit.subject.rsplit(" ", 1)[-1]]

    def statement(commit: Commit) -> str:
        release, _ = lookup(commit)
        path = find_changelog(tree_files(work_tree, commit.sha))
        if path is None:
            return ""
        text = run_git(work_tree, "show", f"{commit.sha}:{path}")
        return changelog_section(text, release.version) or ""

    def trivial_line(commit: Commit, line: str) -> bool:
        release, previous = lookup(commit)
        versions = [release.version] + ([previous.version] if previous else [])
        return any(_mentions_version(line, v) for v in versions)

    def provenance(commit: Commit) -> dict[str, str]:
        release, previous = lookup(commit)
        return {"version": release.version, "previous_version": previous.version if previous else "",
                "archive_url": release.url, "archive_digest": release.digest or ""}

    return Hooks(drop_from_patch=list(DOC_PATTERNS), statement=statement, trivial_line=trivial_line, provenance=provenance,
                 instance_suffix=lambda commit: sanitise(lookup(commit)[0].version))


def _mentions_version(line: str, version: str) -> bool:
    """A version bump line: the version as text, or as a tuple like `(1, 2, 3)`."""
    bare = version.lstrip("v")
    if bare in line:
        return True
    parts = re.findall(r"\d+", bare)
    return len(parts) > 1 and re.search(r"\D{1,3}".join(parts), line) is not None
