"""Which repositories the `github` source mines: a search, or an explicit list, filtered.

Forks, archived, oversized, inactive, unsupported-language and non-permissive repositories are
returned as rejects with a reason code, never silently dropped.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from github.Repository import Repository

from envmine.languages import known_languages
from envmine.miners.github.client import BudgetExhausted, GithubClient, GithubError, RateLimited
from envmine.miners.github.settings import GithubSettings
from envmine.reasons import Reason, Stage
from envmine.records import Reject, Repo, SourceKind

log = logging.getLogger(__name__)
SEARCH_CAP = 1000
"""GitHub search returns at most this many results per query."""
# GitHub's language names that differ from envmine's spec names.
_LANGUAGE_ALIASES = {"c++": "cpp", "c#": "csharp", "jupyter notebook": "python"}


def spec_language(github_language: str | None) -> str | None:
    """envmine's language name for GitHub's (`Python` -> `python`), if a spec exists."""
    if not github_language:
        return None
    name = _LANGUAGE_ALIASES.get(github_language.lower(), github_language.lower())
    return name if name in known_languages() else None


def search_query(gh: GithubSettings, language: str, max_stars: int | None = None) -> str:
    """The repository search query for one language (forks and archived repos excluded)."""
    stars = f"stars:{gh.min_stars}..{max_stars}" if max_stars is not None else f"stars:>={gh.min_stars}"
    parts = [f"language:{language}", stars, "fork:false", "archived:false", f"size:<={gh.max_size_kb}"]
    if gh.active_within_days:
        since = (datetime.now(timezone.utc) - timedelta(days=gh.active_within_days)).date()
        parts.append(f"pushed:>={since.isoformat()}")
    if gh.query:
        parts.append(gh.query)
    return " ".join(parts)


def screen(repo: Repository, gh: GithubSettings) -> Reason | None:
    """Why a repository is skipped, or None to mine it."""
    if repo.fork:
        return Reason.fork
    if repo.archived:
        return Reason.archived
    if repo.size > gh.max_size_kb:
        return Reason.too_large
    language = spec_language(repo.language)
    if language is None or language not in gh.languages:
        return Reason.language_unsupported
    licence = (repo.license.key if repo.license else "") or ""
    if "*" not in gh.licenses and licence.lower() not in gh.licenses:
        return Reason.license_not_allowed
    if gh.active_within_days and repo.pushed_at is not None:
        if repo.pushed_at < datetime.now(timezone.utc) - timedelta(days=gh.active_within_days):
            return Reason.inactive
    return None


def to_repo(repo: Repository) -> Repo:
    """The catalog's record of a GitHub repository (its clone URL carries no credentials)."""
    return Repo(
        repo=repo.full_name, source=SourceKind.github, url=repo.clone_url,
        language=spec_language(repo.language), default_branch=repo.default_branch,
        stars=repo.stargazers_count, license=repo.license.key if repo.license else None,
        meta={"size_kb": str(repo.size), "pushed_at": repo.pushed_at.isoformat() if repo.pushed_at else ""},
    )


def reject(full_name: str, reason: Reason, detail: str = "") -> Reject:
    return Reject.of(Stage.discover, reason, full_name, detail, repo=full_name)


def get_repository(client: GithubClient, full_name: str) -> Repository:
    """One repository (a conditional request: unchanged repositories cost no quota)."""
    return client.repository(client.get_json(f"/repos/{full_name}", conditional=True))


def check_repos(client: GithubClient, gh: GithubSettings, names: list[str]) -> tuple[list[Repo], list[Reject]]:
    """Screen an explicit list of `owner/name`s."""
    repos, rejects = [], []
    for name in names:
        try:
            repo = get_repository(client, name)
        except (RateLimited, BudgetExhausted) as exc:  # not this repository's fault: next run
            log.warning("discovery stopped at %s: %s", name, exc)
            break
        except GithubError as exc:
            rejects.append(reject(name, Reason.source_error, str(exc)))
            continue
        reason = screen(repo, gh)
        if reason:
            rejects.append(reject(repo.full_name, reason))
        else:
            repos.append(to_repo(repo))
    return repos, rejects


def search_repos(client: GithubClient, gh: GithubSettings) -> tuple[list[Repo], list[Reject]]:
    """Search by language, stars, size and activity; past the 1,000-result cap, narrow by stars.
    The search API's own rate limit (30 a minute) is waited for within `max_wait_s`; past that
    (or past the request budget) the search stops cleanly with what it found."""
    repos: dict[str, Repo] = {}
    rejects: dict[str, Reject] = {}
    try:
        _search(client, gh, repos, rejects)
    except (RateLimited, BudgetExhausted) as exc:
        log.warning("repository search stopped after %d repositories: %s", len(repos), exc)
    return list(repos.values()), list(rejects.values())


def _search(client: GithubClient, gh: GithubSettings, repos: dict[str, Repo], rejects: dict[str, Reject]) -> None:
    for language in gh.languages:
        max_stars: int | None = None
        while len(repos) < gh.max_repos:
            params = {"q": search_query(gh, language, max_stars), "sort": "stars", "order": "desc",
                      "per_page": gh.per_page}
            seen, lowest = 0, None
            for raw in client.paginate("/search/repositories", params, max_items=SEARCH_CAP, items_key="items"):
                seen, lowest = seen + 1, raw["stargazers_count"]
                repo = client.repository(raw)
                reason = screen(repo, gh)
                if reason:
                    rejects.setdefault(repo.full_name, reject(repo.full_name, reason))
                else:
                    repos.setdefault(repo.full_name, to_repo(repo))
                if len(repos) >= gh.max_repos:
                    break
            if seen < SEARCH_CAP or lowest is None or lowest == max_stars:
                break
            max_stars = lowest  # the next query starts where the cap cut this one off


def discover(client: GithubClient, gh: GithubSettings) -> tuple[list[Repo], list[Reject]]:
    """The repositories to mine: `gh.repos` if given, else a search."""
    return check_repos(client, gh, gh.repos) if gh.repos else search_repos(client, gh)
