"""The rollout backend interface, and a scripted backend that replays fixed turns.

A token-level backend (transformers, vLLM) continues `prompt_ids` and returns the ids it
sampled; a message-level backend (an OpenAI-compatible endpoint, a scripted policy) answers
`messages` and returns a parsed turn. The scaffold keeps both views of the conversation.
"""

from __future__ import annotations

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
