"""The images the multi-host tests start sandboxes from: the OS image and envmine's base layer
(bash, coreutils, git, the sandbox user), built on the default engine once per content."""

from __future__ import annotations

import pytest

from envmine.builders import engine
from envmine.builders.base import base_layer, ensure_base_image, read_ca_bundle
from envmine.settings import Settings


@pytest.fixture(scope="session")
def base_tags() -> list[str]:
    """[OS image tag, base layer tag], both present on the default engine."""
    settings = Settings()
    os_tag = ensure_base_image(settings)
    layer = base_layer(settings, read_ca_bundle(settings))
    if not engine.image_exists(layer.tag):
        outcome = engine.build_image(layer.tag, layer.dockerfile, layer.context_files)
        assert outcome.ok, outcome.error
    return [os_tag, layer.tag]
