"""vLLM on a GPU, colocated with the trainer: token-level generation, weights pushed in after each update.

Against vLLM's public API: `LLM(...)`, `SamplingParams`, `TokensPrompt`; weights go in through
`LLM.collective_rpc` calling each worker's `model_runner.model.load_weights` (what TRL's vLLM
path calls), then `LLM.reset_prefix_cache()` so no rollout reuses KV entries computed with the
old weights. The engine core runs in this process (`VLLM_ENABLE_V1_MULTIPROCESSING=0`, unless
set otherwise) so the weights pass by reference. `logprobs_mode="processed_logprobs"` makes the
returned log-probs those of the temperature-scaled distribution, as the trainer computes them.

Requests of one rollout wave go to vLLM as one `generate` call (see `BatchingBackend`). A
model without a local folder (the tiny model, a GGUF file) is saved to one first.
vLLM is imported only when an engine is built, never at import time.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from envmine.rl.backends.base import BatchingBackend, GenerateRequest, Generation


class VLLMBackend(BatchingBackend):
    token_level = True

    def __init__(self, llm: Any, tokenizer: Any, stop: list[str] | None = None, max_batch: int = 64):
        self.llm, self.tokenizer = llm, tokenizer
        self.stop_ids = stop_token_ids(tokenizer, stop or [])
        self.syncs = 0
        self._init_queue(max_batch)

    @classmethod
    def from_model(cls, model: Any, tokenizer: Any, stop: list[str] | None = None, max_batch: int = 64,
                   gpu_memory_utilization: float = 0.4, max_model_len: int | None = None,
                   workdir: str | Path | None = None, **engine_args: Any) -> VLLMBackend:
        """An engine over the trainer model's weights, read from its local folder (no download)."""
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        try:
            from vllm import LLM
        except ImportError as exc:
            raise RuntimeError("the vllm backend needs `pip install vllm` on a GPU machine") from exc
        path = model_path(model, tokenizer, workdir)
        llm = LLM(**engine_kwargs(path, model, gpu_memory_utilization, max_model_len, **engine_args))
        return cls(llm, tokenizer, stop, max_batch)

    def _generate_batch(self, requests: list[GenerateRequest]) -> list[Generation]:
        from vllm import SamplingParams, TokensPrompt

        prompts = [TokensPrompt(prompt_token_ids=r.prompt_ids) for r in requests]
        params = [SamplingParams(**sampling_kwargs(r, self.stop_ids)) for r in requests]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        return [to_generation(out.outputs[0], self.tokenizer) for out in outputs]

    def sync_weights(self, model: Any) -> None:
        """Load the trainer's current weights into every worker, then drop the stale prefix cache."""
        self.llm.collective_rpc(load_weights, args=(weight_items(model),))
        self.llm.reset_prefix_cache()
        self.syncs += 1


def load_weights(worker: Any, weights: list[tuple[str, Any]]) -> None:
    """Runs on each vLLM worker (via `collective_rpc`): the model's own `load_weights`."""
    runner = worker.model_runner
    model = runner.get_model() if hasattr(runner, "get_model") else runner.model
    model.load_weights(weights=weights)


def weight_items(model: Any) -> list[tuple[str, Any]]:
    """(name, tensor) for every parameter under its Hugging Face name (tied weights once), as TRL sends them."""
    return [(name.replace("_checkpoint_wrapped_module.", ""), param.detach())
            for name, param in model.named_parameters()]


def model_path(model: Any, tokenizer: Any, workdir: str | Path | None = None) -> str:
    """The model's local folder; a model without one (tiny, GGUF) is saved to `workdir` first."""
    path = getattr(model, "name_or_path", "") or getattr(getattr(model, "config", None), "_name_or_path", "")
    if path and (Path(path) / "config.json").is_file() and any(Path(path).glob("*.safetensors")):
        return str(path)
    out = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="envmine-vllm-"))
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return str(out)


def engine_kwargs(path: str, model: Any, gpu_memory_utilization: float, max_model_len: int | None,
                  **extra: Any) -> dict[str, Any]:
    """The `LLM(...)` arguments: prefix caching on, processed (temperature-scaled) log-probs."""
    dtype = str(getattr(model, "dtype", "auto")).removeprefix("torch.")
    kwargs = {"model": path, "tokenizer": path, "dtype": dtype, "gpu_memory_utilization": gpu_memory_utilization,
              "enable_prefix_caching": True, "logprobs_mode": "processed_logprobs", "seed": 0}
    if max_model_len:
        kwargs["max_model_len"] = max_model_len
    return {**kwargs, **extra}


def stop_token_ids(tokenizer: Any, stop: list[str]) -> list[int]:
    """The end-of-sequence id and every stop text that is one token."""
    ids = [tokenizer.eos_token_id]
    for text in stop:
        encoded = tokenizer.encode(text, add_special_tokens=False)
        if len(encoded) == 1 and encoded[0] not in ids:
            ids.append(encoded[0])
    return ids


def sampling_kwargs(request: GenerateRequest, stop_ids: list[int]) -> dict[str, Any]:
    """`SamplingParams` for one request: plain sampling at its temperature, the sampled token's log-prob."""
    return {"max_tokens": request.max_new_tokens, "temperature": request.temperature, "top_p": 1.0,
            "stop_token_ids": list(stop_ids), "logprobs": 0, "skip_special_tokens": False}


def to_generation(output: Any, tokenizer: Any) -> Generation:
    """A vLLM `CompletionOutput` (token_ids, logprobs: one {id: Logprob} per token, finish_reason)."""
    ids = list(output.token_ids)
    logprobs = None
    if output.logprobs:
        logprobs = [float(step[token].logprob) for step, token in zip(output.logprobs, ids)]
    reason = "length" if output.finish_reason == "length" else "stop"
    return Generation(text=tokenizer.decode(ids, skip_special_tokens=False), token_ids=ids, logprobs=logprobs,
                      finish_reason=reason, completion_tokens=len(ids))
