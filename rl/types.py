"""Values that pass between the RL stage's modules: tool calls, model turns, trajectories.

Plain dataclasses (not catalog records): they live in memory during rollouts and training.
What reaches the catalog is `envmine.records.Evaluation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ToolCall:
    """One call the model made: a tool name and string arguments."""

    name: str
    arguments: dict[str, str] = field(default_factory=dict)
    id: str = ""


@dataclass
class AssistantTurn:
    """What the model said in one turn: its thinking, free text and tool calls."""

    thinking: str = ""
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)


@dataclass
class ToolResult:
    """A tool's answer to one call; `submitted` ends the episode."""

    call: ToolCall
    output: str
    submitted: bool = False
    error: bool = False


@dataclass
class Segment:
    """A run of tokens in the conversation: the prompt, a model turn or the tools' answers.

    `trainable` is True only for tokens the model generated itself; those are exactly the ids
    the backend returned, never re-tokenized from text.
    """

    role: str
    """`prompt`, `assistant`, `tool` or `scaffold` (tokens the scaffold inserted)."""
    text: str
    ids: list[int] = field(default_factory=list)
    trainable: bool = False
    logprobs: list[float] | None = None


@dataclass
class Trajectory:
    """One episode: its token segments, messages, reward and why it stopped."""

    instance_id: str
    segments: list[Segment] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    """The same conversation as OpenAI-style chat messages (for endpoints and logs)."""
    reward: float = 0.0
    resolved: bool = False
    stop_reason: str = ""
    """`submitted`, `no_tool_call`, `max_turns`, `max_tokens`, `timeout`, `error`."""
    turns: int = 0
    wall_s: float = 0.0
    perturbation: dict[str, Any] = field(default_factory=dict)
    perturbation_name: str = ""
    language: str = ""
    error: str = ""
    generated_tokens: int = 0
    tampering: list[str] = field(default_factory=list)
    """Protected paths the episode's diff changed (undone before grading)."""
    grade_reason: str = ""
    """Why the graded run was untrustworthy, `infra_error` for a sandbox failure, or ""."""
    diff: str = ""
    """The agent's final changes as a git diff (what the grader applied; "" where the
    environment has none, e.g. the toy)."""

    @property
    def input_ids(self) -> list[int]:
        return [i for s in self.segments for i in s.ids]

    @property
    def loss_mask(self) -> list[int]:
        return [int(s.trainable) for s in self.segments for _ in s.ids]

    @property
    def tokens(self) -> int:
        return sum(len(s.ids) for s in self.segments) or self.generated_tokens

    @property
    def truncated(self) -> bool:
        """Cut by a limit rather than ended by the model: filtered out of training."""
        return self.stop_reason in TRUNCATED_STOPS


TRUNCATED_STOPS = frozenset({"max_turns", "max_tokens", "timeout"})
