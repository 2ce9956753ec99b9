"""The sandbox interface: what validators and the RL environment need from an isolated box,
whatever runs it.

A `Backend` starts a `Sandbox` from an image under `Limits` (no network unless asked; commands
run as a non-root user unless told otherwise); a sandbox runs commands, copies files in and
out, and is removed by `close`. A backend also removes every sandbox of a run (`remove_run`,
the stop path), so nothing outlives a run that is stopped. The Docker engine, on one host or
several (`[settings.docker] hosts`), is the backend today (`engine.DockerBackend`); another
(Kubernetes pods, ...) must pass tests/builders/test_sandbox_conformance.py.

Errors: trouble with the infrastructure (the engine is gone, refused a request, the image is
missing, the sandbox was removed under the caller) raises `EngineError`, which callers record
as `sandbox_error` and retry; whatever the command does inside is a value (exit code, output,
`timed_out`), never an exception.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from envmine.settings import Limits


class EngineError(RuntimeError):
    """The engine behind a sandbox could not be reached or refused a request."""


@dataclass
class ExecResult:
    exit_code: int | None
    output: str
    """stdout and stderr interleaved, the last `engine.LOG_TAIL_CHARS` characters."""
    timed_out: bool
    duration_s: float
    limit: str = ""
    """The limit the backend killed the sandbox at while (or before) the command ran
    (`disk_full`: it wrote past `Limits.writable_disk`), or ""."""


class Sandbox(ABC):
    """One started sandbox. Not shared between threads that write to it at once."""

    user: str
    """Who commands run as by default (non-root)."""

    @abstractmethod
    def exec(self, command: str, timeout_s: int = 600, user: str | None = None,
             workdir: str = "/testbed", env: dict[str, str] | None = None) -> ExecResult:
        """Run `command` under bash in `workdir` as `user` (default `self.user`), killed after
        `timeout_s` (then `timed_out`, exit code 124 or 137)."""

    @abstractmethod
    def write_file(self, path: str, content: str | bytes, mode: int = 0o644) -> None:
        """Write `content` to the absolute `path` (its folder exists), owned by root."""

    @abstractmethod
    def read_file(self, path: str) -> bytes | None:
        """The bytes of the regular file at `path`, or None when there is none."""

    def cpu_s(self) -> float | None:
        """CPU-seconds the sandbox has used since it started; None where the backend cannot say."""
        return None

    @abstractmethod
    def close(self) -> None:
        """Remove the sandbox and everything in it. Idempotent; never raises."""


class Backend(ABC):
    """Starts sandboxes and removes a run's."""

    @abstractmethod
    def start(self, image: str, limits: Limits, user: str = "envmine", network: bool = False) -> Sandbox:
        """A sandbox of `image`, idle, under `limits`; raises EngineError when none starts."""

    @abstractmethod
    def remove_run(self, run_id: str) -> list[str]:
        """Remove every sandbox that run `run_id` started (see `engine.set_run_id`); their names."""


def default_backend() -> Backend:
    """The Docker engine: the placed host's (see `engine.on_host`), else the configured ones."""
    from envmine.builders.engine import DockerBackend

    return DockerBackend()


@contextmanager
def sandbox(image: str, limits: Limits, user: str = "envmine", network: bool = False,
            backend: Backend | None = None) -> Iterator[Sandbox]:
    """Start `image` idle under `limits`; the sandbox is always removed afterwards."""
    box = (backend or default_backend()).start(image, limits, user, network)
    try:
        yield box
    finally:
        box.close()
