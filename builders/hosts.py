"""Several Docker engines (`[settings.docker] hosts`): where a candidate's builds and sandboxes
go, how images move between engines, and what happens when one stops answering. With no hosts
configured every call goes to the engine in DOCKER_HOST, as before.

Placement (`place`): the host that holds the deepest of the candidate's heavy layers (its
repository's environment, else its toolchain: a repository's tasks share them), unless that
host runs SPILL more sandboxes than the idlest live host; when no host holds any, the host the
repository's name hashes to (rendezvous hashing, so every worker process sends a repository to
the same host), under the same spill rule. A host's load is the number of envmine sandboxes its
engine runs now (every run's and worker's) plus the candidates this process placed there and
has not finished.

Images move (`bring_layers`) when a candidate lands on a host that lacks layers another host
has: through `[settings.docker] registry` when one is set (pushed there, pulled here), else a
`docker save` of every missing tag streamed into `docker load`. Tags are content hashes, so a
moved image is as good as one built here, and the build reuses it.

A host that stops answering (`run_placed`): after a candidate's work ends (or raises), its host
is pinged; when it no longer answers, the work's result is dropped, the host is left out for
the rest of this process, and the candidate runs again on another live host. The hosts lost
on the way are returned, so the outcome can say why it ran twice.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from envmine.builders import engine
from envmine.builders.sandbox import EngineError
from envmine.records import EnvSpec
from envmine.settings import DockerHost, Settings

T = TypeVar("T")
SPILL = 2
"""A repository's next candidate leaves the host with its layers when that host runs this many
more sandboxes than the idlest one (its layers then move, which costs one image transfer)."""
HEAVY_LAYERS = ("toolchain", "repo")
PING_S = 15.0
"""How long a ping may take before a host counts as not answering."""

_LOST: dict[DockerHost | None, str] = {}
"""Hosts that stopped answering during this process, and why (never placed on again)."""
_BUSY: Counter[DockerHost | None] = Counter()
_LOCK = threading.Lock()


def start_run(settings: Settings) -> None:
    """A run starts on its configured hosts afresh: those lost during an earlier run of this
    process (a long-lived worker's) are placed on again while they answer."""
    engine.use_hosts(settings.docker.hosts)
    _LOST.clear()


def live_hosts(settings: Settings) -> list[DockerHost | None]:
    """The configured hosts not lost yet ([None]: the engine in DOCKER_HOST)."""
    return [h for h in (settings.docker.hosts or [None]) if h not in _LOST]


def place(spec: EnvSpec, settings: Settings) -> DockerHost | None:
    """The host for `spec`'s builds and sandboxes (see the module's docstring). Hosts that do
    not answer on the way are lost; raises EngineError when none is left."""
    hosts = live_hosts(settings)
    if len(hosts) == 1 and not settings.docker.hosts:
        return hosts[0]
    heavy = [layer.tag for layer in spec.layers if layer.name in HEAVY_LAYERS]
    seen = {h: s for h in hosts if (s := _survey(h, heavy)) is not None}
    if not seen:
        raise EngineError("no Docker host answers: " + "; ".join(f"{h.name if h else 'default'}: {why}"
                                                                 for h, why in _LOST.items()))
    depth = max(d for d, _ in seen.values())
    if depth >= 0:
        preferred = min((h for h, (d, _) in seen.items() if d == depth), key=lambda h: seen[h][1])
    else:
        preferred = max(seen, key=lambda h: _rendezvous(spec.repo, h))
    return _spill(seen, preferred)


def _spill(seen: dict[DockerHost | None, tuple[int, int]], preferred: DockerHost | None) -> DockerHost | None:
    """`preferred`, or the idlest surveyed host when `preferred` runs SPILL more sandboxes."""
    idlest = min(seen, key=lambda h: seen[h][1])
    return idlest if seen[preferred][1] - seen[idlest][1] >= SPILL else preferred


def place_image(image: str, settings: Settings) -> DockerHost | None:
    """The host for a sandbox of a built `image` outside the pipeline (an RL episode, its
    grading): the least loaded live host that holds it, unless another runs SPILL fewer
    sandboxes; the image is then moved there from the holder. None (the default engine) when
    no hosts are configured. Raises EngineError when no live host holds the image."""
    if not settings.docker.hosts:
        return None
    seen = {h: s for h in live_hosts(settings) if (s := _survey(h, [image])) is not None}
    holders = [h for h, (depth, _) in seen.items() if depth == 0]
    if not holders:
        raise EngineError(f"no live Docker host holds {image}")
    preferred = min(holders, key=lambda h: seen[h][1])
    chosen = _spill(seen, preferred)
    if chosen != preferred:
        move_images([image], preferred, chosen, settings.docker.registry)
    return chosen


def _survey(host: DockerHost | None, tags: list[str]) -> tuple[int, int] | None:
    """(index of the deepest of `tags` `host` holds, or -1; its load), None when it is lost."""
    try:
        with engine.on_host(host):
            depth = max((i for i, tag in enumerate(tags) if engine.image_exists(tag)), default=-1)
            return depth, engine.running_sandboxes() + _BUSY[host]
    except (EngineError, *engine.ENGINE_ERRORS) as exc:
        _lose(host, f"{type(exc).__name__}: {exc}"[:500])
        return None


def _rendezvous(repo: str, host: DockerHost | None) -> int:
    return int(hashlib.sha256(f"{repo}\0{host.url if host else ''}".encode()).hexdigest()[:16], 16)


def _lose(host: DockerHost | None, why: str) -> None:
    with _LOCK:
        _LOST.setdefault(host, why)


@contextmanager
def _working_on(host: DockerHost | None) -> Iterator[None]:
    with _LOCK:
        _BUSY[host] += 1
    try:
        with engine.on_host(host):
            yield
    finally:
        with _LOCK:
            _BUSY[host] -= 1


def run_placed(spec: EnvSpec, settings: Settings,
               work: Callable[[], T]) -> tuple[T, DockerHost | None, dict[str, str]]:
    """Run `work` (a candidate's builds and validation) on the host `place` picks, its layers
    brought there first; again on another host while the one it ran on stops answering.

    Returns the result, the host it came from, and the hosts lost on the way (name -> why).
    With no hosts configured, the result (or exception) stands as it is; when every configured
    host is lost, raises EngineError (the candidate has no verdict: the next run retries it)."""
    engine.use_hosts(settings.docker.hosts)  # this may be a worker process of its own
    lost: dict[str, str] = {}
    while True:
        host = place(spec, settings)
        with _working_on(host):
            try:
                if settings.docker.hosts:
                    bring_layers(host, spec, settings)
                result, error = work(), None
            except Exception as exc:  # noqa: BLE001 - judged below: the host's fault or the work's
                result, error = None, exc
            why = _gone(host) if host is not None else ""
        if not why:
            if error is not None:
                raise error
            return result, host, lost
        _lose(host, why)
        lost[host.name] = why
        if not live_hosts(settings):  # what the lost host produced is no verdict on the task
            raise EngineError("every Docker host was lost: " + "; ".join(f"{n}: {w}" for n, w in lost.items()))


def _gone(host: DockerHost) -> str:
    """Why `host` is gone, "" when it answers: two pings a second apart must both fail (a
    loaded engine answers slowly; a stopped one refuses at once)."""
    why = engine.answers(host, PING_S)
    if why:
        time.sleep(1.0)
        why = engine.answers(host, PING_S)
    return why


# -- moving images -------------------------------------------------------------------------------


def chain(spec: EnvSpec, settings: Settings) -> list[str]:
    """Every image `spec` needs, base first: the OS image, then its layers."""
    from envmine.builders.base import os_image_tag

    return [os_image_tag(settings), *[layer.tag for layer in spec.layers]]


def bring_layers(host: DockerHost | None, spec: EnvSpec, settings: Settings) -> list[str]:
    """Copy to `host` the layers of `spec` that another live host holds deeper than `host`
    does (so nothing is rebuilt that exists somewhere); returns the tags moved."""
    tags = chain(spec, settings)
    here = _deepest(host, tags)
    best, source = here, None
    for other in live_hosts(settings):
        if other != host and (depth := _deepest(other, tags)) > best:
            best, source = depth, other
    if source is None:
        return []
    wanted = [t for t in tags[here + 1:best + 1] if _holds(source, t)]
    move_images(wanted, source, host, settings.docker.registry)
    return wanted


def _deepest(host: DockerHost | None, tags: list[str]) -> int:
    try:
        return max((i for i, tag in enumerate(tags) if _holds(host, tag)), default=-1)
    except (EngineError, *engine.ENGINE_ERRORS):
        return -1


def _holds(host: DockerHost | None, tag: str) -> bool:
    with engine.on_host(host):
        return engine.image_exists(tag)


def move_images(tags: list[str], source: DockerHost | None, target: DockerHost | None,
                registry: str | None = None) -> None:
    """Make `tags` (present on `source`) present on `target`: through `registry` (push, pull,
    retag) or one streamed `docker save` into `docker load`. Raises EngineError."""
    if not tags:
        return
    try:
        if registry:
            with engine.on_host(source):
                _push(tags, registry)
            with engine.on_host(target):
                _pull(tags, registry)
        else:
            with engine.on_host(source):
                stream = _save(tags)
            with engine.on_host(target):
                _load(stream)
    except engine.ENGINE_ERRORS as exc:
        raise EngineError(f"moving {', '.join(tags)}: {type(exc).__name__}: {exc}") from exc


def _save(tags: list[str]) -> Iterator[bytes]:
    api = engine.client().api
    response = api._get(api._url("/images/get"), params={"names": tags}, stream=True)
    api._raise_for_status(response)
    return response.iter_content(chunk_size=1 << 20)


def _load(chunks: Iterator[bytes]) -> None:
    for line in engine.client().api.load_image(chunks):
        if isinstance(line, dict) and line.get("error"):
            raise EngineError(f"docker load: {line['error']}")


def _in_registry(tag: str, registry: str) -> tuple[str, str]:
    repository, _, version = tag.rpartition(":")
    return f"{registry}/{repository}", version


def _push(tags: list[str], registry: str) -> None:
    api = engine.client().api
    for tag in tags:
        repository, version = _in_registry(tag, registry)
        api.tag(tag, repository, version)
        _stream_ok(api.push(repository, tag=version, stream=True, decode=True), f"push {tag}")
        api.remove_image(f"{repository}:{version}")  # the registry name only; the image stays


def _pull(tags: list[str], registry: str) -> None:
    api = engine.client().api
    for tag in tags:
        repository, version = _in_registry(tag, registry)
        _stream_ok(api.pull(repository, tag=version, stream=True, decode=True), f"pull {tag}")
        name, _, own_version = tag.rpartition(":")
        api.tag(f"{repository}:{version}", name, own_version)
        api.remove_image(f"{repository}:{version}")


def _stream_ok(lines, what: str) -> None:
    for line in lines:
        if line.get("error"):
            raise EngineError(f"{what}: {line['error']}")


def prepare(settings: Settings, ensure: Callable[[], str]) -> str:
    """Run `ensure` (which makes the base image) on the first live host that answers, then copy
    what it made to every other live host that lacks it; returns `ensure`'s tag. Hosts that
    fail on the way are lost; raises EngineError when none is left."""
    hosts, tag, made_on = live_hosts(settings), None, None
    for host in hosts:
        if host is not None and (why := engine.answers(host)):
            _lose(host, why)
            continue
        with engine.on_host(host):
            tag, made_on = ensure(), host
        break
    if tag is None:
        raise EngineError("no Docker host answers: " + "; ".join(f"{h.name}: {w}" for h, w in _LOST.items() if h))
    for host in live_hosts(settings):
        try:
            if host != made_on and not _holds(host, tag):
                move_images([tag], made_on, host, settings.docker.registry)
        except (EngineError, *engine.ENGINE_ERRORS) as exc:
            _lose(host, f"{type(exc).__name__}: {exc}"[:500])
    return tag
