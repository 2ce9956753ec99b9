"""Local servers that tests, benchmarks and scripts start (a registry, the review app, Ray and
Dask clusters): a free port to start one on, and waiting until it answers."""

from __future__ import annotations

import time

import httpx

from envmine.warehouse.local_services import free_port  # one definition, which the catalog's services use too

__all__ = ["free_port", "wait_for_http"]


def wait_for_http(url: str, timeout_s: float = 60.0) -> None:
    """Returns once `url` answers HTTP at all (any status): the server is up. Past `timeout_s`
    it raises, so a server that never came up fails where it failed, not at its first use."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout_s:.0f} s") from None
            time.sleep(0.2)
