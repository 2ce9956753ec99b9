"""Release histories from package registries, mined like a git history.

For one package: list its stable releases (a per-registry `RegistrySource`), download the
newest `max_releases` source archives into the cache, lay them out as a git history (one
commit per release in version order, dated by the upload time, tagged with the version),
then run the same history walk as the git source. A release's changelog section is its
problem statement; version-bump-only releases are `no_code_change`.

The per-registry modules only parse listings; `registry_http` talks to the registries,
`archives` unpacks what they serve, `release_history` lays it out, `semver` picks versions.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

from envmine.git import tree_files
from envmine.languages import known_languages
from envmine.reasons import Reason, Stage
from envmine.records import Reject, Repo, SourceKind
from envmine.settings import Settings
from envmine.miners.archives import readable
from envmine.miners.clone import sanitise
from envmine.miners.git_source import mine_history
from envmine.miners.history import MineResult, detect_language
from envmine.miners.registry_http import RegistryError, download, http_client
from envmine.miners.release_history import lay_out, release_hooks


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
        if not readable(archive):
            archive.unlink()
            listing.skipped.append((release.version, Reason.source_error, "unreadable archive"))
            continue
        archives.append((release, archive))
    listing.releases = [r for r, _ in archives]
    return archives


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
