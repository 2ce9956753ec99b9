"""The GitHub edge against the fake server: pagination, retries, bounded rate-limit waits,
token rotation, ETags, the request budget, Enterprise URLs, App auth and redaction."""

from __future__ import annotations

import logging
import time
import traceback

import pytest
from envmine.testing.fake_github import TOKEN, TOKEN2, FakeGitHub, FakeRepo, Fault
from envmine.testing.github_world import rest_item, rest_repo

from envmine.miners.github.client import BudgetExhausted, GithubClient, GithubError, RateLimited, Redactor
from envmine.miners.github.queries import batch_query
from envmine.miners.github.settings import GithubSettings

SECONDARY = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
             "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}


@pytest.fixture
def repo(fake: FakeGitHub) -> FakeRepo:
    repo = FakeRepo("acme/big", rest_repo("acme/big", "https://example.invalid/acme/big.git"))
    repo.items = [rest_item("acme/big", n, f"issue {n}", "body", "2026-01-01T00:00:00Z",
                            f"2026-01-02T{n // 60:02d}:{n % 60:02d}:00Z") for n in range(1, 251)]
    fake.add_repo(repo)
    return repo


def test_paginates_by_link_headers(fake, gh, repo):
    client = GithubClient(gh)
    params = {"state": "closed", "sort": "updated", "direction": "asc", "per_page": 100}
    items = list(client.paginate("/repos/acme/big/issues", params))
    assert [i["number"] for i in items] == list(range(1, 251))
    assert [c.query for c in fake.log] == [
        "direction=asc&per_page=100&sort=updated&state=closed",
        "direction=asc&page=2&per_page=100&sort=updated&state=closed",
        "direction=asc&page=3&per_page=100&sort=updated&state=closed"]
    assert client.requests_made == 3


def test_retries_5xx_then_succeeds(fake, gh, repo):
    fake.faults.append(Fault(path="/repos/acme/big$", status=502, times=2))
    client = GithubClient(gh)
    assert client.get_json("/repos/acme/big")["full_name"] == "acme/big"
    assert [c.status for c in fake.log] == [502, 502, 200]
    assert client.requests_made == 3


def test_persistent_5xx_is_an_error_with_its_status(fake, gh, repo):
    fake.faults.append(Fault(path="/repos/acme/big$", status=503, times=10))
    with pytest.raises(GithubError) as info:
        GithubClient(gh).get_json("/repos/acme/big")
    assert info.value.status == 503 and len(fake.log) == gh.retries + 1


def test_secondary_limit_with_short_retry_after_waits_then_succeeds(fake, gh, repo):
    fake.faults.append(Fault(path="/repos/acme/big$", status=403, body=SECONDARY, headers={"Retry-After": "1"}))
    started = time.monotonic()
    assert GithubClient(gh).get_json("/repos/acme/big")["name"] == "big"
    assert 1.0 <= time.monotonic() - started < 2.0
    assert [c.status for c in fake.log] == [403, 200]


def test_secondary_limit_without_retry_after_never_retries_within_a_minute(fake, gh, repo):
    # GitHub: no retry-after and remaining not 0 -> "wait for at least one minute".
    fake.faults.append(Fault(path="/repos/acme/big$", status=403, body=SECONDARY))
    started = time.monotonic()
    with pytest.raises(RateLimited) as info:
        GithubClient(gh.model_copy(update={"max_wait_s": 0.5})).get_json("/repos/acme/big")
    assert time.monotonic() - started < 1.0
    assert info.value.retry_after_s >= 59
    assert len(fake.log) == 1


@pytest.mark.parametrize("status", [403, 429])
def test_long_waits_raise_rate_limited_instead_of_sleeping(fake, gh, repo, status):
    fake.faults.append(Fault(path="/repos/acme/big$", status=status, body=SECONDARY, headers={"Retry-After": "3600"}))
    started = time.monotonic()
    with pytest.raises(RateLimited) as info:
        GithubClient(gh).get_json("/repos/acme/big")
    assert time.monotonic() - started < 1.0
    assert 3500 < info.value.retry_after_s <= 3600
    assert len(fake.log) == 1


def test_429_with_short_retry_after_is_retried(fake, gh, repo):
    fake.faults.append(Fault(path="/repos/acme/big$", status=429, body={"message": "Too Many Requests"},
                             headers={"Retry-After": "1"}))
    assert GithubClient(gh).get_json("/repos/acme/big")["name"] == "big"
    assert [c.status for c in fake.log] == [429, 200]


def test_primary_limit_rotates_to_the_next_token(fake, gh, repo):
    fake.remaining[TOKEN] = 0
    client = GithubClient(gh.model_copy(update={"tokens": [TOKEN, TOKEN2]}))
    assert client.get_json("/repos/acme/big")["name"] == "big"
    assert [(c.status, c.identity) for c in fake.log] == [(403, 0), (200, 1)]
    client.get_json("/repos/acme/big")
    assert fake.log[-1].identity == 1  # the exhausted token stays parked until its reset


def test_429_primary_limit_with_reset_header_parks_the_token(fake, gh, repo):
    reset = str(int(time.time()) + 3600)
    fake.faults.append(Fault(path="/repos/acme/big$", status=429, body={"message": "API rate limit exceeded"},
                             headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}))
    client = GithubClient(gh.model_copy(update={"tokens": [TOKEN, TOKEN2]}))
    started = time.monotonic()
    assert client.get_json("/repos/acme/big")["name"] == "big"
    assert time.monotonic() - started < 1.0
    assert [(c.status, c.identity) for c in fake.log] == [(429, 0), (200, 1)]


def test_all_tokens_exhausted_raises_rate_limited_with_the_reset(fake, gh, repo):
    fake.remaining[TOKEN] = fake.remaining[TOKEN2] = 0
    with pytest.raises(RateLimited) as info:
        GithubClient(gh.model_copy(update={"tokens": [TOKEN, TOKEN2]})).get_json("/repos/acme/big")
    assert abs(info.value.retry_after_s - (fake.reset_at - time.time())) < 5
    assert len(fake.log) == 2


def test_graphql_rate_limit_error_rotates(fake, gh, repo):
    fake.faults.append(Fault(path="/graphql$", status=200, body={"data": None, "errors": [
        {"type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 1."}]}))
    client = GithubClient(gh.model_copy(update={"tokens": [TOKEN, TOKEN2]}))
    data = client.graphql(batch_query([], [1]), {"owner": "acme", "name": "big"})
    assert data["repository"] == {"issue1": None}
    assert [c.identity for c in fake.log] == [0, 1]


def test_rotates_before_a_token_runs_dry(fake, gh, repo):
    fake.remaining[TOKEN] = 10
    client = GithubClient(gh.model_copy(update={"tokens": [TOKEN, TOKEN2], "min_remaining": 20}))
    client.get_json("/repos/acme/big")
    client.get_json("/repos/acme/big")
    assert [c.identity for c in fake.log] == [0, 1]


def test_conditional_requests_answer_from_the_etag_cache_without_quota(fake, gh, repo, tmp_path):
    path = tmp_path / "etags.json"
    client = GithubClient(gh, etag_path=path)
    first = client.get_json("/repos/acme/big", conditional=True)
    client.close()
    quota = fake.remaining[TOKEN]
    again = GithubClient(gh, etag_path=path).get_json("/repos/acme/big", conditional=True)
    assert again == first and [c.status for c in fake.log] == [200, 304]
    assert fake.remaining[TOKEN] == quota
    assert TOKEN not in path.read_text()


def test_request_budget_stops_the_run(fake, gh, repo):
    client = GithubClient(gh.model_copy(update={"request_budget": 3}))
    for _ in range(3):
        client.get_json("/repos/acme/big")
    with pytest.raises(BudgetExhausted):
        client.get_json("/repos/acme/big")
    assert len(fake.log) == 3


def test_slow_responses_time_out_and_are_retried(fake, gh, repo):
    fake.faults.append(Fault(path="/repos/acme/big$", status=0, delay=2.5))
    client = GithubClient(gh.model_copy(update={"timeout_s": 1}))
    started = time.monotonic()
    assert client.get_json("/repos/acme/big")["name"] == "big"
    assert time.monotonic() - started < 2.5
    assert client.requests_made == 2


def test_enterprise_base_url_serves_rest_and_graphql(gh):
    server = FakeGitHub(tokens={TOKEN: 100}, prefix="/api/v3")
    server.add_repo(FakeRepo("corp/tool", rest_repo("corp/tool", "https://ghe.example/corp/tool.git")))
    base = server.start()
    try:
        client = GithubClient(gh.model_copy(update={"base_url": base}))
        assert client.get_json("/repos/corp/tool")["full_name"] == "corp/tool"
        data = client.graphql("query Q($owner: String!, $name: String!) { repository(owner: $owner, name: $name)"
                              " { pr1: pullRequest(number: 1) { number } } }", {"owner": "corp", "name": "tool"})
        assert data == {"repository": {"pr1": None}, "rateLimit": {"cost": 1, "remaining": 4999,
                                                                  "resetAt": "2030-01-01T00:00:00Z"}}
        assert [c.path for c in server.log] == ["/repos/corp/tool", "/graphql"]
        assert client._clients[0].requester.graphql_url == base.removesuffix("/v3") + "/graphql"
    finally:
        server.stop()


def test_github_app_installation_auth(gh, monkeypatch):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    server = FakeGitHub(app_key=public, app_id=42)
    server.add_repo(FakeRepo("acme/app", rest_repo("acme/app", "https://example.invalid/acme/app.git")))
    base = server.start()
    monkeypatch.setenv("TEST_APP_KEY", private)
    try:
        settings = GithubSettings(base_url=base, app_id=42, installation_id=7, private_key_env="TEST_APP_KEY")
        client = GithubClient(settings)
        assert client.get_json("/repos/acme/app")["name"] == "app"
        assert [(c.method, c.path, c.status) for c in server.log] == [
            ("POST", "/app/installations/7/access_tokens", 201), ("GET", "/repos/acme/app", 200)]
        assert server.log[-1].identity == 0
    finally:
        server.stop()


def test_the_token_never_appears_in_logs_or_exceptions(fake, gh, repo, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="github")  # PyGithub logs requests (headers too) at DEBUG
    client = GithubClient(gh.model_copy(update={"tokens": [TOKEN, TOKEN2]}))
    fake.faults += [Fault(path="/repos/acme/big$", status=502, times=5),
                    Fault(path="/issues$", status=403, body=SECONDARY, headers={"Retry-After": "999"}, times=2)]
    errors = []
    for call in (lambda: client.get_json("/repos/acme/big"), lambda: client.get_json("/repos/acme/big/issues"),
                 lambda: client.get_json("/repos/acme/missing")):
        with pytest.raises(GithubError) as info:
            call()
        errors.append(info.value)
    text = caplog.text + " ".join(f"{e!s} {e!r} {''.join(traceback.format_exception(e))}" for e in errors)
    assert any(r.name.startswith("github") for r in caplog.records)  # PyGithub did log, at DEBUG
    assert TOKEN not in text and TOKEN2 not in text
    assert all(e.__cause__ is None and (e.__context__ is None or e.__suppress_context__) for e in errors)
    assert Redactor([TOKEN])(f"Authorization: token {TOKEN}") == "Authorization: token ***"
    assert Redactor([])("leaked ghp_abcdefghijklmnopqrstuvwxyz0123") == "leaked ***"
