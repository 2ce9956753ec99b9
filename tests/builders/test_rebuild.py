"""`envmine verify --rebuild` builds a task's layers again from nothing: every step runs anew
(the builder's cache would reuse each one), under scratch tags that leave the recorded images
alone, and the scratch images go afterwards. Real builds of two tiny layers."""

from __future__ import annotations

import pytest

from envmine.builders import engine
from envmine.builders.build import build_env, rebuilt_env, scratch_spec
from envmine.records import EnvSpec, LayerSpec
from envmine.settings import Settings

pytestmark = [pytest.mark.docker]

STEP = "RUN head -c 16 /dev/urandom | od -An -tx1 > /layer-{name}\n"
"""A step whose result differs each time it really runs."""


def _os_image() -> str:
    tags = [t for image in engine.client().images.list("envmine/os") for t in image.tags]
    if not tags:
        pytest.skip("no envmine/os image (run `envmine setup`)")
    return tags[0]


@pytest.fixture
def spec(tmp_path):
    base = _os_image()
    toolchain = LayerSpec(name="toolchain", dockerfile=f"FROM {base}\n" + STEP.format(name="toolchain"),
                          tag=f"envmine-test/rebuild-toolchain:{tmp_path.name}", parent=base)
    repo = LayerSpec(name="repo", dockerfile=f"FROM {toolchain.tag}\n" + STEP.format(name="repo"),
                     tag=f"envmine-test/rebuild-repo:{tmp_path.name}", parent=toolchain.tag)
    spec = EnvSpec(instance_id="local__rebuild-1", repo="local/rebuild", language="python",
                   base_commit="0" * 40, layers=[toolchain, repo], test_command="true", runner="pytest")
    yield spec
    for layer in reversed(spec.layers):
        engine.remove_image(layer.tag)


def _ids(spec: EnvSpec) -> dict[str, str]:
    return {layer.tag: engine.client().images.get(layer.tag).id for layer in spec.layers}


def _drop(spec: EnvSpec) -> None:
    for layer in reversed(spec.layers):
        engine.remove_image(layer.tag)


def test_the_builder_cache_would_reuse_every_step(spec, tmp_path):
    """Control: the same recipe under other tags, built as builds normally are, runs nothing."""
    settings = Settings(home=tmp_path / "home")
    assert build_env(spec, settings)[1] is None
    cached = scratch_spec(spec)
    try:
        builds, reject = build_env(cached, settings)
        assert reject is None, reject
        assert all("Using cache" in build.log for build in builds)
        assert set(_ids(cached).values()) == set(_ids(spec).values())
    finally:
        _drop(cached)


def test_a_rebuild_runs_every_step_again_beside_the_recorded_images(spec, tmp_path):
    settings = Settings(home=tmp_path / "home")
    assert build_env(spec, settings)[1] is None
    recorded = _ids(spec)
    marker = engine.read_image_file(spec.image, "/layer-repo")
    with rebuilt_env(spec, settings) as (scratch, builds, reject):
        assert reject is None, reject
        assert [build.status for build in builds] == ["built", "built"]
        assert not any("Using cache" in build.log for build in builds)
        assert scratch.layers[1].parent == scratch.layers[0].tag  # built on the rebuilt toolchain
        assert set(_ids(scratch).values()).isdisjoint(recorded.values())
        assert engine.read_image_file(scratch.image, "/layer-repo") != marker  # the step ran again
    assert not any(engine.image_exists(layer.tag) for layer in scratch.layers)
    assert _ids(spec) == recorded
