"""build_env: build each missing layer of an EnvSpec (reuse the rest) into Build records."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from envmine.builders import checkout, engine
from envmine.builders.base import SANDBOX_UID, BaseImageError, ensure_base_image
from envmine.builders.lang_env import classify_build_failure
from envmine.languages import load_language
from envmine.miners.clone import CloneError, ensure_clone
from envmine.reasons import Reason, Stage
from envmine.records import DETAIL_LIMIT, Build, BuildStatus, EnvSpec, LayerSpec, Reject
from envmine.settings import Settings

CUTOFF_PATH = "/opt/envmine/cutoff.txt"
"""Where a repo layer that resolves dependencies as of a date records how that went
(`as_of <date>` or `newest <date>`; see the install commands of python.toml and javascript.toml)."""
FREEZE_PATHS = {"repo": "/opt/envmine/freeze.txt", "task": "/opt/envmine/freeze-task.txt"}
"""Where each layer records `pip freeze` (the task layer's only when it installs the project)."""
SPEC_CLASSIFIED_LAYERS = ("repo", "task")
"""Layers whose failures the language spec's `[build_failures]` patterns classify. Not the
toolchain layer: its log echoes its own commands (Python's names `pip install`), which the
patterns would mistake for a failed dependency install."""


def build_env(spec: EnvSpec, settings: Settings, on_line: Callable[[str], None] | None = None,
              nocache: bool = False) -> tuple[list[Build], Reject | None]:
    """Build (or reuse) every layer of `spec` in order; stop at the first failure with a Reject.

    `nocache` builds every layer again, every step run anew (see `rebuilt_env`)."""
    try:
        ensure_base_image(settings, on_line)
    except (BaseImageError, engine.EngineError) as exc:
        return [], Reject.of(Stage.build, Reason.build_failed, spec, str(exc))
    builds: list[Build] = []
    for layer in spec.layers:
        build = build_layer(spec, layer, settings, on_line, nocache)
        builds.append(build)
        if build.status == BuildStatus.failed:
            return builds, Reject.of(Stage.build, Reason(build.reason), spec, build.log[-DETAIL_LIMIT:])
    return builds, None


def build_layer(spec: EnvSpec, layer: LayerSpec, settings: Settings,
                on_line: Callable[[str], None] | None = None, nocache: bool = False) -> Build:
    """One layer: `reused` when its tag exists (and not `nocache`), else built from its
    Dockerfile and context."""
    record = Build(instance_id=spec.instance_id, layer=layer.name, image=layer.tag, status=BuildStatus.reused)
    if nocache or not engine.image_exists(layer.tag):
        try:
            context = {**layer.context_files, **_extra_context(spec, layer, settings)}
        except (checkout.CheckoutError, CloneError, KeyError, ValueError) as exc:
            record.status, record.reason, record.log = BuildStatus.failed, Reason.checkout_failed, str(exc)
            return record
        outcome = engine.build_image(layer.tag, layer.dockerfile, context,
                                     timeout_s=settings.docker.build_timeout_s, on_line=on_line,
                                     disk=settings.docker.build_disk, nocache=nocache)
        record.duration_s, record.cpu_s, record.log = outcome.duration_s, outcome.cpu_s, outcome.log
        if not outcome.ok:
            record.status = BuildStatus.failed
            record.reason = failure_reason(layer.name, outcome.error, outcome.log, spec.language)
            record.log = (outcome.log + "\n" + outcome.error)[-engine.LOG_TAIL_CHARS:]
            return record
        record.status = BuildStatus.built
    record.size_bytes = engine.image_size(layer.tag)
    if layer.name in FREEZE_PATHS:
        record.resolved = resolved_dependencies(layer.tag, FREEZE_PATHS[layer.name])
    if layer.name == "repo":
        record.dependency_resolution = dependency_resolution(layer.tag)
    return record


@contextmanager
def rebuilt_env(spec: EnvSpec, settings: Settings, on_line: Callable[[str], None] | None = None,
                ) -> Iterator[tuple[EnvSpec, list[Build], Reject | None]]:
    """Every layer of `spec` built again from nothing (no builder cache: each step runs anew and
    asks the registries again) under scratch tags (`scratch_spec`), so the recorded images, which
    other tasks share, stay as they are. Yields (the scratch spec, its builds, a reject or None);
    the scratch images are removed afterwards. An unchanged spec digest says the recipe is the
    same, not that its result is: packages, mirrors and toolchains move under a fixed recipe."""
    scratch = scratch_spec(spec)
    try:
        yield scratch, *build_env(scratch, settings, on_line, nocache=True)
    finally:
        for layer in reversed(scratch.layers):
            engine.remove_image(layer.tag)


def scratch_spec(spec: EnvSpec) -> EnvSpec:
    """`spec` with each layer tagged `<repository>-rebuild:<its hash>-<random>` (two rebuilds of
    tasks that share a layer never share its scratch image) and built FROM its parent's scratch
    tag (a parent outside the spec, the base OS image, stays)."""
    token = secrets.token_hex(4)
    renamed = {layer.tag: "{0}-rebuild:{2}-{token}".format(*layer.tag.rpartition(":"), token=token)
               for layer in spec.layers}
    layers = []
    for layer in spec.layers:
        parent = renamed.get(layer.parent or "", layer.parent)
        dockerfile = layer.dockerfile.replace(f"FROM {layer.parent}\n", f"FROM {parent}\n", 1)
        layers.append(layer.model_copy(update={"tag": renamed[layer.tag], "parent": parent, "dockerfile": dockerfile}))
    return spec.model_copy(update={"layers": layers})


def dependency_resolution(tag: str) -> str:
    """`as_of`, `newest` (the cutoff's set failed; newest versions installed) or "" (no cutoff),
    as the image recorded it."""
    data = engine.read_image_file(tag, CUTOFF_PATH)
    words = (data or b"").decode(errors="replace").split()
    return words[0] if words and words[0] in ("as_of", "newest") else ""


def failure_reason(layer: str, error: str, log: str, language: str) -> Reason:
    """The reason code for a failed build of `layer`, from the engine's error and log tail.

    The language spec's `[build_failures]` patterns decide first (repo and task layers: the
    layers that install dependencies or run the framework's `prepare`). A task-layer failure
    nothing explains gets the spec's `task_failure`; anything else is `build_failed`.
    """
    text = f"{log}\n{error}"
    if error.startswith(engine.DISK_LIMIT_ERROR):
        return Reason.disk_full
    if "exceeded" in error and "build" in error:
        return Reason.build_timeout
    if layer not in SPEC_CLASSIFIED_LAYERS:
        return Reason.build_failed
    try:
        spec = load_language(language)
    except KeyError:  # a language without a spec: the generic rule
        return Reason.build_failed
    reason = classify_build_failure(spec.name, text)
    if reason is not None:
        return reason
    return spec.task_failure if layer == "task" else Reason.build_failed


def resolved_dependencies(tag: str, path: str = FREEZE_PATHS["repo"]) -> list[str]:
    """`pip freeze` lines recorded in an image (empty when the file is absent)."""
    data = engine.read_image_file(tag, path)
    return [line for line in (data or b"").decode().splitlines() if line.strip()]


def _extra_context(spec: EnvSpec, layer: LayerSpec, settings: Settings) -> dict[str, bytes]:
    """Binary context that the tag does not hash directly: /testbed (named by repo + commit)."""
    if layer.name != "task":
        return {}
    mirror = ensure_clone(spec.toolchain["repo_url"], settings.cache_dir, needs=spec.base_commit)
    tar = checkout.testbed_tar(mirror, spec.base_commit, SANDBOX_UID, settings.cache_dir / "testbeds")
    return {"testbed.tar": tar}

