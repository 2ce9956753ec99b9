"""MiniMax-M2 and OpenAI formats: render then parse is the identity; captured shapes parse."""

import json

import pytest

from envmine.rl.formats import get_format, known_formats
from envmine.rl.formats.openai import from_message, to_message
from envmine.rl.tools import DEFAULT_TOOLS
from envmine.rl.types import AssistantTurn, ToolCall

TURNS = [
    AssistantTurn(thinking="The bug is in calc.py.\nLet me look.", content="",
                  tool_calls=[ToolCall("view", {"path": "calc.py", "start": "1"})]),
    AssistantTurn(thinking="Two edits.", content="I will fix both places.",
                  tool_calls=[ToolCall("replace", {"path": "a.py", "old": "x = 1\n", "new": "x = 2\n"}),
                              ToolCall("bash", {"command": "python -c 'print(\"<ok>\")' && echo $HOME"})]),
    AssistantTurn(thinking="", content="Nothing to call.", tool_calls=[]),
    AssistantTurn(thinking="Done.", tool_calls=[ToolCall("submit", {})]),
]


@pytest.mark.parametrize("name", known_formats())
@pytest.mark.parametrize("turn", TURNS)
def test_text_round_trip(name, turn):
    fmt = get_format(name)
    text = fmt.render_assistant(turn)
    assert text.endswith(fmt.end_of_turn)
    assert fmt.parse_assistant(text) == turn


def test_minimax_m2_text_shape():
    fmt = get_format("minimax_m2")
    text = fmt.render_assistant(TURNS[0])
    assert text == ('<think>\nThe bug is in calc.py.\nLet me look.\n</think>\n\n<minimax:tool_call>\n'
                    '<invoke name="view">\n<parameter name="path">calc.py</parameter>\n'
                    '<parameter name="start">1</parameter>\n</invoke>\n</minimax:tool_call>[e~[')


def test_minimax_m2_parses_model_output_with_loose_whitespace():
    raw = ('<think>\nI should list files\n</think>\n\nLet me look around.\n'
           '<minimax:tool_call>\n<invoke name="bash">\n<parameter name="command">ls -la</parameter>\n'
           '</invoke>\n<invoke name="search">\n<parameter name="pattern">def add</parameter>\n'
           '<parameter name="path">src</parameter>\n</invoke>\n</minimax:tool_call>[e~[')
    turn = get_format("minimax_m2").parse_assistant(raw)
    assert turn.thinking == "I should list files"
    assert turn.content == "Let me look around."
    assert turn.tool_calls == [ToolCall("bash", {"command": "ls -la"}),
                               ToolCall("search", {"pattern": "def add", "path": "src"})]


def test_prompt_lists_tools_and_ends_at_the_model_turn():
    for name in known_formats():
        fmt = get_format(name)
        prompt = fmt.render_prompt("SYS", list(DEFAULT_TOOLS), "USER")
        assert all(f'"name": "{t.name}"' in prompt for t in DEFAULT_TOOLS)
        assert prompt.endswith({"minimax_m2": "]~b]ai\n", "openai": "<|im_start|>assistant\n"}[name])


@pytest.mark.parametrize("turn", [t for t in TURNS if t.thinking])
@pytest.mark.parametrize("think_in_content", [False, True])
def test_message_round_trip(turn, think_in_content):
    message = json.loads(json.dumps(to_message(turn, think_in_content=think_in_content)))
    back = from_message(message)
    assert back.thinking == turn.thinking
    assert back.content == turn.content
    assert [(c.name, c.arguments) for c in back.tool_calls] == [(c.name, c.arguments) for c in turn.tool_calls]


def test_openai_message_from_vllm_minimax_parsers():
    # The shape vLLM returns for MiniMax-M2 with --tool-call-parser minimax_m2 and
    # --reasoning-parser minimax_m2_append_think: thinking inside content, JSON arguments.
    message = {"role": "assistant", "content": "<think>\nCheck the file first.\n</think>\n\n",
               "tool_calls": [{"id": "chatcmpl-tool-1", "type": "function",
                               "function": {"name": "view", "arguments": "{\"path\": \"calc.py\", \"start\": 3}"}}]}
    turn = from_message(message)
    assert turn.thinking == "Check the file first."
    assert turn.content == ""
    assert turn.tool_calls == [ToolCall("view", {"path": "calc.py", "start": "3"}, id="chatcmpl-tool-1")]


def test_openai_text_bad_json_becomes_invalid_call():
    turn = get_format("openai").parse_assistant("<think>\nx\n</think>\n\n<tool_call>\n{not json}\n</tool_call><|im_end|>")
    assert turn.tool_calls == [ToolCall("invalid", {"raw": "{not json}"})]
