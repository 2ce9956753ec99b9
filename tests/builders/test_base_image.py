"""Base images: the OS image from scratch (debootstrap + import) and its content-addressed tag."""

from __future__ import annotations

import shutil
import uuid

import pytest

from envmine.builders.base import build_os_image, ensure_base_image, os_image_tag, read_ca_bundle
from envmine.settings import DockerSettings, Settings, system_ca_bundle


def test_os_tag_is_content_addressed_on_suite_and_mirror(tmp_path):
    tag = os_image_tag(Settings(home=tmp_path))
    assert tag == os_image_tag(Settings(home=tmp_path))
    other = Settings(home=tmp_path, docker=DockerSettings(debian_mirror="http://mirror.example/debian"))
    assert os_image_tag(other) != tag and os_image_tag(other).startswith("envmine/os:trixie-")


def test_ca_bundle_defaults_to_the_host_bundle_and_is_configurable(tmp_path):
    host = system_ca_bundle()
    assert read_ca_bundle(Settings(home=tmp_path)) == (host.read_text() if host else "")
    extra = tmp_path / "corp.pem"
    extra.write_text("-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n")
    configured = Settings(home=tmp_path, docker=DockerSettings(ca_bundle=str(extra)))
    assert read_ca_bundle(configured) == extra.read_text()


def test_configured_registry_image_is_used_as_is(tmp_path):
    settings = Settings(home=tmp_path, docker=DockerSettings(base_image="registry.example/debian:trixie"))
    assert ensure_base_image(settings) == "registry.example/debian:trixie"


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("debootstrap") is None, reason="debootstrap is not installed")
def test_os_image_builds_from_scratch(docker_engine, tmp_path):
    tag = f"envmine-test/os:scratch-{uuid.uuid4().hex[:8]}"
    try:
        build_os_image(tag, "trixie", "http://deb.debian.org/debian", tmp_path)
        assert docker_engine.image_exists(tag)
        assert (docker_engine.read_image_file(tag, "/etc/debian_version") or b"").startswith(b"13")
        assert docker_engine.read_image_file(tag, "/usr/bin/apt-get") is not None
        assert list(tmp_path.iterdir()) == []  # the root filesystem folder is gone
    finally:
        docker_engine.remove_image(tag)
