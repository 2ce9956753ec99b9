"""Several Docker engines (builders/hosts.py), for real: the default engine and a second dockerd
the session starts. Images move between them (save | load, and through a real registry),
placement follows a repository's layers and the hosts' load, and spreads repositories that
have no layers anywhere."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import uuid
from contextlib import contextmanager

import pytest
import requests
from base_images import base_tags  # noqa: F401 (a fixture)

from envmine.builders import engine, hosts
from envmine.builders.sandbox import EngineError
from envmine.records import EnvSpec, LayerSpec
from envmine.settings import DockerHost, Limits, Settings
from envmine.testing.net import free_port, wait_for_http

pytestmark = pytest.mark.docker
DEFAULT = DockerHost(url="unix:///var/run/docker.sock")


@pytest.fixture
def two(second_engine, base_tags, tmp_path) -> Settings:
    """Settings with both engines, and the base images on both."""
    if not _holds(second_engine.host, base_tags[-1]):
        hosts.move_images(base_tags, DEFAULT, second_engine.host)
    return Settings(home=tmp_path, docker={"hosts": [DEFAULT.url, second_engine.host.url]})


@pytest.fixture
def scratch_tags():
    """Fresh tags of the base layer (stand-ins for a repository's layers), removed from both
    engines afterwards."""
    made: list[str] = []

    def make(n: int) -> list[str]:
        made.extend(f"envmine-test/hosts:{uuid.uuid4().hex[:12]}" for _ in range(n))
        return made[-n:]

    yield make
    for host in engine.known_hosts() + [DEFAULT, DockerHost(url="unix:///run/envmine-dockerd2.sock")]:
        with engine.on_host(host):
            for tag in made:
                try:
                    engine.remove_image(tag)
                except Exception:  # noqa: BLE001 - a stopped engine holds nothing to remove
                    pass


def _holds(host: DockerHost, tag: str) -> bool:
    with engine.on_host(host):
        return engine.image_exists(tag)


def _image_id(host: DockerHost, tag: str) -> str:
    with engine.on_host(host):
        return engine.client().images.get(tag).id


def _tag_on(host: DockerHost, source: str, tags: list[str]) -> None:
    with engine.on_host(host):
        for tag in tags:
            engine.tag_image(source, tag)


def _spec(repo: str, toolchain: str, env: str) -> EnvSpec:
    layers = [LayerSpec(name="toolchain", dockerfile="", tag=toolchain),
              LayerSpec(name="repo", dockerfile="", tag=env), LayerSpec(name="task", dockerfile="", tag=env + "-task")]
    return EnvSpec(instance_id=f"{repo}-1", repo=repo, language="python", base_commit="0" * 40, layers=layers,
                   test_command="true", runner="pytest")


def _tiny_image(tag: str) -> str:
    """A one-file image made on the default engine (`docker import`): quick to move."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        payload = uuid.uuid4().bytes * 4096
        info = tarfile.TarInfo("payload.bin")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    with engine.on_host(DEFAULT):
        engine.import_rootfs(tag, data.getvalue())
    return tag


def test_save_and_load_moves_images_with_their_identity(two, second_engine, scratch_tags):
    first, second = scratch_tags(2)
    _tiny_image(first)
    _tag_on(DEFAULT, first, [second])
    hosts.move_images([first, second], DEFAULT, second_engine.host)
    assert _image_id(second_engine.host, first) == _image_id(DEFAULT, first)
    assert _image_id(second_engine.host, second) == _image_id(DEFAULT, first)


@pytest.fixture
def registry(tmp_path):
    """Debian's docker-registry on a free loopback port (engines reach 127.0.0.0/8 registries
    over plain HTTP without configuration)."""
    if shutil.which("docker-registry") is None:
        pytest.skip("Debian's docker-registry is not installed (.ci/run installs it)")
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {tmp_path / 'blobs'}\n"
                      f"http:\n  addr: 127.0.0.1:{port}\n")
    proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/v2/", timeout_s=30)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_images_move_through_a_registry(two, second_engine, scratch_tags, registry):
    (tag,) = scratch_tags(1)
    _tiny_image(tag)
    hosts.move_images([tag], DEFAULT, second_engine.host, registry)
    assert _image_id(second_engine.host, tag) == _image_id(DEFAULT, tag)
    repository = tag.rpartition(":")[0]
    catalog = requests.get(f"http://{registry}/v2/{repository}/tags/list", timeout=5).json()
    assert catalog["tags"] == [tag.rpartition(":")[2]]  # it went through the registry
    for host in (DEFAULT, second_engine.host):  # and no registry-named tag is left behind
        assert not _holds(host, f"{registry}/{tag}")


def test_a_repository_goes_where_its_layers_are(two, second_engine, base_tags, scratch_tags):
    toolchain, env = scratch_tags(2)
    _tag_on(DEFAULT, base_tags[-1], [toolchain])
    _tag_on(second_engine.host, base_tags[-1], [toolchain, env])
    assert hosts.place(_spec("acme/widgets", toolchain, env), two) == second_engine.host
    # only the toolchain anywhere: the deepest layer ties, the idler host wins
    other_env = scratch_tags(1)[0]
    with _busier(second_engine.host, than=DEFAULT, by=3, image=base_tags[-1]):
        assert hosts.place(_spec("acme/gadgets", toolchain, other_env), two) == DEFAULT


@contextmanager
def _busier(host: DockerHost, than: DockerHost, by: int, image: str):
    """`host` runs `by` more envmine sandboxes than `than` for the block (the default engine is
    shared: other tests' sandboxes count as its load too, so `by` leaves a margin)."""
    with engine.on_host(than):
        others = engine.running_sandboxes()
    with engine.on_host(host):
        here = engine.running_sandboxes()
    backend = engine.DockerBackend(host)
    boxes = [backend.start(image, Limits()) for _ in range(max(others + by - here, 0))]
    try:
        yield
    finally:
        for box in boxes:
            box.close()


def test_a_busy_host_gives_a_repository_away_and_its_layers_follow(two, second_engine, base_tags, scratch_tags):
    toolchain, env = scratch_tags(2)
    _tag_on(second_engine.host, base_tags[-1], [toolchain, env])
    spec = _spec("acme/widgets", toolchain, env)
    with _busier(second_engine.host, than=DEFAULT, by=hosts.SPILL + 2, image=base_tags[-1]):
        assert hosts.place(spec, two) == DEFAULT
    assert hosts.bring_layers(DEFAULT, spec, two) == [toolchain, env]
    assert _image_id(DEFAULT, env) == _image_id(second_engine.host, env)


def test_repositories_without_layers_spread_over_the_hosts_and_stay_put(two, second_engine, scratch_tags):
    toolchain, env = scratch_tags(2)  # on no host
    specs = [_spec(f"acme/repo{i}", toolchain, env) for i in range(16)]
    placed = [hosts.place(spec, two) for spec in specs]
    assert set(placed) == {DEFAULT, second_engine.host}
    assert [hosts.place(spec, two) for spec in specs] == placed  # the same host every time


def test_with_every_host_gone_a_candidate_gets_no_verdict(tmp_path):
    settings = Settings(home=tmp_path, docker={"hosts": ["unix:///run/envmine-no-such-engine.sock"]})
    with pytest.raises(EngineError, match="no Docker host answers.*envmine-no-such-engine"):
        hosts.run_placed(_spec("acme/widgets", "t:1", "e:1"), settings, lambda: pytest.fail("ran on no host"))


def test_builds_run_on_every_host_after_one_engine_made_its_build_network(two, second_engine, base_tags,
                                                                           scratch_tags):
    first, second = scratch_tags(2)
    dockerfile = f"FROM {base_tags[-1]}\nRUN true\n"
    with engine.on_host(DEFAULT):
        assert engine.build_image(first, dockerfile, timeout_s=300).ok
    with engine.on_host(second_engine.host):
        outcome = engine.build_image(second, dockerfile, timeout_s=300)
    assert outcome.ok, outcome.error
    assert _holds(second_engine.host, second) and not _holds(DEFAULT, second)


def test_each_engine_has_its_own_build_bridge_and_the_default_one_keeps_its_dns(two, second_engine, base_tags,
                                                                                  scratch_tags):
    """Two engines on one machine share the network namespace: were both build networks the same
    Linux bridge, the second would take the first's address and its builds would lose DNS."""
    first, second = scratch_tags(2)
    probe = f"FROM {base_tags[-1]}\nRUN getent hosts pypi.org\n"
    with engine.on_host(second_engine.host):
        assert engine.build_image(second, probe, timeout_s=300).ok
        theirs = engine.client().networks.get(engine.BUILD_NETWORK).attrs["Options"]
    with engine.on_host(DEFAULT):
        ours = engine.client().networks.get(engine.BUILD_NETWORK).attrs["Options"]
        outcome = engine.build_image(first, probe, timeout_s=300)
    assert theirs["com.docker.network.bridge.name"] != ours["com.docker.network.bridge.name"]
    assert outcome.ok, outcome.log[-2000:]


def test_a_new_run_probes_the_hosts_an_earlier_run_lost(tmp_path):
    settings = Settings(home=tmp_path, docker={"hosts": ["unix:///run/envmine-no-such-engine.sock"]})
    with pytest.raises(EngineError):
        hosts.run_placed(_spec("acme/widgets", "t:1", "e:1"), settings, lambda: pytest.fail("ran on no host"))
    assert hosts.live_hosts(settings) == []
    hosts.start_run(settings)
    assert hosts.live_hosts(settings) == settings.docker.hosts
    assert engine.placed_host() == settings.docker.hosts[0]
    hosts.start_run(Settings(home=tmp_path))
    assert engine.placed_host() is None
