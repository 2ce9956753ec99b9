"""Repository discovery: an explicit list or a search, screened with reason codes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from envmine.testing.fake_github import FakeRepo
from envmine.testing.github_world import rest_repo

from envmine.miners.github.client import GithubClient
from envmine.miners.github.discovery import SEARCH_CAP, discover, search_query

RECENT = (datetime.now(timezone.utc) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")


def add(fake, name, **kw):
    fake.add_repo(FakeRepo(name, rest_repo(name, f"https://github.com/{name}.git", pushed_at=RECENT, **kw)))


def test_explicit_list_is_screened_with_reason_codes(fake, gh):
    add(fake, "acme/good", stars=900)
    add(fake, "acme/forked", fork=True)
    add(fake, "acme/old", archived=True)
    add(fake, "acme/huge", size=9_000_000)
    add(fake, "acme/gpl", license="gpl-3.0")
    add(fake, "acme/nolicense", license=None)
    add(fake, "acme/hs", language="Haskell")
    fake.add_repo(FakeRepo("acme/stale", rest_repo("acme/stale", "https://github.com/acme/stale.git",
                                                   pushed_at="2019-01-01T00:00:00Z")))
    names = ["acme/good", "acme/forked", "acme/old", "acme/huge", "acme/gpl", "acme/nolicense", "acme/hs",
             "acme/stale", "acme/gone"]
    gh = gh.model_copy(update={"repos": names, "active_within_days": 365})
    repos, rejects = discover(GithubClient(gh), gh)
    assert [(r.repo, r.url, r.stars, r.license, r.language) for r in repos] == [
        ("acme/good", "https://github.com/acme/good.git", 900, "mit", "python")]
    assert {r.subject: r.reason for r in rejects} == {
        "acme/forked": "fork", "acme/old": "archived", "acme/huge": "too_large", "acme/gpl": "license_not_allowed",
        "acme/nolicense": "license_not_allowed", "acme/hs": "language_unsupported", "acme/stale": "inactive",
        "acme/gone": "source_error"}
    assert all(r.stage == "discover" for r in rejects)
    assert len(fake.log) == len(names)


def test_any_licence_when_configured(fake, gh):
    add(fake, "acme/gpl", license="gpl-3.0")
    gh = gh.model_copy(update={"repos": ["acme/gpl"], "licenses": ["*"]})
    repos, rejects = discover(GithubClient(gh), gh)
    assert [r.repo for r in repos] == ["acme/gpl"] and rejects == []


def test_search_query_has_the_configured_filters(gh):
    gh = gh.model_copy(update={"min_stars": 50, "max_size_kb": 1000, "active_within_days": 30, "query": "topic:cli"})
    query = search_query(gh, "python")
    assert query.startswith("language:python stars:>=50 fork:false archived:false size:<=1000 pushed:>=")
    assert query.endswith(" topic:cli")
    assert search_query(gh, "python", max_stars=700).split()[1] == "stars:50..700"


def test_search_past_the_1000_result_cap_narrows_by_stars(fake, gh):
    fake.search_items = [
        rest_repo(f"org{i}/lib{i}", f"https://github.com/org{i}/lib{i}.git", stars=5000 - i, repo_id=i,
                  pushed_at=RECENT, license="gpl-3.0" if i % 100 == 7 else "mit")
        for i in range(2500)
    ]
    gh = gh.model_copy(update={"max_repos": 1500, "min_stars": 100})
    repos, rejects = discover(GithubClient(gh), gh)
    assert len(repos) == 1500 and len({r.repo for r in repos}) == 1500
    assert [r.stars for r in repos] == sorted((r.stars for r in repos), reverse=True)
    assert {r.reason for r in rejects} == {"license_not_allowed"} and len(rejects) == 16
    pages = [(c.query, c.status) for c in fake.log]
    assert all(status == 200 for _, status in pages)  # never asked past the cap (GitHub answers 422)
    first = [q for q, _ in pages if "stars%3A%3E%3D100" in q]
    narrowed = [q for q, _ in pages if "stars%3A100..4001" in q]
    assert len(first) == SEARCH_CAP // 100 and len(narrowed) == 6 and len(pages) == 16


def test_fake_search_enforces_the_cap_like_github(fake, gh):
    fake.search_items = [rest_repo(f"o/r{i}", "x", stars=i + 100, repo_id=i) for i in range(1200)]
    resp = GithubClient(gh).request("GET", "/search/repositories", {"q": "stars:>=100", "per_page": 100, "page": 11})
    assert resp.status == 422 and "first 1000 search results" in resp.json()["message"]
