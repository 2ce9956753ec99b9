"""The main flow: mine -> build -> validate -> catalog -> quality codes, over the sources of a
run config (the codes are the review stage's, so they exist before anyone opens the app).

Thin wiring: each task calls one library function of a stage. The flow sets retries where an
outside service can fail (registries, GitHub), a concurrency limit on Docker work, and caching
keyed by content, so a rerun skips finished work. Catalog writes happen in the flow's own
thread: each candidate's outcome is acknowledged into a local fsynced spool and reaches the
lake in batched transactions (`warehouse.ingest`), so a crash loses only the items in flight;
after a run that wrote anything, the catalog is compacted into Parquet files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed

from envmine import progress
from envmine.flows import executors, lifecycle, sources
from envmine.config import RunConfig, SourceConfig
from envmine.miners.github.settings import GithubSettings
from envmine.records import Build, Candidate, EnvSpec, Reject, TaskInstance, TestRun, content_key
from envmine.reasons import Reason, Stage
from envmine.settings import Settings

DOCKER_LIMIT = "envmine-docker"

@dataclass
class Outcome:
    """What building and validating one candidate produced."""

    instance_id: str
    builds: list[Build] = field(default_factory=list)
    runs: list[TestRun] = field(default_factory=list)
    instance: TaskInstance | None = None
    reject: Reject | None = None


def _candidate_cache_key(_context: Any, parameters: dict[str, Any]) -> str:
    """Content key of a candidate and the settings that shape its environment."""
    c: Candidate = parameters["candidate"]
    s: Settings = parameters["settings"]
    return "envmine-" + content_key(
        c.instance_id, c.repo_url, c.base_commit, c.patch, c.test_patch,
        s.docker.model_dump_json(exclude={"hosts", "registry"}), s.validation.model_dump_json(), length=32,
    )


def _worth_retrying(_task: Any, _run: Any, state: Any) -> bool:
    """Retry only what can pass later: network and server errors, not a missing repository or
    package (errors that know say so with `retryable`)."""
    exc = state.result(raise_on_failure=False)
    return getattr(exc, "retryable", not isinstance(exc, (FileNotFoundError, ValueError, KeyError)))


# NO_CACHE: mining reads a changing outside world, and `on_batch` (a closure over the catalog)
# cannot be hashed into a cache key.
@task(retries=3, retry_delay_seconds=[10, 60, 300], retry_condition_fn=_worth_retrying,
      task_run_name="mine {source.label}", cache_policy=NO_CACHE)
def mine_source(source: SourceConfig, settings: Settings, max_candidates: int | None,
                github: GithubSettings, on_batch=None, stored_cursor=None):
    """Mine one source (registries and GitHub can fail transiently: retried with backoff).
    `stored_cursor()` is read on every attempt, so a retry resumes after the batches that the
    failed attempt already stored."""
    cursor = stored_cursor() if stored_cursor else None
    return sources.mine(source, settings, max_candidates, cursor=cursor, github=github,
                        on_batch=on_batch)


@task(retries=3, retry_delay_seconds=[10, 60, 300])
def discover_github(settings: Settings, github: GithubSettings):
    """Repositories named or searched for by the `[github]` section, and those it skipped."""
    from envmine.miners.github.source import discover_github as discover

    return discover(settings, github)


@task(retries=1, retry_delay_seconds=30)
def prepare_base(settings: Settings) -> str:
    from envmine.builders import hosts
    from envmine.builders.base import ensure_base_image

    return hosts.prepare(settings, lambda: ensure_base_image(settings))


# NO_CACHE: the codes read the catalog as it is now; `assess` writes only what changed.
@task(task_run_name="quality codes", cache_policy=NO_CACHE)
def assess_quality(catalog) -> dict[str, int]:
    """Quality codes and template statements for every instance, stale codes retracted; a rerun
    with nothing new writes nothing (model-written statements are left to `envmine review`)."""
    from envmine.review.store import assess

    return assess(catalog)


@task(cache_key_fn=_candidate_cache_key, cache_expiration=timedelta(days=30),
      persist_result=True, task_run_name="build+validate {candidate.instance_id}")
def build_and_validate(candidate: Candidate, settings: Settings, owner: dict[str, str]) -> Outcome:
    """Plan, build and validate one candidate, holding a Docker slot while it works; its
    sandboxes belong to the run `owner` names (`engine.process_labels()` of the run's process),
    in whichever process or worker the executor runs this task."""
    from envmine.builders import engine

    with engine.working_for(owner):
        return _build_and_validate(candidate, settings)


def _build_and_validate(candidate: Candidate, settings: Settings) -> Outcome:
    from envmine.builders import hosts
    from envmine.builders.build import build_env
    from envmine.builders.plan import plan_env
    from envmine.builders.sandbox import EngineError
    from envmine.validators.run import validate

    outcome = Outcome(candidate.instance_id)
    planned = plan_env(candidate, settings)
    if isinstance(planned, Reject):
        outcome.reject = planned
        return outcome
    spec: EnvSpec = planned

    def work() -> Outcome:
        done = Outcome(candidate.instance_id)
        done.builds, done.reject = build_env(spec, settings)
        if done.reject is None:
            result = validate(candidate, spec, settings)
            done.runs, done.instance, done.reject = result.runs, result.instance, result.reject
        return done

    with lifecycle.docker_slot(DOCKER_LIMIT):
        try:
            outcome, host, lost = hosts.run_placed(spec, settings, work)
        except EngineError as exc:  # no Docker host is left: no verdict, the next run retries
            outcome.reject = Reject(stage=Stage.validate, reason=Reason.sandbox_error, subject=candidate.instance_id,
                                    repo=candidate.repo, language=candidate.language, detail=str(exc)[:2000])
            return outcome
    _note_placement(outcome, host, lost)
    if outcome.instance is not None:
        outcome.instance.provenance.update(_cutoff_provenance(spec, outcome.builds))
    return outcome


def _note_placement(outcome: Outcome, host, lost: dict[str, str]) -> None:
    """Say in the instance's provenance which configured Docker host it came from, and in the
    outcome that it ran again after hosts were lost, and why (provenance, or reject detail)."""
    if outcome.instance is not None and host is not None:
        outcome.instance.provenance["docker_host"] = host.name
    if not lost:
        return
    note = "; ".join(f"{name}: {why}" for name, why in lost.items())[:1000]
    if outcome.instance is not None:
        outcome.instance.provenance["hosts_lost"] = note
    elif outcome.reject is not None:
        outcome.reject.detail = f"[ran again after Docker hosts were lost: {note}]\n{outcome.reject.detail}"[:2000]


def _cutoff_provenance(spec: EnvSpec, builds: list[Build]) -> dict[str, str]:
    """The instance's dependency cutoff and how it went (`as_of`, or `newest`: not reproducible)."""
    cutoff = spec.toolchain.get("dependency_cutoff")
    resolution = next((b.dependency_resolution for b in builds if b.dependency_resolution), "")
    return {"dependency_cutoff": cutoff, "dependency_resolution": resolution} if cutoff and resolution else {}


def _processed(catalog) -> set[str]:
    """Candidates already turned into an instance, or rejected by build or validation (an
    infrastructure failure, `sandbox_error`, is no verdict on the task: the next run retries it)."""
    table = catalog.sql(
        "SELECT instance_id AS id FROM instances UNION "
        "SELECT subject AS id FROM rejects WHERE stage IN ('build', 'validate') AND reason <> 'sandbox_error'"
    )
    return set(table.column("id").to_pylist())


def _ensure_docker_limit(limit: int) -> None:
    """The Docker slots exist, and none is still held by a run that died."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(DOCKER_LIMIT, limit)
    freed = lifecycle.reclaim_slots(DOCKER_LIMIT)
    if freed:
        get_run_logger().warning("%d Docker slots were held by runs that are gone: released", freed)


def _start_clean(run_id: str, settings: Settings) -> None:
    """Label this run's containers, and remove the ones that dead runs left."""
    from envmine.builders import engine, hosts

    engine.set_run_id(run_id)
    hosts.start_run(settings)
    left = lifecycle.remove_dead_runs_containers()
    if left:
        get_run_logger().warning("removed %d containers left by runs that are gone: %s", len(left), ", ".join(left))


@flow(name="envmine", log_prints=True)
def pipeline(config: dict[str, Any], home: str | None = None, force: bool = False) -> dict[str, int]:
    """Mine every source in `config`, build and validate each new candidate, catalog it all."""
    from envmine.warehouse.catalog import Catalog
    from envmine.warehouse.ingest import Ingest

    logger = get_run_logger()
    cfg = RunConfig.model_validate(config)
    settings = cfg.settings.at_home(home)
    from prefect.runtime import flow_run

    _start_clean(str(flow_run.id or ""), settings)
    _ensure_docker_limit(settings.docker.concurrency)
    prepare_base(settings)
    counts = {"sources": 0, "candidates": 0, "mine_rejects": 0, "built": 0,
              "validated": 0, "build_rejects": 0, "validate_rejects": 0, "skipped": 0}
    # Prefect's own SIGTERM handler unwinds the flow for ~10 s; ours stops it in about one.
    with (lifecycle.stop_on_signals(), lifecycle.reclaiming(DOCKER_LIMIT),
          Catalog.open(settings.catalog_dir, store=settings.catalog) as catalog,
          Ingest.open(catalog, settings.catalog) as ingest):
        opened_at = catalog.version()
        processed = set() if force else _processed(catalog)
        for source in _all_sources(cfg, settings, catalog):
            limit = source.max_candidates or (cfg.github.max_candidates_per_repo if source.kind == "github"
                                               else None) or cfg.run.max_candidates
            resumable = source.kind == "github"
            try:
                mined = mine_source(source, settings, limit, cfg.github,
                                    on_batch=_batch_writer(catalog) if resumable else None,
                                    stored_cursor=_cursor_reader(catalog, source.repo) if resumable else None)
            except Exception as exc:  # one unreadable source must not stop the others
                logger.error("%s: mining failed: %s", source.label, exc)
                catalog.upsert("rejects", [_source_reject(source, exc)])
                counts["source_errors"] = counts.get("source_errors", 0) + 1
                continue
            counts["sources"] += 1
            counts["candidates"] += len(mined.candidates)
            counts["mine_rejects"] += len(mined.rejects)
            catalog.upsert("candidates", mined.candidates)
            catalog.upsert("rejects", mined.rejects)
            todo = [c for c in mined.candidates if c.instance_id not in processed]
            counts["skipped"] += len(mined.candidates) - len(todo)
            logger.info("%s: %d candidates (%d new), %d rejected while mining",
                        source.label, len(mined.candidates), len(todo), len(mined.rejects))
            progress.advance("validate", 0, total=len(todo), note=source.label)
            _process(todo, settings, ingest, counts, force)
            ingest.flush()
            # The cursor moves only after everything it covers is in the lake.
            catalog.upsert("repos", [mined.repo])
        counts["quality_codes"] = assess_quality(catalog)["codes"]
        if catalog.version() != opened_at:  # a quiet rerun makes no snapshot
            catalog.compact()
    _publish_funnel(counts)
    return counts


def _process(todo: list[Candidate], settings: Settings, ingest, counts: dict[str, int],
             force: bool = False) -> None:
    task_ = build_and_validate.with_options(refresh_cache=True) if force else build_and_validate
    from envmine.builders import engine

    owner = engine.process_labels()
    futures = [task_.submit(c, settings, owner) for c in todo]
    for future in as_completed(futures):
        outcome: Outcome = future.result()
        _store(ingest, outcome)
        if outcome.builds and all(b.status != "failed" for b in outcome.builds):
            counts["built"] += 1
        if outcome.instance is not None:
            counts["validated"] += 1
        if outcome.reject is not None:
            counts[f"{outcome.reject.stage}_rejects"] = counts.get(f"{outcome.reject.stage}_rejects", 0) + 1
        progress.advance("validate", 1, note=outcome.instance_id)


def _store(ingest, outcome: Outcome) -> None:
    """One candidate's outcome, acknowledged whole (it reaches the lake whole, in one batch);
    its verdict replaces any earlier one (a forced rerun that validates retracts the old
    reject, and the reverse)."""
    key = outcome.instance_id
    ingest.commit(
        {"builds": outcome.builds, "validations": outcome.runs,
         "instances": [outcome.instance] if outcome.instance else [],
         "rejects": [outcome.reject] if outcome.reject else []},
        retract={"rejects": [f"{Stage.build}:{key}", f"{Stage.validate}:{key}"],
                 "instances": [] if outcome.instance else [key]},
    )


def _source_reject(source: SourceConfig, exc: Exception) -> Reject:
    return Reject.of(Stage.discover, Reason.source_error, source.label, f"{type(exc).__name__}: {exc}",
                     repo=source.repo or source.name or source.url or "")


def _all_sources(cfg: RunConfig, settings: Settings, catalog) -> list[SourceConfig]:
    """The config's sources, plus the repositories its `[github]` section discovers."""
    found = list(cfg.sources)
    named = any(s.kind == "github" for s in found)
    # `languages` alone also filters the repositories named on the command line: it starts a
    # search only when no repository is named.
    given = cfg.github.model_fields_set
    if cfg.github.query or cfg.github.repos or ("languages" in given and cfg.github.languages and not named):
        repos, skipped = discover_github(settings, cfg.github)
        catalog.upsert("rejects", skipped)
        known = {s.repo for s in found if s.kind == "github"}
        found += [SourceConfig(kind="github", repo=r.repo) for r in repos if r.repo not in known]
    return found


def _batch_writer(catalog):
    """Store each finished batch of a resumable source, its cursor last (crash-safe resume)."""
    def write(repo, batch) -> None:
        catalog.upsert("candidates", batch.candidates)
        catalog.upsert("rejects", batch.rejects)
        catalog.upsert("repos", [repo])
    return write


def _cursor_reader(catalog, repo: str):
    """Reads the stored cursor of an incremental source (GitHub) for `owner/name`."""
    def read() -> str | None:
        rows = catalog.sql("SELECT cursor FROM repos WHERE repo = ? AND cursor IS NOT NULL", [repo])
        return rows.column("cursor")[0].as_py() if rows.num_rows else None
    return read


def _publish_funnel(counts: dict[str, int]) -> None:
    rows = [{"step": step, "count": n} for step, n in counts.items()]
    create_table_artifact(key="envmine-funnel", table=rows, description="This run's funnel")


def run_pipeline(config: RunConfig, home: str | None = None, force: bool = False) -> dict[str, int]:
    """Run the flow on the executor `[settings.executor]` names (default: a thread pool sized
    by the Docker concurrency setting), with Prefect's server tied to this process and
    SIGTERM/SIGINT stopping it within seconds."""
    settings = config.settings.at_home(home)
    runner = executors.task_runner(settings)
    lifecycle.own_server(lifecycle.start_tied_server())
    with lifecycle.stop_on_signals(), executors.api_for_workers(settings):
        return pipeline.with_options(task_runner=runner)(
            config=config.flow_parameters(), home=str(settings.home), force=force,
        )


__all__ = ["Outcome", "pipeline", "run_pipeline"]
