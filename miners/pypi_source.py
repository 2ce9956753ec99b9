"""PyPI release histories: sdists from the JSON API (`/pypi/<name>/json`)."""

from __future__ import annotations

import httpx
from packaging.version import InvalidVersion, Version

from envmine.reasons import Reason
from envmine.records import SourceKind, parse_time
from envmine.miners.registry import Listing, RegistrySource, Release
from envmine.miners.registry_http import get

PYPI_URL = "https://pypi.org"


def parse_pypi(document: dict, base_url: str, max_releases: int) -> Listing:
    """The newest `max_releases` stable, unyanked releases of a PyPI JSON document, oldest
    first; a release among them without an sdist is skipped as `no_sdist`.

    File URLs are resolved against `base_url` (mirrors answer with relative URLs).
    """
    stable = []
    for raw, files in document.get("releases", {}).items():
        try:
            version = Version(raw)
        except InvalidVersion:
            continue
        if version.is_prerelease or not files or all(f.get("yanked") for f in files):
            continue
        stable.append((version, raw, files))
    stable.sort(key=lambda item: item[0])
    listing = Listing()
    for _, raw, files in stable[-max_releases:]:
        sdist = next((f for f in files if f.get("packagetype") == "sdist" and not f.get("yanked")), None)
        if sdist is None:
            kinds = sorted({f.get("packagetype", "?") for f in files})
            listing.skipped.append((raw, Reason.no_sdist, f"only {', '.join(kinds)}"))
            continue
        digest = sdist.get("digests", {}).get("sha256")
        listing.releases.append(Release(
            version=raw,
            url=str(httpx.URL(base_url).join(sdist["url"])),
            filename=sdist["filename"],
            uploaded_at=parse_time(sdist["upload_time_iso_8601"]),
            digest=f"sha256:{digest}" if digest else None,
        ))
    return listing


def list_pypi(
    client: httpx.Client, name: str, max_releases: int, index_url: str = PYPI_URL
) -> Listing:
    """The newest stable sdists of `name` from the JSON API at `index_url`."""
    url = f"{index_url.rstrip('/')}/pypi/{name}/json"
    return parse_pypi(get(client, url).json(), url, max_releases)


def pypi_source(index_url: str = PYPI_URL) -> RegistrySource:
    """PyPI (or a mirror with the same JSON API at `index_url`) as a release source."""
    return RegistrySource(
        kind=SourceKind.pypi,
        list_releases=lambda client, name, n: list_pypi(client, name, n, index_url),
        languages=("python",),
        ignored=("setup.cfg.orig",),
    )
