"""The Docker edge: the only module that talks to the Docker engine.

Builders build images through it; validators and the RL environment run sandboxes through the
sandbox interface (builders/sandbox.py), whose Docker backend lives here. With several engines
(`[settings.docker] hosts`) each call goes to the host its context was placed on (`on_host`;
builders/hosts.py decides where and moves images). Everything else passes values
(Dockerfiles, commands, files) in and gets values out.
"""

from __future__ import annotations

import contextvars
import glob
import hashlib
import io
import os
import re
import socket
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import docker
import docker.errors
import docker.tls
import requests
import urllib3
from docker.models.containers import Container
from docker.models.networks import Network

from envmine.builders.sandbox import Backend, EngineError, ExecResult, Sandbox  # noqa: F401 (re-exported)
from envmine.reasons import Reason
from envmine.settings import DockerHost, Limits

LOG_TAIL_CHARS = 20_000
BUILD_NETWORK = "envmine-build"
"""Builds run on their own bridge network (and bridge interface), confined by
envmine/scripts/confine_builds.sh: build steps run the repository's own code (setup.py, npm
lifecycle scripts, build.rs), so they reach the package registries and nothing else: no host
service on any host address (loopback, the bridges' gateways, eth0's: Docker's own bridge lets
all of them through), no other container, no link-local metadata, no neighbour on the egress
subnet. Never "host"."""
OWNER_LABELS = ("envmine.run", "envmine.host", "envmine.pid", "envmine.pid_start")
"""Labels that name the process owning a container, so a later run can tell a dead run's
leftovers from a live run's sandboxes."""


STEP_CONTAINER = re.compile(r"Running in ([0-9a-f]{12,64})")
"""The classic builder's line naming the container of the RUN step it starts."""
CPU_SAMPLE_S = 0.05
CGROUP_CPU = (
    ("/sys/fs/cgroup/cpuacct/docker/{id}*/cpuacct.usage", 1e-9),  # v1, cgroupfs driver
    ("/sys/fs/cgroup/cpu,cpuacct/docker/{id}*/cpuacct.usage", 1e-9),
    ("/sys/fs/cgroup/cpuacct/system.slice/docker-{id}*.scope/cpuacct.usage", 1e-9),  # v1, systemd
    ("/sys/fs/cgroup/docker/{id}*/cpu.stat", 1e-6),  # v2: `usage_usec N`
    ("/sys/fs/cgroup/system.slice/docker-{id}*.scope/cpu.stat", 1e-6),
)


def container_cpu_s(container_id: str, engine: docker.DockerClient | None = None) -> float | None:
    """CPU-seconds a container has used so far: its cgroup's usage, read from the host's cgroup
    files when the engine is on this machine (exact, ~0.1 ms), else from the stats of `engine`
    (default: the placed one; they can take a second on a busy host); None when neither has a
    figure."""
    for pattern, unit in CGROUP_CPU:
        for path in glob.glob(pattern.format(id=container_id)):
            try:
                text = open(path).read()
            except OSError:
                continue
            usage = text.split("usage_usec", 1)[1].split()[0] if "usage_usec" in text else text.strip()
            return int(usage) * unit
    try:
        stats = (engine or client()).api.stats(container_id, stream=False, one_shot=True)
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return None
    used = ((stats or {}).get("cpu_stats") or {}).get("cpu_usage", {}).get("total_usage")
    return used / 1e9 if used else None


class StepCpuMeter:
    """CPU-seconds of a build's RUN steps: the builder names each step's container in its log
    and removes it when the step ends, so its usage is sampled every `CPU_SAMPLE_S` while it
    runs (a step's last interval is missed: an under-count of at most that per step). Like
    `DiskWatch`, its thread asks the engine the meter was made for."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._current: str | None = None
        self._engine, self._done = client(), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def follow(self, container_id: str) -> None:
        self._current = container_id

    def _sample(self) -> None:
        while not self._done.wait(CPU_SAMPLE_S):
            step = self._current
            if step and (used := container_cpu_s(step, self._engine)) is not None:
                self._last[step] = max(used, self._last.get(step, 0.0))

    def total(self) -> float:
        self._done.set()
        self._thread.join()
        return round(sum(self._last.values()), 3)


# -- hosts: which engine a call goes to -------------------------------------------------------

_HOSTS: list[DockerHost] = []
"""The configured engines (`[settings.docker] hosts`); empty: the one in DOCKER_HOST."""
_PLACED: contextvars.ContextVar[DockerHost | None] = contextvars.ContextVar("envmine_docker_host", default=None)
"""The engine that calls in this context go to (see `on_host`; builders.hosts places work)."""


def use_hosts(hosts: list[DockerHost]) -> None:
    """Send calls outside any placement to `hosts[0]`, and clean up on all of them."""
    _HOSTS[:] = hosts


def known_hosts() -> list[DockerHost | None]:
    """The configured hosts, or [None] (the engine in DOCKER_HOST)."""
    return list(_HOSTS) or [None]


@contextmanager
def on_host(host: DockerHost | None) -> Iterator[None]:
    """Send this context's engine calls (and those of threads started with a copy of it) to
    `host` (None: the default engine)."""
    token = _PLACED.set(host)
    try:
        yield
    finally:
        _PLACED.reset(token)


def placed_host() -> DockerHost | None:
    """The host this context's calls go to (None: the engine in DOCKER_HOST)."""
    return _PLACED.get() or (_HOSTS[0] if _HOSTS else None)


def client() -> docker.DockerClient:
    """A client for the placed host (see `placed_host`); API version negotiated."""
    return _client_for(placed_host())


@cache
def _client_for(host: DockerHost | None) -> docker.DockerClient:
    """A client for `host`, or for the engine in DOCKER_HOST (or the default socket)."""
    try:
        if host is None:
            c = docker.from_env(version="auto", timeout=300)
        else:
            c = docker.DockerClient(base_url=host.url, version="auto", timeout=300, tls=_tls(host))
        c.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        where = host.url if host else "the default socket"
        raise EngineError(f"no Docker engine answers at {where}: {exc}. Run `envmine setup`.") from exc
    return c


def _tls(host: DockerHost) -> docker.tls.TLSConfig | bool:
    if not (host.tls_verify or host.ca_cert or host.client_cert):
        return False
    cert = (host.client_cert, host.client_key) if host.client_cert else None
    return docker.tls.TLSConfig(client_cert=cert, ca_cert=host.ca_cert, verify=bool(host.ca_cert or host.tls_verify))


def answers(host: DockerHost | None, timeout_s: float = 5.0) -> str:
    """"" when `host`'s engine answers a ping within `timeout_s`, else why not."""
    try:
        api = _client_for(host).api
        api._result(api._get(api._url("/_ping"), timeout=timeout_s))
    except (EngineError, docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        return f"{type(exc).__name__}: {exc}"[:500]
    return ""


def running_sandboxes() -> int:
    """How many envmine sandboxes the placed host runs now (any run's: its real load)."""
    try:
        return len(client().api.containers(filters={"label": "envmine.sandbox", "status": "running"}, quiet=True))
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise EngineError(f"could not list containers: {exc}") from exc


def image_exists(tag: str) -> bool:
    try:
        client().images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def image_size(tag: str) -> int:
    return int(client().images.get(tag).attrs["Size"])


# -- disk: overlay2 on ext4 has no per-container quota (`--storage-opt size=` needs xfs with
# pquota), so what a container writes is watched, and the container killed past its limit ----

DISK_POLL_S = 0.25
"""How often a disk watch asks the engine what its containers wrote (~5 ms a question here)
while none of them is nearing its limit."""
DISK_POLL_MIN_S = 0.02
"""The shortest interval, for a container that at its measured rate reaches its limit sooner
than DISK_POLL_S (a writer of many files: one file stops at the limit, `_file_size_limit`)."""
DISK_LIMIT_ERROR = "a build step wrote past its disk limit"


def written_bytes(container_ids: list[str], engine: docker.DockerClient) -> dict[str, int]:
    """Bytes each container has written over its image (its writable layer, the engine's
    SizeRw), in one question per WATCH_BATCH containers, by the ids asked for (a build log
    names its step containers by a prefix); a container that is gone is missing."""
    written: dict[str, int] = {}
    for at in range(0, len(container_ids), WATCH_BATCH):
        asked = container_ids[at:at + WATCH_BATCH]
        try:
            found = engine.api.containers(all=True, size=True, filters={"id": asked})
        except ENGINE_ERRORS:
            continue  # the engine is busy or gone: the next round asks again
        for container in found:
            written |= {cid: int(container.get("SizeRw") or 0) for cid in asked if container["Id"].startswith(cid)}
    return written


WATCH_BATCH = 200
"""Containers per size question (the ids travel in the URL)."""


Progress = tuple[int, float, float]
"""What a disk watch knows of one container: bytes written, when it asked, the fastest rate
(bytes/s) seen between two questions."""


def _next_question(before: Progress | None, size: int, now: float, limit: int) -> tuple[float, Progress]:
    """When to ask again about a container that has written `size` bytes `now` (`before`: what
    was known at the previous question), and what is known now: half the time the fastest
    rate it has written at needs to reach `limit`, between DISK_POLL_MIN_S and DISK_POLL_S.
    The fastest, not the last: writes come in bursts as the page cache drains (a container
    at 280 MB/s wrote 390 MB in the next 0.25 s)."""
    rate = before[2] if before else 0.0
    if before and now > before[1]:
        rate = max(rate, (size - before[0]) / (now - before[1]))
    if rate <= 0:
        return DISK_POLL_S, (size, now, rate)
    return min(DISK_POLL_S, max(DISK_POLL_MIN_S, (limit - size) / rate / 2)), (size, now, rate)


class DiskWatch:
    """Kills the container it follows once that container has written more than `limit` bytes
    (Docker size syntax; see `written_bytes`); `hit` says whether it did. A build follows each
    of its RUN steps in turn. The watches of one engine share one thread (`_EngineDiskWatch`),
    which asks about all their containers at once every DISK_POLL_S: a thread and a question
    per sandbox would be thousands of each at a cluster's scale."""

    def __init__(self, limit: str, container_id: str | None = None,
                 engine: docker.DockerClient | None = None) -> None:
        """`engine`: the one running the container (default: the placed one; the thread that
        asks has no placement of its own)."""
        self.limit, self.container_id, self.hit = docker.utils.parse_bytes(limit), container_id, False
        self._engine = _EngineDiskWatch.of(engine or client())
        self._engine.add(self)

    def follow(self, container_id: str) -> None:
        self.container_id = container_id

    def check(self) -> bool:
        """Ask now, as a round of the thread would (killing the container past its limit), so
        that a command that ended after writing past it is named for it whenever the thread's
        next question would have come; whether the limit was hit."""
        if not self.hit and self.container_id:
            self._engine.check(self, self.container_id)
        return self.hit

    def stop(self) -> bool:
        """Stop watching; whether the limit was hit."""
        self._engine.discard(self)
        return self.hit


class _EngineDiskWatch:
    """The one thread that checks every live DiskWatch of one engine (it idles while none is)."""

    _ALL: dict[int, _EngineDiskWatch] = {}
    _MADE = threading.Lock()

    @classmethod
    def of(cls, engine: docker.DockerClient) -> _EngineDiskWatch:
        with cls._MADE:
            if id(engine) not in cls._ALL:  # clients are cached per host: one per engine
                cls._ALL[id(engine)] = cls(engine)
            return cls._ALL[id(engine)]

    def __init__(self, engine: docker.DockerClient) -> None:
        self._engine, self._watches, self._changed = engine, set(), threading.Condition()
        threading.Thread(target=self._run, daemon=True, name="envmine-disk-watch").start()

    def add(self, watch: DiskWatch) -> None:
        with self._changed:
            self._watches.add(watch)
            self._changed.notify()

    def discard(self, watch: DiskWatch) -> None:
        with self._changed:
            self._watches.discard(watch)

    def _run(self) -> None:
        interval, last = DISK_POLL_S, {}
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._watches)
            time.sleep(interval)
            with self._changed:
                followed = [(w, w.container_id) for w in self._watches if w.container_id]
            written = written_bytes([cid for _, cid in followed], self._engine) if followed else {}
            now, interval, seen = time.monotonic(), DISK_POLL_S, {}
            for watch, container_id in followed:
                size = written.get(container_id, 0)
                if size > watch.limit:
                    self._kill(watch, container_id)
                    continue
                wait, seen[container_id] = _next_question(last.get(container_id), size, now, watch.limit)
                interval = min(interval, wait)
            last = seen  # a container no longer followed is forgotten

    def check(self, watch: DiskWatch, container_id: str) -> None:
        if written_bytes([container_id], self._engine).get(container_id, 0) > watch.limit:
            self._kill(watch, container_id)

    def _kill(self, watch: DiskWatch, container_id: str) -> None:
        """Kill the container `watch` followed when it was measured (a build has moved on to
        its next step since, perhaps), unless the watch stopped meanwhile. The kill has a
        thread of its own: the engine answers it once the container has stopped, 1.4 s after
        the signal for a container full of unwritten pages here, and the watch's next round
        must not wait for that while other containers write on."""
        with self._changed:
            if watch not in self._watches:
                return  # its container is being removed anyway
            watch.hit = True
        threading.Thread(target=self._send_kill, args=(container_id,), daemon=True,
                         name="envmine-disk-kill").start()

    def _send_kill(self, container_id: str) -> None:
        try:
            self._engine.api.kill(container_id)
        except ENGINE_ERRORS:
            pass  # it ended by itself meanwhile


_CONFINING = threading.Lock()
_CONFINED: set[str] = set()
"""The engines (base URLs) whose build network this process has ensured."""


def build_bridge(host_url: str | None) -> str:
    """The Linux bridge of an engine's build network: `envmine-build` for the default engine,
    and one named after the host for each other one, since two engines on one machine share
    the network namespace (one bridge for both would take the other's address and DNS)."""
    if host_url is None:
        return BUILD_NETWORK
    return "envb-" + hashlib.sha256(host_url.encode()).hexdigest()[:10]  # <= 15 characters


def ensure_build_network() -> None:
    """Create the build network on the placed engine when it is missing (its containers cannot
    talk to each other), and, when this process is root beside a local engine, apply its firewall
    rules (idempotent); elsewhere `envmine setup`, run as root on the engine's host, applies them."""
    engine, host = client(), placed_host()
    key = host.url if host else "default"  # not base_url: it reads http+docker://localhost for every socket
    with _CONFINING:  # a run's first builds all start at once
        if key not in _CONFINED:
            _confine(engine, host)
            _CONFINED.add(key)


def _confine(engine: docker.DockerClient, host: DockerHost | None) -> None:
    with _engine_call("build network"):
        network = _build_network(engine, build_bridge(host.url if host else None))
    options = network.attrs.get("Options") or {}
    bridge = options.get("com.docker.network.bridge.name") or f"br-{network.id[:12]}"
    if os.geteuid() == 0 and engine.api.base_url.startswith("http+docker://local"):
        script = files("envmine.scripts").joinpath("confine_builds.sh")
        done = subprocess.run(["bash", str(script), bridge], capture_output=True, text=True)
        if done.returncode != 0:
            raise EngineError(f"could not confine the build network: {done.stderr.strip()[-500:]}")


def _build_network(engine: docker.DockerClient, bridge: str, name: str = BUILD_NETWORK) -> Network:
    """The engine's build network, created when missing. Another process (a second worker on
    this engine) may create it at the same moment: the engine then refuses the second create
    (the name or the bridge is taken), and the network that won is the one to use."""
    found = _named(engine, name)
    if not found:
        try:
            engine.networks.create(name, driver="bridge", options={
                "com.docker.network.bridge.name": bridge, "com.docker.network.bridge.enable_icc": "false"})
        except docker.errors.APIError:
            pass  # created meanwhile (the list below finds it) or truly refused (it raises)
        found = _named(engine, name)
        if not found:
            raise EngineError(f"the engine neither has nor creates the network {name}")
    network = found[0]
    network.reload()
    return network


def _named(engine: docker.DockerClient, name: str) -> list[Network]:
    """Networks named exactly `name` (the engine's name filter also matches longer names)."""
    return [n for n in engine.networks.list(names=[name]) if n.name == name]


@dataclass
class BuildOutcome:
    ok: bool
    log: str
    duration_s: float
    error: str = ""
    cpu_s: float | None = None
    """CPU-seconds of the RUN steps (sampled, see `StepCpuMeter`)."""


def build_image(
    tag: str,
    dockerfile: str,
    context_files: dict[str, str | bytes] | None = None,
    timeout_s: int = 1800,
    on_line: Callable[[str], None] | None = None,
    network: str = BUILD_NETWORK,
    disk: str = "10g",
    nocache: bool = False,
) -> BuildOutcome:
    """Build `dockerfile` with `context_files` as its context, streaming the log to `on_line`.

    `network` is the build containers' network mode: `bridge` (registries, not the host's
    loopback) or `none` (steps that need nothing from outside). A RUN step that writes more
    than `disk` is killed, and the error starts with DISK_LIMIT_ERROR. `nocache` runs every
    step again (the builder's cache would reuse a step whose parent and instruction match)."""
    context = _tar({"Dockerfile": dockerfile, **(context_files or {})})
    start, lines, error, meter, watch = time.monotonic(), [], "", StepCpuMeter(), DiskWatch(disk)
    try:
        if network == BUILD_NETWORK:
            ensure_build_network()
        stream = client().api.build(
            fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True,
            decode=True, timeout=timeout_s, network_mode=network, nocache=nocache,
        )
        for chunk in stream:
            text = chunk.get("stream") or chunk.get("status") or ""
            if "error" in chunk:
                error = str(chunk["error"]).strip()
                text = error
            if text:
                lines.append(text)
                if step := STEP_CONTAINER.search(text):
                    meter.follow(step.group(1))
                    watch.follow(step.group(1))
                if on_line:
                    on_line(text.rstrip())
            if time.monotonic() - start > timeout_s:
                error = f"build exceeded {timeout_s}s"
                break
    except docker.errors.APIError as exc:
        error = str(exc)
    except Exception as exc:  # a dropped stream ends the build too; a silent engine times out
        silent = isinstance(exc, (requests.exceptions.Timeout, urllib3.exceptions.ReadTimeoutError)) \
            or "Read timed out" in str(exc)
        error = f"build exceeded {timeout_s}s (no output from the engine)" if silent else f"{type(exc).__name__}: {exc}"
    if watch.stop():
        error = f"{DISK_LIMIT_ERROR} ({disk}): {error}"
    log = "".join(lines)[-LOG_TAIL_CHARS:]
    return BuildOutcome(ok=not error, log=log, duration_s=time.monotonic() - start, error=error,
                        cpu_s=meter.total())


def import_rootfs(tag: str, tar_stream: Iterator[bytes] | bytes) -> None:
    """`docker import`: make an image from a root filesystem tarball (used for base images)."""
    data = tar_stream if isinstance(tar_stream, bytes) else b"".join(tar_stream)
    client().api.import_image_from_data(data, repository=tag.split(":")[0], tag=tag.split(":")[1])


ENGINE_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)
"""What the SDK raises when the engine refuses a request or is gone (its socket closed)."""


@contextmanager
def _engine_call(what: str) -> Iterator[None]:
    """Turn the SDK's errors into EngineError (the sandbox interface's one infrastructure error)."""
    try:
        yield
    except docker.errors.NotFound as exc:
        raise EngineError(f"{what}: the sandbox is gone: {exc}") from exc
    except ENGINE_ERRORS as exc:
        raise EngineError(f"{what}: {type(exc).__name__}: {exc}") from exc


class DockerSandbox(Sandbox):
    """A running container with no network, a non-root user and resource limits."""

    def __init__(self, container: Container, user: str, disk: DiskWatch | None = None):
        self.container = container
        self.user = user
        self.disk = disk

    def exec(self, command: str, timeout_s: int = 600, user: str | None = None,
             workdir: str = "/testbed", env: dict[str, str] | None = None) -> ExecResult:
        """Run `command` under bash with a hard wall-clock limit (coreutils `timeout`).

        Once the disk watch has killed the sandbox, every command ends with `limit` set."""
        wrapped = ["timeout", "--kill-after=5", str(timeout_s), "bash", "-lc", command]
        start = time.monotonic()
        if self.disk and self.disk.hit:
            return ExecResult(None, "", False, 0.0, limit=Reason.disk_full.value)
        with _engine_call("exec"):
            code, out = self.container.exec_run(
                wrapped, user=user or self.user, workdir=workdir, environment=env or {}, demux=False,
            )
        text = (out or b"").decode("utf-8", errors="replace")
        limit = Reason.disk_full.value if self.disk and self.disk.check() else ""
        timed_out = code in (124, 137) and not limit
        return ExecResult(code, text[-LOG_TAIL_CHARS:], timed_out, time.monotonic() - start, limit=limit)

    def cpu_s(self) -> float | None:
        """CPU-seconds the sandbox has used since it started (all its processes)."""
        return container_cpu_s(self.container.id, self.container.client)

    def write_file(self, path: str, content: str | bytes, mode: int = 0o644) -> None:
        directory, name = path.rsplit("/", 1)
        with _engine_call(f"write {path}"):
            self.container.put_archive(directory or "/", _tar({name: content}, mode=mode))

    def read_file(self, path: str) -> bytes | None:
        try:
            stream, _ = self.container.get_archive(path)
            data = b"".join(stream)
        except docker.errors.NotFound:
            return None
        except ENGINE_ERRORS as exc:
            raise EngineError(f"read {path}: {type(exc).__name__}: {exc}") from exc
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            member = tar.next()
            if member is None or not member.isfile():
                return None
            extracted = tar.extractfile(member)
            return extracted.read() if extracted else None

    def close(self) -> None:
        if self.disk:
            self.disk.stop()
        _remove_quietly(self.container.client.api, self.container.id)


def _file_size_limit(limits: Limits) -> docker.types.Ulimit:
    """RLIMIT_FSIZE one byte past the larger disk limit, hard, for every process of the sandbox:
    the kernel stops one file (a flood of the test log, a file in /testbed) there, whatever the
    disk watch's timing, and the byte past the limit lets the watch name it `disk_full`. The
    watch alone let a writer of a few GB/s pass a 512 MiB limit by over 1 GiB on CI (its
    question, then a kill that takes ~0.3 s to land)."""
    size = max(docker.utils.parse_bytes(limits.writable_disk), docker.utils.parse_bytes(limits.disk)) + 1
    return docker.types.Ulimit(name="fsize", soft=size, hard=size)


class DockerBackend(Backend):
    """Sandboxes as containers on `host`, or (none given) on the placed host (see `on_host`)."""

    def __init__(self, host: DockerHost | None = None):
        self.host = host

    def _client(self) -> docker.DockerClient:
        return _client_for(self.host) if self.host else client()

    def start(self, image: str, limits: Limits, user: str = "envmine", network: bool = False) -> DockerSandbox:
        """Create and start the container with two API calls (the SDK's `containers.run` adds an
        inspect between them)."""
        _refuse_if_stopping()
        engine = self._client()
        api, container_id = engine.api, None
        try:
            host_config = api.create_host_config(
                network_mode="bridge" if network else "none", init=True,
                nano_cpus=int(limits.cpus * 1e9), mem_limit=limits.memory,
                memswap_limit=limits.memory, pids_limit=limits.pids, ulimits=[_file_size_limit(limits)],
                tmpfs={"/tmp": f"rw,exec,size={limits.disk}"})
            container_id = api.create_container(
                image, command=["sleep", "infinity"], user="root", host_config=host_config,
                labels={"envmine.sandbox": "1", **owner_labels()})["Id"]
            api.start(container_id)
        except ENGINE_ERRORS as exc:
            if container_id:  # created, not started: nothing else would remove it
                _remove_quietly(api, container_id)
            raise EngineError(f"could not start a sandbox from {image}: {exc}") from exc
        container = engine.containers.prepare_model({"Id": container_id})
        return DockerSandbox(container, user, DiskWatch(limits.writable_disk, container_id, engine))

    def remove_run(self, run_id: str) -> list[str]:
        if self.host:
            return _remove_containers_here(self._client(), run_id)
        return remove_containers(run_id)


def _remove_quietly(api: docker.APIClient, container_id: str) -> None:
    try:
        api.remove_container(container_id, force=True)
    except ENGINE_ERRORS:
        pass  # gone already, or its engine is


def remove_image(tag: str) -> None:
    try:
        client().images.remove(tag, force=True)
    except docker.errors.ImageNotFound:
        pass


def _tar(files: dict[str, str | bytes], mode: int = 0o644) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, 0
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def read_image_file(image: str, path: str) -> bytes | None:
    """A file's bytes from `image` without starting it (a created, never-run container)."""
    _refuse_if_stopping()
    try:
        container = client().containers.create(image, command=["true"], labels={"envmine.peek": "1", **owner_labels()})
    except docker.errors.DockerException as exc:
        raise EngineError(f"could not open {image}: {exc}") from exc
    try:
        stream, _ = container.get_archive(path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.next()
            extracted = tar.extractfile(member) if member is not None and member.isfile() else None
            return extracted.read() if extracted else None
    except docker.errors.NotFound:
        return None
    finally:
        container.remove(force=True)


def tag_image(source: str, target: str) -> None:
    """Give the image `source` the extra tag `target` (`docker tag`)."""
    repository, _, tag = target.rpartition(":")
    client().images.get(source).tag(repository, tag)


# -- ownership: which run a container belongs to, and removing what dead runs left -----------

_RUN_ID = {"id": ""}
_WORKING_FOR: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("envmine_run_owner", default=None)
"""The owner labels of the run a distributed executor's worker is working for (None: this
process's own run)."""


def stop_creating() -> None:
    """From now on this process starts no container (its run is stopping)."""
    _RUN_ID["stopping"] = "1"


def _refuse_if_stopping() -> None:
    if _RUN_ID.get("stopping"):
        raise EngineError("the run is stopping: no new containers")
    owner = _WORKING_FOR.get()
    if owner is not None and not _owner_alive(owner):
        raise EngineError(f"run {owner.get('envmine.run')} is gone: no new containers for it")


@contextmanager
def working_for(owner: dict[str, str]) -> Iterator[None]:
    """Label the containers started in this context (and in threads started with a copy of it)
    with the run `owner` (its `owner_labels()`): a Ray or Dask worker's sandboxes then belong
    to the run that asked for them, its cleanup removes them, and once that run's process is
    gone no new one starts."""
    token = _WORKING_FOR.set(dict(owner))
    try:
        yield
    finally:
        _WORKING_FOR.reset(token)


def set_run_id(run_id: str) -> None:
    """Label the containers this process starts from now on with `run_id`."""
    _RUN_ID["id"] = run_id


def _process_start(pid: int) -> str:
    """The kernel's start time of `pid` (clock ticks since boot), "" when it is gone: with the
    pid it names one process, even after the pid is reused."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def process_labels() -> dict[str, str]:
    """Labels naming this process and the run it started (see OWNER_LABELS)."""
    pid = os.getpid()
    return {"envmine.run": _RUN_ID["id"], "envmine.host": socket.gethostname(),
            "envmine.pid": str(pid), "envmine.pid_start": _process_start(pid)}


def owner_labels() -> dict[str, str]:
    """Labels naming the run a container belongs to and its process (see OWNER_LABELS), plus
    `envmine.worker`, the host and pid of the process that started it."""
    return {**(_WORKING_FOR.get() or process_labels()), "envmine.worker": f"{socket.gethostname()}:{os.getpid()}"}


def _owner_alive(labels: dict[str, str]) -> bool:
    """False only when the owner is provably gone: same host, and its pid is dead or reused."""
    if labels.get("envmine.host") != socket.gethostname() or not labels.get("envmine.pid", "").isdigit():
        return True  # another host's, or unlabelled: not ours to judge
    return _process_start(int(labels["envmine.pid"])) == labels.get("envmine.pid_start")


def remove_containers(run_id: str | None = None) -> list[str]:
    """Remove envmine's containers of run `run_id`, or (None) those whose owning process is
    gone, on every configured host that answers; returns the names removed. A live run's
    sandboxes are never touched."""
    removed = []
    for host in known_hosts():
        if host is None or not answers(host):
            removed += _remove_containers_here(_client_for(host), run_id)
    return removed


def run_containers(run_id: str) -> list[Container]:
    """The containers labelled with run `run_id`, on every configured host that answers."""
    found = []
    for host in known_hosts():
        if host is None or not answers(host, timeout_s=2):
            found += _client_for(host).containers.list(all=True, filters={"label": f"envmine.run={run_id}"})
    return found


def _remove_containers_here(engine: docker.DockerClient, run_id: str | None) -> list[str]:
    removed = []
    for kind in ("envmine.sandbox", "envmine.peek"):
        for container in engine.containers.list(all=True, filters={"label": kind}):
            labels = container.labels or {}
            mine = labels.get("envmine.run") == run_id if run_id else not _owner_alive(labels)
            if not mine:
                continue
            try:
                container.remove(force=True)
                removed.append(container.name)
            except docker.errors.DockerException:
                pass  # already gone (its own `finally` won the race)
    return removed
