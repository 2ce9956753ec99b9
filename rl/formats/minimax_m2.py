"""MiniMax-M2's chat format, character for character as its published chat template renders it.

    ]~!b[]~b]system\\n{system}\\n\\n# Tools\\n…</tools>\\n\\nWhen making tool calls, …[e~[\\n
    ]~b]user\\n{user}[e~[\\n]~b]ai\\n<think>\\n                      <- the prompt ends here
    {thinking}\\n</think>\\n\\n{content}\\n<minimax:tool_call>\\n<invoke name="bash">\\n
    <parameter name="command">ls</parameter>\\n</invoke>\\n</minimax:tool_call>[e~[   <- the model
    \\n]~b]tool\\n<response>…</response>[e~[\\n]~b]ai\\n<think>\\n      <- the tools' answers

What the template does and this module copies (tests/rl/fixtures/minimax_m2_chat_template.json
holds the template's own renderings): the generation prompt opens `<think>\\n` for the model;
tool schemas and arguments are JSON in UTF-8; an empty system prompt falls back to the
template's default; the thinking of assistant turns *before the last user message* is dropped.
Tool calls parse as vLLM's `minimax_m2` tool parser does: names and values stripped, values
converted by the tool's JSON-schema type (then kept as text: JSON for non-strings).
"""

from __future__ import annotations

import json
import re
from typing import Any

from envmine.rl.formats import argument_text
from envmine.rl.tools import ToolSpec
from envmine.rl.types import AssistantTurn, ToolCall, ToolResult

BOS, ROLE, EOT = "]~!b[", "]~b]", "[e~["
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
CALL_OPEN, CALL_CLOSE = "<minimax:tool_call>", "</minimax:tool_call>"
DEFAULT_SYSTEM = "You are a helpful assistant."
_CALL_BLOCK = re.compile(re.escape(CALL_OPEN) + r"(.*?)" + re.escape(CALL_CLOSE), re.S)
_INVOKE = re.compile(r"<invoke name=(.*?)</invoke>", re.S)
_PARAM = re.compile(r"<parameter name=(.*?)</parameter>", re.S)

TOOLS_PREAMBLE = """

# Tools
You may call one or more tools to assist with the user query.
Here are the tools available in JSONSchema format:

<tools>
{tools}</tools>

When making tool calls, use XML format to invoke tools and pass parameters:

<minimax:tool_call>
<invoke name="tool-name-1">
<parameter name="param-key-1">param-value-1</parameter>
<parameter name="param-key-2">param-value-2</parameter>
...
</invoke>
</minimax:tool_call>"""


class MiniMaxM2Format:
    name = "minimax_m2"
    special_tokens = (BOS, ROLE, EOT, THINK_OPEN, THINK_CLOSE, CALL_OPEN, CALL_CLOSE)
    end_of_turn = EOT
    generation_prefix = f"{THINK_OPEN}\n"
    closing = "\n"
    drops_thinking_before_user = True

    def render_prompt(self, system: str, tools: list[ToolSpec], user: str) -> str:
        """System (with the tool list) and user message, ending inside the model's `<think>`."""
        return self.render_messages([{"role": "system", "content": system}, {"role": "user", "content": user}],
                                    [t.json_schema() for t in tools])

    def render_messages(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                        add_generation_prompt: bool = True) -> str:
        """A whole conversation of chat messages, as the template renders it."""
        system = messages[0] if messages and messages[0].get("role") == "system" else None
        rest = messages[1:] if system is not None else messages
        last_user = max((i for i, m in enumerate(rest) if m.get("role") == "user"), default=-1)
        out = [f"{BOS}{ROLE}system\n{_system_text(system, tools)}{EOT}\n"]
        for i, message in enumerate(rest):
            role = message.get("role")
            if role == "assistant":
                out.append(f"{ROLE}ai\n{_assistant_text(message, keep_thinking=i > last_user)}{EOT}\n")
            elif role == "tool":
                first = i == 0 or rest[i - 1].get("role") != "tool"
                last = i == len(rest) - 1 or rest[i + 1].get("role") != "tool"
                out.append(f"{ROLE}tool" * first + f"\n<response>{_text(message.get('content'))}</response>"
                           + f"{EOT}\n" * last)
            elif role == "user":
                out.append(f"{ROLE}user\n{_text(message.get('content'))}{EOT}\n")
        if add_generation_prompt:
            out.append(f"{ROLE}ai\n{self.generation_prefix}")
        return "".join(out)

    def render_assistant(self, turn: AssistantTurn) -> str:
        """One model turn as the model writes it after the prompt's `<think>\\n`, with its end token."""
        return f"{turn.thinking}\n{THINK_CLOSE}\n\n{_body(turn.content, turn.tool_calls)}{EOT}"

    def parse_assistant(self, text: str, tools: list[dict[str, Any]] | None = None) -> AssistantTurn:
        """Thinking, content and typed tool calls of one model turn.

        Everything before `</think>` is thinking (the prompt opened the block). A turn that never
        closes it is all content, as vLLM's `minimax_m2_append_think` reasoning parser hands it on.
        """
        text = text.split(EOT, 1)[0]
        thinking, rest = "", text
        if THINK_CLOSE in text:
            inner, rest = text.split(THINK_CLOSE, 1)
            thinking = inner.strip("\n").split(THINK_OPEN)[-1].strip("\n")
        elif rest.lstrip("\n").startswith(THINK_OPEN):
            rest = rest.lstrip("\n")[len(THINK_OPEN):]
        schemas = {t["function"]["name"]: t["function"].get("parameters") or {} for t in tools or []}
        calls = [call for block in _CALL_BLOCK.findall(rest) for body in _INVOKE.findall(block)
                 if (call := _parse_invoke(body, schemas)) is not None]
        content = rest.split(CALL_OPEN, 1)[0].strip() if calls else rest.strip()
        return AssistantTurn(thinking=thinking, content=content, tool_calls=calls)

    def render_tool_results(self, results: list[ToolResult]) -> str:
        """The tools' answers, then the prefix of the model's next turn."""
        body = "".join(f"\n<response>{r.output}</response>" for r in results)
        return f"\n{ROLE}tool{body}{EOT}\n{ROLE}ai\n{self.generation_prefix}"

    def render_nudge(self, text: str) -> str:
        """A scaffold message to the model (e.g. 'no tool call found'), then its next turn."""
        return f"\n{ROLE}user\n{text}{EOT}\n{ROLE}ai\n{self.generation_prefix}"


def _text(content: Any) -> str:
    """The template's `visible_text`: a string, or the text parts of a content list."""
    if content is None:
        return ""
    if isinstance(content, list):
        return "".join(p if isinstance(p, str) else p.get("text", "") for p in content
                       if isinstance(p, str) or p.get("type") == "text")
    return str(content)


def _system_text(system: dict[str, Any] | None, tools: list[dict[str, Any]]) -> str:
    text = _text(system.get("content")) if system else ""
    text = text or DEFAULT_SYSTEM
    if not tools:
        return text
    listing = "".join(f"<tool>{json.dumps(t['function'], ensure_ascii=False)}</tool>\n" for t in tools)
    return text + TOOLS_PREAMBLE.format(tools=listing)


def _assistant_text(message: dict[str, Any], keep_thinking: bool) -> str:
    """An assistant message's text between `]~b]ai\\n` and `[e~[` (vLLM passes `reasoning` on as
    `reasoning_content`; thinking inside content is split out as the template does)."""
    content = _text(message.get("content"))
    reasoning = message.get("reasoning_content")
    if not isinstance(reasoning, str):
        reasoning = message.get("reasoning")
    if not isinstance(reasoning, str):
        reasoning = ""
        if THINK_CLOSE in content:
            reasoning = content.split(THINK_CLOSE)[0].strip("\n").split(THINK_OPEN)[-1].strip("\n")
            content = content.split(THINK_CLOSE)[-1].strip("\n")
    calls = [_message_call(c) for c in message.get("tool_calls") or []]
    think = f"{THINK_OPEN}\n{reasoning}\n{THINK_CLOSE}\n\n" if reasoning and keep_thinking else ""
    return think + _body(content, calls)


def _message_call(raw: dict[str, Any]) -> ToolCall:
    fn = raw.get("function", raw)
    args = fn.get("arguments") or {}
    if isinstance(args, str):  # vLLM turns the JSON string back into a mapping for the template
        args = json.loads(args or "{}")
    return ToolCall(name=fn.get("name", ""), arguments={k: argument_text(v) for k, v in args.items()})


def _body(content: str, calls: list[ToolCall]) -> str:
    if not calls:
        return content
    invokes = "".join(
        f'<invoke name="{c.name}">\n'
        + "".join(f'<parameter name="{k}">{v}</parameter>\n' for k, v in c.arguments.items())
        + "</invoke>\n" for c in calls)
    return f"{content}\n{CALL_OPEN}\n{invokes}{CALL_CLOSE}"


def _unquote(name: str) -> str:
    name = name.strip()
    if len(name) >= 2 and name[0] == name[-1] and name[0] in "\"'":
        return name[1:-1]
    return name


def _parse_invoke(body: str, schemas: dict[str, dict[str, Any]]) -> ToolCall | None:
    head = re.match(r"[^>]+", body)
    if head is None:
        return None
    name = _unquote(head.group(0))
    properties = schemas.get(name, {}).get("properties") or {}
    args = {}
    for raw in _PARAM.findall(body):
        match = re.match(r"([^>]+)>(.*)", raw, re.S)
        if match:
            key = _unquote(match.group(1))
            args[key] = argument_text(convert_value(match.group(2).strip(), schema_types(properties.get(key))))
    return ToolCall(name=name, arguments=args)


def schema_types(schema: Any) -> list[str]:
    """Every type a parameter's JSON schema allows (type lists, enum values, anyOf/oneOf/allOf)."""
    if not isinstance(schema, dict):
        return ["string"]
    types: set[str] = set()
    declared = schema.get("type")
    types.update([declared] if isinstance(declared, str) else [t for t in declared or [] if isinstance(t, str)])
    for value in schema.get("enum") or []:
        types.add(_json_type(value))
    for key in ("anyOf", "oneOf", "allOf"):
        for choice in schema.get(key) or []:
            types.update(schema_types(choice))
    return sorted(types) or ["string"]


def _json_type(value: Any) -> str:
    for kind, name in ((type(None), "null"), (bool, "boolean"), (int, "integer"), (float, "number"),
                       (str, "string"), (list, "array"), (dict, "object")):
        if isinstance(value, kind):
            return name
    return "string"


_PRIORITY = ("integer", "int", "number", "float", "boolean", "bool", "object", "array", "string", "str", "text")
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def convert_value(value: str, types: list[str]) -> Any:
    """A parameter's text as the type its schema names, trying the most specific type first.

    Null-like text is null whatever the type; text that fits no allowed type is JSON if it
    parses, else the text itself (the reference parser's order and fallbacks).
    """
    if value.lower() in ("null", "none", "nil"):
        return None
    allowed = {t.lower() for t in types}
    for kind in (k for k in _PRIORITY if k in allowed):
        converted = _try_convert(value, kind)
        if converted is not _NO:
            return converted
    try:
        return json.loads(value)
    except ValueError:
        return value


_NO = object()


def _try_convert(value: str, kind: str) -> Any:
    if kind in ("string", "str", "text"):
        return value
    try:
        if kind in ("integer", "int"):
            return int(value)
        if kind in ("number", "float"):
            number = float(value)
            return number if number != int(number) else int(number)
        if kind in ("object", "array"):
            return json.loads(value)
    except (ValueError, OverflowError):
        return _NO
    lowered = value.lower().strip()
    return True if lowered in _TRUE else False if lowered in _FALSE else _NO
