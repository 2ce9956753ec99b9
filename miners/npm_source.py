"""npm release histories: tarballs listed by the registry's package document."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from envmine.records import SourceKind
from envmine.miners.registry import Listing, RegistrySource, Release
from envmine.miners.registry_http import get
from envmine.miners.semver import newest
from envmine.records import parse_time

NPM_URL = "https://registry.npmjs.org"


def parse_npm(document: dict, base_url: str, max_releases: int) -> Listing:
    """The newest `max_releases` stable, not deprecated versions of an npm package document."""
    versions = document.get("versions", {})
    times = document.get("time", {})
    usable = [v for v, meta in versions.items()
              if v in times and meta.get("dist", {}).get("tarball") and not meta.get("deprecated")]
    listing = Listing()
    for version in newest(usable, max_releases):
        dist = versions[version]["dist"]
        url = str(httpx.URL(base_url).join(dist["tarball"]))
        listing.releases.append(Release(
            version=version, url=url, filename=url.rsplit("/", 1)[-1],
            uploaded_at=parse_time(times[version]),
            digest=f"sha1:{dist['shasum']}" if dist.get("shasum") else None,
        ))
    return listing


def list_npm(
    client: httpx.Client, name: str, max_releases: int, registry_url: str = NPM_URL
) -> Listing:
    """The newest stable tarballs of `name` from the registry's package document."""
    # Scoped names keep their `@` but escape the slash: `@scope%2Fname`.
    url = f"{registry_url.rstrip('/')}/{quote(name, safe='@')}"
    return parse_npm(get(client, url).json(), url, max_releases)


def npm_source(registry_url: str = NPM_URL) -> RegistrySource:
    """npm (or a registry with the same API at `registry_url`) as a release source."""
    return RegistrySource(
        kind=SourceKind.npm,
        list_releases=lambda client, name, n: list_npm(client, name, n, registry_url),
        languages=("javascript", "typescript"),
    )
