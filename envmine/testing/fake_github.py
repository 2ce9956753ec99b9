"""A local HTTP server that speaks GitHub's REST and GraphQL APIs the way GitHub does.

It serves what the `github` source reads, with GitHub's behaviours: `Link` pagination, the
search API's 1,000-result cap (422 past it), per-token primary rate limits (403 with
`x-ratelimit-*` headers), ETags and 304s that cost no quota, GitHub App installation tokens
(JWT checked), the search API's own per-minute limit (`x-ratelimit-resource: search`), GraphQL
timeouts (502) for queries asking for too many nodes or for named pull requests, and injected
faults (secondary limits with or without `retry-after` or a body, 429, 5xx, slow answers). Every request is logged (the token by index, never its value).

Used by the tests and by bench/github_requests.py; it depends on werkzeug only (plus PyJWT for
the App endpoint).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

_ALIAS = re.compile(r"(\w+):\s*(pullRequest|issueOrPullRequest)\(number:\s*(\d+)\)")

TOKEN = "ghp_SECRETsecretSECRETsecret0123456789"
TOKEN2 = "ghp_OTHERotherOTHERother01234567890000"
"""Tokens the tests give the fake (shaped like real ones, so redaction is tested for real)."""


@dataclass
class Fault:
    """An injected answer for requests whose path matches `path` (a regex), `times` times."""

    path: str
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    """JSON body; "" sends an empty body (GitHub's secondary limits sometimes do)."""
    delay: float = 0.0
    times: int = 1
    """How many requests it answers; status 0 with a delay only slows them, then answers normally."""


@dataclass
class Logged:
    method: str
    path: str
    query: str
    status: int
    identity: int
    """Index of the token used (-1: none or unknown)."""


@dataclass
class FakeRepo:
    full_name: str
    rest: dict
    items: list[dict] = field(default_factory=list)
    """REST issue-listing items (issues and PRs), as GitHub lists them."""
    prs: dict[int, dict] = field(default_factory=dict)
    """GraphQL PullRequest nodes by number."""
    issues: dict[int, dict] = field(default_factory=dict)
    """GraphQL Issue nodes by number."""
    diffs: dict[int, str | None] = field(default_factory=dict)
    """PR diffs by number; None = too large (GitHub answers 406)."""


class FakeGitHub:
    """The server's state and WSGI app; `start()` serves it on a free local port."""

    def __init__(self, tokens: dict[str, int] | None = None, prefix: str = "", latency: float = 0.0,
                 app_key: str | None = None, app_id: int = 1, search_limit: int = 30, search_window_s: float = 60.0):
        self.tokens = dict(tokens or {})
        self.order = list(self.tokens)
        self.remaining = dict(self.tokens)
        self.reset_at = int(time.time()) + 3600
        self.prefix = prefix.rstrip("/")
        self.latency = latency
        self.app_key, self.app_id = app_key, app_id
        self.repos: dict[str, FakeRepo] = {}
        self.search_items: list[dict] = []
        self.faults: list[Fault] = []
        self.search_limit, self.search_window_s = search_limit, search_window_s
        """The search API's own budget per token: `search_limit` requests per window (GitHub: 30/min)."""
        self.search_used: dict[str, list[float]] = {}
        self.graphql_max_nodes: int | None = None
        """Queries asking for more PR/issue nodes than this time out (502), as GitHub's do."""
        self.graphql_fail_numbers: set[int] = set()
        """Pull requests whose query always times out (502)."""
        self.log: list[Logged] = []
        self.bodies: list[str] = []
        """Every request body and header line received (to prove what a client sent)."""
        self._lock = threading.Lock()
        self._server = None
        self.base_url = ""

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> str:
        self._server = make_server("127.0.0.1", 0, self, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self._server.server_port}{self.prefix}"
        return self.base_url

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def add_repo(self, repo: FakeRepo) -> None:
        self.repos[repo.full_name] = repo

    def calls(self, pattern: str = "") -> list[Logged]:
        """Logged requests whose path matches `pattern`."""
        return [r for r in self.log if re.search(pattern, r.path)]

    # -- WSGI ---------------------------------------------------------------------------------

    def __call__(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        response = self._handle(request)
        return response(environ, start_response)

    def _handle(self, request: Request) -> Response:
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            self.bodies.append(f"{dict(request.headers)} {request.get_data(as_text=True)}")
        identity = self._identity(request)
        path = request.path
        if self.prefix:  # Enterprise: REST under /api/v3, GraphQL at /api/graphql, nothing else
            if path.startswith(self.prefix + "/"):
                path = path[len(self.prefix):]
            elif path == "/api/graphql":
                path = "/graphql"
            else:
                path = "/not-under-the-api-prefix" + path
        fault = self._fault(path)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.status and fault.body == "":
            response = Response("", fault.status, headers=fault.headers)
        elif fault is not None and fault.status:
            response = _json(fault.body or {"message": "Server Error"}, fault.status, fault.headers)
        elif path.startswith("/app/installations/"):
            response = self._installation_token(request, path)
        elif identity < 0:
            response = _json({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}, 401)
        else:
            response = self._limited(request, path, identity)
        with self._lock:
            self.log.append(Logged(request.method, path, request.query_string.decode(), response.status_code, identity))
        return response

    def _identity(self, request: Request) -> int:
        auth = request.headers.get("Authorization", "")
        value = auth.split(" ", 1)[1] if " " in auth else ""
        return self.order.index(value) if value in self.tokens else -1

    def _fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and re.search(fault.path, path):
                    fault.times -= 1
                    return fault
        return None

    def _limited(self, request: Request, path: str, identity: int) -> Response:
        token = self.order[identity]
        if path.startswith("/search/"):
            return self._search_limited(request, path, token)
        with self._lock:
            if self.remaining[token] <= 0:
                return self._rate_headers(_json({
                    "message": "API rate limit exceeded for user ID 1.",
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                }, 403), token)
        response = self._route(request, path)
        etag = response.headers.get("ETag")
        if etag and etag in request.headers.get("If-None-Match", ""):
            return self._rate_headers(Response(status=304, headers={"ETag": etag}), token)
        with self._lock:
            self.remaining[token] -= 1
        return self._rate_headers(response, token)

    def _search_limited(self, request: Request, path: str, token: str) -> Response:
        """The search API's budget is its own: exhausting it leaves the core budget untouched."""
        now = time.time()
        with self._lock:
            used = [t for t in self.search_used.get(token, []) if t > now - self.search_window_s]
            self.search_used[token] = used
            reset = int(math.ceil((used[0] if used else now) + self.search_window_s))
            if len(used) >= self.search_limit:
                response = _json({"message": "API rate limit exceeded for user ID 1.",
                                  "documentation_url": "https://docs.github.com/rest/search/search"}, 403)
            else:
                used.append(now)
                response = self._route(request, path)
            remaining = self.search_limit - len(used)
        response.headers.update({"X-RateLimit-Limit": str(self.search_limit), "X-RateLimit-Remaining": str(remaining),
                                 "X-RateLimit-Reset": str(reset), "X-RateLimit-Used": str(len(used)),
                                 "X-RateLimit-Resource": "search"})
        return response

    def _rate_headers(self, response: Response, token: str) -> Response:
        response.headers["X-RateLimit-Limit"] = str(self.tokens[token])
        response.headers["X-RateLimit-Remaining"] = str(max(self.remaining[token], 0))
        response.headers["X-RateLimit-Reset"] = str(self.reset_at)
        response.headers["X-RateLimit-Used"] = str(self.tokens[token] - max(self.remaining[token], 0))
        response.headers["X-RateLimit-Resource"] = "core"
        return response

    # -- routes -------------------------------------------------------------------------------

    def _route(self, request: Request, path: str) -> Response:
        if request.method == "POST" and path == "/graphql":
            return self._graphql(request.get_json())
        m = re.fullmatch(r"/repos/([^/]+/[^/]+)(/issues|/pulls/(\d+))?", path)
        if request.method == "GET" and m and m[1] in self.repos:
            repo = self.repos[m[1]]
            if m[2] is None:
                return _json(repo.rest, etag=True)
            if m[2] == "/issues":
                return self._issues(request, repo)
            return self._pull(request, repo, int(m[3]))
        if request.method == "GET" and path == "/search/repositories":
            return self._search(request)
        return _json({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}, 404)

    def _issues(self, request: Request, repo: FakeRepo) -> Response:
        args = request.args
        items = [i for i in repo.items if args.get("state", "open") in ("all", i["state"])]
        if args.get("since"):
            items = [i for i in items if i["updated_at"] >= args["since"]]
        key = "updated_at" if args.get("sort") == "updated" else "created_at"
        items.sort(key=lambda i: (i[key], i["number"]), reverse=args.get("direction", "desc") == "desc")
        return self._page(request, items)

    def _page(self, request: Request, items: list, cap: int | None = None, wrap: dict | None = None) -> Response:
        per_page = min(int(request.args.get("per_page", 30)), 100)
        page = int(request.args.get("page", 1))
        total = len(items)
        reachable = min(total, cap) if cap is not None else total
        if cap is not None and (page - 1) * per_page >= cap:
            return _json({"message": f"Only the first {cap} search results are available",
                          "documentation_url": "https://docs.github.com/v3/search/"}, 422)
        last = max(math.ceil(reachable / per_page), 1)
        chunk = items[(page - 1) * per_page: page * per_page]
        body: Any = {**wrap, "items": chunk} if wrap is not None else chunk
        response = _json(body, etag=True)
        links = []
        for rel, number in (("prev", page - 1), ("next", page + 1), ("last", last), ("first", 1)):
            if (rel == "prev" and page > 1) or (rel == "next" and page < last) or (rel in ("last", "first") and page != number):
                query = {**request.args.to_dict(), "page": number}
                links.append(f'<{request.host_url.rstrip("/")}{request.path}?{urlencode(query)}>; rel="{rel}"')
        if links:
            response.headers["Link"] = ", ".join(links)
        return response

    def _pull(self, request: Request, repo: FakeRepo, number: int) -> Response:
        if number not in repo.prs:
            return _json({"message": "Not Found"}, 404)
        if "diff" in request.headers.get("Accept", ""):
            diff = repo.diffs.get(number)
            if diff is None:
                return _json({"message": "Sorry, the diff exceeded the maximum number of lines (20000)",
                              "errors": [{"resource": "PullRequest", "field": "diff", "code": "too_large"}]}, 406)
            return Response(diff, 200, content_type="text/plain; charset=utf-8")
        pr = repo.prs[number]
        return _json({"number": number, "title": pr["title"], "body": pr["body"], "merged": bool(pr["mergedAt"]),
                      "base": {"sha": pr["baseRefOid"]}, "head": {"sha": pr["headRefOid"]}})

    def _search(self, request: Request) -> Response:
        query = request.args.get("q", "")
        items = list(self.search_items)
        stars = re.search(r"stars:(\d+)\.\.(\d+)|stars:>=(\d+)", query)
        if stars:
            low = int(stars[1] or stars[3])
            high = int(stars[2]) if stars[2] else None
            items = [i for i in items if i["stargazers_count"] >= low and (high is None or i["stargazers_count"] <= high)]
        language = re.search(r"language:(\S+)", query)
        if language:
            items = [i for i in items if (i.get("language") or "").lower() == language[1].lower()]
        if "fork:false" in query:
            items = [i for i in items if not i["fork"]]
        items.sort(key=lambda i: (-i["stargazers_count"], i["full_name"]))
        wrap = {"total_count": len(items), "incomplete_results": False}
        return self._page(request, items, cap=1000, wrap=wrap)

    def _graphql(self, payload: dict) -> Response:
        query, variables = payload["query"], payload.get("variables") or {}
        repo = self.repos.get(f"{variables.get('owner')}/{variables.get('name')}")
        if repo is None:
            return _json({"data": {"repository": None}, "errors": [{"type": "NOT_FOUND", "path": ["repository"],
                          "message": "Could not resolve to a Repository."}]})
        asked = _ALIAS.findall(query)
        if (self.graphql_max_nodes is not None and len(asked) > self.graphql_max_nodes) or \
                any(kind == "pullRequest" and int(n) in self.graphql_fail_numbers for _, kind, n in asked):
            return Response("<html><body><h1>502 Bad Gateway</h1>We couldn't respond to your request in time.</body></html>",
                            502, content_type="text/html")
        data: dict[str, Any] = {}
        errors = []
        for alias, kind, number in asked:
            node = _requested(self._node(repo, kind, int(number)), query)
            data[alias] = node
            if node is None:
                errors.append({"type": "NOT_FOUND", "path": ["repository", alias], "locations": [],
                               "message": f"Could not resolve to a {kind} with the number of {number}."})
        body: dict[str, Any] = {"data": {"repository": data, "rateLimit": {"cost": 1, "remaining": 4999, "resetAt": "2030-01-01T00:00:00Z"}}}
        if errors:
            body["errors"] = errors
        return _json(body)

    def _node(self, repo: FakeRepo, kind: str, number: int) -> dict | None:
        if kind == "pullRequest":
            return repo.prs.get(number)
        if number in repo.issues:
            return {"__typename": "Issue", **repo.issues[number]}
        return {"__typename": "PullRequest"} if number in repo.prs else None

    def _installation_token(self, request: Request, path: str) -> Response:
        import jwt

        auth = request.headers.get("Authorization", "")
        try:
            claims = jwt.decode(auth.removeprefix("Bearer "), self.app_key, algorithms=["RS256"])
        except Exception:  # noqa: BLE001 - any invalid JWT is GitHub's 401
            return _json({"message": "A JSON web token could not be decoded"}, 401)
        if str(claims.get("iss")) != str(self.app_id):
            return _json({"message": "Integration not found"}, 401)
        token = f"ghs_installation{len(self.tokens):04d}xxxxxxxxxxxxxxxxxxxx"
        with self._lock:
            self.tokens[token] = 5000
            self.remaining[token] = 5000
            self.order.append(token)
        return _json({"token": token, "expires_at": "2099-01-01T00:00:00Z", "permissions": {"contents": "read"}}, 201)


def _requested(node: dict | None, query: str) -> dict | None:
    """Only the fields the query names (GitHub never answers fields it was not asked for)."""
    if node is None:
        return None
    return {k: v for k, v in node.items() if k == "__typename" or re.search(rf"\b{k}\b", query)}


def _json(body: Any, status: int = 200, headers: dict | None = None, etag: bool = False) -> Response:
    text = json.dumps(body)
    response = Response(text, status, headers=headers or {}, content_type="application/json; charset=utf-8")
    if etag:
        response.headers["ETag"] = f'W/"{hashlib.sha1(text.encode()).hexdigest()}"'
    return response
