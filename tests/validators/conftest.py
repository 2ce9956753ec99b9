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
    from envmine.testing import validator_images

    from envmine.builders.base import ensure_base_image

    # The locally built Debian image (debootstrap on first use; `envmine setup` builds it too).
    return validator_images.toolchain_image(ensure_base_image(Settings()))


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path, validation=ValidationSettings(limits=Limits(timeout_s=120)))


@pytest.fixture(scope="module")
def task(toolchain, tmp_path_factory):
    """The validated "fix" task (instance, its built scenario, settings), once per module."""
    import dataclasses

    from envmine.testing import scenarios

    from envmine.validators.run import validate

    settings = Settings(home=tmp_path_factory.mktemp("home"),
                        validation=ValidationSettings(limits=Limits(timeout_s=120, memory="1g", disk="256m")))
    built = scenarios.build(dataclasses.replace(scenarios.SCENARIOS["fix"]), toolchain,
                            tmp_path_factory.mktemp("repo"))
    outcome = validate(built.candidate, built.spec, settings)
    instance = outcome.instance
    assert instance is not None, (outcome.reject, [r.log[-1500:] for r in outcome.runs])
    assert instance.FAIL_TO_PASS == ["tests/test_add.py::test_add"]
    return instance, built, settings
