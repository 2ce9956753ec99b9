"""The package registries' HTTP edge: a client that trusts the system CA bundle, GETs whose
errors say whether a retry can help, and archive downloads checked against their digests."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from envmine.settings import system_ca_bundle

if TYPE_CHECKING:
    from envmine.miners.registry import Release

USER_AGENT = "envmine/0.1 (release-history miner)"


class RegistryError(RuntimeError):
    """A registry could not be read. `retryable` is False when retrying cannot help (404)."""

    def __init__(self, message: str, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


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
