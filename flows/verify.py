"""The verify flow: re-check curated instances (`validators.verify`) and store each check in
`verifications`. Thin: it selects the instances, runs one task per instance under the same
Docker concurrency limit as the pipeline, and writes the records. Schedule it like the
pipeline (`envmine serve`-style deployments) to catch drift as the world moves on.
"""

from __future__ import annotations

from datetime import datetime, timezone

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from envmine.flows import executors, lifecycle
from envmine.flows.pipeline import DOCKER_LIMIT
from envmine.records import Candidate, TaskInstance, Verification
from envmine.settings import Settings
from envmine.validators.verify import verify_instance


@task(cache_policy=NO_CACHE)
def verify_one(instance: TaskInstance, home: str, run_id: str, candidate: Candidate | None,
               version: int | None) -> Verification:
    with lifecycle.docker_slot(DOCKER_LIMIT):
        return verify_instance(instance, Settings.load(home=home), run_id, candidate, version)


def select(settings: Settings, where: str | None, rebuild: bool):
    """(instances, their candidates when rebuilding, catalog version); `where` filters
    `instances` rows in SQL. A bad `where` raises ValueError with DuckDB's message."""
    from envmine.warehouse.catalog import Catalog

    with Catalog.open(settings.catalog_dir, read_only=True) as catalog:
        version = catalog.version()
        instances = catalog.instances(version)
        if where:
            try:
                ids = set(catalog.sql(f"SELECT instance_id FROM instances WHERE {where}").column(0).to_pylist())
            except Exception as exc:  # duckdb's many error types: the user's SQL is wrong
                raise ValueError(f"--where: {exc}") from None
            instances = [i for i in instances if i.instance_id in ids]
        candidates = {c.instance_id: c for c in catalog.records("candidates")} if rebuild else {}
    return instances, candidates, version


@flow(name="envmine-verify", log_prints=False)
def verify_flow(home: str, where: str | None = None, rebuild: bool = False) -> list[Verification]:
    """Re-check every selected curated instance; returns (and stores) the checks."""
    from envmine.warehouse.catalog import Catalog

    settings = Settings.load(home=home)
    instances, candidates, version = select(settings, where, rebuild)
    run_id = "verify-" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    futures = [verify_one.submit(i, home, run_id, candidates.get(i.instance_id) if rebuild else None, version)
               for i in instances]
    checks = [f.result() for f in futures]
    if checks:
        with Catalog.open(settings.catalog_dir) as catalog:
            catalog.upsert("verifications", checks)
    return checks


def run_verify(settings: Settings, where: str | None = None, rebuild: bool = False) -> list[Verification]:
    """`envmine verify`: the flow on a thread pool sized like the pipeline's, with Prefect's
    server tied to this process. A bad `where` raises ValueError before anything runs."""
    select(settings, where, rebuild)
    runner = executors.task_runner(settings)
    lifecycle.own_server(lifecycle.start_tied_server())
    with lifecycle.stop_on_signals(), executors.api_for_workers(settings):
        return verify_flow.with_options(task_runner=runner)(home=str(settings.home), where=where, rebuild=rebuild)
