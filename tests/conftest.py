"""Session-wide fixtures: Prefect's test harness (one ephemeral server per session) and
skipping of Docker tests where no engine answers."""

from __future__ import annotations

import os
import tempfile

import pytest

# Prefect keeps its state in a throwaway folder, never in the user's ~/.prefect.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="envmine-prefect-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def _docker_up() -> bool:
    try:
        from envmine.builders.engine import client

        client()
    except Exception:
        return False
    return True


def pytest_collection_modifyitems(config, items):
    if any("docker" in item.keywords for item in items) and not _docker_up():
        skip = pytest.mark.skip(reason="no Docker engine answers (run `envmine setup`)")
        for item in items:
            if "docker" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def _default_docker_hosts():
    """A test that configures Docker hosts (builders.hosts.run_placed makes them the process's
    engines, and remembers the ones that stopped answering) leaves the next test on the default
    engine with no host lost, as a fresh process would be."""
    yield
    from envmine.builders import hosts
    from envmine.settings import Settings

    hosts.start_run(Settings())


@pytest.fixture(scope="session")
def prefect_harness():
    """One ephemeral Prefect server for the whole session (starting one costs ~10-15 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def _second_engine_process():
    from envmine.testing import second_engine as engines

    if why := engines.why_not():
        pytest.skip(why)
    engine = engines.SecondEngine()
    engine.start()
    yield engine
    engine.stop()


@pytest.fixture
def second_engine(_second_engine_process):
    """A second Docker engine beside the default one (its own dockerd, socket, data root and
    bridge; see envmine/testing/second_engine.py), started once a session, started again for
    the next test when one crashed it, shut down and removed after the session."""
    _second_engine_process.ensure_up()
    return _second_engine_process
