"""MiniMax-M2's chat format: `<think>` kept in every turn, XML tool calls.

    ]~!b[]~b]system\n{system + tools}[e~[\n]~b]user\n{user}[e~[\n]~b]ai\n
    <think>\n…\n</think>\n\n{content}\n\n<minimax:tool_call>\n<invoke name="bash">\n
    <parameter name="command">ls</parameter>\n</invoke>\n</minimax:tool_call>[e~[
    \n]~b]tool\n<response>…</response>[e~[\n]~b]ai\n

Parameter values are raw text (M2 does not escape them); the thinking of every earlier turn
stays in the history, which is what interleaved thinking needs.
"""

from __future__ import annotations

import json
import re

from envmine.rl.formats import split_thinking
from envmine.rl.tools import ToolSpec
from envmine.rl.types import AssistantTurn, ToolCall, ToolResult

BOS, ROLE, EOT = "]~!b[", "]~b]", "[e~["
CALL_OPEN, CALL_CLOSE = "<minimax:tool_call>", "</minimax:tool_call>"
_CALL_BLOCK = re.compile(re.escape(CALL_OPEN) + r"(.*?)" + re.escape(CALL_CLOSE), re.S)
_INVOKE = re.compile(r'<invoke name="([^"]*)">(.*?)</invoke>', re.S)
_PARAM = re.compile(r'<parameter name="([^"]*)">(.*?)</parameter>', re.S)

TOOLS_PREAMBLE = """# Tools
You may call one or more tools to assist with the user query.
Here are the tools available in JSONSchema format:

<tools>
{tools}
</tools>

When making tool calls, use XML format to invoke tools and pass parameters:

<minimax:tool_call>
<invoke name="tool-name-1">
<parameter name="param-key-1">param-value-1</parameter>
</invoke>
</minimax:tool_call>"""


class MiniMaxM2Format:
    name = "minimax_m2"
    special_tokens = (BOS, ROLE, EOT, "<think>", "</think>", CALL_OPEN, CALL_CLOSE)
    end_of_turn = EOT

    def render_prompt(self, system: str, tools: list[ToolSpec], user: str) -> str:
        """System (with the tool list) and user message, ending where the model speaks."""
        listing = "\n".join(f"<tool>{json.dumps(t.json_schema()['function'])}</tool>" for t in tools)
        system_text = f"{system}\n\n{TOOLS_PREAMBLE.format(tools=listing)}" if tools else system
        return (f"{BOS}{ROLE}system\n{system_text}{EOT}\n"
                f"{ROLE}user\n{user}{EOT}\n{ROLE}ai\n")

    def render_assistant(self, turn: AssistantTurn) -> str:
        """One model turn exactly as the model writes it, ending with the end-of-turn token."""
        parts = [f"<think>\n{turn.thinking}\n</think>"]
        if turn.content:
            parts.append(turn.content)
        if turn.tool_calls:
            parts.append(CALL_OPEN + "\n" + "".join(_invoke(c) for c in turn.tool_calls) + CALL_CLOSE)
        return "\n\n".join(parts) + EOT

    def parse_assistant(self, text: str) -> AssistantTurn:
        """Thinking, content and tool calls of one model turn (lenient about whitespace)."""
        text = text.split(EOT, 1)[0]
        thinking, rest = split_thinking(text)
        calls = [
            ToolCall(name=name, arguments={k: v for k, v in _PARAM.findall(body)})
            for block in _CALL_BLOCK.findall(rest) for name, body in _INVOKE.findall(block)
        ]
        content = rest.split(CALL_OPEN, 1)[0].strip()
        return AssistantTurn(thinking=thinking, content=content, tool_calls=calls)

    def render_tool_results(self, results: list[ToolResult]) -> str:
        """The tools' answers, then the prefix of the model's next turn."""
        body = "\n".join(f"<response>{r.output}</response>" for r in results)
        return f"\n{ROLE}tool\n{body}{EOT}\n{ROLE}ai\n"

    def render_nudge(self, text: str) -> str:
        """A scaffold message to the model (e.g. 'no tool call found'), then its next turn."""
        return f"\n{ROLE}user\n{text}{EOT}\n{ROLE}ai\n"


def _invoke(call: ToolCall) -> str:
    params = "".join(f'<parameter name="{k}">{v}</parameter>\n' for k, v in call.arguments.items())
    return f'<invoke name="{call.name}">\n{params}</invoke>\n'
