"""OpenAI-style tool calls, as text for token-level models and as chat-completion messages.

Text form (ChatML with JSON tool calls, as Qwen/Hermes-style templates write them):

    <|im_start|>assistant\n<think>\n…\n</think>\n\n{content}\n\n<tool_call>\n
    {"name": "bash", "arguments": {"command": "ls"}}\n</tool_call><|im_end|>

Message form: `{"role": "assistant", "content", "reasoning", "tool_calls": [...]}` as
OpenAI-compatible servers (vLLM with tool-call and reasoning parsers) return and accept: current
vLLM reads earlier thinking from `reasoning` (and hands it to the template as
`reasoning_content`); responses carry it as `reasoning`, `reasoning_content` or, from MiniMax's
API, `reasoning_details`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from envmine.rl.formats import argument_text, split_thinking
from envmine.rl.tools import ToolSpec
from envmine.rl.types import AssistantTurn, ToolCall, ToolResult

START, END = "<|im_start|>", "<|im_end|>"
CALL_OPEN, CALL_CLOSE = "<tool_call>", "</tool_call>"
_CALL = re.compile(re.escape(CALL_OPEN) + r"\s*(.*?)\s*" + re.escape(CALL_CLOSE), re.S)

TOOLS_PREAMBLE = """# Tools

You may call one or more functions to assist with the user query.
Function signatures, within <tools></tools>:
<tools>
{tools}
</tools>

For each function call, return a JSON object with the function name and arguments within
<tool_call></tool_call> tags:
<tool_call>
{{"name": <function-name>, "arguments": <args-json-object>}}
</tool_call>"""


class OpenAIFormat:
    name = "openai"
    special_tokens = (START, END, "<think>", "</think>", CALL_OPEN, CALL_CLOSE,
                      "<tool_response>", "</tool_response>")
    end_of_turn = END
    generation_prefix = ""
    closing = ""
    drops_thinking_before_user = False

    def render_prompt(self, system: str, tools: list[ToolSpec], user: str) -> str:
        listing = "\n".join(json.dumps(t.json_schema()) for t in tools)
        system_text = f"{system}\n\n{TOOLS_PREAMBLE.format(tools=listing)}" if tools else system
        return (f"{START}system\n{system_text}{END}\n"
                f"{START}user\n{user}{END}\n{START}assistant\n")

    def render_assistant(self, turn: AssistantTurn) -> str:
        parts = [f"<think>\n{turn.thinking}\n</think>"]
        if turn.content:
            parts.append(turn.content)
        for call in turn.tool_calls:
            payload = json.dumps({"name": call.name, "arguments": call.arguments}, ensure_ascii=False)
            parts.append(f"{CALL_OPEN}\n{payload}\n{CALL_CLOSE}")
        return "\n\n".join(parts) + END

    def parse_assistant(self, text: str, tools: list[dict[str, Any]] | None = None) -> AssistantTurn:
        """A text turn; malformed JSON in a call is kept as a call to `invalid` with the raw text."""
        text = text.split(END, 1)[0]
        thinking, rest = split_thinking(text)
        calls = [_parse_call(raw) for raw in _CALL.findall(rest)]
        content = rest.split(CALL_OPEN, 1)[0].strip()
        return AssistantTurn(thinking=thinking, content=content, tool_calls=calls)

    def render_tool_results(self, results: list[ToolResult]) -> str:
        body = "\n".join(f"<tool_response>\n{r.output}\n</tool_response>" for r in results)
        return f"\n{START}tool\n{body}{END}\n{START}assistant\n"

    def render_nudge(self, text: str) -> str:
        return f"\n{START}user\n{text}{END}\n{START}assistant\n"


def _parse_call(raw: str) -> ToolCall:
    try:
        data = json.loads(raw)
        return ToolCall(name=str(data["name"]), arguments=_stringify(data.get("arguments") or {}))
    except (ValueError, KeyError, TypeError):
        return ToolCall(name="invalid", arguments={"raw": raw})


def _stringify(args: Any) -> dict[str, str]:
    if isinstance(args, str):
        args = json.loads(args or "{}")
    return {k: argument_text(v) for k, v in dict(args).items()}


THINKING_FIELDS = ("reasoning", "reasoning_content", "content")


def to_message(turn: AssistantTurn, think_in_content: bool = False, thinking_field: str = "reasoning") -> dict[str, Any]:
    """An assistant turn as a chat-completions message (thinking kept for the next request).

    `thinking_field`: `reasoning` (what current vLLM reads), `reasoning_content` (older servers)
    or `content` (`<think>…</think>` in front of the text, M2's own way; same as think_in_content).
    """
    if thinking_field not in THINKING_FIELDS:
        raise ValueError(f"unknown thinking field {thinking_field!r}; known: {', '.join(THINKING_FIELDS)}")
    content = turn.content
    message: dict[str, Any] = {"role": "assistant"}
    if (think_in_content or thinking_field == "content") and turn.thinking:
        content = f"<think>\n{turn.thinking}\n</think>\n\n{content}"
    elif turn.thinking:
        message[thinking_field] = turn.thinking
    message["content"] = content
    if turn.tool_calls:
        message["tool_calls"] = [
            {"id": c.id or f"call_{i}", "type": "function",
             "function": {"name": c.name, "arguments": json.dumps(c.arguments, ensure_ascii=False)}}
            for i, c in enumerate(turn.tool_calls)]
    return message


def from_message(message: dict[str, Any]) -> AssistantTurn:
    """A chat-completions assistant message as a turn; `<think>` inside content is split out."""
    content = message.get("content") or ""
    thinking = message.get("reasoning") or message.get("reasoning_content") or _details(message) or ""
    if not thinking:
        thinking, content = split_thinking(content)
    calls = []
    for raw in message.get("tool_calls") or []:
        fn = raw.get("function", {})
        try:
            args = _stringify(fn.get("arguments") or {})
        except ValueError:
            args = {"raw": str(fn.get("arguments"))}
        calls.append(ToolCall(name=fn.get("name", ""), arguments=args, id=raw.get("id", "")))
    return AssistantTurn(thinking=thinking.strip("\n"), content=content.strip(), tool_calls=calls)


def _details(message: dict[str, Any]) -> str:
    """MiniMax's `reasoning_details`: a list of `{"type": "reasoning.text", "text": …}` parts."""
    parts = message.get("reasoning_details") or []
    return "".join(p.get("text") or "" for p in parts if isinstance(p, dict))


def tool_messages(results: list[ToolResult]) -> list[dict[str, Any]]:
    """The tools' answers as `tool` messages, each tied to its call id."""
    return [{"role": "tool", "tool_call_id": r.call.id or f"call_{i}", "content": r.output}
            for i, r in enumerate(results)]
