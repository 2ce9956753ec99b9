"""Evaluation: run a policy k times on every curated task, write one `Evaluation` per attempt
to the catalog, and report pass@1 and pass@k per language and per perturbation.

Each attempt is also recorded as an episode (its messages and final diff, `episodes` and
`episode_steps`), so the review app's trajectory pages show real evaluation episodes.

`gold` submits each task's gold patch through the same tools a model uses: every curated task
must score 1.0 — the sanity check to run before spending GPU hours. Any other policy name is a
model: served at `endpoint` (OpenAI-compatible), or else a local model folder run with
transformers.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from math import comb
from pathlib import Path
from typing import Any

from envmine.records import Evaluation, TaskInstance, content_key
from envmine.rl import perturb
from envmine.rl.backends.base import Backend
from envmine.rl.formats import get_format
from envmine.rl.perturb import PerturbConfig
from envmine.rl.reward import INFRA_ERROR
from envmine.rl.rollout import rollout_groups
from envmine.rl.scaffold import EpisodeLimits
from envmine.rl.types import Trajectory
from envmine.settings import Settings


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n attempts of which c passed (Chen et al. 2021)."""
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def summarize(evals: Iterable[Evaluation], k: int) -> dict[str, dict[str, dict[str, float]]]:
    """{"all"|"language"|"perturbation": {value: {"pass@1", "pass@k", "tasks", "attempts"}}}.

    Per perturbation, pass@1 is the share of attempts under that perturbation that resolved.
    Attempts whose grading failed for want of a sandbox (`infra_error`) count for neither the
    model nor the task: they are left out, and `summary["infra_errors"]` counts them.
    """
    out: dict[str, dict[str, dict[str, float]]] = {}
    evals = list(evals)
    infra = [e for e in evals if e.grade_reason == INFRA_ERROR]
    evals = [e for e in evals if e.grade_reason != INFRA_ERROR]
    if infra:
        out["infra_errors"] = {"all": {"attempts": float(len(infra))}}
    for axis, key in (("all", lambda e: "all"), ("language", lambda e: e.language or "?"),
                      ("perturbation", lambda e: e.perturbation or "none")):
        by_value: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
        for e in evals:
            by_value[key(e)][e.instance_id].append(e.resolved)
        out[axis] = {value: _scores(tasks, k) for value, tasks in sorted(by_value.items())}
    return out


def _scores(tasks: dict[str, list[bool]], k: int) -> dict[str, float]:
    p1 = [pass_at_k(len(r), sum(r), 1) for r in tasks.values()]
    pk = [pass_at_k(len(r), sum(r), min(k, len(r))) for r in tasks.values()]
    return {"pass@1": sum(p1) / len(p1), f"pass@{k}": sum(pk) / len(pk),
            "tasks": float(len(tasks)), "attempts": float(sum(len(r) for r in tasks.values()))}


@dataclass
class EvalReport:
    run_id: str
    model: str
    catalog_version: int | None
    evaluations: list[Evaluation] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    written: int = 0
    episodes_written: int = 0
    """Rows of `episodes` and `episode_steps` written (what the review app's trajectory pages show)."""


def to_evaluations(run_id: str, model: str, groups: list[list[Trajectory]],
                   catalog_version: int | None) -> list[Evaluation]:
    """One record per attempt (its reward, turns, tokens, wall time, perturbation)."""
    return [Evaluation(
        run_id=run_id, model=model, instance_id=t.instance_id, attempt=attempt, reward=t.reward,
        resolved=t.resolved, language=t.language, perturbation=t.perturbation_name, turns=t.turns,
        tokens=t.tokens, wall_s=round(t.wall_s, 3), stop_reason=t.stop_reason,
        tampering=list(t.tampering), grade_reason=t.grade_reason, catalog_version=catalog_version)
        for group in groups for attempt, t in enumerate(group)]


async def run_evaluation(instances: list[TaskInstance], policy: str, settings: Settings, k: int = 1,
                         endpoint: str | None = None, fmt_name: str = "minimax_m2",
                         perturb_cfg: PerturbConfig | None = None, concurrency: int = 2,
                         limits: EpisodeLimits | None = None, warm_pool: int = 0) -> list[list[Trajectory]]:
    """k attempts of `policy` on every instance, in Docker; attempt a runs under perturbation seed a."""
    from envmine.builders import hosts
    from envmine.rl.env import DockerEnvironment, WarmPool

    hosts.start_run(settings)  # episodes spread over `[settings.docker] hosts`
    fmt = get_format(fmt_name)
    backend_for, tokenizer = _policy(policy, endpoint, fmt)
    pool = WarmPool(settings.validation.limits, settings.docker.sandbox_user, warm_pool, settings) if warm_pool else None

    def setup_for(task: Any, attempt: int):
        p = perturb.draw(perturb_cfg, attempt) if perturb_cfg is not None else None
        return perturb.setup_for(task, p)

    try:
        return await rollout_groups(instances, k, lambda: DockerEnvironment(settings, pool), backend_for,
                                    fmt, setup_for, limits or EpisodeLimits(), tokenizer, concurrency)
    finally:
        if pool is not None:
            await pool.close()


def _policy(policy: str, endpoint: str | None, fmt: Any) -> tuple[Any, Any]:
    """(backend for a task, tokenizer or None)."""
    if policy == "gold":
        from envmine.rl.policies import gold

        return gold, None
    if endpoint:
        from envmine.rl.backends.openai_compat import OpenAICompatBackend

        # Thinking goes back inside content (`<think>…</think>`), as MiniMax-M2 expects, so every
        # earlier turn's reasoning stays in the history the server renders.
        backend: Backend = OpenAICompatBackend(endpoint, model=policy, think_in_content=True)
        return (lambda task: backend), None
    from envmine.rl.backends.transformers_cpu import TransformersBackend
    from envmine.rl.config import ModelConfig
    from envmine.rl.models import load_model

    model, tok = load_model(ModelConfig(kind="pretrained", path=policy))
    local = TransformersBackend(model, tok, [fmt.end_of_turn])
    return (lambda task: local), tok


def evaluate(policy: str, endpoint: str | None = None, home: str | Path | None = None, k: int = 1,
             version: int | None = None, instance_ids: list[str] | None = None, limit: int | None = None,
             concurrency: int = 2, perturb_cfg: PerturbConfig | None = None, fmt_name: str = "minimax_m2",
             limits: EpisodeLimits | None = None, run_id: str | None = None, write: bool = True) -> EvalReport:
    """`envmine eval --policy gold|MODEL [--endpoint URL]`: evaluate on the curated set
    (at catalog `version`), write the attempts to the catalog's `evaluations` and, for the
    review app, `episodes`; summarize."""
    from envmine.warehouse.catalog import Catalog

    settings = Settings.load(home=home)
    with Catalog.open(settings.catalog_dir) as catalog:
        version = catalog.version() if version is None else version
        instances = [i for i in catalog.instances(version) if not instance_ids or i.instance_id in instance_ids]
    instances = instances[:limit] if limit else instances
    perturb_key = json.dumps(perturb_cfg.model_dump(), sort_keys=True) if perturb_cfg else ""
    run_id = run_id or f"eval-{content_key(policy, endpoint or '', str(version), str(k), perturb_key, fmt_name)}"
    groups = asyncio.run(run_evaluation(instances, policy, settings, k, endpoint, fmt_name, perturb_cfg,
                                        concurrency, limits))
    report = EvalReport(run_id, policy, version, to_evaluations(run_id, policy, groups, version))
    report.summary = summarize(report.evaluations, k)
    if write and report.evaluations:
        from envmine.review.store import record_episodes

        with Catalog.open(settings.catalog_dir) as catalog:
            report.written = catalog.upsert("evaluations", report.evaluations)
            # The same attempts as episodes (messages, final diff) for the review app's pages.
            report.episodes_written = record_episodes(catalog, run_id, policy, instances, groups)
    return report


def format_summary(report: EvalReport) -> str:
    """The report as a small text table for the CLI (one line per slice)."""
    lines = [f"run {report.run_id}  model {report.model}  catalog version {report.catalog_version}  "
             f"attempts {len(report.evaluations)}  written {report.written}"]
    for axis, slices in report.summary.items():
        for value, scores in slices.items():
            cells = "  ".join(f"{k} {v:.3f}" if k.startswith("pass@") else f"{k} {int(v)}" for k, v in scores.items())
            lines.append(f"{axis:>12} {value:<24} {cells}")
    return "\n".join(lines)
