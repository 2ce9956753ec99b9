"""A transformers backend: `model.generate` on whatever device the model is on (CPU in tests).

Requests that arrive together (the episodes of a rollout wave) are generated as one
left-padded batch; each episode gets back exactly the ids sampled for it. It shares the
model object with the trainer, so weight sync is free.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from envmine.rl.backends.base import GenerateRequest, Generation


class TransformersBackend:
    token_level = True

    def __init__(self, model: Any, tokenizer: Any, stop_tokens: list[str] | None = None, max_batch: int = 32):
        self.model, self.tokenizer, self.max_batch = model, tokenizer, max(max_batch, 1)
        self.stop_ids = {tokenizer.eos_token_id}
        for text in stop_tokens or []:
            self.stop_ids.update(self._single_id(text))
        self._lock = threading.Lock()
        self._pending: list[tuple[GenerateRequest, asyncio.Future]] = []
        self._worker: asyncio.Task | None = None

    def _single_id(self, text: str) -> list[int]:
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        return ids if len(ids) == 1 else []

    async def generate(self, request: GenerateRequest) -> Generation:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((request, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            await asyncio.sleep(0.005)  # let the other episodes of this wave queue up
            batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
            try:
                results = await asyncio.to_thread(self._generate, [r for r, _ in batch])
            except Exception as exc:  # every waiting episode learns of the failure
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results):
                if not future.done():
                    future.set_result(result)

    def _generate(self, requests: list[GenerateRequest]) -> list[Generation]:
        import torch

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
        with self._lock, torch.no_grad():
            out = self.model.generate(
                ids, attention_mask=mask, max_new_tokens=max(r.max_new_tokens for r in requests),
                do_sample=temperature > 0, temperature=temperature if temperature > 0 else None,
                top_k=0, top_p=1.0, eos_token_id=sorted(stop_ids), pad_token_id=pad,
            )
        return [self._result(out[i, width:].tolist()[:r.max_new_tokens], stop_ids)
                for i, r in enumerate(requests)]

    def _result(self, ids: list[int], stop_ids: set[int]) -> Generation:
        cut = next((i + 1 for i, t in enumerate(ids) if t in stop_ids), None)
        ids = ids[:cut] if cut else ids
        text = self.tokenizer.decode(ids, skip_special_tokens=False)
        return Generation(text=text, token_ids=ids, finish_reason="stop" if cut else "length",
                          completion_tokens=len(ids))

    def sync_weights(self, model: Any) -> None:
        """The trainer updates this very model in place; another instance is copied in."""
        if model is not self.model:
            self.model.load_state_dict(model.state_dict())
