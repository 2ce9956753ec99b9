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
from typing import Any

import requests
from github import Auth, Github, GithubException, GithubRetry
from github.Repository import Repository

from envmine.miners.github.settings import GithubSettings
from envmine.records import content_key

log = logging.getLogger(__name__)
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
    """PyGithub's retry for 5xx and timeouts only: 403 and 429 come back to the client untouched
    (body unread), which decides whether they are rate limits and how long to wait."""

    def __init__(self, counter: Counter | None = None, **kwargs: Any):
        self.counter = counter or Counter()
        super().__init__(**kwargs)

    def new(self, **kw: Any) -> BoundedRetry:
        retry = super().new(**kw)
        retry.counter = self.counter
        return retry

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code in (403, 429):
            return False
        return super().is_retry(method, status_code, has_retry_after)

    def increment(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        retry = super().increment(*args, **kwargs)
        self.counter.retries += 1
        return retry


SECONDARY_WAIT_S = 60.0
"""GitHub: after a secondary rate limit without `retry-after`, "wait for at least one minute
before retrying", and longer each time it persists (doubling here)."""
_MAX_DOUBLINGS = 6


def _resource(url: str) -> str:
    """The rate-limit bucket a request counts against (GitHub's `x-ratelimit-resource`)."""
    if url.rstrip("/").endswith("graphql"):
        return "graphql"
    return "search" if "/search/" in url else "core"


def limit_wait(status: int, headers: dict[str, str], text: str, strikes: int) -> tuple[float, bool] | None:
    """(seconds to wait, whether it binds every resource) when a response is a rate limit, else
    None. GitHub's rules: `retry-after` when given; an exhausted primary limit
    (`x-ratelimit-remaining: 0`) until `x-ratelimit-reset`; otherwise a secondary limit: at
    least a minute, doubling while it persists (`strikes` in a row). A 403 whose body says
    something else (permissions) is not a limit."""
    if status not in (403, 429):
        return None
    if headers.get("retry-after"):
        try:
            return max(float(headers["retry-after"]), 0.0), True
        except ValueError:
            pass
    reset = str(headers.get("x-ratelimit-reset", ""))
    if headers.get("x-ratelimit-remaining") == "0" and reset.isdigit():
        return max(int(reset) - time.time(), 0) + 1, False
    message = _message(text)
    if status == 429 or not message or _is_limit_message(message):
        return SECONDARY_WAIT_S * 2 ** min(strikes, _MAX_DOUBLINGS), True
    return None


def _message(text: str) -> str:
    try:
        body = json.loads(text) if text.strip() else {}
    except ValueError:
        return text.strip()[:300]
    return str(body.get("message", "")) if isinstance(body, dict) else ""


def _is_limit_message(message: str) -> bool:
    lowered = message.lower()
    return "rate limit" in lowered or "abuse" in lowered or lowered.endswith("please retry your request again later.")


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

    def __init__(self, gh: GithubSettings, etag_path: Path | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.settings = gh
        self.sleep = sleep
        """How the client waits out a rate limit (a test can watch the waits)."""
        self.counter = Counter()
        secrets = gh.resolved_tokens()
        self.redact = _install_redactor(secrets)
        self._clients = [self._github(auth) for auth in self._auths(secrets)]
        if not self._clients:
            raise GithubError(f"no GitHub credentials: set ${gh.token_env} or configure a GitHub App")
        self._blocked: dict[tuple[int, str], float] = {}
        """(identity, resource) -> when it may be used again; resource "*" binds them all."""
        self._strikes = [0] * len(self._clients)
        """Secondary limits in a row, per identity."""
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
            status_forcelist=list(range(500, 600)),
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
        """Send one request (waiting or rotating tokens on rate limits); 304s are answered from
        the ETag cache."""
        key = _etag_key(url, params)
        headers = dict(headers or {})
        cached = self._etags.get(key) if conditional else None
        if cached:
            headers["If-None-Match"] = cached[0]
        resource = _resource(url)
        while True:
            self._take_identity(resource)
            self._spend()
            requester = self._clients[self._active].requester
            try:
                status, hdrs, text = requester.requestJson(verb, url, params, headers, body)
            except (GithubException, requests.RequestException, AssertionError) as exc:
                raise GithubError(self.redact(f"{verb} {url}: {type(exc).__name__}: {exc}"),
                                  getattr(exc, "status", None)) from None
            hdrs = {k.lower(): str(v) for k, v in hdrs.items()}
            limited = limit_wait(status, hdrs, text or "", self._strikes[self._active])
            if limited is not None:
                self.limited(hdrs.get("x-ratelimit-resource", resource), *limited)
                continue
            self._strikes[self._active] = 0
            self._rotate_if_low(hdrs, resource)
            if status == 304 and cached:
                return Response(200, hdrs, cached[1])
            if conditional and status == 200 and hdrs.get("etag"):
                self._etags[key] = [hdrs["etag"], text]
            return Response(status, hdrs, text)

    def _spend(self) -> None:
        if self.counter.total >= self.settings.request_budget:
            raise BudgetExhausted(f"request budget of {self.settings.request_budget} spent", None)
        self.counter.calls += 1

    def limited(self, resource: str, wait: float, everything: bool) -> None:
        """The active identity is rate limited on `resource` (on all of them when `everything`:
        secondary limits) for `wait` seconds."""
        if everything:
            self._strikes[self._active] += 1
        key = (self._active, "*" if everything else resource)
        self._blocked[key] = max(self._blocked.get(key, 0.0), time.time() + wait)
        log.info("GitHub identity %d rate limited (%s) for %.0fs", self._active,
                 "secondary" if everything else resource, wait)

    def _free_at(self, identity: int, resource: str) -> float:
        return max(self._blocked.get((identity, resource), 0.0), self._blocked.get((identity, "*"), 0.0))

    def _take_identity(self, resource: str) -> None:
        """Use an identity free for `resource`: the active one, another one, or the first to be
        free after a wait of at most `max_wait_s`; a longer wait raises `RateLimited`."""
        now = time.time()
        free_at = [self._free_at(i, resource) for i in range(len(self._clients))]
        if free_at[self._active] <= now:
            return
        free = [i for i, t in enumerate(free_at) if t <= now]
        if free:
            log.info("rate limited: switching GitHub identity %d -> %d", self._active, free[0])
            self._active = free[0]
            return
        soonest = min(range(len(free_at)), key=free_at.__getitem__)
        wait = free_at[soonest] - now
        if wait > self.settings.max_wait_s:
            raise RateLimited(f"all {len(self._clients)} GitHub identities rate limited ({resource}); "
                              f"retry in {wait:.0f}s", wait)
        self.sleep(wait)
        self._active = soonest

    def _rotate_if_low(self, headers: dict[str, str], resource: str) -> None:
        """Move on before the active identity runs dry (core and GraphQL hourly budgets; the
        search budget is 30 a minute and simply waited for)."""
        remaining, reset = headers.get("x-ratelimit-remaining", ""), headers.get("x-ratelimit-reset", "")
        if resource == "search" or len(self._clients) < 2 or not remaining.isdigit():
            return
        if int(remaining) < self.settings.min_remaining:
            self._blocked[(self._active, resource)] = float(reset) if reset.isdigit() else time.time() + 60
            free = [i for i in range(len(self._clients)) if self._free_at(i, resource) <= time.time()]
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
        """Run a GraphQL query. NOT_FOUND errors leave nulls in `data`; rate-limit errors
        (`RATE_LIMITED`, `RATE_LIMIT`, whatever `remaining` says) wait or rotate like REST
        limits; errors on some fields of an answer with data leave those fields null (partial
        results, logged); a timeout is a `GithubError` with status 504 (ask for less)."""
        url = self._clients[self._active].requester.graphql_url
        while True:
            resp = self.request("POST", url, body={"query": query, "variables": variables})
            try:
                payload = resp.json() if resp.text and resp.status < 400 else {}
            except ValueError:  # a proxy's or GitHub's HTML error page
                payload = None
            if resp.status >= 400 or not isinstance(payload, dict):
                raise GithubError(self.redact(f"GraphQL: HTTP {resp.status}: {resp.text[:300]}"), resp.status)
            errors = [e for e in payload.get("errors") or [] if e.get("type") != "NOT_FOUND"]
            if any(e.get("type") in ("RATE_LIMITED", "RATE_LIMIT") for e in errors):
                strikes = self._strikes[self._active]
                primary = limit_wait(403, resp.headers, "", strikes) if resp.headers.get("x-ratelimit-remaining") == "0" else None
                self.limited("graphql", *(primary or (SECONDARY_WAIT_S * 2 ** min(strikes, _MAX_DOUBLINGS), True)))
                continue
            data = payload.get("data") or {}
            if errors and not (data and all(e.get("path") for e in errors)):
                status = 504 if any(_is_timeout(e) for e in errors) else resp.status
                raise GithubError(self.redact(f"GraphQL errors: {errors[:3]}"), status)
            if errors:
                log.warning("GraphQL: partial answer, %d fields failed: %s", len(errors), self.redact(str(errors[:3])))
            return data

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


def _is_timeout(error: dict) -> bool:
    text = str(error.get("message", "")).lower()
    return error.get("type") in ("TIMEOUT", "SERVICE_UNAVAILABLE") or "timeout" in text or "timed out" in text


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
