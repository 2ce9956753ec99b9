"""Chat formats: how a conversation becomes text for a model, and how a model turn is parsed.

Each format renders the prompt, one assistant turn and the tools' answers, and parses an
assistant turn back (render then parse is the identity). The scaffold tokenizes only what it
appends (prompt, tool answers); the model's own turns keep the ids it generated.

A prompt ends with the format's `generation_prefix` (M2 opens the model's `<think>` block
itself), so `render_assistant` writes what the model writes *after* it. A format whose template
drops the thinking of turns before the last user message (`drops_thinking_before_user`) also
renders a whole message list (`render_messages`): the scaffold starts a fresh token sequence
from it when it adds a user message mid-episode, so the model sees what a served model sees.
The registry is a plain name -> dotted path map, imported lazily.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from envmine.registry import resolve
from envmine.rl.tools import ToolSpec
from envmine.rl.types import AssistantTurn, ToolResult

FORMATS: dict[str, str] = {
    "minimax_m2": "minimax_m2:MiniMaxM2Format",
    "openai": "openai:OpenAIFormat",
}


class ChatFormat(Protocol):
    name: str
    special_tokens: tuple[str, ...]
    """Tokens a tokenizer must know as single added tokens for this format."""
    end_of_turn: str
    """The text that ends a model turn (the generation stop)."""
    generation_prefix: str
    """What every prompt ends with after the model's role header (M2: `<think>\\n`)."""
    closing: str
    """What the template writes after the conversation's last end-of-turn."""
    drops_thinking_before_user: bool

    def render_prompt(self, system: str, tools: list[ToolSpec], user: str) -> str: ...
    def render_assistant(self, turn: AssistantTurn) -> str: ...
    def parse_assistant(self, text: str, tools: list[dict[str, Any]] | None = None) -> AssistantTurn: ...
    def render_tool_results(self, results: list[ToolResult]) -> str: ...
    def render_nudge(self, text: str) -> str: ...
    def render_messages(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                        add_generation_prompt: bool = True) -> str:
        """The whole conversation as the template renders it (needed where `drops_thinking_before_user`)."""
        ...


def known_formats() -> list[str]:
    return sorted(FORMATS)


def get_format(name: str) -> ChatFormat:
    """A chat format by name; an unknown name's error lists the valid names."""
    return resolve("chat format", __name__, FORMATS, name)()


def split_thinking(text: str, open_tag: str = "<think>", close_tag: str = "</think>") -> tuple[str, str]:
    """(thinking, rest) of a model turn; a turn without a closed think block has no thinking."""
    stripped = text.lstrip("\n")
    if not stripped.startswith(open_tag) or close_tag not in stripped:
        return "", text
    inner, rest = stripped[len(open_tag):].split(close_tag, 1)
    return _strip_one_newline(inner), rest


def _strip_one_newline(text: str) -> str:
    text = text[1:] if text.startswith("\n") else text
    return text[:-1] if text.endswith("\n") else text


def argument_text(value: Any) -> str:
    """A tool argument as envmine keeps it: strings as they are, anything else as JSON (UTF-8)."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
