"""GitHub's rate limits and timeouts as GitHub documents them, one test per behaviour, against
the fake GitHub (a real HTTP server) and the real client, source and discovery.

GitHub's rules (docs.github.com, "Rate limits for the REST API" / "... for the GraphQL API"):
`retry-after` when given; `x-ratelimit-remaining: 0` waits until `x-ratelimit-reset`;
otherwise a secondary limit: wait at least a minute, longer while it persists. The search
API has its own budget (30 requests a minute). GraphQL queries that take too long end in a
502/504: ask for less.
"""

from __future__ import annotations

import time

import pytest
from envmine.testing.fake_github import TOKEN, TOKEN2, FakeGitHub, FakeRepo, Fault
from envmine.testing.github_world import EXPECTED_CANDIDATES, EXPECTED_REJECTS, rest_item, rest_repo, widgets_world

from envmine.miners.github.client import GithubClient, GithubError, RateLimited
from envmine.miners.github.discovery import search_repos
from envmine.miners.github.queries import batch_query
from envmine.miners.github.source import mine_github


class Clock:
    """Records the client's waits instead of sleeping them (a minute per wait otherwise)."""

    def __init__(self):
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def repo(fake: FakeGitHub) -> FakeRepo:
    repo = FakeRepo("acme/big", rest_repo("acme/big", "https://example.invalid/acme/big.git"))
    repo.items = [rest_item("acme/big", 1, "issue 1", "body", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z")]
    fake.add_repo(repo)
    return repo


# -- secondary limits ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_limit_with_an_empty_body_waits_a_minute_then_succeeds(fake, gh, repo, status):
    fake.faults.append(Fault(path="/repos/acme/big$", status=status, body=""))
    clock = Clock()
    client = GithubClient(gh.model_copy(update={"max_wait_s": 300}), sleep=clock)
    assert client.get_json("/repos/acme/big")["name"] == "big"
    assert len(clock.waits) == 1 and 59 < clock.waits[0] <= 60
    assert [c.status for c in fake.log] == [status, 200]


def test_persistent_secondary_limit_waits_longer_each_time_then_stops(fake, gh, repo):
    fake.faults.append(Fault(path="/repos/acme/big$", status=403, body="", times=100))
    clock = Clock()
    client = GithubClient(gh.model_copy(update={"max_wait_s": 300}), sleep=clock)
    with pytest.raises(RateLimited) as info:
        client.get_json("/repos/acme/big")
    assert [round(w) for w in clock.waits] == [60, 120, 240]
    assert 479 < info.value.retry_after_s <= 480  # the next wait is past max_wait_s: stop, retry later
    assert len(fake.log) == 4


def test_secondary_limit_rotates_to_a_free_token_without_waiting(fake, gh, repo):
    fake.faults.append(Fault(path="/repos/acme/big$", status=403, body=""))
    clock = Clock()
    client = GithubClient(gh.model_copy(update={"tokens": [TOKEN, TOKEN2]}), sleep=clock)
    assert client.get_json("/repos/acme/big")["name"] == "big"
    assert clock.waits == [] and [(c.status, c.identity) for c in fake.log] == [(403, 0), (200, 1)]


def test_a_403_that_is_not_a_limit_is_an_error_at_once(fake, gh, repo):
    fake.faults.append(Fault(path="/repos/acme/big$", status=403, body={
        "message": "Resource not accessible by integration", "documentation_url": "https://docs.github.com/rest"}))
    clock = Clock()
    with pytest.raises(GithubError) as info:
        GithubClient(gh, sleep=clock).get_json("/repos/acme/big")
    assert info.value.status == 403 and clock.waits == [] and len(fake.log) == 1


def test_mining_under_a_persistent_secondary_limit_stops_cleanly(fake, gh, git_repo, settings):
    widgets_world(git_repo, fake)
    fake.faults.append(Fault(path="/issues$", status=403, body="", times=100))
    result = mine_github("acme/widgets", settings, gh)  # max_wait_s 2: no wait fits, none is made
    assert result.candidates == [] and result.repo.cursor is None
    assert result.repo.meta["stopped"] == "rate_limited" and int(result.repo.meta["retry_after_s"]) >= 59
    assert [c.status for c in fake.calls("/issues$")] == [403]
    fake.faults.clear()
    again = mine_github("acme/widgets", settings, gh)  # the next run picks up where it stopped
    assert [c.pr_number for c in again.candidates] == EXPECTED_CANDIDATES


# -- GraphQL rate limits ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["RATE_LIMITED", "RATE_LIMIT"])
def test_graphql_rate_limit_error_with_budget_left_waits_a_minute(fake, gh, repo, kind):
    fake.faults.append(Fault(path="/graphql$", status=200, headers={"X-RateLimit-Remaining": "4000"}, body={
        "data": None, "errors": [{"type": kind, "message": "You have exceeded a secondary rate limit."}]}))
    clock = Clock()
    client = GithubClient(gh.model_copy(update={"max_wait_s": 300}), sleep=clock)
    data = client.graphql(batch_query([], [1]), {"owner": "acme", "name": "big"})
    assert data["repository"] == {"issue1": None}
    assert len(clock.waits) == 1 and 59 < clock.waits[0] <= 60
    assert len(fake.calls("/graphql$")) == 2


def test_graphql_rate_limit_error_with_no_budget_waits_for_the_reset(fake, gh, repo):
    reset = int(time.time()) + 100
    fake.faults.append(Fault(path="/graphql$", status=200, body={"errors": [{"type": "RATE_LIMITED", "message": "x"}]},
                             headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}))
    clock = Clock()
    client = GithubClient(gh.model_copy(update={"max_wait_s": 300}), sleep=clock)
    client.graphql(batch_query([], [1]), {"owner": "acme", "name": "big"})
    assert len(clock.waits) == 1 and 95 < clock.waits[0] <= 102


def test_graphql_rate_limit_past_max_wait_stops_mining_cleanly(fake, gh, git_repo, settings):
    widgets_world(git_repo, fake)
    fake.faults.append(Fault(path="/graphql$", status=200, times=100,
                             body={"errors": [{"type": "RATE_LIMIT", "message": "rate limited"}]}))
    result = mine_github("acme/widgets", settings, gh)
    assert result.candidates == [] and result.repo.meta["stopped"] == "rate_limited"


# -- the search API's own limit ----------------------------------------------------------------


def _search_world(fake: FakeGitHub, n: int = 250) -> None:
    fake.search_items = [rest_repo(f"org/r{i:03d}", f"https://example.invalid/org/r{i:03d}.git", stars=5000 - i)
                         for i in range(n)]


def test_search_limit_past_max_wait_ends_discovery_cleanly_and_spares_core(repo, gh):
    fake = FakeGitHub(tokens={TOKEN: 5000}, search_limit=2, search_window_s=60)
    fake.add_repo(repo)
    base = fake.start()
    try:
        _search_world(fake)
        client = GithubClient(gh.model_copy(update={"base_url": base, "max_repos": 1000}))
        repos, _ = search_repos(client, client.settings)
        assert len(repos) == 200  # two pages of 100, then the search budget is spent
        assert [c.status for c in fake.calls("/search/")] == [200, 200, 403]
        assert client.get_json("/repos/acme/big")["name"] == "big"  # the core budget is untouched
        assert fake.log[-1].status == 200
    finally:
        fake.stop()


def test_search_limit_within_max_wait_is_waited_for(repo, gh):
    fake = FakeGitHub(tokens={TOKEN: 5000}, search_limit=2, search_window_s=2)
    base = fake.start()
    try:
        _search_world(fake)
        client = GithubClient(gh.model_copy(update={"base_url": base, "max_repos": 1000, "max_wait_s": 5}))
        started = time.monotonic()
        repos, _ = search_repos(client, client.settings)
        assert len(repos) == 250 and time.monotonic() - started >= 0.5
        assert [c.status for c in fake.calls("/search/")] == [200, 200, 403, 200]
    finally:
        fake.stop()


# -- GraphQL timeouts and partial results -----------------------------------------------------


def test_graphql_timeouts_shrink_the_batch_until_it_answers(fake, gh, git_repo, settings):
    widgets_world(git_repo, fake)
    fake.graphql_max_nodes = 3
    result = mine_github("acme/widgets", settings, gh.model_copy(update={"retries": 0}))
    assert [c.pr_number for c in result.candidates] == EXPECTED_CANDIDATES
    statuses = [c.status for c in fake.calls("/graphql$")]
    assert 502 in statuses and statuses[-1] == 200
    assert len(statuses) < 40  # halving, not resending the same batch forever


def test_a_pr_whose_query_always_times_out_is_a_source_error_and_the_rest_is_mined(fake, gh, git_repo, settings):
    widgets_world(git_repo, fake)
    fake.graphql_fail_numbers = {4}
    result = mine_github("acme/widgets", settings, gh.model_copy(update={"retries": 0}))
    assert [c.pr_number for c in result.candidates] == [2, 6]
    reasons = {r.subject: (r.reason, r.detail) for r in result.rejects}
    assert reasons["acme__widgets-4"][0] == "source_error" and "GraphQL" in reasons["acme__widgets-4"][1]


def test_graphql_partial_answer_keeps_the_fields_that_came_back(fake, gh, repo):
    fake.faults.append(Fault(path="/graphql$", status=200, body={
        "data": {"repository": {"issue1": None, "issue2": {"__typename": "Issue", "number": 2}}},
        "errors": [{"type": "INTERNAL", "path": ["repository", "issue1"], "message": "Something went wrong"}]}))
    data = GithubClient(gh).graphql(batch_query([], [1, 2]), {"owner": "acme", "name": "big"})
    assert data["repository"]["issue2"]["number"] == 2 and data["repository"]["issue1"] is None


def test_graphql_timeout_without_data_is_a_504(fake, gh, repo):
    fake.faults.append(Fault(path="/graphql$", status=200, body={"data": None, "errors": [
        {"message": "Something went wrong while executing your query. This may be the result of a timeout."}]}))
    with pytest.raises(GithubError) as info:
        GithubClient(gh).graphql(batch_query([], [1]), {"owner": "acme", "name": "big"})
    assert info.value.status == 504


# -- listings without merged_at ------------------------------------------------------------------


def test_listing_without_merged_at_lets_graphql_decide(fake, gh, git_repo, settings):
    world = widgets_world(git_repo, fake)
    for item in world.repo.items:
        if "pull_request" in item:
            del item["pull_request"]["merged_at"]  # older GitHub Enterprise listings
    result = mine_github("acme/widgets", settings, gh)
    assert [c.pr_number for c in result.candidates] == EXPECTED_CANDIDATES
    rejects = {int(r.subject.rsplit("-", 1)[1]): r.reason for r in result.rejects}
    assert rejects == EXPECTED_REJECTS  # #8 is still not_merged, from GraphQL's mergedAt
