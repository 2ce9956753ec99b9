"""The rollout backend interface, and a scripted backend that replays fixed turns.

A token-level backend (transformers, vLLM) continues `prompt_ids` and returns the ids it
sampled; a message-level backend (an OpenAI-compatible endpoint, a scripted policy) answers
`messages` and returns a parsed turn. The scaffold keeps both views of the conversation.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol

from envmine.rl.types import AssistantTurn


@dataclass
class GenerateRequest:
    prompt_ids: list[int]
    """The whole conversation so far as token ids (token-level backends)."""
    messages: list[dict[str, Any]]
    """The same conversation as chat messages (message-level backends)."""
    tools: list[dict[str, Any]] = field(default_factory=list)
    max_new_tokens: int = 1024
    temperature: float = 1.0
    stop: list[str] = field(default_factory=list)


@dataclass
class Generation:
    text: str
    token_ids: list[int] | None = None
    """The sampled ids, exactly as generated (None for message-level backends)."""
    logprobs: list[float] | None = None
    """The sampler's log-prob of each sampled id, after temperature (for importance sampling)."""
    turn: AssistantTurn | None = None
    """Set by backends that parse the turn themselves (endpoints, scripted policies)."""
    finish_reason: str = "stop"
    """`stop` (ended its turn) or `length` (hit max_new_tokens)."""
    completion_tokens: int = 0
    message: dict[str, Any] | None = None
    """The endpoint's assistant message as it came (sent back whole on the next request)."""


class Backend(Protocol):
    token_level: bool

    async def generate(self, request: GenerateRequest) -> Generation: ...


class BatchingBackend:
    """Requests that arrive together (the episodes of a rollout wave) are generated as one batch.

    The first request of a wave starts a worker that waits a moment for the others, then hands
    up to `max_batch` of them to `_generate_batch` in a thread; every waiting episode gets its
    own result (or the batch's exception).
    """

    max_batch: int = 32

    def _init_queue(self, max_batch: int) -> None:
        self.max_batch = max(max_batch, 1)
        self._pending: list[tuple[GenerateRequest, asyncio.Future]] = []
        self._worker: asyncio.Task | None = None
        self.batch_sizes: list[int] = []
        """How many requests each generate call carried (for tests and logs)."""

    def _generate_batch(self, requests: list[GenerateRequest]) -> list[Generation]:
        raise NotImplementedError

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
            self.batch_sizes.append(len(batch))
            try:
                results = await asyncio.to_thread(self._generate_batch, [r for r, _ in batch])
            except Exception as exc:  # every waiting episode learns of the failure
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results):
                if not future.done():
                    future.set_result(result)


class ScriptedBackend:
    """Replays a fixed list of turns (the gold policy, test policies); then submits."""

    token_level = False

    def __init__(self, turns: list[AssistantTurn]):
        self.turns = list(turns)
        self.calls = 0

    async def generate(self, request: GenerateRequest) -> Generation:
        from envmine.rl.types import ToolCall

        turn = self.turns[self.calls] if self.calls < len(self.turns) else \
            AssistantTurn(thinking="Nothing left to do.", tool_calls=[ToolCall("submit")])
        self.calls += 1
        return Generation(text="", turn=turn, finish_reason="stop")
