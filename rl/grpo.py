"""GRPO-family pieces: group advantages, clip-higher, truncated importance sampling, token-level loss.

Pure functions over rewards and tensors; `train.py` strings them together.

- Advantages: each rollout's reward minus the mean of the *other* rollouts of its task
  (RLOO), optionally divided by the group's std. A group whose rewards are all equal has no
  signal and is skipped before any forward pass (DAPO's dynamic sampling, without resampling).
- Rollouts cut by a limit (turns, tokens, time), `on_truncated`: `penalize` (default: they
  stay in the group with `truncation_penalty` taken off their reward, so running out the clock
  costs), `mask` (DAPO's overlong filtering: they count in the baseline, their tokens are not
  trained on), or `drop` (removed before the baseline). Failed rollouts (an error, or a grade
  marked `infra_error`) are always dropped: they say nothing about the model.
- Policy loss: PPO's clipped ratio with an asymmetric range [1 - eps_low, 1 + eps_high]
  ("clip-higher"). The rollout batch is split into `minibatches`, one optimizer step each, so
  from the second step on the ratio departs from 1 and the clip acts.
- Truncated importance sampling (TIS): where the rollout engine returned its log-probs, each
  token's loss is weighted by exp(old - rollout), capped at `tis_cap` (or masked above it), to
  correct for the sampler/trainer mismatch (TRL's vLLM path does the same).
- Token level: per optimizer step, the loss is summed over the step's model tokens and divided
  by their number. No KL term by default; with `kl_coef > 0` the k3 estimator.
- Log-probs come from the hidden states in chunks of `chunk_tokens` positions, only where the
  loss mask is set, each chunk's logits recomputed in the backward pass: never a full
  (T, vocab) float32 tensor. Logits are divided by the sampling temperature first.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from envmine.rl.types import Trajectory

log = logging.getLogger(__name__)

RESET = "reset"  # the scaffold's marker: the segments after it are a fresh token sequence


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
    """Truncated rollouts not trained on (`drop` or `mask`)."""
    dropped_errors: int
    flat_groups: int
    """Groups whose rewards are all equal: zero advantage everywhere, skipped."""
    alarm: bool
    """The whole batch's rewards are equal: this step cannot learn anything."""
    penalized: int = 0
    """Truncated rollouts whose reward took the truncation penalty."""
    rewards: list[float] = field(default_factory=list)
    """The rewards the advantages were computed from (penalties included), per kept rollout."""


TruncatedPolicy = Literal["penalize", "mask", "drop"]


def select(groups: list[list[Trajectory]], scale_by_std: bool = False, on_truncated: TruncatedPolicy = "penalize",
           truncation_penalty: float = 1.0) -> Selection:
    """Drop failed rollouts, treat truncated ones by `on_truncated`, advantages per group, skip flat groups."""
    kept, advantages, used, truncated, errors, flat, penalized = [], [], [], 0, 0, 0, 0
    all_rewards: list[float] = []
    for group in groups:
        errors += sum(_failed(t) for t in group)
        usable = [t for t in group if not _failed(t) and t.segments]
        if on_truncated == "drop":
            truncated += sum(t.truncated for t in usable)
            usable = [t for t in usable if not t.truncated]
        rewards = [t.reward - truncation_penalty * (on_truncated == "penalize" and t.truncated) for t in usable]
        penalized += sum(t.truncated for t in usable) if on_truncated == "penalize" else 0
        all_rewards += rewards
        if all_equal(rewards):
            flat += 1
            continue
        adv = leave_one_out(rewards, scale_by_std)
        for t, a, r in zip(usable, adv, rewards):
            if t.truncated and on_truncated == "mask":
                truncated += 1
                continue
            kept.append(t)
            advantages.append(a)
            used.append(r)
    alarm = all_equal(all_rewards)
    if alarm:
        log.warning("all %d rewards in this batch are equal (%.3f): no learning signal",
                    len(all_rewards), all_rewards[0] if all_rewards else float("nan"))
    return Selection(kept, advantages, truncated, errors, flat, alarm, penalized, used)


def _failed(t: Trajectory) -> bool:
    """An episode that errored, or whose grade was an infrastructure failure: no signal about the model."""
    return t.stop_reason == "error" or getattr(t, "grade_reason", "") == "infra_error"


@dataclass
class Row:
    """One token sequence to train on: ids, which targets are the model's, the sampler's log-probs."""

    ids: list[int]
    mask: list[int]
    rollout_logprobs: list[float | None]
    advantage: float


def rows(traj: Trajectory, advantage: float) -> list[Row]:
    """The trajectory's token sequences (split at `reset` segments) that hold model tokens."""
    out, current = [], Row([], [], [], advantage)
    for seg in traj.segments + [None]:
        if seg is None or seg.role == RESET:
            if any(current.mask):
                out.append(current)
            current = Row([], [], [], advantage)
            continue
        lps = seg.logprobs if seg.trainable and seg.logprobs is not None and len(seg.logprobs) == len(seg.ids) \
            else [None] * len(seg.ids)
        current.ids += seg.ids
        current.mask += [int(seg.trainable)] * len(seg.ids)
        current.rollout_logprobs += lps
    return out


@dataclass
class Batch:
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    loss_mask: torch.Tensor
    """1 where the *target* token (input_ids shifted by one) is the model's own token."""
    advantages: torch.Tensor
    rollout_logp: torch.Tensor | None = None
    """The sampler's log-prob of each target (0 where unknown), aligned with `loss_mask`."""
    rollout_known: torch.Tensor | None = None
    """1 where `rollout_logp` holds a value."""


def collate(trajs: list[Trajectory] | list[Row], advantages: list[float] | None, pad_id: int,
            device: Any = "cpu") -> Batch:
    """Right-padded tensors; the loss mask is aligned with next-token targets."""
    if trajs and isinstance(trajs[0], Trajectory):
        trajs = [Row(t.input_ids, t.loss_mask, [None] * len(t.input_ids), a) for t, a in zip(trajs, advantages)]
    width = max(len(r.ids) for r in trajs)
    ids = torch.full((len(trajs), width), pad_id, dtype=torch.long)
    attn = torch.zeros((len(trajs), width), dtype=torch.long)
    mask = torch.zeros((len(trajs), width - 1), dtype=torch.float32)
    rollout = torch.zeros((len(trajs), width - 1), dtype=torch.float32)
    known = torch.zeros((len(trajs), width - 1), dtype=torch.float32)
    for row, r in enumerate(trajs):
        n = len(r.ids)
        ids[row, :n] = torch.tensor(r.ids)
        attn[row, :n] = 1
        mask[row, :n - 1] = torch.tensor(r.mask[1:], dtype=torch.float32)
        lps = r.rollout_logprobs[1:]
        known[row, :n - 1] = torch.tensor([lp is not None for lp in lps], dtype=torch.float32)
        rollout[row, :n - 1] = torch.tensor([lp or 0.0 for lp in lps], dtype=torch.float32)
    adv = torch.tensor([r.advantage for r in trajs], dtype=torch.float32)
    return Batch(ids.to(device), attn.to(device), mask.to(device), adv.to(device), rollout.to(device),
                 (known * mask).to(device))


def token_logprobs(model: Any, batch: Batch, temperature: float = 1.0, chunk_tokens: int = 1024) -> torch.Tensor:
    """log p(token_t | tokens_<t) at temperature `temperature`, shape (B, T-1); 0 where the mask is 0.

    From the last hidden states, `chunk_tokens` masked positions at a time through the output
    layer in float32; the backward pass recomputes each chunk's logits from the hidden states
    (only a log-sum-exp per position is kept): peak memory ~ 2 x chunk_tokens x vocab x 4 bytes,
    never a full (T, vocab) tensor. Models without a plain output layer (logit soft-capping) fall
    back to full logits.
    """
    head = _output_layer(model)
    if head is None:
        return _full_logprobs(model, batch, temperature)
    hidden = _decoder(model)(input_ids=batch.input_ids, attention_mask=batch.attention_mask).last_hidden_state
    where = batch.loss_mask.bool()
    states, targets = hidden[:, :-1][where], batch.input_ids[:, 1:][where]
    scale = 1.0 / temperature if temperature > 0 else 1.0
    flat = ChunkedLogprobs.apply(states, targets, head.weight, head.bias, scale, max(chunk_tokens, 1))
    out = torch.zeros(batch.loss_mask.shape, dtype=torch.float32, device=hidden.device)
    return out.masked_scatter(where, flat)


class ChunkedLogprobs(torch.autograd.Function):
    """log_softmax(states @ W.T + b)[targets] * scale, chunk by chunk; backward recomputes the logits."""

    @staticmethod
    def forward(ctx: Any, states: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor,
                bias: torch.Tensor | None, scale: float, chunk: int) -> torch.Tensor:
        out, lse = [], []
        for start in range(0, states.shape[0], chunk):
            logits = _logits(states[start:start + chunk], weight, bias, scale)
            norm = logits.logsumexp(-1)
            out.append(logits.gather(-1, targets[start:start + chunk].unsqueeze(-1)).squeeze(-1) - norm)
            lse.append(norm)
        ctx.save_for_backward(states, targets, weight, bias, torch.cat(lse) if lse else states.new_zeros(0))
        ctx.scale, ctx.chunk = scale, chunk
        return torch.cat(out) if out else states.new_zeros(0, dtype=torch.float32)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        states, targets, weight, bias, lse = ctx.saved_tensors
        want_s, _, want_w, want_b = ctx.needs_input_grad[:4]
        grad_s = torch.zeros_like(states) if want_s else None
        grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if want_w else None
        grad_b = torch.zeros(bias.shape, dtype=torch.float32, device=bias.device) if want_b and bias is not None else None
        for start in range(0, states.shape[0], ctx.chunk):
            end = start + ctx.chunk
            # d logp / d logits = onehot(target) - softmax, times the upstream grad and the scale
            g = _logits(states[start:end], weight, bias, ctx.scale).sub_(lse[start:end, None]).exp_()
            g.mul_(-grad[start:end, None])
            g.scatter_add_(-1, targets[start:end, None], grad[start:end, None].float())
            g.mul_(ctx.scale)
            if grad_s is not None:
                grad_s[start:end] = (g.to(weight.dtype) @ weight).to(states.dtype)
            if grad_w is not None:
                grad_w.addmm_(g.t(), states[start:end].float())
            if grad_b is not None:
                grad_b += g.sum(0)
        return (grad_s, None, grad_w.to(weight.dtype) if grad_w is not None else None,
                grad_b.to(bias.dtype) if grad_b is not None else None, None, None)


def _logits(states: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, scale: float) -> torch.Tensor:
    logits = torch.nn.functional.linear(states, weight, bias).float()
    return logits.mul_(scale) if scale != 1.0 else logits


def _output_layer(model: Any) -> Any:
    config = getattr(model, "config", None)
    if getattr(config, "final_logit_softcapping", None) or not hasattr(model, "get_output_embeddings"):
        return None
    head = model.get_output_embeddings()
    decoder = getattr(model, "model", None)
    return head if isinstance(head, torch.nn.Linear) and decoder is not None else None


def _decoder(model: Any) -> Any:
    return model.model


def _full_logprobs(model: Any, batch: Batch, temperature: float) -> torch.Tensor:
    """The plain path: full logits, float32 log-softmax (kept for models with logit post-processing)."""
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits[:, :-1].float()
    if temperature > 0:
        logits = logits / temperature
    out = torch.gather(logits.log_softmax(-1), 2, batch.input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    return out * batch.loss_mask


TISMode = Literal["token_truncate", "token_mask", "sequence_truncate", "sequence_mask"]


def tis_weights(old_logp: torch.Tensor, batch: Batch, mode: TISMode = "token_truncate",
                cap: float | None = 2.0) -> torch.Tensor:
    """Importance weights exp(old - rollout) per target token, truncated (or masked) above `cap`.

    Tokens whose rollout log-prob is unknown weigh 1; `sequence_*` modes use one ratio per row
    (the product over its known tokens).
    """
    known = batch.rollout_known if batch.rollout_known is not None else torch.zeros_like(batch.loss_mask)
    rollout = batch.rollout_logp if batch.rollout_logp is not None else torch.zeros_like(batch.loss_mask)
    diff = (old_logp - rollout) * known
    if mode.startswith("sequence"):
        diff = diff.sum(-1, keepdim=True).expand_as(diff)
    ratio = torch.exp(diff)
    if cap is not None and cap > 0:
        ratio = ratio.clamp(max=cap) if mode.endswith("truncate") else ratio.masked_fill(ratio > cap, 0.0)
    has_any = known.sum(-1, keepdim=True) > 0 if mode.startswith("sequence") else known > 0
    return torch.where(has_any, ratio, torch.ones_like(ratio)).detach()


@dataclass
class LossConfig:
    eps_low: float = 0.2
    eps_high: float = 0.28
    kl_coef: float = 0.0
    tis_mode: TISMode = "token_truncate"
    tis_cap: float | None = 2.0
    """None or <= 0: no cap (plain importance weights)."""


def policy_loss(logp: torch.Tensor, old_logp: torch.Tensor, batch: Batch, total_tokens: float,
                cfg: LossConfig, ref_logp: torch.Tensor | None = None,
                is_weight: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Clipped token-level surrogate summed under the mask and divided by `total_tokens`.

    `total_tokens` is the number of model tokens in the whole optimizer step, so that
    micro-batches add up to the token-level mean. A token counts as clipped only where the
    clipped term is the one `min` keeps (ratio above 1 + eps_high with A > 0, below 1 - eps_low
    with A < 0): there its gradient is zero.
    """
    ratio = torch.exp(logp - old_logp)
    adv = batch.advantages.unsqueeze(1)
    clipped = torch.clamp(ratio, 1 - cfg.eps_low, 1 + cfg.eps_high)
    per_token = -torch.minimum(ratio * adv, clipped * adv)
    if is_weight is not None:
        per_token = per_token * is_weight
    if cfg.kl_coef > 0 and ref_logp is not None:
        delta = ref_logp - logp
        per_token = per_token + cfg.kl_coef * (torch.exp(delta) - delta - 1)
    mask = batch.loss_mask
    loss = (per_token * mask).sum() / max(total_tokens, 1.0)
    with torch.no_grad():
        n = mask.sum().clamp(min=1)
        high = ((ratio > 1 + cfg.eps_high) & (adv > 0)).float() * mask
        low = ((ratio < 1 - cfg.eps_low) & (adv < 0)).float() * mask
        masked_ratio = ratio[mask.bool()]
        stats = {"clip_frac": float((high + low).sum() / n), "clip_high_frac": float(high.sum() / n),
                 "clip_low_frac": float(low.sum() / n), "ratio_mean": float((ratio * mask).sum() / n),
                 "ratio_max": float(masked_ratio.max()) if masked_ratio.numel() else 1.0,
                 "ratio_min": float(masked_ratio.min()) if masked_ratio.numel() else 1.0,
                 "tokens": float(mask.sum())}
    return loss, stats


@dataclass
class UpdateConfig:
    """How one rollout batch is stepped through (see `update_policy`)."""

    micro_batch: int = 4
    epochs: int = 1
    minibatches: int = 1
    """Optimizer steps per epoch over one rollout batch (each on its share of the rows)."""
    grad_clip: float = 1.0
    temperature: float = 1.0
    chunk_tokens: int = 1024
    seed: int = 0


def update_policy(model: Any, optimizer: Any, selection: Selection, cfg: LossConfig, pad_id: int,
                  micro_batch: int = 4, epochs: int = 1, grad_clip: float = 1.0, ref_model: Any = None,
                  minibatches: int = 1, temperature: float = 1.0, chunk_tokens: int = 1024,
                  seed: int = 0) -> dict[str, Any]:
    """`epochs x minibatches` optimizer steps over the selected trajectories, in micro-batches.

    Old log-probs are the model's before the first step, so the first step's ratio is 1 and
    later steps are clipped against it. No trainable token: no step at all.
    """
    upd = UpdateConfig(micro_batch, epochs, minibatches, grad_clip, temperature, chunk_tokens, seed)
    all_rows = [r for t, a in zip(selection.trajectories, selection.advantages) for r in rows(t, a)]
    if not all_rows:
        return {"optimizer_steps": 0, "train_tokens": 0.0, "update_skipped": "no_trainable_tokens"}
    random.Random(seed).shuffle(all_rows)
    device = next(model.parameters()).device
    size = max(upd.micro_batch, 1)
    batches = [collate(all_rows[i:i + size], None, pad_id, device) for i in range(0, len(all_rows), size)]
    with torch.no_grad():
        old = [token_logprobs(model, b, temperature, chunk_tokens) for b in batches]
        refs = [token_logprobs(ref_model, b, temperature, chunk_tokens) for b in batches] \
            if ref_model is not None and cfg.kl_coef > 0 else None
        weights = [tis_weights(o, b, cfg.tis_mode, cfg.tis_cap) for o, b in zip(old, batches)]
    steps = _split(list(range(len(batches))), max(1, min(upd.minibatches, len(batches))))
    model.train()
    history = [_step(model, optimizer, [(batches[i], old[i], refs[i] if refs else None, weights[i]) for i in step],
                     cfg, upd) for _ in range(upd.epochs) for step in steps]
    model.eval()
    return _summary(history, batches, weights)


def _summary(history: list[dict[str, float]], batches: list[Batch], weights: list[torch.Tensor]) -> dict[str, Any]:
    """The update's metrics: per-step lists where they vary, totals and means otherwise."""
    total = float(sum(b.loss_mask.sum() for b in batches))
    known = float(sum(b.rollout_known.sum() for b in batches))
    w = torch.cat([wt[b.loss_mask.bool()] for wt, b in zip(weights, batches)])
    return {"loss": sum(h["loss"] for h in history) / len(history), "grad_norm": history[-1]["grad_norm"],
            "clip_frac": sum(h["clip_frac"] * h["tokens"] for h in history) / max(sum(h["tokens"] for h in history), 1.0),
            "clip_frac_per_step": [round(h["clip_frac"], 5) for h in history],
            "ratio_mean_per_step": [round(h["ratio_mean"], 6) for h in history],
            "ratio_max": max(h["ratio_max"] for h in history), "ratio_min": min(h["ratio_min"] for h in history),
            "optimizer_steps": len(history), "train_tokens": total, "rollout_logprob_tokens": known,
            "tis_weight_mean": float(w.mean()) if w.numel() else 1.0}


def _split(items: list[int], parts: int) -> list[list[int]]:
    size, extra = divmod(len(items), parts)
    out, start = [], 0
    for p in range(parts):
        end = start + size + (p < extra)
        out.append(items[start:end])
        start = end
    return out


def _step(model: Any, optimizer: Any, parts: list[tuple[Batch, torch.Tensor, Any, torch.Tensor]],
          cfg: LossConfig, upd: UpdateConfig) -> dict[str, float]:
    """One optimizer step over micro-batches; the loss is the token-level mean of the step."""
    total = float(sum(b.loss_mask.sum() for b, _, _, _ in parts))
    optimizer.zero_grad(set_to_none=True)
    loss_sum, sums = 0.0, {"clip_frac": 0.0, "clip_high_frac": 0.0, "clip_low_frac": 0.0, "ratio_mean": 0.0}
    extremes = [1.0, 1.0]
    for batch, old, ref, weight in parts:
        logp = token_logprobs(model, batch, upd.temperature, upd.chunk_tokens)
        loss, s = policy_loss(logp, old, batch, total, cfg, ref, weight)
        loss.backward()
        loss_sum += float(loss.detach())
        for key in sums:
            sums[key] += s[key] * s["tokens"]
        extremes = [max(extremes[0], s["ratio_max"]), min(extremes[1], s["ratio_min"])]
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), upd.grad_clip)
    optimizer.step()
    return {"loss": loss_sum, "grad_norm": float(norm), "tokens": total, "ratio_max": extremes[0],
            "ratio_min": extremes[1], **{k: v / max(total, 1.0) for k, v in sums.items()}}
