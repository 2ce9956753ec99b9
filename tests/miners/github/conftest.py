"""Fixtures for the `github` source tests: a fake GitHub on a local port and its settings."""

from __future__ import annotations

import pytest

from envmine.miners.github.settings import GithubSettings
from envmine.testing.fake_github import TOKEN, TOKEN2, FakeGitHub


@pytest.fixture
def fake() -> FakeGitHub:
    server = FakeGitHub(tokens={TOKEN: 5000, TOKEN2: 5000})
    server.start()
    yield server
    server.stop()


@pytest.fixture
def gh(fake: FakeGitHub) -> GithubSettings:
    return GithubSettings(base_url=fake.base_url, tokens=[TOKEN], max_wait_s=2.0, retries=2,
                          active_within_days=0, pr_batch=25, per_page=100,
                          seconds_between_requests=0)
