"""Reviewers, their tokens, signed sessions and CSRF tokens for the review app.

Each reviewer has a secret token (shown once, stored only as its sha256 under the envmine
home, file mode 0600). A reviewer logs in with the token and gets a session cookie signed
with the server's secret (HMAC-SHA256; HttpOnly, SameSite=Strict). Every form carries a CSRF
token derived from the session, so a page on another origin cannot post a judgment in a
reviewer's name. Scripts may instead send `Authorization: Bearer <token>` (no cookie, so no
CSRF). Nobody writes anonymously.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

REVIEWERS_FILE = "reviewers.json"
SECRET_FILE = "secret"
SESSION_TTL_S = 12 * 3600
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


class AuthError(ValueError):
    """A reviewer name, token or session that is not acceptable."""


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Reviewers:
    """The reviewers of one envmine home (`<home>/review/`)."""

    folder: Path

    def _load(self) -> dict[str, dict[str, str]]:
        path = self.folder / REVIEWERS_FILE
        return json.loads(path.read_text()) if path.is_file() else {}

    def names(self) -> list[str]:
        return sorted(self._load())

    def add(self, name: str) -> str:
        """Create (or re-key) reviewer `name`; returns the new token (shown once)."""
        if not NAME.match(name):
            raise AuthError(f"reviewer name {name!r} must match {NAME.pattern}")
        token = secrets.token_urlsafe(24)
        data = self._load()
        data[name] = {"token_sha256": _digest(token), "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        _write_private(self.folder / REVIEWERS_FILE, json.dumps(data, indent=1, sort_keys=True).encode())
        return token

    def remove(self, name: str) -> None:
        data = self._load()
        data.pop(name, None)
        _write_private(self.folder / REVIEWERS_FILE, json.dumps(data, indent=1, sort_keys=True).encode())

    def who(self, token: str) -> str | None:
        """The reviewer whose token this is, or None (compared in constant time)."""
        digest = _digest(token or "")
        found = None
        for name, entry in self._load().items():
            if hmac.compare_digest(entry.get("token_sha256", ""), digest):
                found = name
        return found


def server_secret(folder: Path) -> bytes:
    """The key sessions are signed with, created once per home."""
    path = folder / SECRET_FILE
    if not path.is_file():
        _write_private(path, secrets.token_bytes(32))
    return path.read_bytes()


def _sign(secret: bytes, text: str) -> str:
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()


def make_session(secret: bytes, reviewer: str, now: float | None = None) -> str:
    """A session cookie value: `reviewer.issued.nonce.signature`."""
    issued = int(now if now is not None else time.time())
    body = f"{reviewer}.{issued}.{secrets.token_hex(8)}"
    return f"{body}.{_sign(secret, body)}"


def read_session(secret: bytes, cookie: str | None, reviewers: Reviewers, now: float | None = None) -> str | None:
    """The reviewer of a valid, unexpired session whose reviewer still exists; else None."""
    if not cookie or cookie.count(".") != 3:
        return None
    body, signature = cookie.rsplit(".", 1)
    if not hmac.compare_digest(_sign(secret, body), signature):
        return None
    reviewer, issued, _ = body.split(".")
    try:
        age = (now if now is not None else time.time()) - int(issued)
    except ValueError:
        return None
    if not 0 <= age <= SESSION_TTL_S or reviewer not in reviewers.names():
        return None
    return reviewer


def csrf_token(secret: bytes, session: str) -> str:
    """The CSRF token bound to one session (forms carry it; posts must send it back)."""
    return _sign(secret, f"csrf:{session}")[:40]


def check_csrf(secret: bytes, session: str, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(csrf_token(secret, session), sent or "")
