"""GRPO over multi-turn agent trajectories — the whole training run, top to bottom.

The algorithm, one step at a time:

1. Take `tasks_per_step` tasks from the shard stream (or the toy task list).
2. Roll out `group_size` episodes per task, concurrently: the model thinks, calls tools,
   thinks again after every answer; each turn's token ids are kept as generated, and a loss
   mask marks the model's own tokens. Each rollout may run under a seeded perturbation.
   With `[reward] rubric > 0`, a judge model scores each graded rollout against the experts'
   rubric and its reward becomes `combined_reward(test reward, rubric score)` (default: the
   test reward alone).
3. Drop failed rollouts; rollouts cut by a limit (turns, tokens, wall time) lose
   `optim.truncation_penalty` (or are masked/dropped, `optim.on_truncated`); skip groups whose
   rewards are all equal (no signal) and warn when the whole batch is.
4. Advantage of a rollout = its reward minus the mean reward of the other rollouts of the same
   task (leave-one-out); no KL penalty unless `optim.kl_coef > 0`.
5. Loss = PPO-clipped ratio with a higher upper clip (clip-higher), weighted by truncated
   importance sampling against the rollout engine's log-probs, summed over the model tokens of
   each optimizer step and divided by their number (token-level); `optim.minibatches` AdamW
   steps per batch. A backend with no trainable tokens (an endpoint) skips the update.
6. Push the new weights to the rollout engine; every `checkpoint.every` steps save model,
   optimizer and data position; write the step's metrics as one JSON line.

Everything reusable lives beside this file (grpo.py, scaffold.py, rollout.py, env.py, ...).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envmine.rl import grpo, perturb, rubric_reward
from envmine.rl.backends.factory import make_backend
from envmine.rl.config import TrainConfig
from envmine.rl.formats import get_format
from envmine.rl.models import load_model
from envmine.rl.rollout import rollout_groups
from envmine.rl.scaffold import EpisodeLimits
from envmine.records import content_key
from envmine.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    run_dir: Path
    steps_done: int
    mean_rewards: list[float] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)


def train_config(cfg: TrainConfig, home: str | Path | None = None, max_steps: int | None = None) -> TrainResult:
    import torch

    settings = Settings.load(home=home)
    run_dir = settings.home / "rl" / "runs" / cfg.run_name
    ckpt_dir = Path(cfg.checkpoint.dir) if cfg.checkpoint.dir else run_dir / "checkpoints"
    run_dir.mkdir(parents=True, exist_ok=True)
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    judge = _rubric_judge(cfg, settings)  # before any model loads: a missing judge fails fast

    # --- model, tokenizer, chat format, rollout engine -------------------------------------
    model, tokenizer = load_model(cfg.model, seed=cfg.seed)
    fmt = get_format(cfg.rollout.format)
    backend = make_backend(cfg.rollout, model, tokenizer, fmt)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    loss_cfg = grpo.LossConfig(cfg.optim.eps_low, cfg.optim.eps_high, cfg.optim.kl_coef,
                               cfg.optim.tis_mode, cfg.optim.tis_cap)
    ref_model = load_model(cfg.model, seed=cfg.seed)[0] if cfg.optim.kl_coef > 0 else None
    limits = EpisodeLimits(**cfg.limits.model_dump())

    # --- tasks and environments -------------------------------------------------------------
    stream, make_env, data_state, pool = _task_stream(cfg, settings)

    # --- resume -----------------------------------------------------------------------------
    start_step = _restore(ckpt_dir, model, optimizer, data_state)
    result = TrainResult(run_dir=run_dir, steps_done=start_step)
    last_step = min(cfg.steps, start_step + max_steps) if max_steps is not None else cfg.steps
    metrics_file = (run_dir / "metrics.jsonl").open("a")
    try:
        for step in range(start_step, last_step):
            t0 = time.monotonic()
            # 1-2. roll out a group per task
            tasks = list(itertools.islice(stream, cfg.rollout.tasks_per_step))
            groups = asyncio.run(_rollouts(cfg, tasks, make_env, backend, fmt, step, limits, tokenizer, pool))
            t_rollout = time.monotonic() - t0
            # 2b. the experts' rubric, scored by the judge, mixed into each reward (when weighted)
            rubric_stats = rubric_reward.rescore(groups, *judge, cfg.reward, cfg.rollout.concurrency) if judge else {}
            tampered = penalise_tampering(groups, cfg.reward.tampering_penalty)
            # 3-4. filter, penalise, advantages, skip flat groups, alarm
            selection = grpo.select(groups, cfg.optim.scale_by_std, cfg.optim.on_truncated,
                                    cfg.optim.truncation_penalty)
            # 5. the policy update (no step without trainable tokens)
            stats = _update(cfg, model, optimizer, selection, loss_cfg, tokenizer, ref_model, step)
            # 6. sync weights, checkpoint, log
            if stats.get("optimizer_steps") and hasattr(backend, "sync_weights"):
                backend.sync_weights(model)
            rewards = [t.reward for g in groups for t in g]
            row = {"step": step + 1, "mean_reward": sum(rewards) / max(len(rewards), 1), "tampered": tampered,
                   "rollouts": len(rewards), "kept": len(selection.trajectories),
                   "dropped_truncated": selection.dropped_truncated, "dropped_errors": selection.dropped_errors,
                   "flat_groups": selection.flat_groups, "all_equal_alarm": selection.alarm,
                   "penalized_truncated": selection.penalized,
                   "rollout_s": round(t_rollout, 3), "step_s": round(time.monotonic() - t0, 3),
                   **rubric_stats, **stats}
            metrics_file.write(json.dumps(row) + "\n")
            metrics_file.flush()
            result.metrics.append(row)
            result.mean_rewards.append(row["mean_reward"])
            result.steps_done = step + 1
            if (step + 1) % cfg.checkpoint.every == 0 or step + 1 == last_step:
                _save(ckpt_dir, step + 1, model, optimizer, data_state)
    finally:
        metrics_file.close()
        if pool is not None:  # warm sandboxes are removed however training ends
            asyncio.run(pool.close())
    return result


def _rubric_judge(cfg: TrainConfig, settings: Settings) -> tuple[Any, list[Any]] | None:
    """(judge, rubric) when `[reward] rubric > 0`, else None; the rubric is the review app's."""
    if cfg.reward.rubric <= 0:
        return None
    judge = cfg.reward.judge
    if judge is None and settings.review.judge_endpoint:
        judge = rubric_reward.JudgeConfig(endpoint=settings.review.judge_endpoint, model=settings.review.judge_model)
    if judge is None:
        raise ValueError("[reward] rubric > 0 needs a judge: a [reward.judge] table (endpoint, model) "
                         "or [settings.review] judge_endpoint and judge_model")
    from envmine.review.fields import load_rubric

    return judge, load_rubric(settings.home / "review")


def _update(cfg: TrainConfig, model: Any, optimizer: Any, selection: Any, loss_cfg: Any, tokenizer: Any,
            ref_model: Any, step: int) -> dict[str, Any]:
    if not selection.trajectories:
        return {"optimizer_steps": 0, "update_skipped": "no_signal"}
    stats = grpo.update_policy(model, optimizer, selection, loss_cfg, tokenizer.pad_token_id,
                               cfg.optim.micro_batch, cfg.optim.epochs_per_batch, cfg.optim.grad_clip,
                               ref_model, cfg.optim.minibatches, cfg.limits.temperature,
                               cfg.optim.chunk_tokens, seed=cfg.seed + step)
    if stats.get("update_skipped") == "no_trainable_tokens":
        log.warning("step %d: no trainable tokens (backend %s generates none here): no optimizer step",
                    step + 1, cfg.rollout.backend)
    return stats


async def _rollouts(cfg: TrainConfig, tasks: list[Any], make_env: Any, backend: Any, fmt: Any, step: int,
                    limits: EpisodeLimits, tokenizer: Any, pool: Any) -> list[list[Any]]:
    """One step's groups; sandbox starts under way finish before this event loop ends."""
    try:
        return await rollout_groups(tasks, cfg.rollout.group_size, make_env, lambda task: backend, fmt,
                                    lambda task, attempt: _setup(cfg, task, step, attempt), limits,
                                    tokenizer, cfg.rollout.concurrency)
    finally:
        if pool is not None:
            await pool.settle()


def _setup(cfg: TrainConfig, task: Any, step: int, attempt: int):
    """Canonical scaffold, or a perturbation seeded by (run seed, step, attempt)."""
    if cfg.env.kind == "toy":
        from envmine.rl.toy import toy_setup

        return toy_setup(task)
    p = None
    if cfg.perturb is not None:
        p = perturb.draw(cfg.perturb, int(content_key(str(cfg.seed), str(step), str(attempt), length=8), 16))
    return perturb.setup_for(task, p, on_no_tool_call=cfg.rollout.on_no_tool_call)


def _task_stream(cfg: TrainConfig, settings: Settings) -> tuple[Iterator[Any], Any, dict[str, Any], Any]:
    """(endless task iterator, environment factory, mutable data-position state, warm pool)."""
    state: dict[str, Any] = {"epoch": 0, "position": 0}
    if cfg.env.kind == "toy":
        from envmine.rl.toy import ToyEnvironment, toy_tasks

        tasks = toy_tasks(cfg.env.toy_tasks)

        def toy_stream() -> Iterator[Any]:
            while True:
                task = tasks[state["position"] % len(tasks)]
                state["position"] += 1
                yield task
        return toy_stream(), ToyEnvironment, state, None

    from envmine.builders import hosts
    from envmine.rl.env import DockerEnvironment, WarmPool
    from envmine.rl.shards import ShardDataset, to_instance

    hosts.start_run(settings)  # episodes spread over `[settings.docker] hosts`
    dataset = ShardDataset.from_manifest(_manifest(cfg, settings), seed=cfg.seed)
    pool = WarmPool(settings.validation.limits, settings.docker.sandbox_user, cfg.env.warm_pool, settings) \
        if cfg.env.warm_pool else None

    def shard_stream() -> Iterator[Any]:
        while True:
            dataset.load_state_dict(state)
            for row in dataset:
                state.update(epoch=row["_epoch"], position=row["_position"] + 1)
                yield to_instance(row)
            state.update(epoch=state["epoch"] + 1, position=0)
    return shard_stream(), lambda: DockerEnvironment(settings, pool), state, pool


def _manifest(cfg: TrainConfig, settings: Settings) -> Path:
    if cfg.env.manifest:
        return Path(cfg.env.manifest)
    from envmine.warehouse.catalog import Catalog
    from envmine.warehouse.export import export_shards

    out = settings.home / "rl" / "shards" / cfg.run_name
    export_shards(Catalog.open(settings.catalog_dir), out, version=cfg.env.catalog_version)
    return out / "manifest.json"


def _save(ckpt_dir: Path, step: int, model: Any, optimizer: Any, data_state: dict[str, Any]) -> None:
    import torch

    ckpt_dir.mkdir(parents=True, exist_ok=True)
    path = ckpt_dir / f"step-{step:06d}.pt"
    torch.save({"step": step, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "data": dict(data_state)}, path)
    (ckpt_dir / "latest.json").write_text(json.dumps({"step": step, "path": path.name}))


def _restore(ckpt_dir: Path, model: Any, optimizer: Any, data_state: dict[str, Any]) -> int:
    import torch

    latest = ckpt_dir / "latest.json"
    if not latest.is_file():
        return 0
    saved = torch.load(ckpt_dir / json.loads(latest.read_text())["path"], weights_only=False)
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    data_state.update(saved["data"])
    log.info("resumed from step %d", saved["step"])
    return int(saved["step"])


def penalise_tampering(groups: list[list[Any]], penalty: float) -> int:
    """Subtract `penalty` from every rollout that tried to change protected paths; returns how
    many did (reported as `tampered` in metrics.jsonl whatever the penalty)."""
    tampered = [t for g in groups for t in g if getattr(t, "tampering", None)]
    for t in tampered:
        t.reward -= penalty
    return len(tampered)
