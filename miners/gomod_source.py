"""Go module release histories from a module proxy (`@v/list`, `@v/<v>.info`, `@v/<v>.zip`)."""

from __future__ import annotations

import re

import httpx

from envmine.records import SourceKind
from envmine.miners.registry import Listing, RegistrySource, Release
from envmine.miners.registry_http import get
from envmine.miners.semver import newest
from envmine.records import parse_time

PROXY_URL = "https://proxy.golang.org"


def escape_module(path: str) -> str:
    """The proxy's case encoding: each upper-case letter becomes `!` + its lower case."""
    return re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), path)


def list_module(
    client: httpx.Client, module: str, max_releases: int, proxy_url: str = PROXY_URL
) -> Listing:
    """The newest `max_releases` stable tagged versions of `module` (no pseudo-versions)."""
    base = f"{proxy_url.rstrip('/')}/{escape_module(module)}/@v"
    versions = get(client, f"{base}/list").text.split()
    listing = Listing()
    for version in newest(versions, max_releases):
        info = get(client, f"{base}/{escape_module(version)}.info").json()
        listing.releases.append(Release(
            version=version, url=f"{base}/{escape_module(version)}.zip",
            filename=f"{version}.zip", uploaded_at=parse_time(info["Time"]),
        ))
    return listing


def gomod_source(proxy_url: str = PROXY_URL) -> RegistrySource:
    """A Go module proxy (GOPROXY protocol) as a release source."""
    return RegistrySource(
        kind=SourceKind.gomod,
        list_releases=lambda client, module, n: list_module(client, module, n, proxy_url),
        languages=("go",),
        # Module zips hold `<module>@<version>/...`: that whole prefix is the top folder.
        strip_prefix=lambda release, module: f"{module}@{release.version}",
    )
