"""`[settings.docker] hosts`: URLs or tables, TLS settings only where they mean something,
unknown keys refused, and the hosts left out of the candidates' cache key."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from envmine.settings import DockerHost, Settings


def test_a_url_is_short_for_a_table():
    settings = Settings.model_validate({"docker": {"hosts": ["unix:///var/run/docker.sock",
                                                             {"url": "tcp://10.0.0.5:2376", "tls_verify": True}]}})
    assert settings.docker.hosts == [DockerHost(url="unix:///var/run/docker.sock"),
                                     DockerHost(url="tcp://10.0.0.5:2376", tls_verify=True)]


@pytest.mark.parametrize(("host", "says"), [
    ({"url": "unix:///run/d.sock", "hostname": "x"}, "Extra inputs are not permitted"),
    ("http://10.0.0.5:2375", "use unix:///path/to/socket or tcp://host:port"),
    ({"url": "unix:///run/d.sock", "ca_cert": "/etc/ca.pem"}, "TLS settings apply to tcp:// hosts only"),
    ({"url": "tcp://10.0.0.5:2376", "client_cert": "/etc/cert.pem"}, "client_cert and client_key go together"),
])
def test_bad_hosts_are_refused_with_the_reason(host, says):
    with pytest.raises(ValidationError, match=says):
        Settings.model_validate({"docker": {"hosts": [host]}})


def test_adding_a_host_does_not_invalidate_finished_candidates():
    from envmine.flows.pipeline import _candidate_cache_key
    from envmine.records import Candidate

    candidate = Candidate(instance_id="a__b-1", repo="a/b", repo_url="/x", base_commit="0" * 40,
                          head_commit="1" * 40, patch="p", test_patch="t", problem_statement="",
                          created_at="2024-01-01T00:00:00Z", language="python", source="git")
    one = Settings.model_validate({"docker": {}})
    two = Settings.model_validate({"docker": {"hosts": ["unix:///a.sock", "unix:///b.sock"], "registry": "r:5000"}})
    other = Settings.model_validate({"docker": {"sandbox_user": "someone"}})
    key = lambda s: _candidate_cache_key(None, {"candidate": candidate, "settings": s})  # noqa: E731
    assert key(one) == key(two) != key(other)
