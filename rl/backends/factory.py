"""Build the configured rollout backend (the registry in `backends/__init__` names them)."""

from __future__ import annotations

from typing import Any

from envmine.rl.backends import backend_class
from envmine.rl.config import RolloutConfig
from envmine.rl.formats import ChatFormat


def make_backend(cfg: RolloutConfig, model: Any, tokenizer: Any, fmt: ChatFormat) -> Any:
    """transformers: shares `model`; vllm: a GPU engine over the same weights; openai: an endpoint."""
    cls = backend_class(cfg.backend)
    if cfg.backend == "transformers":
        return cls(model, tokenizer, [fmt.end_of_turn], max_batch=cfg.max_batch)
    if cfg.backend == "vllm":
        return cls.from_model(model, tokenizer, stop=[fmt.end_of_turn], max_batch=cfg.max_batch,
                              gpu_memory_utilization=cfg.gpu_memory_utilization, max_model_len=cfg.max_model_len)
    return cls(cfg.endpoint, model=cfg.served_model, thinking_field=cfg.thinking_field)
