"""Where the flow's tasks run, by configuration (`[settings.executor]`): threads of the run's
own process (default), a Ray cluster through `prefect-ray`, or a Dask cluster through
`prefect-dask`. The flow is the same; only its Prefect task runner changes.

Workers reach the run's Prefect server (Docker slots are its leases) through the API URL in
the settings context Prefect sends with every task, so a run that started its own server
publishes that server's URL to them. That server listens on 127.0.0.1: workers on other
machines need a shared `prefect server start` named in PREFECT_API_URL.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from envmine.settings import ExecutorSettings, Settings

DEFAULT_PORTS = {"ray": 6379, "dask": 8786}


class ExecutorError(ValueError):
    """The configured executor cannot be used (package missing, cluster not answering)."""


def task_runner(settings: Settings) -> TaskRunner:
    """The Prefect task runner `[settings.executor]` names; a configured cluster address must
    answer first, so a wrong one is a one-line error before anything runs."""
    executor, slots = settings.executor, max(1, settings.docker.concurrency)
    if executor.kind == "local":
        return ThreadPoolTaskRunner(max_workers=slots)
    if executor.address and executor.address != "auto":
        _check_reachable(executor)
    return _ray_runner(executor, slots) if executor.kind == "ray" else _dask_runner(executor, slots)


def _ray_runner(executor: ExecutorSettings, slots: int) -> TaskRunner:
    try:
        from prefect_ray import RayTaskRunner
    except ImportError as exc:
        raise ExecutorError(_missing("ray", exc)) from None
    if executor.address:
        return RayTaskRunner(address=executor.address, init_kwargs={"logging_level": "warning"})
    return RayTaskRunner(init_kwargs={"num_cpus": slots, "include_dashboard": False, "logging_level": "warning"})


def _dask_runner(executor: ExecutorSettings, slots: int) -> TaskRunner:
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as exc:
        raise ExecutorError(_missing("dask", exc)) from None
    if executor.address:
        return DaskTaskRunner(address=executor.address, client_kwargs={"timeout": executor.connect_timeout_s})
    return DaskTaskRunner(cluster_kwargs={"n_workers": slots, "threads_per_worker": 1, "processes": True,
                                          "dashboard_address": None})


def _missing(kind: str, exc: ImportError) -> str:
    return f"executor kind {kind!r} needs the distributed extra (pip install 'envmine[distributed]'): {exc}"


def _check_reachable(executor: ExecutorSettings) -> None:
    """Connect to the cluster's host and port once, within `connect_timeout_s`."""
    address = executor.address or ""
    url = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = url.hostname, url.port or DEFAULT_PORTS[executor.kind]
    except ValueError:
        host = port = None
    if not host:
        raise ExecutorError(f"executor address {address!r} is not host:port (e.g. 127.0.0.1:{DEFAULT_PORTS[executor.kind]})")
    try:
        socket.create_connection((host, port), timeout=executor.connect_timeout_s).close()
    except OSError as exc:
        raise ExecutorError(f"no {executor.kind} cluster answers at {address} ({host}:{port}): {exc.strerror or exc}"
                            f" (start one: see README, 'Running on a cluster')") from None


@contextmanager
def api_for_workers(settings: Settings) -> Iterator[None]:
    """Within this context, tasks sent to other processes carry the URL of the Prefect server
    this process talks to (the run's own server has no URL in the settings otherwise)."""
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    if settings.executor.kind == "local" or get_current_settings().api.url:
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start()
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        yield


__all__ = ["ExecutorError", "api_for_workers", "task_runner"]
