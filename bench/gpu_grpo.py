"""A few GRPO steps on a GPU: tokens/s and step time. No network; vLLM only with `--backend vllm`.

    python bench/gpu_grpo.py [--backend transformers|vllm] [--steps 5] [--hidden 1024] [--layers 12]
                             [--group 16] [--tasks 4] [--new-tokens 256] [--minibatches 2]
                             [--device cuda] [--dtype bfloat16] [--gpu-mem 0.35]

A random-weight Llama-architecture model (built from a config; nothing downloaded) generates
with transformers on the device, or with a colocated vLLM engine over the same weights (saved
to a temporary folder first; weights pushed in with `collective_rpc` + `load_weights` after
every update, then the prefix cache reset). The toy environment rewards digits, and each step
runs the real trainer's update (leave-one-out advantages, clip-higher over `--minibatches`
optimizer steps, truncated importance sampling against the engine's log-probs, token-level
loss). Prints one line per step and a JSON summary; with vLLM also the weight-sync time and the
mean importance weight (how far the engine's log-probs are from the trainer's).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import torch

from envmine.rl import grpo
from envmine.rl.backends.transformers_cpu import TransformersBackend
from envmine.rl.backends.vllm_backend import VLLMBackend
from envmine.rl.formats import get_format
from envmine.rl.rollout import rollout_groups
from envmine.rl.scaffold import EpisodeLimits
from envmine.rl.tiny import byte_tokenizer, tiny_model
from envmine.rl.toy import ToyEnvironment, toy_setup, toy_tasks


def main(args: argparse.Namespace) -> dict:
    torch.manual_seed(0)
    tok = byte_tokenizer()
    model = tiny_model(len(tok), hidden=args.hidden, layers=args.layers, heads=max(args.hidden // 64, 1))
    model = model.to(device=args.device, dtype=getattr(torch, args.dtype)).eval()
    params = sum(p.numel() for p in model.parameters())
    fmt = get_format("minimax_m2")
    if args.backend == "vllm":
        backend = VLLMBackend.from_model(model, tok, stop=[fmt.end_of_turn], max_batch=args.group * args.tasks,
                                         gpu_memory_utilization=args.gpu_mem)
    else:
        backend = TransformersBackend(model, tok, [fmt.end_of_turn], max_batch=args.group * args.tasks)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    limits = EpisodeLimits(max_turns=1, max_new_tokens=args.new_tokens, max_tokens=8192)
    tasks = toy_tasks(args.tasks)
    rows = []
    for step in range(args.steps):
        _sync(args.device)
        t0 = time.perf_counter()
        groups = asyncio.run(rollout_groups(tasks, args.group, ToyEnvironment, lambda t: backend, fmt,
                                            lambda t, a: toy_setup(t), limits, tok,
                                            concurrency=args.group * args.tasks))
        _sync(args.device)
        t1 = time.perf_counter()
        selection = grpo.select(groups)
        if not selection.trajectories:  # every group flat: nothing to learn this step
            print(json.dumps({"step": step + 1, "skipped": "all groups flat"}), flush=True)
            continue
        stats = grpo.update_policy(model, optimizer, selection, grpo.LossConfig(), tok.pad_token_id,
                                   micro_batch=args.micro_batch, minibatches=args.minibatches,
                                   temperature=limits.temperature, seed=step)
        _sync(args.device)
        t2 = time.perf_counter()
        if args.backend == "vllm" and stats.get("optimizer_steps"):
            backend.sync_weights(model)
        _sync(args.device)
        t3 = time.perf_counter()
        generated = sum(sum(len(s.ids) for s in t.segments if s.trainable) for g in groups for t in g)
        trained = sum(len(t.input_ids) for t in selection.trajectories)
        rewards = [t.reward for g in groups for t in g]
        row = {"step": step + 1, "mean_reward": round(sum(rewards) / len(rewards), 4),
               "rollout_s": round(t1 - t0, 3), "update_s": round(t2 - t1, 3), "step_s": round(t2 - t0, 3),
               "gen_tokens_per_s": round(generated / (t1 - t0), 1), "train_tokens_per_s": round(trained / (t2 - t1), 1),
               "loss": round(stats.get("loss", 0.0), 5), "sync_s": round(t3 - t2, 3),
               "optimizer_steps": stats.get("optimizer_steps", 0),
               "clip_frac": round(stats.get("clip_frac", 0.0), 5),
               "tis_weight_mean": round(stats.get("tis_weight_mean", 1.0), 5),
               "batches": list(getattr(backend, "batch_sizes", []))[-4:]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    later = rows[1:] or rows  # the first step includes warm-up (kernels, allocator)
    summary = {"device": torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device,
               "backend": args.backend, "mean_sync_s": round(sum(r["sync_s"] for r in later) / len(later), 3),
               "mean_tis_weight": round(sum(r["tis_weight_mean"] for r in later) / len(later), 5),
               "params": params, "dtype": args.dtype, "episodes_per_step": args.group * args.tasks,
               "mean_step_s": round(sum(r["step_s"] for r in later) / len(later), 3),
               "mean_gen_tokens_per_s": round(sum(r["gen_tokens_per_s"] for r in later) / len(later), 1),
               "mean_train_tokens_per_s": round(sum(r["train_tokens_per_s"] for r in later) / len(later), 1)}
    print(json.dumps({"summary": summary}), flush=True)
    return summary


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["transformers", "vllm"], default="transformers")
    parser.add_argument("--gpu-mem", type=float, default=0.35)
    parser.add_argument("--minibatches", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--group", type=int, default=16)
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--micro-batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="bfloat16" if torch.cuda.is_available() else "float32")
    main(parser.parse_args())
