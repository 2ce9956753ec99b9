"""Read the eval script's marker lines out of a run's output (pure).

Only lines that carry the run's nonce count. Everything after the `log` marker is the test
output's tail, which is never scanned for markers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_END = re.compile(r"exit=(-?\d+) elapsed=(\d+)")


@dataclass
class Evidence:
    """What the eval script attested about one run."""

    started: bool = False
    ended: bool = False
    exit_code: int | None = None
    elapsed_s: int | None = None
    patches: dict[str, str] = field(default_factory=dict)
    """Patch name -> `git`, `patch` (fuzzy fallback) or `failed`."""
    reports: list[str] = field(default_factory=list)
    """Report files the run left (standalone script: one marker per file)."""
    bundle: str | None = None
    """The tar of all report files (validator's script), and how many files it holds."""
    bundle_files: int = 0
    errors: list[str] = field(default_factory=list)
    tampering: list[str] = field(default_factory=list)
    """Protected paths whose changes the script undid (see protect.sh.j2)."""
    sentinel: str | None = None
    """The name of the must-fail test the script planted, if it planted one."""
    guard: str | None = None
    """The standalone script's guard verdict when it was not `ok`."""
    limit: str = ""
    """The sandbox limit the run hit, as the script saw it (`oom_killed`, ...)."""
    log: str = ""


def read_markers(output: str, nonce: str) -> Evidence:
    """Collect the nonce-stamped marker lines of one eval-script run."""
    evidence = Evidence()
    prefix = "+++ envmine "
    head, sep, tail = output.partition(f"{prefix}log {nonce}\n")
    evidence.log = tail if sep else ""
    for line in head.splitlines():
        if not line.startswith(prefix):
            continue
        kind, _, rest = line[len(prefix):].partition(" ")
        token, _, value = rest.partition(" ")
        if token != nonce:
            continue
        _record(evidence, kind, value)
    return evidence


def _record(evidence: Evidence, kind: str, value: str) -> None:
    if kind == "start":
        evidence.started = True
    elif kind == "end":
        match = _END.search(value)
        if match:
            evidence.ended = True
            evidence.exit_code, evidence.elapsed_s = int(match[1]), int(match[2])
    elif kind == "apply":
        name, _, method = value.partition(" ")
        evidence.patches[name] = method
    elif kind == "report":
        evidence.reports.append(value)
    elif kind == "reports":
        path, _, count = value.rpartition(" ")
        if path and count.isdigit():
            evidence.bundle, evidence.bundle_files = path, int(count)
    elif kind == "error":
        evidence.errors.append(value)
    elif kind == "tamper":
        if value not in evidence.tampering:
            evidence.tampering.append(value)
    elif kind == "sentinel":
        evidence.sentinel = value
    elif kind == "guard":
        evidence.guard = value
    elif kind == "limit" and not evidence.limit:
        evidence.limit = value
