"""A transformers backend: `model.generate` on whatever device the model is on (CPU in tests).

Requests that arrive together (the episodes of a rollout wave) are generated as one
left-padded batch; each episode gets back exactly the ids sampled for it, with the log-prob of
each at the sampling temperature (for importance sampling). It shares the model object with the
trainer, so weight sync is free.
"""

from __future__ import annotations

import threading
from typing import Any

from envmine.rl.backends.base import BatchingBackend, GenerateRequest, Generation


class TransformersBackend(BatchingBackend):
    token_level = True

    def __init__(self, model: Any, tokenizer: Any, stop_tokens: list[str] | None = None, max_batch: int = 32):
        self.model, self.tokenizer = model, tokenizer
        self.stop_ids = {tokenizer.eos_token_id}
        for text in stop_tokens or []:
            self.stop_ids.update(self._single_id(text))
        self._lock = threading.Lock()
        self._init_queue(max_batch)

    def _single_id(self, text: str) -> list[int]:
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        return ids if len(ids) == 1 else []

    def _generate_batch(self, requests: list[GenerateRequest]) -> list[Generation]:
        import torch
        from transformers import LogitsProcessorList

        stop_ids = set(self.stop_ids)
        for request in requests:
            stop_ids.update(i for text in request.stop for i in self._single_id(text))
        device = next(self.model.parameters()).device
        width = max(len(r.prompt_ids) for r in requests)
        pad = self.tokenizer.pad_token_id
        ids = torch.tensor([[pad] * (width - len(r.prompt_ids)) + r.prompt_ids for r in requests], device=device)
        mask = torch.tensor([[0] * (width - len(r.prompt_ids)) + [1] * len(r.prompt_ids) for r in requests],
                            device=device)
        temperature = requests[0].temperature
        recorder = SampledLogprobs(temperature)
        with self._lock, torch.no_grad():
            out = self.model.generate(
                ids, attention_mask=mask, max_new_tokens=max(r.max_new_tokens for r in requests),
                do_sample=temperature > 0, temperature=temperature if temperature > 0 else None,
                top_k=0, top_p=1.0, eos_token_id=sorted(stop_ids), pad_token_id=pad,
                logits_processor=LogitsProcessorList([recorder]),
            )
        logprobs = recorder.finish(out[:, width:])
        return [self._result(out[i, width:].tolist()[:r.max_new_tokens], logprobs[i].tolist(), stop_ids)
                for i, r in enumerate(requests)]

    def _result(self, ids: list[int], logprobs: list[float], stop_ids: set[int]) -> Generation:
        cut = next((i + 1 for i, t in enumerate(ids) if t in stop_ids), None)
        ids = ids[:cut] if cut else ids
        text = self.tokenizer.decode(ids, skip_special_tokens=False)
        return Generation(text=text, token_ids=ids, logprobs=logprobs[:len(ids)],
                          finish_reason="stop" if cut else "length", completion_tokens=len(ids))

    def sync_weights(self, model: Any) -> None:
        """The trainer updates this very model in place; another instance is copied in."""
        if model is not self.model:
            self.model.load_state_dict(model.state_dict())


class SampledLogprobs:
    """A logits processor that keeps the log-prob of every sampled token at `temperature`.

    transformers runs user processors before its temperature warper, so the scores are divided
    here (with top_k = 0 and top_p = 1 nothing else reshapes them). Only the previous step's
    log-probs are held (batch x vocab), never the whole generation's.
    """

    def __init__(self, temperature: float):
        self.scale = 1.0 / temperature if temperature > 0 else 1.0
        self._previous: Any = None
        self._steps: list[Any] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self._previous is not None:
            self._steps.append(self._previous.gather(1, input_ids[:, -1:]).squeeze(1))
        self._previous = (scores.float() * self.scale).log_softmax(-1)
        return scores

    def finish(self, generated: Any) -> Any:
        """(batch, generated length) log-probs, the last sampled token's included."""
        import torch

        if self._previous is not None and generated.shape[1] > len(self._steps):
            last = generated[:, len(self._steps)].unsqueeze(1)
            self._steps.append(self._previous.gather(1, last).squeeze(1))
            self._previous = None
        if not self._steps:
            return torch.zeros(generated.shape[0], 0)
        return torch.stack(self._steps, 1).cpu()
