"""Release histories from package registries, mined like a git history.

For one package: list its stable releases (a per-registry `RegistrySource`), download the
newest `max_releases` source archives into the cache, lay them out as a git history (one
commit per release in version order, dated by the upload time, tagged with the version),
then run the same history walk as the git source. A release's changelog section is its
problem statement; version-bump-only releases are `no_code_change`.

This module is the registries' HTTP edge; the per-registry modules only parse listings.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatch
from pathlib import Path

import httpx

from envmine.git import git, tree_files
from envmine.languages import known_languages
from envmine.reasons import Reason, Stage
from envmine.records import Reject, Repo, SourceKind, content_key
from envmine.settings import Settings, system_ca_bundle
from envmine.miners.changelog import changelog_section, find_changelog
from envmine.miners.clone import file_lock, sanitise
from envmine.miners.git_source import Hooks, mine_history
from envmine.miners.history import Commit, MineResult, detect_language, run_git

USER_AGENT = "envmine/0.1 (release-history miner)"
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


class RegistryError(RuntimeError):
    """A registry could not be read. `retryable` is False when retrying cannot help (404)."""

    def __init__(self, message: str, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Release:
    """One release's source archive."""

    version: str
    url: str
    filename: str
    uploaded_at: datetime
    digest: str | None = None
    """`<algorithm>:<hex>` of the archive (sha256, sha1), checked after download."""


@dataclass
class Listing:
    """A package's stable releases, oldest first, and the releases skipped with a reason."""

    releases: list[Release] = field(default_factory=list)
    skipped: list[tuple[str, Reason, str]] = field(default_factory=list)
    """`(version, reason, detail)`."""


@dataclass(frozen=True)
class RegistrySource:
    """What differs between registries: listing, archive layout, ignored files, languages."""

    kind: SourceKind
    list_releases: Callable[[httpx.Client, str, int], Listing]
    """`(client, package, max_releases) -> Listing` of the newest stable releases."""
    languages: tuple[str, ...]
    """Candidate languages, most likely first (the first is the default)."""
    ignored: tuple[str, ...] = ()
    """Glob patterns (on paths inside the archive) left out of the history."""
    strip_prefix: Callable[[Release, str], str] | None = None
    """`(release, package) -> prefix` removed from member names; default: the single top folder."""


def http_client(timeout_s: float = 60.0) -> httpx.Client:
    """An HTTP client that trusts the system CA bundle (it holds the proxy's CA here)."""
    bundle = system_ca_bundle()
    return httpx.Client(
        verify=str(bundle) if bundle else True, timeout=timeout_s, follow_redirects=True,
        headers={"User-Agent": USER_AGENT},
    )


def get(client: httpx.Client, url: str) -> httpx.Response:
    """GET `url`; network errors, 429 and 5xx are retryable `RegistryError`s, 404 is not."""
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        raise RegistryError(f"GET {url} failed: {type(exc).__name__}: {exc}") from exc
    if response.status_code == 404:
        raise RegistryError(f"GET {url}: not found (404)", retryable=False)
    if response.status_code >= 400:
        retry = response.status_code == 429 or response.status_code >= 500
        raise RegistryError(f"GET {url}: HTTP {response.status_code}", retryable=retry)
    return response


def download(client: httpx.Client, release: Release, folder: Path) -> Path:
    """The release's archive in `folder`, downloaded once and checked against its digest."""
    dest = folder / release.filename
    if dest.is_file() and _digest_ok(dest, release.digest):
        return dest
    folder.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".part")
    partial.write_bytes(get(client, release.url).content)
    if not _digest_ok(partial, release.digest):
        partial.unlink()
        raise RegistryError(f"{release.filename}: digest mismatch (expected {release.digest})",
                            retryable=False)
    os.replace(partial, dest)
    return dest


def _digest_ok(path: Path, digest: str | None) -> bool:
    if not digest:
        return True
    algorithm, _, expected = digest.partition(":")
    return hashlib.new(algorithm, path.read_bytes()).hexdigest() == expected.lower()


def mine_registry(
    source: RegistrySource,
    package: str,
    settings: Settings,
    max_releases: int = 8,
    max_candidates: int | None = None,
    client: httpx.Client | None = None,
) -> MineResult:
    """Mine the newest `max_releases` stable releases of `package` as a git history."""
    repo = Repo(repo=f"{source.kind}/{package}", source=source.kind, url="")
    subject = f"{source.kind}__{sanitise(package)}"
    languages = [name for name in source.languages if name in known_languages()]
    if not languages:
        reject = Reject.of(Stage.mine, Reason.language_unsupported, subject,
                           f"no language spec among {list(source.languages)}", repo=repo.repo)
        return MineResult(repo=repo, rejects=[reject])
    own_client = client is None
    client = client or http_client()
    try:
        listing = source.list_releases(client, package, max_releases)
        folder = settings.cache_dir / "downloads" / str(source.kind) / sanitise(package)
        archives = _fetch_all(client, listing, folder)
    finally:
        if own_client:
            client.close()
    skipped = [Reject.of(Stage.mine, reason, f"{subject}-{sanitise(version)}", f"{version}: {detail}", repo=repo.repo)
               for version, reason, detail in listing.skipped]
    if not archives:
        return MineResult(repo=repo, rejects=skipped)
    work_tree = lay_out(source, package, archives, settings.cache_dir / "histories")
    repo.url = str(work_tree)
    repo.meta = {"versions": " ".join(r.version for r in listing.releases)}
    language = detect_language(tree_files(work_tree), languages, default=languages[0])
    hooks = release_hooks(work_tree, [r for r, _ in archives])
    result = mine_history(work_tree, repo, settings, max_candidates, language, hooks)
    result.rejects.extend(skipped)
    for reject in result.rejects:
        reject.language = reject.language or language
    return result


def _fetch_all(client: httpx.Client, listing: Listing, folder: Path) -> list[tuple[Release, Path]]:
    """Download every listed archive. One that is gone (404), fails its digest or cannot be
    read is skipped as `source_error` (recorded in `listing.skipped`); network errors raise."""
    archives = []
    for release in listing.releases:
        try:
            archive = download(client, release, folder)
        except RegistryError as exc:
            if exc.retryable:
                raise
            listing.skipped.append((release.version, Reason.source_error, str(exc)))
            continue
        if not _readable(archive):
            archive.unlink()
            listing.skipped.append((release.version, Reason.source_error, "unreadable archive"))
            continue
        archives.append((release, archive))
    listing.releases = [r for r, _ in archives]
    return archives


def _readable(archive: Path) -> bool:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            return zf.testzip() is None
    try:
        with tarfile.open(archive) as tar:
            return tar.getmembers() is not None
    except (tarfile.TarError, EOFError, OSError):
        return False


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


def extract(archive: Path, dest: Path, ignored: tuple[str, ...], prefix: str | None = None) -> None:
    """Unpack a .tar.gz/.tgz/.crate/.tar.bz2/.zip into `dest`, dropping `prefix` (default:
    the single top folder) and members matching `ignored`. Unsafe members are refused."""
    with tempfile.TemporaryDirectory(dir=dest.parent) as scratch:
        out = Path(scratch)
        if zipfile.is_zipfile(archive):
            _unzip(archive, out)
        else:
            with tarfile.open(archive) as tar:
                tar.extractall(out, filter=_safe_member)
        top = out / prefix if prefix else _single_top(out)
        for path in sorted(top.rglob("*"), key=lambda p: len(p.parts)):
            rel = path.relative_to(top).as_posix()
            if any(fnmatch(rel, pattern) or fnmatch(path.name, pattern) for pattern in ignored):
                continue
            target = dest / rel
            if path.is_symlink() or path.is_file():
                if not target.parent.is_dir():
                    continue  # its folder was ignored
                os.replace(path, target)
            elif path.is_dir() and (target.parent.is_dir()):
                target.mkdir(exist_ok=True)


def _safe_member(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """tarfile's `data` filter, but an unsafe member is dropped instead of failing the archive."""
    try:
        return tarfile.data_filter(member, dest)
    except tarfile.FilterError:
        return None


def _unzip(archive: Path, out: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            name = Path(info.filename)
            if name.is_absolute() or ".." in name.parts:
                raise RegistryError(f"{archive.name}: unsafe member {info.filename!r}", False)
        zf.extractall(out)


def _single_top(out: Path) -> Path:
    children = list(out.iterdir())
    return children[0] if len(children) == 1 and children[0].is_dir() else out


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


_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:\+[0-9A-Za-z.-]+)?$")


def stable_semver(version: str) -> tuple[int, int, int] | None:
    """`(major, minor, patch)` of a stable semantic version (build metadata allowed); None
    for pre-releases (`1.0.0-rc.1`), Go pseudo-versions and anything else."""
    match = _SEMVER.match(version)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def newest(versions: list[str], max_releases: int) -> list[str]:
    """The newest `max_releases` stable semantic versions, oldest first."""
    stable = [(key, v) for v in versions if (key := stable_semver(v)) is not None]
    return [v for _, v in sorted(stable)[-max_releases:]] if max_releases > 0 else []


# Registry name -> factory of its `RegistrySource`, imported when first asked for.
SOURCES = {
    "pypi": "envmine.miners.pypi_source:pypi_source",
    "npm": "envmine.miners.npm_source:npm_source",
    "crates": "envmine.miners.crates_source:crates_source",
    "gomod": "envmine.miners.gomod_source:gomod_source",
}


def get_source(kind: str) -> RegistrySource:
    """The release source called `kind` (default URLs); an unknown name lists the valid ones."""
    if kind not in SOURCES:
        raise KeyError(f"unknown registry {kind!r}; known: {', '.join(sorted(SOURCES))}")
    module, _, factory = SOURCES[kind].partition(":")
    return getattr(importlib.import_module(module), factory)()


def mine_package(
    kind: str, package: str, settings: Settings, max_releases: int = 8,
    max_candidates: int | None = None,
) -> MineResult:
    """Mine package `package` of registry `kind` (`pypi`, `npm`, `crates`, `gomod`)."""
    if kind == "pypi":
        from packaging.utils import canonicalize_name

        package = canonicalize_name(package)
    return mine_registry(get_source(kind), package, settings, max_releases, max_candidates)
