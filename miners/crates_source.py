"""crates.io release histories: versions from the sparse index, `.crate` files from the CDN.

The crates.io web API is not reachable from every network (it is not from ours); the sparse
index (`index.crates.io`, what cargo itself reads) lists versions, checksums, yanks and
publish times, and `static.crates.io` serves the archives.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import httpx

from envmine.records import SourceKind
from envmine.miners.registry import Listing, RegistrySource, Release
from envmine.miners.registry_http import get
from envmine.miners.semver import newest
from envmine.records import parse_time

INDEX_URL = "https://index.crates.io"
DOWNLOAD_URL = "https://static.crates.io/crates"
_UNKNOWN_TIME = datetime(1970, 1, 1, tzinfo=timezone.utc)


def index_path(name: str) -> str:
    """A crate's file in the sparse index (`se/rd/serde`, `3/s/syn`, `2/cc`)."""
    lower = name.lower()
    if len(lower) <= 2:
        return f"{len(lower)}/{lower}"
    if len(lower) == 3:
        return f"3/{lower[0]}/{lower}"
    return f"{lower[:2]}/{lower[2:4]}/{lower}"


def parse_index(text: str, name: str, max_releases: int, download_url: str = DOWNLOAD_URL) -> Listing:
    """The newest `max_releases` stable, unyanked versions from a sparse-index file."""
    entries = {}
    for line in text.splitlines():
        if line.strip():
            entry = json.loads(line)
            if not entry.get("yanked"):
                entries[entry["vers"]] = entry
    listing = Listing()
    for version in newest(list(entries), max_releases):
        entry = entries[version]
        filename = f"{name}-{version}.crate"
        listing.releases.append(Release(
            version=version, url=f"{download_url}/{name}/{filename}", filename=filename,
            uploaded_at=parse_time(entry["pubtime"]) if entry.get("pubtime") else _UNKNOWN_TIME,
            digest=f"sha256:{entry['cksum']}" if entry.get("cksum") else None,
        ))
    return listing


def list_crate(client: httpx.Client, name: str, max_releases: int,
               index_url: str = INDEX_URL, download_url: str = DOWNLOAD_URL) -> Listing:
    """The newest stable `.crate` archives of `name`, listed by the sparse index."""
    text = get(client, f"{index_url.rstrip('/')}/{index_path(name)}").text
    return parse_index(text, name, max_releases, download_url)


def crates_source(index_url: str = INDEX_URL, download_url: str = DOWNLOAD_URL) -> RegistrySource:
    """crates.io (sparse index + archive CDN) as a release source."""
    return RegistrySource(
        kind=SourceKind.crates,
        list_releases=lambda client, name, n: list_crate(client, name, n, index_url, download_url),
        languages=("rust",),
        # cargo's packaging metadata; Cargo.toml itself is kept (normalised, but buildable).
        ignored=("Cargo.toml.orig", ".cargo_vcs_info.json", ".cargo-ok"),
    )
