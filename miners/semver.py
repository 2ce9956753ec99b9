"""Which registry versions are stable releases, and the newest of them."""

from __future__ import annotations

import re

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
