"""vLLM on a GPU: token-level generation from prompt ids, weights pushed in after each update.

vLLM is imported only when this backend is built (never at import time), so the rest of the
stage runs where vLLM is absent. Untested here: no machine at hand has vLLM installed.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from envmine.rl.backends.base import GenerateRequest, Generation


class VLLMBackend:
    token_level = True

    def __init__(self, llm: Any, tokenizer: Any, stop: list[str] | None = None):
        self.llm, self.tokenizer = llm, tokenizer
        self.stop_ids = [tokenizer.eos_token_id]
        for text in stop or []:
            ids = tokenizer.encode(text, add_special_tokens=False)
            if len(ids) == 1:
                self.stop_ids.append(ids[0])
        self._lock = threading.Lock()

    @classmethod
    def from_model(cls, model: Any, tokenizer: Any, stop: list[str] | None = None,
                   gpu_memory_utilization: float = 0.4) -> VLLMBackend:
        """An engine over the trainer model's saved weights (a local folder, no download)."""
        try:
            from vllm import LLM
        except ImportError as exc:
            raise RuntimeError("the vllm backend needs `pip install vllm` on a GPU machine") from exc
        path = getattr(model, "name_or_path", "") or getattr(model.config, "_name_or_path", "")
        llm = LLM(model=path, tokenizer=path, gpu_memory_utilization=gpu_memory_utilization,
                  enable_prefix_caching=True)
        return cls(llm, tokenizer, stop)

    async def generate(self, request: GenerateRequest) -> Generation:
        return await asyncio.to_thread(self._generate, request)

    def _generate(self, request: GenerateRequest) -> Generation:
        from vllm import SamplingParams, TokensPrompt

        params = SamplingParams(max_tokens=request.max_new_tokens, temperature=request.temperature,
                                stop_token_ids=self.stop_ids, logprobs=0, skip_special_tokens=False)
        with self._lock:
            out = self.llm.generate([TokensPrompt(prompt_token_ids=request.prompt_ids)], params,
                                    use_tqdm=False)[0].outputs[0]
        ids = list(out.token_ids)
        logprobs = [next(iter(lp.values())).logprob for lp in out.logprobs] if out.logprobs else None
        reason = "length" if out.finish_reason == "length" else "stop"
        return Generation(text=self.tokenizer.decode(ids, skip_special_tokens=False), token_ids=ids,
                          logprobs=logprobs, finish_reason=reason, completion_tokens=len(ids))

    def sync_weights(self, model: Any) -> None:
        """Load the trainer's current weights into the engine's model (same process)."""
        weights = list(model.state_dict().items())
        runner = self.llm.llm_engine.model_executor.driver_worker.model_runner
        runner.model.load_weights(weights)
