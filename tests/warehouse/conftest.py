"""Fixtures for the catalog tests."""

import pytest


@pytest.fixture
def catalog_dir(tmp_path):
    return tmp_path / "catalog"
