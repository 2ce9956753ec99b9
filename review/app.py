"""`envmine review`: the expert review app (Starlette, server-rendered Jinja pages, one script).

Pages: `/queue` (filters: language, repo, quality code, not yet reviewed by me), `/task/{id}`
(statements, rendered diffs, F2P/P2P with stability, build and validation logs, quality codes,
the judgment form), `/episodes` and `/episode/{key}` (thinking, tool calls and answers, final
diff, reward, tampering flags, rubric, pairwise preference), `/agreement`.

Safety: every page but `/login` needs a session (or a reviewer's bearer token); every POST from
a session needs the session's CSRF token and a same-origin `Origin`; templates autoescape all
text and a strict Content-Security-Policy allows only this app's own script, so text from
repositories (statements, diffs, logs) is shown, never run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from envmine.review import auth, fields, store
from envmine.review.diffs import diff_lines
from envmine.warehouse.catalog import Catalog

SESSION_COOKIE = "envmine_session"
MAX_BODY = 1 << 20
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
HERE = Path(__file__).parent


@dataclass
class ReviewApp:
    """What the handlers share: the catalog, the reviewers, the signing key, the rubric."""

    catalog: Catalog
    reviewers: auth.Reviewers
    secret: bytes
    rubric: list[fields.RubricItem]
    templates: jinja2.Environment


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("envmine.review", "templates"),
                             autoescape=jinja2.select_autoescape(["html"], default=True),
                             undefined=jinja2.StrictUndefined)
    env.globals.update(diff_lines=diff_lines, urlencode=urlencode)
    return env


def _state(request: Request) -> ReviewApp:
    return request.app.state.review


def _reviewer(request: Request) -> tuple[str | None, str | None]:
    """(reviewer, session cookie) of a request: a valid session, or a bearer token (no cookie)."""
    app = _state(request)
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return app.reviewers.who(header[7:].strip()), None
    cookie = request.cookies.get(SESSION_COOKIE)
    return auth.read_session(app.secret, cookie, app.reviewers), cookie


def _page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    app = _state(request)
    reviewer, session = _reviewer(request)
    csrf = auth.csrf_token(app.secret, session) if session else ""
    html = app.templates.get_template(name).render(me=reviewer, csrf=csrf, request=request, **context)
    return HTMLResponse(html, status_code=status)


def _login_redirect(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?{urlencode({'next': request.url.path})}", status_code=303)


async def _form(request: Request) -> dict[str, list[str]]:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise fields.FieldError("request body too large")
    out: dict[str, list[str]] = {}
    for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        out.setdefault(key, []).append(value)
    return out


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


async def _writer(request: Request) -> tuple[str | None, dict[str, list[str]], Response | None]:
    """The reviewer allowed to write with this POST, its form, or the refusal to send."""
    reviewer, session = _reviewer(request)
    form = await _form(request)
    if reviewer is None:
        return None, form, PlainTextResponse("login required", status_code=401)
    if session is not None:  # cookie-authenticated: needs the CSRF token and the same origin
        sent = (form.get("csrf") or [""])[0] or request.headers.get("x-csrf-token")
        if not _same_origin(request) or not auth.check_csrf(_state(request).secret, session, sent):
            return None, form, PlainTextResponse("CSRF check failed", status_code=403)
    return reviewer, form, None


# -- login --------------------------------------------------------------------------------------


async def login_page(request: Request) -> Response:
    return _page(request, "login.html", next=_safe_next(request.query_params.get("next", "/queue")), error="")


def _safe_next(target: str) -> str:
    """Only paths on this site: `//evil.example` and `https://...` go to the queue instead."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/queue"


async def login(request: Request) -> Response:
    form = await _form(request)
    app = _state(request)
    if not _same_origin(request):
        return PlainTextResponse("cross-origin login refused", status_code=403)
    reviewer = app.reviewers.who((form.get("token") or [""])[0].strip())
    target = _safe_next((form.get("next") or ["/queue"])[0])
    if reviewer is None:
        return _page(request, "login.html", status=401, next=target, error="unknown token")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, auth.make_session(app.secret, reviewer), max_age=auth.SESSION_TTL_S,
                        httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


async def logout(request: Request) -> Response:
    reviewer, _, refused = await _writer(request)
    if refused:
        return refused
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


# -- pages --------------------------------------------------------------------------------------


async def home(request: Request) -> Response:
    return RedirectResponse("/queue", status_code=303)


async def queue_page(request: Request) -> Response:
    reviewer, _ = _reviewer(request)
    if reviewer is None:
        return _login_redirect(request)
    q = request.query_params
    chosen = {"language": q.get("language", ""), "repo": q.get("repo", ""), "code": q.get("code", ""),
              "todo": q.get("todo", "") == "1"}
    catalog = _state(request).catalog
    rows = await run_in_threadpool(store.queue, catalog, reviewer, chosen["language"], chosen["repo"],
                                   chosen["code"], chosen["todo"])
    facets = await run_in_threadpool(store.facets, catalog)
    return _page(request, "queue.html", rows=rows, facets=facets, chosen=chosen)


async def task_page(request: Request) -> Response:
    reviewer, _ = _reviewer(request)
    if reviewer is None:
        return _login_redirect(request)
    instance_id = request.path_params["instance_id"]
    catalog = _state(request).catalog
    found = await run_in_threadpool(store.task, catalog, instance_id)
    if found is None:
        return _page(request, "error.html", status=404, message=f"no instance {instance_id}")
    mine = await run_in_threadpool(store.latest, catalog, reviewer, instance_id)
    return _page(request, "task.html", t=found, mine=mine, saved=request.query_params.get("saved", ""),
                 choices=fields.TASK_CHOICES)


async def judge_task(request: Request) -> Response:
    reviewer, form, refused = await _writer(request)
    if refused:
        return refused
    instance_id = request.path_params["instance_id"]
    catalog = _state(request).catalog
    if not await run_in_threadpool(store.has_instance, catalog, instance_id):
        return PlainTextResponse(f"no instance {instance_id}", status_code=404)
    values = {}
    try:
        for field in (*fields.TASK_CHOICES, *fields.TASK_TEXT):
            if field in form:
                value = form[field][-1]
                if value == "" and field in ("clarity", "validity", "difficulty"):
                    continue  # not judged yet: nothing to write
                values[field] = fields.check_task_field(field, value)
        if "veto" not in form and "veto_shown" in form:
            values["veto"] = "0"
    except fields.FieldError as exc:
        return PlainTextResponse(str(exc), status_code=400)
    written = await run_in_threadpool(store.annotate, catalog, reviewer, "task", instance_id, values)
    target = f"/task/{instance_id}?saved={written}"
    if form.get("next", [""])[0] == "1":
        rest = await run_in_threadpool(store.queue, catalog, reviewer, "", "", "", True)
        target = next((f"/task/{r['instance_id']}?saved={written}" for r in rest if r["instance_id"] != instance_id),
                      f"/queue?saved={written}")
    return RedirectResponse(target, status_code=303)


async def episodes_page(request: Request) -> Response:
    reviewer, _ = _reviewer(request)
    if reviewer is None:
        return _login_redirect(request)
    rows = await run_in_threadpool(store.episodes, _state(request).catalog)
    return _page(request, "episodes.html", rows=rows)


async def episode_page(request: Request) -> Response:
    reviewer, _ = _reviewer(request)
    if reviewer is None:
        return _login_redirect(request)
    key = request.path_params["key"]
    catalog = _state(request).catalog
    found = await run_in_threadpool(store.episode, catalog, key)
    if found is None:
        return _page(request, "error.html", status=404, message=f"no episode {key}")
    mine = await run_in_threadpool(store.latest, catalog, reviewer, key)
    return _page(request, "episode.html", e=found, mine=mine, rubric=_state(request).rubric,
                 saved=request.query_params.get("saved", ""))


async def judge_episode(request: Request) -> Response:
    reviewer, form, refused = await _writer(request)
    if refused:
        return refused
    key = request.path_params["key"]
    app = _state(request)
    found = await run_in_threadpool(store.episode, app.catalog, key)
    if found is None:
        return PlainTextResponse(f"no episode {key}", status_code=404)
    written = 0
    try:
        values = {f: fields.check_trajectory_field(f, form[f][-1], app.rubric)
                  for f in form if f.startswith("rubric:") or f == "notes"}
        written += await run_in_threadpool(store.annotate, app.catalog, reviewer, "trajectory", key, values)
        other, preference = (form.get("other") or [""])[0], (form.get("preference") or [""])[0]
        if preference:
            if other not in found["siblings"] or preference not in fields.PREFERENCES:
                raise fields.FieldError("preference needs another episode of this task and a, b or tie")
            subject, value = pair_subject(key, other, preference)
            written += await run_in_threadpool(store.annotate, app.catalog, reviewer, "pair", subject,
                                               {"preference": value})
    except fields.FieldError as exc:
        return PlainTextResponse(str(exc), status_code=400)
    return RedirectResponse(f"/episode/{key}?saved={written}", status_code=303)


def pair_subject(this: str, other: str, preference: str) -> tuple[str, str]:
    """The pair's subject (its two episodes in sorted order) and the preference in that order:
    `a` when the first of the sorted pair is better, `b` the second, `tie`."""
    first, second = sorted((this, other))
    if preference == "tie":
        return f"{first}|{second}", "tie"
    better = this if preference == "a" else other
    return f"{first}|{second}", "a" if better == first else "b"


async def agreement_page(request: Request) -> Response:
    reviewer, _ = _reviewer(request)
    if reviewer is None:
        return _login_redirect(request)
    rows = await run_in_threadpool(lambda: _state(request).catalog.sql("SELECT * FROM agreement").to_pylist())
    return _page(request, "agreement.html", rows=rows)


async def security_headers(request: Request, call_next: Any) -> Response:
    response = await call_next(request)
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.url.path != "/static/app.js" and not request.url.path.endswith(".css"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def create_app(catalog: Catalog, review_dir: Path) -> Starlette:
    """The app over an open (writable) catalog; reviewers and the signing key live in `review_dir`."""
    routes = [
        Route("/", home), Route("/login", login_page, methods=["GET"]), Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]), Route("/queue", queue_page),
        Route("/task/{instance_id:str}", task_page, methods=["GET"]),
        Route("/task/{instance_id:str}/judge", judge_task, methods=["POST"]),
        Route("/episodes", episodes_page), Route("/episode/{key:str}", episode_page, methods=["GET"]),
        Route("/episode/{key:str}/judge", judge_episode, methods=["POST"]),
        Route("/agreement", agreement_page),
        Mount("/static", StaticFiles(packages=[("envmine.review", "static")]), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(BaseHTTPMiddleware, dispatch=security_headers)])
    app.state.review = ReviewApp(catalog, auth.Reviewers(review_dir), auth.server_secret(review_dir),
                                 fields.load_rubric(review_dir), _templates())
    return app
