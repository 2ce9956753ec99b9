"""Docker fixtures for the validate stage: a self-contained Python toolchain image."""

from __future__ import annotations

import pytest

from envmine.builders.engine import EngineError, client
from envmine.settings import Limits, Settings, ValidationSettings


@pytest.fixture(scope="session")
def toolchain() -> str:
    """Debian trixie + python3 + pytest + git + the `envmine` user, built once per content."""
    try:
        client()
    except EngineError as exc:
        pytest.skip(f"no Docker engine: {exc}")
    import validator_images

    from envmine.builders.base import ensure_base_image

    # The locally built Debian image (debootstrap on first use; `envmine setup` builds it too).
    return validator_images.toolchain_image(ensure_base_image(Settings()))


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path, validation=ValidationSettings(limits=Limits(timeout_s=120)))
