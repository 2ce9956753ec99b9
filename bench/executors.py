"""Executor overhead: the same pipeline run on the local thread pool and on a real Ray cluster
(and optionally a Dask cluster), side by side in one script run.

The input is the end-to-end tests' tiny git repositories (a bug fix that becomes a task, a fix
that breaks another test, a repository without tests): one instance, the rest rejects. After
one untimed warm-up run that builds the images, each round runs every executor once, in
rotating order, with a fresh home and `force` (nothing reused from the catalog or Prefect's
cache; the Docker images are reused by their content tags, as in any rerun). The clusters are
started once, before the warm-up, as the executor tests start them (a Ray head plus a second
node, 1 CPU each; a Dask scheduler plus two worker processes), so the times are those of a
run against a cluster that is already up. Every timed run's catalog must equal the warm-up's
(same instances, F2P/P2P and rejects) before its time counts.

    .venv/bin/python bench/executors.py [--rounds 3] [--executors local,ray,dask]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

# As `envmine run` does: Prefect's state in a folder of its own, its server started by the run.
ROOT = Path(tempfile.mkdtemp(prefix="envmine-bench-executors-"))
os.environ.setdefault("PREFECT_HOME", str(ROOT / "prefect"))
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from envmine.config import RunConfig, SourceConfig  # noqa: E402
from envmine.flows.pipeline import run_pipeline  # noqa: E402
from envmine.testing import executor_clusters, pyrepos  # noqa: E402
from envmine.warehouse.catalog import run_sql  # noqa: E402

SETTINGS = {"validation": {"after_runs": 2, "limits": {"timeout_s": 45}}, "docker": {"concurrency": 2}}


def catalog_of(home: Path) -> dict:
    """The run's results, to check that every executor produced the same catalog."""
    def rows(query: str) -> list:
        return run_sql(home / "catalog", query).to_pylist()

    return {"instances": rows("SELECT instance_id, FAIL_TO_PASS, PASS_TO_PASS FROM instances ORDER BY 1"),
            "rejects": rows("SELECT stage, reason, subject FROM rejects ORDER BY subject, stage")}


def one_run(repos: list[Path], executor: dict, root: Path) -> tuple[float, dict]:
    home = Path(tempfile.mkdtemp(prefix=f"home-{executor['kind']}-", dir=root))
    config = RunConfig(sources=[SourceConfig(kind="git", url=str(r)) for r in repos],
                       settings={**SETTINGS, "executor": executor})
    start = time.monotonic()
    run_pipeline(config, home=str(home), force=True)
    return time.monotonic() - start, catalog_of(home)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--executors", default="local,ray")
    args = parser.parse_args()
    kinds = args.executors.split(",")
    root = ROOT
    repos = [pyrepos.bugfix_repo(root), pyrepos.breaking_fix_repo(root), pyrepos.no_tests_repo(root)]
    times: dict[str, list[float]] = {k: [] for k in kinds}
    with ExitStack() as stack:
        executors = {"local": {"kind": "local"}}
        for kind in kinds:
            if kind != "local":
                started = time.monotonic()
                cluster = executor_clusters.CLUSTERS[kind]
                address = stack.enter_context(cluster(Path(tempfile.mkdtemp(prefix=kind, dir=root))))
                print(f"{kind} cluster at {address} up in {time.monotonic() - started:.1f} s", flush=True)
                executors[kind] = {"kind": kind, "address": address}
        # Untimed: builds the images every later run reuses, and gives the catalog to compare with.
        warmup_s, expected = one_run(repos, executors["local"], root)
        print(f"warm-up (local, builds the images): {warmup_s:.1f} s", flush=True)
        for round_ in range(args.rounds):
            order = kinds[round_ % len(kinds):] + kinds[:round_ % len(kinds)]
            for kind in order:
                seconds, catalog = one_run(repos, executors[kind], root)
                if catalog != expected:
                    raise SystemExit(f"{kind}: the catalog differs from the first run's:\n{catalog}\n{expected}")
                times[kind].append(seconds)
                print(f"round {round_ + 1} {kind}: {seconds:.1f} s", flush=True)
    base = statistics.median(times["local"]) if "local" in times else None
    summary = {k: {"median_s": round(statistics.median(v), 1), "runs_s": [round(x, 1) for x in v],
                   "vs_local": round(statistics.median(v) / base, 2) if base else None} for k, v in times.items()}
    print(json.dumps({"candidates": 3, "instances": len(expected["instances"]), "rejects": len(expected["rejects"]),
                      "executors": summary}, indent=2))


if __name__ == "__main__":
    main()
