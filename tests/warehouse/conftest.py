"""Fixtures for the catalog tests."""

import pytest


@pytest.fixture
def catalog_dir(tmp_path):
    return tmp_path / "catalog"


@pytest.fixture(scope="session")
def lake_services(tmp_path_factory):
    """A throwaway PostgreSQL cluster and S3-compatible server (moto) for this session."""
    from envmine.warehouse.local_services import local_lake

    with local_lake(tmp_path_factory.mktemp("lake")) as lake:
        yield lake


@pytest.fixture
def shared_store(lake_services, request):
    """A `[settings.catalog]` on its own PostgreSQL database and S3 prefix (one per test)."""
    from envmine.settings import CatalogSettings
    from envmine.warehouse.local_services import create_database

    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    return CatalogSettings(metadata=create_database(lake_services.metadata, name),
                           data=f"{lake_services.data}/{name}", endpoint_url=lake_services.endpoint_url)
