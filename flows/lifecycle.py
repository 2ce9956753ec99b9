"""A run's life cycle: whatever the last run died of (SIGKILL, OOM, power loss), the next one
starts clean, and a run asked to stop (SIGTERM, SIGINT) stops within seconds.

- Prefect's ephemeral server is started by the run itself, tied to it by the kernel
  (`PR_SET_PDEATHSIG`): it dies with the run, even a SIGKILLed one, and leaves no orphan.
- Docker slots are Prefect leases (global concurrency limit `envmine-docker`), kept in the
  file lease storage under PREFECT_HOME that every run of that home shares. A lease names its
  holder (this process); a lease whose holder is gone, or that expired unrenewed, is handed
  back by the next run that waits for a slot (the ephemeral server runs no repossessor).
- Containers carry their run's labels (see `engine.owner_labels`); the next run removes the
  ones whose process is gone. On SIGTERM/SIGINT the run removes its own and exits.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

LEASE_S = 60.0
"""Lease of a Docker slot; the holder renews it every 45 s, a dead holder's lapses."""
WAIT_S = 10.0
"""How long to wait for a slot before checking whether dead runs hold them."""
START_TIMEOUT_S = 180
CLEANUP_S = 8.0
FILE_LEASES = "prefect.server.concurrency.lease_storage.filesystem"
_PR_SET_PDEATHSIG = 1
_STATE: dict = {"holder": None, "own": False}


def use_file_leases() -> None:
    """Keep leases on disk under PREFECT_HOME (set before any Prefect server starts)."""
    os.environ.setdefault("PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE", FILE_LEASES)


def start_tied_server() -> bool:
    """Start Prefect's ephemeral server now, tied to this process; False when the run talks to
    a configured server (PREFECT_API_URL, a test harness) or is not on the main thread (the
    kernel ties a child to the thread that started it)."""
    from prefect.settings import get_current_settings

    if get_current_settings().api.url or threading.current_thread() is not threading.main_thread():
        return False
    use_file_leases()
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer._instances.get(None)
    if server is not None and server.running:
        return getattr(server, "envmine_tied", False)
    SubprocessASGIServer._instances.pop(None, None)
    # Registered as the instance every Prefect client uses. A fresh home migrates its database
    # first: on a loaded machine that takes longer than Prefect's default 20 s.
    _tied_server_class()().start(timeout=max(START_TIMEOUT_S, get_current_settings().server.ephemeral.startup_timeout_seconds))
    return True


def _die_with_parent() -> None:  # runs in the child between fork and exec: no imports, no dlopen
    _STATE["prctl"](_PR_SET_PDEATHSIG, int(signal.SIGKILL))


def _tied_server_class():
    from prefect.server.api.server import SubprocessASGIServer

    class TiedServer(SubprocessASGIServer):
        """Prefect's ephemeral server, killed by the kernel when the run dies."""

        envmine_tied = True

        def _run_uvicorn_command(self) -> subprocess.Popen:
            import prefect

            _STATE.setdefault("prctl", ctypes.CDLL(None, use_errno=True).prctl)  # resolved before fork
            from prefect.settings import get_current_settings

            env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
                   "PREFECT__SERVER_FINAL": "1",
                   **get_current_settings().to_environment_variables(exclude_unset=True)}
            args = [sys.executable, "-m", "uvicorn", "--app-dir", str(prefect.__module_path__.parent),
                    "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1",
                    "--port", str(self.port), "--log-level", "error", "--lifespan", "on"]
            return subprocess.Popen(args, env=env, preexec_fn=_die_with_parent)

    return TiedServer


# -- Docker slots -------------------------------------------------------------------------------


def _holders_dir() -> Path:
    from prefect.settings import get_current_settings

    return Path(get_current_settings().home) / "envmine-holders"


def holder_id() -> uuid.UUID:
    """This process's lease-holder id, registered with its pid so a later run can tell it died
    (a Ray or Dask worker's own pid: it holds and renews the lease, whichever run it works for)."""
    from envmine.builders.engine import process_labels

    if _STATE["holder"] is None:
        labels = process_labels()
        _STATE["holder"] = uuid.uuid4()
        folder = _holders_dir()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{_STATE['holder']}.json").write_text(json.dumps(labels))
    return _STATE["holder"]


def _holder_alive(holder: uuid.UUID | None) -> bool:
    """False when the registered holder's process is gone; unknown holders count as alive."""
    from envmine.builders.engine import _owner_alive

    if holder is None:
        return True
    path = _holders_dir() / f"{holder}.json"
    try:
        labels = json.loads(path.read_text())
    except (OSError, ValueError):
        return True
    alive = _owner_alive(labels)
    if not alive:
        path.unlink(missing_ok=True)
    return alive


@contextmanager
def docker_slot(name: str) -> Iterator[None]:
    """Hold one slot of the global concurrency limit `name` (a renewed lease held by this
    process); while none is free, hand back the slots of dead holders every WAIT_S."""
    from prefect.client.schemas.objects import ConcurrencyLeaseHolder
    from prefect.concurrency.sync import concurrency

    holder = ConcurrencyLeaseHolder(type="flow_run", id=holder_id())
    with ExitStack() as stack:
        while True:
            try:
                stack.enter_context(concurrency(name, occupy=1, strict=False, lease_duration=LEASE_S,
                                                timeout_seconds=WAIT_S, holder=holder))
                break
            except TimeoutError:
                reclaim_slots(name)
        yield


@contextmanager
def reclaiming(name: str, every_s: float = LEASE_S / 2) -> Iterator[None]:
    """While the block runs, hand back every `every_s` the slots of `name` whose holders died
    (see `reclaim_slots`). The run that owns the server does this: its workers (Ray, Dask
    processes, maybe on other machines) cannot read its lease storage, so without it a dead
    worker's slot would stay taken until the run ended. (A shared `prefect server start` runs
    Prefect's own repossessor of expired leases.)"""
    done = threading.Event()

    def loop() -> None:
        while not done.wait(every_s):
            try:
                reclaim_slots(name)
            except Exception as exc:  # noqa: BLE001 - a server busy for a moment: the next round
                sys.stderr.write(f"envmine: could not reclaim Docker slots: {type(exc).__name__}: {exc}\n")

    thread = threading.Thread(target=loop, daemon=True, name="envmine-slot-reclaimer")
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)


def reclaim_slots(name: str) -> int:
    """Hand back the slots of `name` that no live lease accounts for: leases that expired or
    whose holder process is gone, and slots left with no lease at all (a server that kept its
    leases in memory died). Only with the file lease storage (the leases of every run of this
    PREFECT_HOME are visible); returns the slots freed."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate
    from prefect.exceptions import ObjectNotFound
    from prefect.server.concurrency.lease_storage.filesystem import ConcurrencyLeaseStorage
    from prefect.utilities.asyncutils import run_coro_as_sync

    if os.environ.get("PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE") != FILE_LEASES or not _STATE["own"]:
        return 0
    with get_client(sync_client=True) as client:
        try:
            limit = client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            return 0
        live = run_coro_as_sync(_live_slots(ConcurrencyLeaseStorage(), limit.id))
        _forget_dead_holders()
        if limit.active_slots <= live:
            return 0
        client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(active_slots=live))
        return limit.active_slots - live


async def _live_slots(storage, limit_id: uuid.UUID) -> int:
    """Slots of `limit_id` held by live, unexpired leases; revokes the lease files of the others
    (expired, or their holder process is gone)."""
    live = 0
    expired = set(await storage.read_expired_lease_ids(limit=10_000))
    for lease_id in [*expired, *await storage.read_active_lease_ids(limit=10_000)]:
        lease = await storage.read_lease(lease_id)
        if lease is None or limit_id not in lease.resource_ids:
            continue
        holder = lease.metadata.holder.id if lease.metadata and lease.metadata.holder else None
        if lease_id not in expired and _holder_alive(holder):
            live += lease.metadata.slots if lease.metadata else 0
        else:
            await storage.revoke_lease(lease_id)
    return live


def _forget_dead_holders() -> None:
    """Drop the registrations of holder processes that are gone (one small file per run)."""
    from envmine.builders.engine import _owner_alive

    for path in _holders_dir().glob("*.json"):
        try:
            if not _owner_alive(json.loads(path.read_text())):
                path.unlink(missing_ok=True)
        except (OSError, ValueError):
            continue


def own_server(owned: bool) -> None:
    """Record whether this process started the Prefect server it talks to (its lease storage
    is then known to be the shared file storage)."""
    _STATE["own"] = owned


# -- stopping ---------------------------------------------------------------------------------


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """On SIGTERM or SIGINT: remove this run's containers, stop the Prefect server, exit at
    once (128 + signal). The catalog is crash-safe, so exiting mid-write loses at most the
    outcome in flight; waiting for running builds would take minutes. Main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}

    def stop(signum, _frame) -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # a second Ctrl-C kills outright
        started = time.monotonic()
        sys.stderr.write(f"\nenvmine: {signal.Signals(signum).name}: removing this run's sandboxes and stopping\n")
        removed = _cleanup()
        sys.stderr.write(f"envmine: stopped in {time.monotonic() - started:.1f}s ({removed} containers removed)\n")
        sys.stderr.flush()
        os._exit(128 + signum)

    for sig in previous:
        signal.signal(sig, stop)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _cleanup() -> int:
    """Kill the Prefect server and remove this run's containers, at once and in parallel (a
    loaded engine answers slowly); gives up after CLEANUP_S. Returns the containers removed."""
    from concurrent.futures import ThreadPoolExecutor, wait

    from envmine.builders import engine

    engine.stop_creating()
    _kill_children()  # the Prefect server, git fetches, ...: nothing outlives the run
    run_id = engine._RUN_ID["id"]
    if not run_id:
        return 0
    pool = ThreadPoolExecutor(max_workers=8)
    removed, deadline = 0, time.monotonic() + CLEANUP_S
    try:
        # Twice: a container a worker thread was creating as the signal came shows up late.
        for pause in (0.0, 0.5):
            time.sleep(pause)
            boxes = engine.run_containers(run_id)
            done, _ = wait([pool.submit(box.remove, force=True) for box in boxes],
                           timeout=max(deadline - time.monotonic(), 0.1))
            removed += sum(1 for f in done if f.exception() is None)
    except Exception:  # noqa: BLE001 - the engine may be what failed; exit anyway
        pass
    finally:
        pool.shutdown(wait=False)
    return removed


def _kill_children() -> None:
    """SIGKILL this process's direct children (every thread's), as the kernel lists them."""
    for task in Path("/proc/self/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for pid in children:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (OSError, ValueError):
                pass


def remove_dead_runs_containers() -> list[str]:
    """Containers that runs which are gone left behind (removed); [] when no engine answers."""
    from envmine.builders import engine

    try:
        return engine.remove_containers()
    except (engine.EngineError, OSError) as exc:
        sys.stderr.write(f"envmine: could not check for leftover containers: {exc}\n")
        return []


__all__ = ["docker_slot", "holder_id", "own_server", "reclaim_slots", "reclaiming", "remove_dead_runs_containers",
           "start_tied_server", "stop_on_signals", "use_file_leases"]
