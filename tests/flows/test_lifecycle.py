"""A run killed while it holds a Docker slot does not block the next run, and its Prefect
server dies with it. Real processes, a real Prefect ephemeral server per process (as
`envmine run` starts one), the real global concurrency limit; no Docker needed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

HOLD_AND_DIE = textwrap.dedent("""
    import os, signal, sys
    from envmine.flows import lifecycle
    from prefect.client.orchestration import get_client
    lifecycle.own_server(lifecycle.start_tied_server())
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name("envmine-docker", 1)
    with lifecycle.docker_slot("envmine-docker"):
        print("HOLDING", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # dies holding the only slot
""")

ACQUIRE = textwrap.dedent("""
    import json, time
    from envmine.flows import lifecycle
    from prefect.client.orchestration import get_client
    lifecycle.own_server(lifecycle.start_tied_server())
    with get_client(sync_client=True) as client:
        before = client.read_global_concurrency_limit_by_name("envmine-docker").active_slots
    started = time.monotonic()
    with lifecycle.docker_slot("envmine-docker"):
        waited = time.monotonic() - started
        with get_client(sync_client=True) as client:
            during = client.read_global_concurrency_limit_by_name("envmine-docker").active_slots
    with get_client(sync_client=True) as client:
        after = client.read_global_concurrency_limit_by_name("envmine-docker").active_slots
    print(json.dumps({"before": before, "waited_s": waited, "during": during, "after": after}), flush=True)
""")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_LOGGING_LEVEL="ERROR")
    return env


def _processes_of(home: Path) -> list[int]:
    marker = f"PREFECT_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "environ").read_bytes().split(b"\0"):
                if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_a_slot_held_by_a_killed_run_is_handed_back_and_its_server_dies_with_it(tmp_path):
    home = tmp_path / "prefect"
    dead = subprocess.run([sys.executable, "-c", HOLD_AND_DIE], env=_env(home), capture_output=True,
                          text=True, timeout=300)
    assert dead.returncode == -9 and "HOLDING" in dead.stdout, dead.stderr[-2000:]
    time.sleep(1)
    assert _processes_of(home) == []  # no orphaned uvicorn
    assert list((home / "concurrency_leases").glob("*-*.json"))  # the dead run's lease is on disk
    nxt = subprocess.run([sys.executable, "-c", ACQUIRE], env=_env(home), capture_output=True, text=True, timeout=300)
    assert nxt.returncode == 0, nxt.stderr[-2000:]
    figures = json.loads(nxt.stdout.strip().splitlines()[-1])
    print(json.dumps(figures))
    assert figures["before"] == 1  # the dead run's slot was still counted
    assert figures["during"] == 1 and figures["after"] == 0
    # handed back after one wait for a slot (WAIT_S = 10 s), not after the 60 s lease, nor never
    assert figures["waited_s"] < 30
