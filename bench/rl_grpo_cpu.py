"""The CPU GRPO preset's step time and tokens/s, and the log-prob computation's peak memory.

    python bench/rl_grpo_cpu.py preset [--config configs/rl/toy.toml] [--steps 6] [--src DIR]
                                       [--set optim.minibatches=1 ...]
    python bench/rl_grpo_cpu.py logprob --path chunked|full --tokens 32768 [--vocab 200064]
                                        [--hidden 64] [--chunk 1024] [--dtype bfloat16]

`preset` runs the training loop (`envmine.rl.train.train_config`) for a few steps in a temporary
home and reports the mean over steps 2.. (step 1 warms up): step time, rollout and update time,
and tokens/s (model tokens trained per second of update, and per second of step). `--src DIR`
runs the `rl/` package of another checkout (e.g. a `git worktree` of the commit before a change)
with that checkout's config file, for before/after figures on the same machine.

`logprob` measures one forward and backward pass of the per-token log-prob of a sequence of
`--tokens` positions over a `--vocab` vocabulary, from random hidden states of width `--hidden`
through a random output layer: `full` is the former path (full logits, float32 log_softmax,
gather), `chunked` is `grpo.token_logprobs`. Peak memory is the process's peak resident set
(VmHWM, reset just before the pass) minus its resident set before it; it runs in this process,
so run one measurement per invocation. Both modes also report CPU seconds (process time),
steadier than wall time on a shared machine; run them with OMP_NUM_THREADS=1 there.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import json
import sys
import tempfile
import time
from pathlib import Path


def _redirect_rl(src: Path) -> None:
    """Import `envmine.rl` (and its submodules) from another checkout's `rl/` folder."""

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path, target=None):
            if fullname != "envmine.rl" and not fullname.startswith("envmine.rl."):
                return None
            parts = fullname.split(".")[1:]
            return importlib.machinery.PathFinder.find_spec(fullname, [str(src.joinpath(*parts[:-1]))])

    sys.meta_path.insert(0, Finder())


def preset(args: argparse.Namespace) -> dict:
    if args.src:
        _redirect_rl(Path(args.src).resolve())
    from envmine.rl.config import load_train_config
    from envmine.rl.train import train_config

    config = Path(args.src) / args.config if args.src else Path(args.config)
    cfg = load_train_config(config)
    cfg.steps, cfg.checkpoint.every = args.steps, 10_000
    for item in args.set or []:
        key, value = item.split("=", 1)
        section, name = key.split(".")
        setattr(getattr(cfg, section), name, type(getattr(getattr(cfg, section), name))(value))
    marks = _instrument()
    cpu0 = time.process_time()
    with tempfile.TemporaryDirectory() as home:
        result = train_config(cfg, home=home)
    cpu = time.process_time() - cpu0
    rows = result.metrics[1:] or result.metrics
    update = [r["step_s"] - r["rollout_s"] for r in rows]
    trained = [float(r.get("train_tokens", 0.0)) for r in rows]
    summary = {"source": args.src or "this checkout", "config": str(config), "steps_measured": len(rows),
               "mean_step_s": round(sum(r["step_s"] for r in rows) / len(rows), 3),
               "mean_rollout_s": round(sum(r["rollout_s"] for r in rows) / len(rows), 3),
               "mean_update_s": round(sum(update) / len(rows), 3),
               "train_tokens_per_step": round(sum(trained) / len(rows), 1),
               "train_tokens_per_update_s": round(sum(trained) / max(sum(update), 1e-9), 1),
               "train_tokens_per_step_s": round(sum(trained) / sum(r["step_s"] for r in rows), 1),
               "cpu_s_per_step_all_steps": round(cpu / len(result.metrics), 3),
               "train_tokens_per_cpu_s_all_steps": round(
                   sum(float(r.get("train_tokens", 0.0)) for r in result.metrics) / cpu, 1),
               "mean_reward_last": round(result.mean_rewards[-1], 4), **_cpu_figures(marks, result.metrics)}
    print(json.dumps(summary), flush=True)
    return summary


def _instrument() -> dict[str, list[float]]:
    """Process (CPU) time at each step's selection and around each update, all threads included:
    wall time on a shared machine says more about the neighbours than about the code."""
    from envmine.rl import grpo

    marks: dict[str, list[float]] = {"select": [], "update_start": [], "update_end": []}
    select, update = grpo.select, grpo.update_policy

    def timed_select(*a, **k):
        marks["select"].append(time.process_time())
        return select(*a, **k)

    def timed_update(*a, **k):
        marks["update_start"].append(time.process_time())
        try:
            return update(*a, **k)
        finally:
            marks["update_end"].append(time.process_time())

    grpo.select, grpo.update_policy = timed_select, timed_update
    return marks


def _cpu_figures(marks: dict[str, list[float]], metrics: list[dict]) -> dict:
    """Mean CPU seconds of the update and of the whole step over steps 2.. (steps that updated)."""
    ends, starts, selects = marks["update_end"], marks["update_start"], marks["select"]
    if len(ends) != len(selects) or len(ends) < 2:
        return {"cpu_note": "some step skipped its update: no CPU split"}
    steps = range(1, len(ends))
    update = [ends[i] - starts[i] for i in steps]
    step = [ends[i] - ends[i - 1] for i in steps]
    tokens = [float(metrics[i].get("train_tokens", 0.0)) for i in steps]
    return {"cpu_update_s": round(sum(update) / len(update), 3), "cpu_step_s": round(sum(step) / len(step), 3),
            "train_tokens_per_cpu_update_s": round(sum(tokens) / sum(update), 1),
            "train_tokens_per_cpu_step_s": round(sum(tokens) / sum(step), 1)}


def logprob(args: argparse.Namespace) -> dict:
    import torch

    from envmine.rl import grpo

    torch.manual_seed(0)
    dtype = getattr(torch, args.dtype)
    model = _HeadOnly(args.tokens, args.hidden, args.vocab, dtype)
    ids = torch.randint(0, args.vocab, (1, args.tokens))
    batch = grpo.Batch(ids, torch.ones_like(ids), torch.ones(1, args.tokens - 1), torch.ones(1))
    before = _rss_kib()
    _reset_peak()
    t0, cpu0 = time.perf_counter(), time.process_time()
    if args.path == "full":
        logits = model.lm_head(model.model.hidden)[:, :-1]
        logp = torch.gather(logits.float().log_softmax(-1), 2, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    else:
        logp = grpo.token_logprobs(model, batch, temperature=1.0, chunk_tokens=args.chunk)
    logp.sum().backward()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    peak = _peak_kib()
    out = {"path": args.path, "tokens": args.tokens, "vocab": args.vocab, "hidden": args.hidden,
           "dtype": args.dtype, "chunk": args.chunk if args.path == "chunked" else None,
           "seconds": round(elapsed, 2), "cpu_seconds": round(cpu, 2), "peak_extra_gib": round((peak - before) / 2**20, 3),
           "full_logits_fp32_gib": round(args.tokens * args.vocab * 4 / 2**30, 2)}
    print(json.dumps(out), flush=True)
    return out


class _HeadOnly:
    """What `token_logprobs` needs of a causal LM: `.model(...)` giving hidden states, and its output layer."""

    def __init__(self, tokens: int, hidden: int, vocab: int, dtype):
        import torch

        self.model = _Hidden(torch.randn(1, tokens, hidden, dtype=dtype, requires_grad=True))
        self.lm_head = torch.nn.Linear(hidden, vocab, bias=False, dtype=dtype)
        self.config = None

    def get_output_embeddings(self):
        return self.lm_head


class _Hidden:
    def __init__(self, hidden):
        self.hidden = hidden

    def __call__(self, input_ids, attention_mask):
        return type("Out", (), {"last_hidden_state": self.hidden})()


def _rss_kib() -> int:
    return _status("VmRSS")


def _peak_kib() -> int:
    return _status("VmHWM")


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current resident set


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("preset")
    p.add_argument("--config", default="configs/rl/toy.toml")
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--src", default="")
    p.add_argument("--set", action="append", help="section.field=value overrides, e.g. optim.minibatches=1")
    p.set_defaults(run=preset)
    q = sub.add_parser("logprob")
    q.add_argument("--path", choices=["chunked", "full"], default="chunked")
    q.add_argument("--tokens", type=int, default=32768)
    q.add_argument("--vocab", type=int, default=200_064)
    q.add_argument("--hidden", type=int, default=64)
    q.add_argument("--chunk", type=int, default=1024)
    q.add_argument("--dtype", default="bfloat16")
    q.set_defaults(run=logprob)
    parsed = parser.parse_args()
    parsed.run(parsed)
