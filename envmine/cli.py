"""The `envmine` command line: set up, run the pipeline, query the catalog, train, evaluate."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Callable, Optional, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(help="Mine verified, reproducible RL environments from real repositories.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False)
# Piped output (CI logs, files) gets wide tables instead of rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 200)

T = TypeVar("T")
HomeOpt = Annotated[Optional[Path], typer.Option("--home", help="envmine home (catalog, caches); default $ENVMINE_HOME or ~/.envmine")]


def _home(home: Path | None) -> Path:
    """Resolve the home and make Prefect keep its state there unless the user configured it."""
    from envmine.settings import home_dir

    path = home_dir(home)
    os.environ["ENVMINE_HOME"] = str(path)
    os.environ.setdefault("PREFECT_HOME", str(path / "prefect"))
    os.environ.setdefault("PREFECT_LOCAL_STORAGE_PATH", str(path / "prefect" / "results"))
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    return path


def _load(read: Callable[[Any], T], path: Any) -> T:
    """`read(path)`, or the config's problems printed and exit 2 (a user error, no traceback)."""
    from rich.markup import escape

    try:
        return read(path)
    except (ValueError, FileNotFoundError) as exc:  # ConfigError, bad TOML, a missing file
        console.print(f"[red]config error[/]: {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
                    MofNCompleteColumn(), TextColumn("{task.fields[note]}"), TimeElapsedColumn(),
                    console=console, transient=False)


@app.command()
def setup(home: HomeOpt = None) -> None:
    """Bring up what is missing: a Docker engine and the base images."""
    from envmine.settings import Settings

    settings = Settings.load(home=_home(home))
    script = files("envmine.scripts").joinpath("ensure_docker.sh")
    with console.status("Docker engine"):
        done = subprocess.run(["bash", str(script)], text=True)
    if done.returncode != 0:
        raise typer.Exit(done.returncode)
    from envmine.builders.base import ensure_base_image

    with _progress() as bar:
        task = bar.add_task("base image", total=None, note="")
        tag = ensure_base_image(settings, on_line=lambda line: bar.update(task, note=line[-60:]))
        bar.update(task, total=1, completed=1, note=tag)
    console.print(f"[green]ready[/]: engine up, base image {tag}, home {settings.home}")


@app.command()
def run(
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML run config")] = None,
    git: Annotated[Optional[list[str]], typer.Option("--git", help="local path or clonable URL")] = None,
    pypi: Annotated[Optional[list[str]], typer.Option("--pypi", help="PyPI package name")] = None,
    npm: Annotated[Optional[list[str]], typer.Option("--npm", help="npm package name")] = None,
    crates: Annotated[Optional[list[str]], typer.Option("--crates", help="crates.io crate name")] = None,
    gomod: Annotated[Optional[list[str]], typer.Option("--gomod", help="Go module path")] = None,
    github: Annotated[Optional[list[str]], typer.Option("--github", help="OWNER/REPO")] = None,
    max_candidates: Annotated[Optional[int], typer.Option("--max-candidates", help="per source")] = None,
    force: Annotated[bool, typer.Option("--force", help="redo candidates already in the catalog")] = False,
    home: HomeOpt = None,
) -> None:
    """Run the flow mine -> build -> validate -> catalog (default: the bundled default config)."""
    from envmine.config import DEFAULT_CONFIG, RunConfig, SourceConfig

    path = _home(home)
    extra = [SourceConfig(kind="git", url=u) for u in git or []]
    extra += [SourceConfig(kind="pypi", name=n) for n in pypi or []]
    extra += [SourceConfig(kind="npm", name=n) for n in npm or []]
    extra += [SourceConfig(kind="crates", name=n) for n in crates or []]
    extra += [SourceConfig(kind="gomod", name=n) for n in gomod or []]
    extra += [SourceConfig(kind="github", repo=r) for r in github or []]
    base = _load(RunConfig.from_file, config) if config else (RunConfig() if extra else RunConfig.from_file(DEFAULT_CONFIG))
    cfg = base.with_sources(extra, max_candidates)
    if not cfg.sources:
        raise typer.BadParameter("no sources: give --config or --git/--pypi/...")
    from envmine import progress
    from envmine.flows.executors import ExecutorError
    from envmine.flows.pipeline import run_pipeline

    with _progress() as bar:
        tasks: dict[str, int] = {}

        def show(step: str, n: int, total: int | None, note: str) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(step, total=0, note="")
            if total is not None:
                bar.update(tasks[step], total=(bar.tasks[tasks[step]].total or 0) + total)
            bar.update(tasks[step], advance=n, note=note[-50:])

        with progress.listening(show):
            try:
                counts = run_pipeline(cfg, home=str(path), force=force)
            except ExecutorError as exc:  # the configured cluster: a user error, not a crash
                bar.stop()
                console.print(f"[red]run failed[/]: {exc}", highlight=False)
                raise typer.Exit(2) from None
    _print_counts(counts)


def _print_counts(counts: dict[str, int]) -> None:
    table = Table(title="funnel of this run")
    table.add_column("step")
    table.add_column("count", justify="right")
    for step, n in counts.items():
        table.add_row(step, str(n))
    console.print(table)


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="SQL over the catalog's tables and views")],
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
    home: HomeOpt = None,
) -> None:
    """Query the catalog (read-only; safe while a flow is writing)."""
    from envmine.warehouse.catalog import run_sql
    from envmine.settings import Settings

    if fmt not in ("table", "csv", "json"):
        raise typer.BadParameter("--format must be table, csv or json")
    settings = Settings.load(home=_home(home))
    try:
        result = run_sql(settings.catalog_dir, query)
    except Exception as exc:  # duckdb raises many error types; show the message, not a traceback
        from rich.markup import escape

        console.print(f"[red]query failed[/]: {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    try:
        _print_result(result, fmt)
    except BrokenPipeError:  # `envmine sql ... | head`: the reader left, nothing is wrong
        sys.stderr.close()
        raise typer.Exit(0) from None


def _print_result(result, fmt: str) -> None:
    rows = _plain_rows(result)
    if fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.column_names)
        writer.writerows([_csv_cell(v) for v in row] for row in rows)
    elif fmt == "json":
        import json

        records = [dict(zip(result.column_names, row)) for row in rows]
        sys.stdout.write(json.dumps(records, default=str, indent=1) + "\n")
    else:
        table = Table(show_lines=False)
        for name in result.column_names:
            table.add_column(name, overflow="fold")
        for row in rows:
            table.add_row(*(_cell(v) for v in row))
        console.print(table)
        console.print(f"{result.num_rows} rows")


def _plain_rows(result) -> list[list]:
    """The result's rows as Python values: maps as dicts (Arrow gives key-value pairs), lists
    as lists, structs as dicts, so every format can print any column type."""
    columns = [[_plain(v, col.type) for v in col.to_pylist()] for col in result.columns]
    return [list(row) for row in zip(*columns)] if columns else []


def _plain(value, arrow_type):
    import pyarrow as pa

    if value is None:
        return None
    if pa.types.is_map(arrow_type):
        return {str(k): _plain(v, arrow_type.item_type) for k, v in value}
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type) or pa.types.is_fixed_size_list(arrow_type):
        return [_plain(v, arrow_type.value_type) for v in value]
    if pa.types.is_struct(arrow_type):
        return {f.name: _plain(value.get(f.name), f.type) for f in arrow_type}
    return value


def _csv_cell(value) -> str:
    """A CSV field: lists and maps as JSON, times in ISO 8601, NULL as empty."""
    import json
    from datetime import date, time

    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str, ensure_ascii=False)
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value)


def _cell(value) -> str:
    import json

    if isinstance(value, (list, dict)):
        value = json.dumps(value, default=str, ensure_ascii=False)
    text = "NULL" if value is None else str(value)
    return text if len(text) <= 200 else text[:197] + "..."


def main() -> None:  # pragma: no cover - console entry point
    app()


@app.command()
def serve(
    cron: Annotated[str, typer.Option("--cron", help="cron schedule, e.g. '0 3 * * *'")] = "0 3 * * *",
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML run config")] = None,
    name: Annotated[str, typer.Option("--name", help="deployment name")] = "scheduled",
    home: HomeOpt = None,
) -> None:
    """Create a deployment of the flow with a cron schedule and serve it.

    Schedules fire only against a real Prefect server: start one with `prefect server start`
    and set PREFECT_API_URL (see the README's "Scheduled runs").
    """
    from envmine.config import DEFAULT_CONFIG, RunConfig
    from envmine.flows.pipeline import pipeline

    path = _home(home)
    if not os.environ.get("PREFECT_API_URL"):
        console.print("[yellow]PREFECT_API_URL is not set: schedules only fire against a running "
                      "Prefect server (`prefect server start`).[/]")
    cfg = _load(RunConfig.from_file, config or DEFAULT_CONFIG)
    pipeline.serve(name=name, cron=cron,
                   parameters={"config": cfg.flow_parameters(), "home": str(path)})


@app.command()
def train(
    config: Annotated[Path, typer.Option("--config", help="RL training TOML (see configs/rl/)")],
    max_steps: Annotated[Optional[int], typer.Option("--max-steps", help="stop after this many steps")] = None,
    home: HomeOpt = None,
) -> None:
    """Train a policy with GRPO on the curated set (or a toy environment), resuming checkpoints."""
    from envmine.rl.config import load_train_config

    path = _home(home)
    if not config.is_file():
        raise typer.BadParameter(f"config file not found: {config}")
    cfg = _load(load_train_config, config)
    from envmine.rl.train import train_config

    result = train_config(cfg, home=path, max_steps=max_steps)
    table = Table(title=f"GRPO run {result.run_dir}")
    table.add_column("step", justify="right")
    table.add_column("mean reward", justify="right")
    for step, reward in enumerate(result.mean_rewards, start=1):
        table.add_row(str(step), f"{reward:.3f}")
    console.print(table)
    console.print(f"{result.steps_done} steps done; checkpoints under {result.run_dir}")


@app.command(name="eval")
def evaluate(
    policy: Annotated[str, typer.Option("--policy", help="`gold`, a model name served at --endpoint, or a local model folder")] = "gold",
    endpoint: Annotated[Optional[str], typer.Option("--endpoint", help="OpenAI-compatible base URL (e.g. vLLM serving MiniMax-M2)")] = None,
    k: Annotated[int, typer.Option("-k", help="attempts per task (pass@k)")] = 1,
    limit: Annotated[Optional[int], typer.Option("--limit", help="evaluate at most this many tasks")] = None,
    version: Annotated[Optional[int], typer.Option("--version", help="catalog version to pin (default: current)")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", help="episodes at once")] = 2,
    fmt: Annotated[str, typer.Option("--format", help="minimax_m2 | openai")] = "minimax_m2",
    perturb: Annotated[bool, typer.Option("--perturb/--no-perturb", help="seeded scaffold perturbations per attempt")] = False,
    home: HomeOpt = None,
) -> None:
    """Run a policy over curated tasks in real sandboxes; write pass@k to the catalog."""
    from envmine.rl.evaluate import evaluate as run_eval
    from envmine.rl.evaluate import format_summary
    from envmine.rl.perturb import PerturbConfig

    path = _home(home)
    with console.status(f"evaluating {policy}"):
        report = run_eval(policy, endpoint=endpoint, home=path, k=k, version=version, limit=limit,
                          concurrency=concurrency, fmt_name=fmt,
                          perturb_cfg=PerturbConfig() if perturb else None)
    console.print(format_summary(report))


@app.command()
def verify(
    where: Annotated[Optional[str], typer.Option("--where", help="SQL condition on `instances` rows (e.g. \"language = 'go'\")")] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="also re-plan, rebuild and re-validate each task")] = False,
    home: HomeOpt = None,
) -> None:
    """Re-check curated tasks: gold still resolves, an empty patch still fails; drift goes to `verifications`."""
    from rich.markup import escape

    from envmine.flows.verify import run_verify
    from envmine.settings import Settings

    settings = Settings.load(home=_home(home))
    try:
        checks = run_verify(settings, where=where, rebuild=rebuild)
    except ValueError as exc:
        console.print(f"[red]verify failed[/]: {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    drifted = [c for c in checks if not c.ok]
    for check in drifted:
        console.print(f"{check.instance_id}: {check.drift} {escape(check.detail)}", highlight=False)
    console.print(f"verified {len(checks)} tasks: {len(checks) - len(drifted)} hold, {len(drifted)} drifted")
    if any(c.drift and c.drift != "infra_error" for c in drifted):
        raise typer.Exit(3)


@app.command()
def export(
    out: Annotated[Path, typer.Argument(help="folder for the export and its manifest.json")],
    fmt: Annotated[str, typer.Option("--format", help="shards (trainers) | swebench | hf | jsonl")] = "shards",
    version: Annotated[Optional[int], typer.Option("--version", help="catalog version (default: current)")] = None,
    rows_per_shard: Annotated[int, typer.Option("--rows-per-shard", help="shards only")] = 1000,
    split: Annotated[str, typer.Option("--split", help="split name of a dataset export (SWE-bench reads `test`)")] = "test",
    tag_swebench_names: Annotated[bool, typer.Option("--tag-swebench-names", help="also tag each image swebench/sweb.eval.x86_64.<id>:latest and export that name")] = False,
    curated: Annotated[bool, typer.Option("--curated", help="only the `curated` view's tasks (expert judgments applied); labels in labels.parquet")] = False,
    home: HomeOpt = None,
) -> None:
    """Export the curated instances at a pinned catalog version: Parquet shards for trainers,
    or a dataset that SWE-bench, mini-swe-agent and `datasets` load unchanged."""
    from envmine.builders.engine import EngineError
    from envmine.settings import Settings
    from envmine.warehouse.catalog import Catalog, CatalogError
    from envmine.warehouse.dataset import FORMATS, engine_tagger, export_dataset
    from envmine.warehouse.export import export_shards

    if fmt not in ("shards", *FORMATS):
        raise typer.BadParameter(f"--format must be one of: shards, {', '.join(FORMATS)}")
    settings = Settings.load(home=_home(home))
    try:
        with Catalog.open(settings.catalog_dir, read_only=True) as catalog:
            if fmt == "shards":
                manifest = export_shards(catalog, out, version=version, rows_per_shard=rows_per_shard,
                                         curated=curated)
            else:
                tagger = engine_tagger() if tag_swebench_names else None
                dataset = export_dataset(catalog, out, fmt=fmt, split=split, version=version, tag=tagger,
                                         curated=curated)
    except (CatalogError, EngineError, ValueError) as exc:
        console.print(f"[red]export failed[/]: {exc}")
        raise typer.Exit(1) from None
    if fmt == "shards":
        console.print(f"catalog version {manifest.catalog_version}: {manifest.total_rows} instances in "
                      f"{len(manifest.shards)} shards under {out} (content sha256 {manifest.content_sha256[:16]})")
        return
    console.print(f"catalog version {dataset.catalog_version}: {dataset.total_rows} instances as "
                  f"{fmt} in {out / dataset.files[0].path}")
    from rich.markup import escape

    for row in dataset.refused:  # reasons quote test ids, whose brackets are not markup
        console.print(f"[yellow]left out[/] {escape(row.instance_id)}: {escape(row.reason)}")


@app.command()
def review(
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="port to listen on")] = 8765,
    add_reviewer: Annotated[Optional[str], typer.Option("--add-reviewer", help="create reviewer NAME, print their token, exit")] = None,
    assess_only: Annotated[bool, typer.Option("--assess-only", help="write quality codes and statements, do not serve")] = False,
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML whose settings.review table sets curated thresholds and a statement endpoint")] = None,
    home: HomeOpt = None,
) -> None:
    """The expert review app: quality codes, issue-style statements, judgments, the curated set."""
    from envmine.review import serve as review_serve
    from envmine.settings import Settings, read_config

    settings = _load(lambda path: Settings.load(read_config(path) if path else None, home=_home(home)), config)
    if add_reviewer:
        token = review_serve.add_reviewer(settings, add_reviewer)
        console.print(f"reviewer {add_reviewer!r}; token (shown once): {token}", highlight=False)
        return
    if assess_only:
        from envmine.warehouse.catalog import Catalog

        with Catalog.open(settings.catalog_dir) as catalog:
            counts = review_serve.assess_all(catalog, settings)
        console.print(f"assessed {counts['instances']} instances: {counts['codes']} quality codes, "
                      f"{counts['statements']} statements, {counts['retracted']} stale codes retracted"
                      + (f", {counts['judged']} episodes judged" if "judged" in counts else ""))
        return
    review_serve.serve(settings, host, port, say=lambda text: console.print(text, highlight=False))


@app.command()
def compact(home: HomeOpt = None) -> None:
    """Fold rows still inlined in the catalog's metadata, and small files, into Parquet files.

    Runs do this after writing and every `compact_every_s`; this is for a catalog that other
    writers fill (cron). Older versions stay readable: pinned exports are unaffected."""
    from envmine.settings import Settings
    from envmine.warehouse.catalog import Catalog, CatalogError

    settings = Settings.load(home=_home(home))
    try:
        with Catalog.open(settings.catalog_dir, read_only=True) as catalog:  # never creates one
            before = catalog.version()
        with Catalog.open(settings.catalog_dir) as catalog:
            after, files = catalog.compact(), catalog.data_files()
    except CatalogError as exc:
        console.print(f"[red]compact failed[/]: {exc}")
        raise typer.Exit(1) from None
    listed = ", ".join(f"{name} {n}" for name, n in files.items() if n)
    console.print(f"catalog {settings.catalog_dir}: version {before} -> {after}; Parquet files: {listed or 'none'}",
                  highlight=False)


@app.command()
def report(
    out: Annotated[Path, typer.Option("--out", help="HTML file to write")] = Path("report.html"),
    home: HomeOpt = None,
) -> None:
    """Write the catalog's state as one self-contained HTML file with plots (opens offline)."""
    from envmine.settings import Settings
    from envmine.warehouse.catalog import Catalog, CatalogError
    from envmine.warehouse.report import write_report

    settings = Settings.load(home=_home(home))
    try:
        with Catalog.open(settings.catalog_dir, read_only=True) as catalog:
            path = write_report(catalog, out)
    except (CatalogError, OSError) as exc:
        console.print(f"[red]report failed[/]: {exc}")
        raise typer.Exit(1) from None
    console.print(f"report of catalog {settings.catalog_dir} written to {path} ({path.stat().st_size // 1024} KiB)")
