"""Load the policy model and its tokenizer: a tiny random model, a local folder, or a GGUF file.

Nothing is downloaded: `pretrained` and `gguf` read local files only.
"""

from __future__ import annotations

from typing import Any

from envmine.rl.config import ModelConfig


def load_model(cfg: ModelConfig, seed: int = 0) -> tuple[Any, Any]:
    """(model, tokenizer) on `cfg.device`, in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = getattr(torch, cfg.dtype)
    if cfg.kind == "tiny":
        from envmine.rl.tiny import tiny_pair

        model, tok = tiny_pair(seed=seed, hidden=cfg.hidden, layers=cfg.layers)
        model = model.to(dtype)
    elif cfg.kind == "gguf":
        model = AutoModelForCausalLM.from_pretrained(cfg.path, gguf_file=cfg.gguf_file, dtype=dtype,
                                                     local_files_only=True)
        tok = AutoTokenizer.from_pretrained(cfg.path, gguf_file=cfg.gguf_file, local_files_only=True)
    else:
        model = AutoModelForCausalLM.from_pretrained(cfg.path, dtype=dtype, local_files_only=True)
        tok = AutoTokenizer.from_pretrained(cfg.path, local_files_only=True)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return model.to(cfg.device).eval(), tok
