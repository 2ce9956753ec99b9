"""GRPO-family pieces: leave-one-out advantages, clip-higher, token-level loss under the mask.

Pure functions over rewards and tensors; `train.py` strings them together.

- Advantages: each rollout's reward minus the mean of the *other* rollouts of its task
  (RLOO), optionally divided by the group's std.
- Policy loss: PPO's clipped ratio with an asymmetric range [1 - eps_low, 1 + eps_high]
  ("clip-higher", eps_high > eps_low keeps exploration alive).
- Token level: the loss is summed over every model token in the batch and divided by the
  number of those tokens (long trajectories weigh by their length, not 1/len).
- No KL term by default; with `kl_coef > 0` the k3 estimator against a reference model.
- Trajectories cut by a limit (max turns, tokens, time) are filtered out, and a batch whose
  rewards are all equal raises an alarm: it carries no learning signal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch

from envmine.rl.types import Trajectory

log = logging.getLogger(__name__)


def leave_one_out(rewards: list[float], scale_by_std: bool = False) -> list[float]:
    """RLOO advantages: r_i - mean(r_j, j != i). A group of one has no baseline: 0."""
    n = len(rewards)
    if n < 2:
        return [0.0] * n
    total = sum(rewards)
    adv = [r - (total - r) / (n - 1) for r in rewards]
    if scale_by_std:
        mean = total / n
        std = (sum((r - mean) ** 2 for r in rewards) / (n - 1)) ** 0.5
        adv = [a / (std + 1e-6) for a in adv]
    return adv


def all_equal(rewards: list[float]) -> bool:
    return len(rewards) > 0 and max(rewards) - min(rewards) < 1e-9


@dataclass
class Selection:
    trajectories: list[Trajectory]
    advantages: list[float]
    dropped_truncated: int
    dropped_errors: int
    flat_groups: int
    """Groups whose kept rewards are all equal (zero advantage everywhere)."""
    alarm: bool
    """The whole batch's rewards are equal: this step cannot learn anything."""


def select(groups: list[list[Trajectory]], scale_by_std: bool = False) -> Selection:
    """Drop truncated and failed rollouts, compute advantages per group, raise the alarm."""
    kept, advantages, truncated, errors, flat = [], [], 0, 0, 0
    all_rewards = [t.reward for g in groups for t in g]
    for group in groups:
        usable = [t for t in group if not t.truncated and t.stop_reason != "error" and t.segments]
        truncated += sum(t.truncated for t in group)
        errors += sum(t.stop_reason == "error" for t in group)
        rewards = [t.reward for t in usable]
        flat += all_equal(rewards)
        kept += usable
        advantages += leave_one_out(rewards, scale_by_std)
    alarm = all_equal(all_rewards)
    if alarm:
        log.warning("all %d rewards in this batch are equal (%.3f): no learning signal",
                    len(all_rewards), all_rewards[0] if all_rewards else float("nan"))
    return Selection(kept, advantages, truncated, errors, flat, alarm)


@dataclass
class Batch:
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    loss_mask: torch.Tensor
    """1 where the *target* token (input_ids shifted by one) is the model's own token."""
    advantages: torch.Tensor


def collate(trajs: list[Trajectory], advantages: list[float], pad_id: int, device: Any = "cpu") -> Batch:
    """Right-padded tensors; the loss mask is aligned with next-token targets."""
    width = max(len(t.input_ids) for t in trajs)
    ids = torch.full((len(trajs), width), pad_id, dtype=torch.long)
    attn = torch.zeros((len(trajs), width), dtype=torch.long)
    mask = torch.zeros((len(trajs), width - 1), dtype=torch.float32)
    for row, t in enumerate(trajs):
        seq, m = t.input_ids, t.loss_mask
        ids[row, :len(seq)] = torch.tensor(seq)
        attn[row, :len(seq)] = 1
        mask[row, :len(seq) - 1] = torch.tensor(m[1:], dtype=torch.float32)
    adv = torch.tensor(advantages, dtype=torch.float32)
    return Batch(ids.to(device), attn.to(device), mask.to(device), adv.to(device))


def token_logprobs(model: Any, batch: Batch) -> torch.Tensor:
    """log p(token_t | tokens_<t) for every target position, shape (B, T-1)."""
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits[:, :-1]
    logits = logits.float()
    targets = batch.input_ids[:, 1:]
    return torch.gather(logits.log_softmax(-1), 2, targets.unsqueeze(-1)).squeeze(-1)


@dataclass
class LossConfig:
    eps_low: float = 0.2
    eps_high: float = 0.28
    kl_coef: float = 0.0


def policy_loss(logp: torch.Tensor, old_logp: torch.Tensor, batch: Batch, total_tokens: float,
                cfg: LossConfig, ref_logp: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Clipped token-level surrogate summed under the mask and divided by `total_tokens`.

    `total_tokens` is the number of model tokens in the whole optimizer batch, so that
    micro-batches add up to the token-level mean of the full batch.
    """
    ratio = torch.exp(logp - old_logp)
    adv = batch.advantages.unsqueeze(1)
    clipped = torch.clamp(ratio, 1 - cfg.eps_low, 1 + cfg.eps_high)
    per_token = -torch.minimum(ratio * adv, clipped * adv)
    if cfg.kl_coef > 0 and ref_logp is not None:
        delta = ref_logp - logp
        per_token = per_token + cfg.kl_coef * (torch.exp(delta) - delta - 1)
    mask = batch.loss_mask
    loss = (per_token * mask).sum() / max(total_tokens, 1.0)
    with torch.no_grad():
        n = mask.sum().clamp(min=1)
        clip_frac = (((ratio - clipped).abs() > 1e-6).float() * mask).sum() / n
        stats = {"clip_frac": float(clip_frac), "ratio_mean": float((ratio * mask).sum() / n),
                 "tokens": float(mask.sum())}
    return loss, stats


def update_policy(model: Any, optimizer: Any, selection: Selection, cfg: LossConfig, pad_id: int,
                  micro_batch: int = 4, epochs: int = 1, grad_clip: float = 1.0,
                  ref_model: Any = None) -> dict[str, float]:
    """One optimizer step per epoch over the selected trajectories, in micro-batches.

    Old log-probs are taken from the model before the update (the rollouts are on-policy),
    so the first epoch's ratio is 1 and later epochs are clipped against it.
    """
    device = next(model.parameters()).device
    trajs, advs = selection.trajectories, selection.advantages
    chunks = [(trajs[i:i + micro_batch], advs[i:i + micro_batch]) for i in range(0, len(trajs), micro_batch)]
    batches = [collate(t, a, pad_id, device) for t, a in chunks]
    total = float(sum(b.loss_mask.sum() for b in batches))
    with torch.no_grad():
        old = [token_logprobs(model, b) for b in batches]
        refs = [token_logprobs(ref_model, b) for b in batches] if ref_model is not None and cfg.kl_coef > 0 else None
    stats: dict[str, float] = {}
    model.train()
    for _ in range(epochs):
        optimizer.zero_grad(set_to_none=True)
        loss_sum, clip_sum = 0.0, 0.0
        for i, batch in enumerate(batches):
            loss, s = policy_loss(token_logprobs(model, batch), old[i], batch, total, cfg,
                                  refs[i] if refs else None)
            loss.backward()
            loss_sum += float(loss.detach())
            clip_sum += s["clip_frac"] * s["tokens"]
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        stats = {"loss": loss_sum, "grad_norm": float(norm), "clip_frac": clip_sum / max(total, 1.0),
                 "train_tokens": total}
    model.eval()
    return stats
