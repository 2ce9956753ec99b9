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


RUN_WITH_WORKERS = textwrap.dedent("""
    import json, os, subprocess, sys, textwrap
    from envmine.flows import lifecycle
    from prefect.client.orchestration import get_client
    from prefect.server.api.server import SubprocessASGIServer
    lifecycle.own_server(lifecycle.start_tied_server())
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name("envmine-docker", 1)
    env = {**os.environ, "PREFECT_API_URL": SubprocessASGIServer._instances[None].api_url}  # workers reach this run's server
    dead = subprocess.run([sys.executable, "-c", sys.argv[1]], env=env, capture_output=True, text=True)
    with get_client(sync_client=True) as client:
        held = client.read_global_concurrency_limit_by_name("envmine-docker").active_slots
    with lifecycle.reclaiming("envmine-docker", every_s=1.0):
        alive = subprocess.run([sys.executable, "-c", sys.argv[2]], env=env, capture_output=True, text=True)
    print(json.dumps({"dead": [dead.returncode, dead.stdout, dead.stderr[-1500:]], "held_after_death": held,
                      "alive": [alive.returncode, alive.stdout, alive.stderr[-1500:]]}))
""")
WORKER_HOLDS_AND_DIES = HOLD_AND_DIE.replace("lifecycle.own_server(lifecycle.start_tied_server())\n", "").replace(
    '    client.upsert_global_concurrency_limit_by_name("envmine-docker", 1)\n', "    pass\n")
WORKER_ACQUIRES = ACQUIRE.replace("lifecycle.own_server(lifecycle.start_tied_server())\n", "")


def test_a_slot_held_by_a_dead_worker_is_handed_back_while_the_run_goes_on(tmp_path):
    """Workers (processes on the run's server, as Ray's and Dask's are) cannot reclaim slots;
    the run that owns the server does, during the run: the next worker gets the only slot
    once the dead one's lease is gone, not when the run ends."""
    home = tmp_path / "prefect"
    run = subprocess.run([sys.executable, "-c", RUN_WITH_WORKERS, WORKER_HOLDS_AND_DIES, WORKER_ACQUIRES],
                         env=_env(home), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["dead"][0] == -9 and "HOLDING" in result["dead"][1], result["dead"][2]
    assert result["alive"][0] == 0, result["alive"][2]
    figures = json.loads(result["alive"][1].strip().splitlines()[-1])
    print(json.dumps(figures))
    assert result["held_after_death"] == 1  # nobody hands it back by itself
    assert figures["during"] == 1 and figures["after"] == 0
    assert figures["waited_s"] < 30  # its holder was found dead before its 60 s lease lapsed
