"""The episode loop: the model thinks, calls tools, thinks again after every answer.

The conversation is kept twice: as token segments (prompt, each model turn exactly as
generated, each tool answer tokenized once when appended) with a loss mask that covers only
the model's own tokens, and as chat messages for message-level backends. Every earlier turn's
thinking stays in both.

One exception, to stay true to the chat template: a format whose template drops the thinking
of turns before the last user message (M2) sees a mid-episode user message (the "no tool call"
nudge) start a *fresh token sequence*, rendered from the messages as the template renders them
(a `reset` segment marks where); the earlier sequence keeps its generated ids for training.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from envmine.rl.backends.base import Backend, GenerateRequest, Generation
from envmine.rl.formats import ChatFormat
from envmine.rl.formats.openai import to_message, tool_messages
from envmine.rl.tools import ToolBox
from envmine.rl.types import AssistantTurn, Segment, ToolCall, ToolResult, Trajectory

RESET = "reset"
"""Segment role: the segments after it are a fresh token sequence (see the module docstring)."""
NO_TOOL_CALL = "No tool call was found in your last message. Call one of the tools, or `submit` when you are done."


@dataclass
class Grade:
    reward: float
    resolved: bool
    detail: str = ""
    tampering: list[str] = field(default_factory=list)
    """Protected paths the diff changed (undone before grading)."""
    reason: str = ""
    """Why the graded run was untrustworthy, `infra_error` for a sandbox failure, or ""."""
    diff: str = ""
    """The diff that was graded (kept on the trajectory for reviewers and the rubric judge)."""


class Environment(Protocol):
    """What an episode runs against: a sandbox (or a toy) that answers tool calls and grades."""

    async def reset(self, instance: Any) -> None: ...
    async def step(self, call: ToolCall) -> ToolResult: ...
    async def grade(self, answer: str) -> Grade: ...
    async def close(self) -> None: ...


@dataclass
class EpisodeLimits:
    max_turns: int = 30
    max_tokens: int = 32_768
    """Whole conversation (prompt + turns + tool answers), in tokens."""
    max_new_tokens: int = 2048
    """One model turn."""
    wall_s: float = 1800.0
    temperature: float = 1.0


@dataclass
class EpisodeSetup:
    """What the model is shown: prompts and tools (possibly perturbed), and how answers change."""

    system: str
    user: str
    toolbox: ToolBox = field(default_factory=ToolBox)
    observe: Callable[[ToolResult, int], ToolResult] | None = None
    """Perturbs a tool's answer (given the turn number); None leaves answers unchanged."""
    perturbation: dict[str, Any] = field(default_factory=dict)
    perturbation_name: str = ""
    on_no_tool_call: str = "nudge"
    """`nudge` (tell the model and go on) or `end` (the turn's text is the final answer)."""


class _Conversation:
    """Token segments and messages, appended in step."""

    def __init__(self, fmt: ChatFormat, tokenizer: Any, setup: EpisodeSetup):
        self.fmt, self.tokenizer = fmt, tokenizer
        self.tools = [s.json_schema() for s in setup.toolbox.specs]
        self.traj_segments: list[Segment] = []
        self.messages: list[dict[str, Any]] = [
            {"role": "system", "content": setup.system}, {"role": "user", "content": setup.user}]
        self.append("prompt", fmt.render_prompt(setup.system, setup.toolbox.specs, setup.user))

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False) if self.tokenizer else []

    def append(self, role: str, text: str, ids: list[int] | None = None, trainable: bool = False) -> None:
        self.traj_segments.append(Segment(role, text, self.encode(text) if ids is None else list(ids), trainable))

    @property
    def ids(self) -> list[int]:
        """The current token sequence (since the last `reset`): what the model continues."""
        start = max((i + 1 for i, s in enumerate(self.traj_segments) if s.role == RESET), default=0)
        return [i for s in self.traj_segments[start:] for i in s.ids]

    def add_model_turn(self, gen: Generation) -> AssistantTurn:
        """Keep the generated ids (and their log-probs) as they are; close a turn cut by the length limit."""
        if gen.token_ids is not None:
            self.append("assistant", gen.text, gen.token_ids, trainable=True)
            self.traj_segments[-1].logprobs = gen.logprobs
            turn = self.fmt.parse_assistant(gen.text, self.tools)
            if gen.finish_reason == "length" or not gen.text.endswith(self.fmt.end_of_turn):
                self.append("scaffold", self.fmt.end_of_turn)
        else:
            turn = gen.turn if gen.turn is not None else self.fmt.parse_assistant(gen.text, self.tools)
            self.append("assistant", self.fmt.render_assistant(turn))
        return turn

    def add_user(self, text: str) -> None:
        """A scaffold message as a user turn; a format that drops earlier thinking starts afresh."""
        self.messages.append({"role": "user", "content": text})
        if self.fmt.drops_thinking_before_user:
            self.traj_segments.append(Segment(RESET, "", []))
            self.append("prompt", self.fmt.render_messages(self.messages, self.tools))
        else:
            self.append("tool", self.fmt.render_nudge(text))

    def close(self) -> None:
        """What the template writes after the last end-of-turn (M2: a newline)."""
        last = self.traj_segments[-1] if self.traj_segments else None
        if self.fmt.closing and last is not None and last.text.endswith(self.fmt.end_of_turn):
            self.append("scaffold", self.fmt.closing)


async def run_episode(env: Environment, instance: Any, backend: Backend, fmt: ChatFormat,
                      setup: EpisodeSetup, limits: EpisodeLimits, tokenizer: Any = None,
                      instance_id: str = "") -> Trajectory:
    """Run one episode to its end; the environment is always closed, whatever happens."""
    start = time.monotonic()
    traj = Trajectory(instance_id=instance_id or getattr(instance, "instance_id", ""),
                      perturbation=setup.perturbation, perturbation_name=setup.perturbation_name,
                      language=getattr(instance, "language", ""))
    convo = None
    try:
        await asyncio.wait_for(env.reset(instance), timeout=limits.wall_s)
        convo = _Conversation(fmt, tokenizer, setup)
        answer = await _loop(env, backend, convo, setup, limits, traj, start)
        convo.close()
        grade = await env.grade(answer)  # graded even when cut: the diff is there
        traj.reward, traj.resolved = grade.reward, grade.resolved
        traj.tampering, traj.grade_reason, traj.diff = list(grade.tampering), grade.reason, grade.diff
    except Exception as exc:  # an episode that errors scores 0 and says why; the run goes on
        traj.stop_reason, traj.error = "error", f"{type(exc).__name__}: {exc}"
    finally:
        await env.close()
        traj.wall_s = time.monotonic() - start
        if convo is not None:  # kept for logs even when the episode failed
            traj.segments, traj.messages = convo.traj_segments, convo.messages
    return traj


async def _loop(env: Environment, backend: Backend, convo: _Conversation, setup: EpisodeSetup,
                limits: EpisodeLimits, traj: Trajectory, start: float) -> str:
    """The turn loop; returns the final answer text and sets the trajectory's stop reason."""
    tools = [s.json_schema() for s in setup.toolbox.specs]
    for turn_no in range(limits.max_turns):
        budget = limits.max_tokens - len(convo.ids)
        remaining = limits.wall_s - (time.monotonic() - start)
        if budget <= 0 or (convo.tokenizer is None and traj.generated_tokens >= limits.max_tokens):
            traj.stop_reason = "max_tokens"
            return ""
        if remaining <= 0:
            traj.stop_reason = "timeout"
            return ""
        request = GenerateRequest(prompt_ids=convo.ids, messages=list(convo.messages), tools=tools,
                                  max_new_tokens=min(limits.max_new_tokens, budget),
                                  temperature=limits.temperature, stop=[convo.fmt.end_of_turn])
        try:
            gen = await asyncio.wait_for(backend.generate(request), timeout=remaining)
        except TimeoutError:
            traj.stop_reason = "timeout"
            return ""
        traj.turns = turn_no + 1
        traj.generated_tokens += gen.completion_tokens or len(gen.token_ids or [])
        turn = convo.add_model_turn(gen)
        for i, call in enumerate(turn.tool_calls):
            call.id = call.id or f"call_{turn_no}_{i}"
        convo.messages.append(gen.message if gen.message is not None else to_message(turn))
        if not turn.tool_calls:
            if setup.on_no_tool_call == "end":
                traj.stop_reason = "no_tool_call"  # a per-turn length cut is not an episode limit
                return turn.content
            convo.add_user(NO_TOOL_CALL)
            continue
        results = await _run_calls(env, turn.tool_calls, setup, turn_no, start, limits)
        if results is None:
            traj.stop_reason = "timeout"
            return ""
        submitted = next((r for r in results if r.submitted), None)
        if submitted is not None:
            traj.stop_reason = "submitted"
            return "\n".join(submitted.call.arguments.values())
        convo.messages.extend(tool_messages(results))
        convo.append("tool", convo.fmt.render_tool_results(results))
    traj.stop_reason = "max_turns"
    return ""


async def _run_calls(env: Environment, calls: list[ToolCall], setup: EpisodeSetup, turn_no: int,
                     start: float, limits: EpisodeLimits) -> list[ToolResult] | None:
    results = []
    for call in calls:
        remaining = limits.wall_s - (time.monotonic() - start)
        canonical = setup.toolbox.resolve(call)
        if canonical is None:
            names = ", ".join(s.name for s in setup.toolbox.specs)
            message = f"Error: unknown tool {call.name!r}. Available tools: {names}."
            results.append(ToolResult(call, message, error=True))
            continue
        try:
            result = await asyncio.wait_for(env.step(canonical), timeout=max(remaining, 0.001))
        except TimeoutError:
            return None
        result = replace(result, call=call)  # the model sees its own names back
        if setup.observe is not None and not result.submitted:
            result = setup.observe(result, turn_no)
        results.append(result)
        if result.submitted:
            break
    return results

