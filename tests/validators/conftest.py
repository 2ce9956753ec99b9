"""Docker fixtures for the validate stage: a self-contained Python toolchain image."""

from __future__ import annotations

import pytest

from envmine.builders.engine import EngineError, client, image_exists
from envmine.settings import Limits, Settings, ValidationSettings


@pytest.fixture(scope="session")
def toolchain() -> str:
    """Debian trixie + python3 + pytest + git + the `envmine` user, built once per content."""
    try:
        client()
    except EngineError as exc:
        pytest.skip(f"no Docker engine: {exc}")
    if not image_exists("envmine/base:trixie"):
        pytest.skip("base image envmine/base:trixie is missing (envmine setup builds it)")
    import validator_images

    return validator_images.toolchain_image()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path, validation=ValidationSettings(limits=Limits(timeout_s=120)))
