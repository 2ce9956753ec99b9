"""Real local Ray and Dask clusters for the executor tests: each started with the commands the
README documents (a Ray head plus a second node; a Dask scheduler plus worker processes), with
tiny resources, and stopped by killing exactly the processes started here."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from envmine.testing.net import free_port

BIN = Path(sys.executable).parent
START_S = 300
ATTEMPTS = 3


def _start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})


def _stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM each started process's group (its children: raylet, workers, nannies), then
    SIGKILL what is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for proc in procs:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(p.poll() is None for p in procs):
            time.sleep(0.2)


def _wait(ready, what: str, logs: list[Path], procs: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + START_S
    while not ready():
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            tails = "\n".join(log.read_text()[-2000:] for log in logs if log.exists())
            raise RuntimeError(f"{what} did not start (or exited):\n{tails}")
        time.sleep(1)


@contextmanager
def ray_cluster(tmp: Path) -> Iterator[str]:
    """`ray start --head` and a second `ray start --address` node (1 CPU each); yields the
    head's address. Ray gives a starting node 30 s to register, which a loaded machine can
    miss: another try then starts afresh."""
    for attempt in range(1, ATTEMPTS + 1):
        procs: list[subprocess.Popen] = []
        session, port = Path(tempfile.mkdtemp(prefix="ray-")), free_port()  # short: socket paths <= 107 bytes
        try:
            _start_ray(procs, session, port, tmp)
            break
        except RuntimeError:
            _stop(procs)
            shutil.rmtree(session, ignore_errors=True)
            if attempt == ATTEMPTS:
                raise
    try:
        yield f"127.0.0.1:{port}"
    finally:
        _stop(procs)
        shutil.rmtree(session, ignore_errors=True)


def _start_ray(procs: list[subprocess.Popen], session: Path, port: int, tmp: Path) -> None:
    ports = [free_port() for _ in range(3)]
    common = ["--block", "--node-ip-address=127.0.0.1", "--num-cpus=1", "--object-store-memory=80000000",
              "--min-worker-port=0", "--max-worker-port=0"]
    logs = [tmp / "ray-head.log", tmp / "ray-node.log"]
    procs.append(_start([str(BIN / "ray"), "start", "--head", f"--port={port}", *common, "--include-dashboard=false",
                         "--disable-usage-stats", f"--temp-dir={session}", f"--ray-client-server-port={ports[0]}",
                         f"--dashboard-agent-listen-port={ports[1]}"], logs[0]))
    _wait(lambda: "Ray runtime started" in logs[0].read_text(), "ray head", logs, procs)
    procs.append(_start([str(BIN / "ray"), "start", f"--address=127.0.0.1:{port}", *common,
                         f"--dashboard-agent-listen-port={ports[2]}"], logs[1]))
    _wait(lambda: "Ray runtime started" in logs[1].read_text(), "second ray node", logs, procs)


@contextmanager
def dask_cluster(tmp: Path) -> Iterator[str]:
    """`dask scheduler` and `dask worker` with two worker processes (one thread each); yields
    the scheduler's address."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = [tmp / "dask-scheduler.log", tmp / "dask-worker.log"]
    procs = [_start([str(BIN / "dask"), "scheduler", "--host=127.0.0.1", f"--port={port}", "--no-dashboard"], logs[0])]
    try:
        _wait(lambda: _answers(port), "dask scheduler", logs, procs)
        procs.append(_start([str(BIN / "dask"), "worker", address, "--nworkers=2", "--nthreads=1",
                             "--no-dashboard", "--memory-limit=2GB", f"--local-directory={tmp / 'dask'}"], logs[1]))
        _wait(lambda: logs[1].read_text().count("Registered to:") >= 2, "dask workers", logs, procs)
        yield address
    finally:
        _stop(procs)


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


CLUSTERS = {"ray": ray_cluster, "dask": dask_cluster}
"""Each `[settings.executor] kind` that needs a cluster, and the context manager that starts one
in a folder and yields its address."""
