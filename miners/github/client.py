"""The only module that talks to GitHub: auth, token rotation, budget, rate limits, ETags, GraphQL.

Built on PyGithub's `Github` (auth, base URL, retries, throttling) and its `Requester`, which
sends every request. Waits are bounded: a rate limit that needs more than `max_wait_s` raises
`RateLimited` (after trying the other tokens), so the flow retries the task later instead of
sleeping inside it. Every message this module produces is passed through `redact`.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import requests
from github import Auth, Github, GithubException, GithubRetry
from github.GithubException import RateLimitExceededExceedsMaxWait
from github.Repository import Repository
from urllib3 import Retry

from envmine.miners.github.settings import GithubSettings
from envmine.records import content_key

log = logging.getLogger(__name__)
T = TypeVar("T")
_TOKEN_SHAPE = re.compile(r"\b(gh[pousr]_[A-Za-z0-9_]{16,}|github_pat_[A-Za-z0-9_]{20,})\b")
_LINK = re.compile(r'<([^>]+)>;\s*rel="(\w+)"')
_ETAG_KEEP = 2000


class GithubError(RuntimeError):
    """A GitHub request failed; the message is redacted and carries no original traceback."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class RateLimited(GithubError):
    """Every token is rate limited for longer than `max_wait_s`: retry after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: float):
        super().__init__(message, 429)
        self.retry_after_s = retry_after_s


class BudgetExhausted(GithubError):
    """This run has sent its `request_budget` requests."""


class Redactor(logging.Filter):
    """Removes known secrets and anything shaped like a GitHub token from text and log records."""

    def __init__(self, secrets: list[str]):
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return _TOKEN_SHAPE.sub("***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self(record.getMessage())
        record.args = ()
        return True


_REDACTOR = Redactor([])
_REDACTOR_LOCK = threading.Lock()


def _install_redactor(secrets: list[str]) -> Redactor:
    """The process-wide redactor, knowing `secrets` too, on every logger that sees requests."""
    with _REDACTOR_LOCK:
        _REDACTOR.secrets = sorted(set(_REDACTOR.secrets) | {s for s in secrets if s}, key=len, reverse=True)
        for name in ("github", "github.Requester", "github.GithubRetry", "urllib3.connectionpool", __name__):
            logger = logging.getLogger(name)
            if _REDACTOR not in logger.filters:
                logger.addFilter(_REDACTOR)
    return _REDACTOR


@dataclass
class Counter:
    """Requests on the wire: first tries (`calls`) plus retries made inside urllib3."""

    calls: int = 0
    retries: int = 0

    @property
    def total(self) -> int:
        return self.calls + self.retries


class BoundedRetry(GithubRetry):
    """PyGithub's retry, but no wait (Retry-After, reset, secondary) may exceed `max_rate_limit_wait`."""

    def __init__(self, counter: Counter | None = None, **kwargs: Any):
        self.counter = counter or Counter()
        super().__init__(**kwargs)

    def new(self, **kw: Any) -> BoundedRetry:
        retry = super().new(**kw)
        retry.counter = self.counter
        return retry

    def increment(  # type: ignore[override]
        self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None
    ):
        if response is not None and response.status in (403, 429):
            wait = _required_wait(response.headers, response.status, self.secondary_rate_wait)
            if wait is not None and self.max_rate_limit_wait is not None and wait > self.max_rate_limit_wait:
                raise RateLimitExceededExceedsMaxWait(
                    response.status, {"message": "rate limited"}, dict(response.headers), wait=wait
                )
            if response.status == 429:
                retry = Retry.increment(self, method, url, response, error, _pool, _stacktrace)
                retry.get_backoff_time = lambda: float(wait or 0)  # type: ignore[method-assign]
                self.counter.retries += 1
                return retry
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        self.counter.retries += 1
        return retry


def _required_wait(headers: Any, status: int, secondary_wait: float) -> float | None:
    """Seconds GitHub asks us to wait, from Retry-After or an exhausted primary limit's reset."""
    if headers.get("Retry-After"):
        try:
            return float(headers["Retry-After"])
        except ValueError:
            return secondary_wait
    if headers.get("X-RateLimit-Remaining") == "0" and str(headers.get("X-RateLimit-Reset", "")).isdigit():
        return max(int(headers["X-RateLimit-Reset"]) - time.time(), 0) + 1
    return secondary_wait if status == 429 else None


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text) if self.text else None

    def link(self, rel: str) -> str | None:
        return dict((r, u) for u, r in _LINK.findall(self.headers.get("link", ""))).get(rel)


class GithubClient:
    """Talks to one GitHub (github.com or an Enterprise server) with one or more identities."""

    def __init__(self, gh: GithubSettings, etag_path: Path | None = None):
        self.settings = gh
        self.counter = Counter()
        secrets = gh.resolved_tokens()
        self.redact = _install_redactor(secrets)
        self._clients = [self._github(auth) for auth in self._auths(secrets)]
        if not self._clients:
            raise GithubError(f"no GitHub credentials: set ${gh.token_env} or configure a GitHub App")
        self._blocked_until = [0.0] * len(self._clients)
        self._active = 0
        self._etag_path = etag_path
        self._etags: dict[str, list[str]] = _load_etags(etag_path) if gh.etag_cache else {}

    def _auths(self, tokens: list[str]) -> list[Auth.Auth]:
        if self.settings.app_id is not None:
            app = Auth.AppAuth(self.settings.app_id, self.settings.private_key())
            return [app.get_installation_auth(self.settings.installation_id)]
        return [Auth.Token(t) for t in tokens]

    def _github(self, auth: Auth.Auth) -> Github:
        gh = self.settings
        retry = BoundedRetry(
            counter=self.counter, total=gh.retries, backoff_factor=0.1, raise_on_status=False,
            status_forcelist=[*range(500, 600), 429], max_rate_limit_wait=gh.max_wait_s,
            secondary_rate_wait=min(60.0, gh.max_wait_s),
        )
        return Github(
            auth=auth, base_url=gh.base_url, per_page=gh.per_page, retry=retry, timeout=gh.timeout_s,
            seconds_between_requests=gh.seconds_between_requests or None, seconds_between_writes=None,
        )

    @property
    def requests_made(self) -> int:
        """Requests sent so far, retries included."""
        return self.counter.total

    # -- the one place a request is sent ------------------------------------------------------

    def request(self, verb: str, url: str, params: dict | None = None, headers: dict | None = None,
                body: Any = None, conditional: bool = False) -> Response:
        """Send one request (rotating tokens on rate limits); 304s are answered from the ETag cache."""
        key = _etag_key(url, params)
        headers = dict(headers or {})
        cached = self._etags.get(key) if conditional else None
        if cached:
            headers["If-None-Match"] = cached[0]
        while True:
            self._spend()
            requester = self._clients[self._active].requester
            try:
                status, hdrs, text = requester.requestJson(verb, url, params, headers, body)
            except RateLimitExceededExceedsMaxWait as exc:
                status, hdrs, text = 429, {"retry-after": str(exc.wait or self.settings.max_wait_s)}, ""
            except (GithubException, requests.RequestException, AssertionError) as exc:
                raise GithubError(self.redact(f"{verb} {url}: {type(exc).__name__}: {exc}"),
                                  getattr(exc, "status", None)) from None
            hdrs = {k.lower(): str(v) for k, v in hdrs.items()}
            if status in (403, 429) and _rate_limited(hdrs, text):
                wait = _required_wait(_CI(hdrs), status, self.settings.max_wait_s + 1) or 60.0
                self._exhausted(time.time() + wait)
                continue
            self._rotate_if_low(requester)
            if status == 304 and cached:
                return Response(200, hdrs, cached[1])
            if conditional and status == 200 and hdrs.get("etag"):
                self._etags[key] = [hdrs["etag"], text]
            return Response(status, hdrs, text)

    def _spend(self) -> None:
        if self.counter.total >= self.settings.request_budget:
            raise BudgetExhausted(f"request budget of {self.settings.request_budget} spent", None)
        self.counter.calls += 1

    def _exhausted(self, until: float) -> None:
        """Block the active identity until `until`, switch to one that is free, or raise."""
        self._blocked_until[self._active] = until
        now = time.time()
        free = [i for i, t in enumerate(self._blocked_until) if t <= now]
        if not free:
            wait = min(self._blocked_until) - now
            message = f"all {len(self._clients)} GitHub identities rate limited; retry in {wait:.0f}s"
            raise RateLimited(message, wait)
        log.info("rate limited: switching GitHub identity %d -> %d", self._active, free[0])
        self._active = free[0]

    def _rotate_if_low(self, requester: Any) -> None:
        remaining, _ = requester.rate_limiting
        if 0 <= remaining < self.settings.min_remaining and len(self._clients) > 1:
            reset = requester.rate_limiting_resettime or time.time() + 60
            self._blocked_until[self._active] = float(reset)
            free = [i for i, t in enumerate(self._blocked_until) if t <= time.time()]
            if free:
                self._active = free[0]

    # -- REST and GraphQL helpers ---------------------------------------------------------------

    def get_json(self, url: str, params: dict | None = None, conditional: bool = False) -> Any:
        """GET a JSON document; non-2xx is a `GithubError` with the status."""
        resp = self.request("GET", url, params, conditional=conditional)
        if resp.status >= 400:
            raise GithubError(self.redact(f"GET {url}: HTTP {resp.status}: {resp.text[:300]}"), resp.status)
        return resp.json()

    def paginate(self, url: str, params: dict | None = None, conditional: bool = False,
                 max_items: int | None = None, items_key: str | None = None) -> Iterator[dict]:
        """Items of a listing, following `Link: rel="next"` until it ends or `max_items`."""
        seen = 0
        next_url: str | None = url
        while next_url:
            resp = self.request("GET", next_url, params, conditional=conditional)
            if resp.status >= 400:
                message = f"GET {next_url}: HTTP {resp.status}: {resp.text[:300]}"
                raise GithubError(self.redact(message), resp.status)
            data = resp.json()
            for item in (data[items_key] if items_key else data):
                yield item
                seen += 1
                if max_items is not None and seen >= max_items:
                    return
            next_url, params = resp.link("next"), None

    def repository(self, raw: dict) -> Repository:
        """A PyGithub `Repository` over a REST payload (no request)."""
        return self._clients[self._active].create_from_raw_data(Repository, raw)

    def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """Run a GraphQL query; NOT_FOUND errors leave nulls in `data`, other errors raise."""
        url = self._clients[self._active].requester.graphql_url
        resp = self.request("POST", url, body={"query": query, "variables": variables})
        payload = resp.json() if resp.text else {}
        if resp.status >= 400 or not isinstance(payload, dict):
            raise GithubError(self.redact(f"GraphQL: HTTP {resp.status}: {resp.text[:300]}"), resp.status)
        errors = [e for e in payload.get("errors") or [] if e.get("type") != "NOT_FOUND"]
        if any(e.get("type") == "RATE_LIMITED" for e in errors):
            self._exhausted(float(resp.headers.get("x-ratelimit-reset", time.time() + 60)))
            return self.graphql(query, variables)
        if errors:
            raise GithubError(self.redact(f"GraphQL errors: {errors[:3]}"), resp.status)
        return payload.get("data") or {}

    def pull_diff(self, full_name: str, number: int) -> str | None:
        """The pull request's unified diff; None when GitHub says it is too large to render."""
        resp = self.request("GET", f"/repos/{full_name}/pulls/{number}",
                            headers={"Accept": "application/vnd.github.diff"})
        if resp.status in (406, 422):
            return None
        if resp.status >= 400:
            raise GithubError(self.redact(f"diff of {full_name}#{number}: HTTP {resp.status}"), resp.status)
        return resp.text

    def save(self) -> None:
        """Persist the ETag cache (bounded) so a scheduled run can send conditional requests."""
        if self._etag_path and self.settings.etag_cache:
            keep = dict(list(self._etags.items())[-_ETAG_KEEP:])
            self._etag_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._etag_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(keep))
            tmp.replace(self._etag_path)

    def close(self) -> None:
        self.save()
        for client in self._clients:
            client.close()


class _CI(dict):
    """Case-insensitive header lookup over lower-cased keys."""

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> Any:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return super().__contains__(str(key).lower())


def _rate_limited(headers: dict[str, str], text: str) -> bool:
    if headers.get("x-ratelimit-remaining") == "0" or "retry-after" in headers:
        return True
    try:
        message = (json.loads(text) or {}).get("message", "")
    except (ValueError, AttributeError):
        return False
    lowered = str(message).lower()
    return "rate limit" in lowered or lowered.endswith("please retry your request again later.")


def _etag_key(url: str, params: dict | None) -> str:
    query = "&".join(f"{k}={v}" for k, v in sorted((params or {}).items()))
    return f"{url}?{query}"


def _load_etags(path: Path | None) -> dict[str, list[str]]:
    if path is None or not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except ValueError:
        return {}


def etag_file(cache_dir: Path, base_url: str, scope: str = "") -> Path:
    """Where the ETag cache of one GitHub host (and `scope`, e.g. a repository) lives in the
    shared cache; one file per repository keeps concurrent tasks from overwriting each other."""
    return Path(cache_dir) / "github" / f"etags-{content_key(base_url, scope, length=12)}.json"


def with_client(gh: GithubSettings, etag_path: Path | None, fn: Callable[[GithubClient], T]) -> T:
    """Run `fn` with a client that is closed (and its ETags saved) afterwards."""
    client = GithubClient(gh, etag_path)
    try:
        return fn(client)
    finally:
        client.close()
