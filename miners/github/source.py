"""The `github` source: merged pull requests that resolve issues and change code and tests.

Per repository: list issues and PRs updated since the cursor (oldest first, conditional
requests), fetch each batch of merged PRs with one GraphQL query, reject what metadata already
rules out, fetch the diff of the rest (one request each) and split it. Each batch is handed to
`on_batch` (the flow writes candidates and rejects, then the repo's cursor) before the next
starts, so a crash resumes at the first unfinished PR and nothing is lost or duplicated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from envmine.languages import LanguageSpec, load_language
from envmine.miners.clone import CloneError, ensure_clone
from envmine.miners.github import candidates as cands
from envmine.miners.github.client import BudgetExhausted, GithubClient, GithubError, RateLimited, etag_file
from envmine.miners.github.cursor import Cursor
from envmine.miners.github.discovery import discover, get_repository, reject as repo_reject, screen, to_repo
from envmine.miners.github.queries import batch_query
from envmine.miners.github.settings import GithubSettings
from envmine.git import has_commit
from envmine.miners.history import MineResult
from envmine.reasons import Reason, Stage
from envmine.records import Candidate, Reject, Repo
from envmine.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Batch:
    """What one batch of listing items produced, and the cursor just past them."""

    candidates: list[Candidate] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    cursor: str | None = None


def iter_batches(client: GithubClient, repo: Repo, spec: LanguageSpec, gh: GithubSettings,
                 cursor: str | None, max_lines: int = 2000, limit: int | None = None) -> Iterator[Batch]:
    """Batches of candidates and rejects in listing order; each one's cursor covers it exactly.

    With `limit`, stops right after the PR that makes the `limit`-th candidate.
    """
    cur = Cursor.decode(cursor)
    found = 0
    next_url: str | None = None
    while True:
        params = None if next_url else _listing_params(cur, gh)
        resp = client.request("GET", next_url or f"/repos/{repo.repo}/issues", params, conditional=True)
        if resp.status >= 400:
            raise client_error(client, resp.status, f"listing of {repo.repo}")
        items = resp.json()
        fresh = [i for i in items if not cur.seen(i)]
        for start in range(0, len(fresh), gh.pr_batch):
            room = None if limit is None else limit - found
            batch = _batch(client, repo, spec, fresh[start:start + gh.pr_batch], cur, max_lines, room)
            found += len(batch.candidates)
            yield batch
            if limit is not None and found >= limit:
                return
        if len(items) < gh.per_page or not resp.link("next"):
            return
        # Keyset paging (re-query from the cursor) cannot skip items that move while we page;
        # follow the Link only when a whole page shares one update time.
        next_url = None if fresh else resp.link("next")


def _listing_params(cur: Cursor, gh: GithubSettings) -> dict:
    params = {"state": "closed", "sort": "updated", "direction": "asc", "per_page": gh.per_page}
    if cur.since:
        params["since"] = cur.since
    return params


def client_error(client: GithubClient, status: int, what: str) -> GithubError:
    return GithubError(client.redact(f"{what}: HTTP {status}"), status)


def _maybe_merged(item: dict) -> bool:
    """A listed PR that may be merged: `merged_at` set, or absent (older GitHub Enterprise
    listings lack the field; GraphQL's `mergedAt` decides). Only an explicit null rules it out."""
    pr = item.get("pull_request")
    return pr is not None and (pr.get("merged_at") is not None or "merged_at" not in pr)


def _batch(client: GithubClient, repo: Repo, spec: LanguageSpec, items: list[dict], cur: Cursor,
           max_lines: int, room: int | None = None) -> Batch:
    merged = [i for i in items if _maybe_merged(i)]
    body_refs = {n for i in merged for n in cands.closing_refs(i.get("body"), repo.repo)}
    data = _query(client, repo, [i["number"] for i in merged], sorted(body_refs))
    prs = {i["number"]: data.get(f"pr{i['number']}") for i in merged}
    issues = {int(k[5:]): v for k, v in data.items() if k.startswith("issue") and v}
    missing = {n for pr in prs.values() if pr for n in cands.linked_issue_numbers(pr, repo.repo)}
    missing -= issues.keys() | {x["number"] for pr in prs.values() if pr
                                for x in cands.nodes(pr.get("closingIssuesReferences"))}
    if missing:
        extra = _query(client, repo, [], sorted(missing))
        issues.update({int(k[5:]): v for k, v in extra.items() if k.startswith("issue") and v})
    batch = Batch()
    for item in items:
        if room is not None and len(batch.candidates) >= room:
            break
        result = _one(client, repo, spec, item, prs.get(item["number"]), issues, max_lines)
        if isinstance(result, Candidate):
            batch.candidates.append(result)
        elif result is not None:
            batch.rejects.append(result)
        cur.advance(item)
    batch.cursor = cur.encode()
    return batch


SHRINK_STATUSES = (502, 504)
"""GraphQL answers these when a query takes too long: ask for half as much, down to one node."""


def _query(client: GithubClient, repo: Repo, prs: list[int], issues: list[int]) -> dict:
    """The batch's PR and issue nodes; a timed-out query is split in halves until it answers,
    and a single node that still times out is left out (its PR becomes a `source_error`)."""
    if not prs and not issues:
        return {}
    owner, name = repo.repo.split("/", 1)
    try:
        data = client.graphql(batch_query(prs, issues), {"owner": owner, "name": name})
    except GithubError as exc:
        if exc.status not in SHRINK_STATUSES:
            raise
        if len(prs) + len(issues) == 1:
            log.warning("%s: GraphQL keeps timing out on %s; leaving it out", repo.repo, prs or issues)
            return {}
        nodes = [("pr", n) for n in prs] + [("issue", n) for n in issues]
        halves = (nodes[:len(nodes) // 2], nodes[len(nodes) // 2:])
        parts = [_query(client, repo, [n for k, n in half if k == "pr"], [n for k, n in half if k == "issue"])
                 for half in halves]
        return {**parts[0], **parts[1]}
    return data.get("repository") or {}


def _one(client: GithubClient, repo: Repo, spec: LanguageSpec, item: dict, pr: dict | None,
         issues: dict[int, dict], max_lines: int) -> Candidate | Reject | None:
    if "pull_request" not in item:
        return None  # an issue, not a PR: it only moves the cursor
    subject = cands.instance_id(repo.repo, item["number"])
    if pr is None:
        if not _maybe_merged(item):
            return Reject.of(Stage.mine, Reason.not_merged, subject, repo=repo.repo, language=spec.name)
        return Reject.of(Stage.mine, Reason.source_error, subject, "GitHub's GraphQL API returned no data for this "
                         "pull request", repo=repo.repo, language=spec.name)
    reason = cands.prefilter(pr, repo.repo, spec, max_lines)
    if reason:
        return Reject.of(Stage.mine, reason, subject, repo=repo.repo, language=spec.name)
    linked = cands.linked_issue_numbers(pr, repo.repo)
    closing = {n["number"]: n for n in cands.nodes(pr.get("closingIssuesReferences"))}
    resolved = [closing.get(n) or issues.get(n) for n in linked]
    resolved = [i for i in resolved if i and i.get("__typename", "Issue") == "Issue"]
    if not resolved:
        return Reject.of(Stage.mine, Reason.no_linked_issue, subject, "referenced numbers are not issues",
                         repo=repo.repo, language=spec.name)
    diff = client.pull_diff(repo.repo, pr["number"])
    return cands.build_candidate(pr, resolved, diff, repo=repo.repo, repo_url=repo.url, spec=spec,
                                 max_lines=max_lines, provenance={"source": "github", "pr": str(pr["number"])})


class CloneCache:
    """The repository's mirror in the shared clone cache, cloned (partial) once per run and
    fetched again only when a batch names a commit the mirror does not have yet."""

    def __init__(self, repo: Repo, settings: Settings):
        self.repo, self.settings = repo, settings
        self.git_dir: Path | None = None

    def check(self, batch: Batch) -> None:
        """Keep the candidates whose base commit is in the mirror; reject the rest (`clone_failed`)."""
        if not batch.candidates:
            return
        try:
            fetched = self.git_dir is None
            if fetched:
                self.git_dir = ensure_clone(self.repo.url, self.settings.cache_dir, partial=True)
            if not fetched and any(not has_commit(self.git_dir, c.base_commit) for c in batch.candidates):
                self.git_dir = ensure_clone(self.repo.url, self.settings.cache_dir, partial=True)
        except CloneError as exc:
            batch.rejects += [Reject.of(Stage.mine, Reason.clone_failed, c, str(exc)) for c in batch.candidates]
            batch.candidates = []
            return
        missing = [c for c in batch.candidates if not has_commit(self.git_dir, c.base_commit)]
        batch.rejects += [Reject.of(Stage.mine, Reason.clone_failed, c, f"base commit {c.base_commit} not in clone")
                          for c in missing]
        batch.candidates = [c for c in batch.candidates if c not in missing]


def mine_github(repo_full_name: str, settings: Settings, gh: GithubSettings, cursor: str | None = None,
                max_candidates: int | None = None, *, client: GithubClient | None = None,
                on_batch: Callable[[Repo, Batch], None] | None = None) -> MineResult:
    """Mine one GitHub repository from `cursor` on; the returned `repo.cursor` is where to resume.

    `on_batch(repo, batch)` is called after each batch, before the next is fetched: persist the
    batch's candidates and rejects, then `repo` (whose cursor it has advanced). Stops cleanly,
    returning what is finished with the cursor just past it, at `max_candidates`, when the request
    budget is spent (`repo.meta["stopped"] = "request_budget"`) or when every identity is rate
    limited for longer than `gh.max_wait_s` (`"rate_limited"`, with `repo.meta["retry_after_s"]`).
    Other GitHub failures raise `GithubError` (redacted); finished batches were already handed over.
    """
    own = client is None
    client = client or GithubClient(gh, etag_file(settings.cache_dir, gh.base_url, repo_full_name))
    try:
        return _mine(client, repo_full_name, settings, gh, cursor, max_candidates, on_batch)
    finally:
        if own:
            client.close()
        else:
            client.save()


def _mine(client: GithubClient, name: str, settings: Settings, gh: GithubSettings, cursor: str | None,
          max_candidates: int | None, on_batch: Callable[[Repo, Batch], None] | None) -> MineResult:
    remote = get_repository(client, name)
    repo = to_repo(remote)
    repo.cursor = cursor
    reason = screen(remote, gh)
    if reason:
        return MineResult(repo=repo, rejects=[repo_reject(repo.repo, reason)])
    spec = load_language(repo.language or gh.languages[0])
    result = MineResult(repo=repo)
    limit = max_candidates if max_candidates is not None else gh.max_candidates_per_repo
    clones = CloneCache(repo, settings)
    try:
        batches = iter_batches(client, repo, spec, gh, cursor, settings.validation.max_patch_lines, limit)
        for batch in batches:
            if gh.clone:
                clones.check(batch)
            repo.cursor = batch.cursor
            result.candidates += batch.candidates
            result.rejects += batch.rejects
            if on_batch:
                on_batch(repo, batch)
    except BudgetExhausted:
        log.info("request budget spent while mining %s; resuming from the cursor next run", name)
        repo.meta["stopped"] = "request_budget"
    except RateLimited as exc:
        log.info("rate limited while mining %s for %.0fs; resuming from the cursor later", name, exc.retry_after_s)
        repo.meta.update(stopped="rate_limited", retry_after_s=str(int(exc.retry_after_s)))
    return result


def discover_github(settings: Settings, gh: GithubSettings) -> tuple[list[Repo], list[Reject]]:
    """The repositories to mine (`gh.repos`, else a search), screened; skipped ones as rejects."""
    client = GithubClient(gh, etag_file(settings.cache_dir, gh.base_url, "discovery"))
    try:
        return discover(client, gh)
    finally:
        client.close()
