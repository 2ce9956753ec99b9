"""The build network is created once per engine, even when a run's first builds (or two
workers on one engine) ask for it at the same moment. Real Docker engine."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import docker
import pytest

from envmine.builders import engine

pytestmark = pytest.mark.docker


def test_creators_racing_for_the_network_all_get_the_one_that_won():
    """Eight creators at once, none serialised by this process's lock (as separate workers
    are not): the engine refuses all but one create, and each caller gets the same network."""
    client = docker.from_env()
    name, bridge = f"envmine-race-{secrets.token_hex(3)}", f"envr-{secrets.token_hex(3)}"
    try:
        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(lambda _: engine._build_network(client, bridge, name).id, range(8)))
        networks = [n for n in client.networks.list(names=[name]) if n.name == name]
        assert len(networks) == 1 and set(ids) == {networks[0].id}
        assert networks[0].attrs["Options"]["com.docker.network.bridge.name"] == bridge
    finally:
        for network in client.networks.list(names=[name]):
            network.remove()
