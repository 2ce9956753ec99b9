"""MiniMax-M2 and OpenAI formats: render then parse is the identity; captured shapes parse; M2
renders as its published chat template does and parses tool calls as vLLM's M2 parser does
(expected strings in fixtures/, each file says where they came from)."""

import json
from pathlib import Path

import pytest

from envmine.rl.formats import get_format, known_formats
from envmine.rl.formats import split_thinking
from envmine.rl.formats.openai import from_message, to_message
from envmine.rl.tools import DEFAULT_TOOLS
from envmine.rl.types import AssistantTurn, ToolCall

FIXTURES = Path(__file__).parent / "fixtures"
TEMPLATE = json.loads((FIXTURES / "minimax_m2_chat_template.json").read_text())
TOOL_CALLS = json.loads((FIXTURES / "minimax_m2_tool_calls.json").read_text())

TURNS = [
    AssistantTurn(thinking="The bug is in calc.py.\nLet me look.", content="",
                  tool_calls=[ToolCall("view", {"path": "calc.py", "start": "1"})]),
    AssistantTurn(thinking="Two edits.", content="I will fix both places.",
                  tool_calls=[ToolCall("replace", {"path": "a.py", "old": "x = 1", "new": "x = 2"}),
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
    text = fmt.render_assistant(TURNS[0])  # what the model writes after the prompt's "<think>\n"
    assert text == ('The bug is in calc.py.\nLet me look.\n</think>\n\n\n<minimax:tool_call>\n'
                    '<invoke name="view">\n<parameter name="path">calc.py</parameter>\n'
                    '<parameter name="start">1</parameter>\n</invoke>\n</minimax:tool_call>[e~[')


def test_minimax_m2_parses_model_output_with_loose_whitespace():
    raw = ('I should list files\n</think>\n\nLet me look around.\n'
           '<minimax:tool_call>\n<invoke name="bash">\n<parameter name="command">\nls -la\n</parameter>\n'
           '</invoke>\n<invoke name="search">\n<parameter name="pattern">def add</parameter>\n'
           '<parameter name="path"> src </parameter>\n</invoke>\n</minimax:tool_call>[e~[')
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
        assert prompt.endswith({"minimax_m2": "]~b]ai\n<think>\n", "openai": "<|im_start|>assistant\n"}[name])


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


@pytest.mark.parametrize("case", TEMPLATE["cases"], ids=lambda c: c["name"])
def test_minimax_m2_renders_as_the_published_template(case):
    fmt = get_format("minimax_m2")
    for prompt in case["prompts"]:
        assert fmt.render_messages(case["messages"][:prompt["messages"]], case["tools"]) == prompt["text"]
    assert fmt.render_messages(case["messages"], case["tools"], add_generation_prompt=False) == case["full"]


def test_minimax_m2_first_prompt_and_turn_match_the_template():
    fmt = get_format("minimax_m2")
    case = TEMPLATE["cases"][0]
    system, user = case["messages"][0]["content"], case["messages"][1]["content"]
    first, second = case["prompts"][0]["text"], case["prompts"][1]["text"]
    assert fmt.render_prompt(system, list(DEFAULT_TOOLS), user) == first
    turn = AssistantTurn(thinking="Look at the file first.", tool_calls=[ToolCall("view", {"path": "café.py", "start": "1"})])
    assert second.startswith(first + fmt.render_assistant(turn))  # UTF-8, "\n<minimax:tool_call>" after empty content
    assert "\\u" not in second


def test_minimax_m2_messages_with_reasoning_field_or_think_in_content_render_alike():
    fmt = get_format("minimax_m2")
    case = TEMPLATE["cases"][1]
    as_reasoning = [dict(m) for m in case["messages"]]
    as_reasoning[2] = {"role": "assistant", "reasoning": "Greet.", "content": "Hi!"}  # what vLLM reads
    in_content = [dict(m) for m in case["messages"]]
    in_content[2] = {"role": "assistant", "content": "<think>\nGreet.\n</think>\n\nHi!"}
    for messages in (as_reasoning, in_content):
        assert fmt.render_messages(messages, [], add_generation_prompt=False) == case["full"]


@pytest.mark.parametrize("case", TOOL_CALLS["cases"], ids=range(len(TOOL_CALLS["cases"])))
def test_minimax_m2_tool_calls_typed_as_the_reference_parser(case):
    """The token path (our parser on the text after the prompt's `<think>`) and the endpoint path
    (vLLM's parser, then `from_message`) give the same calls and arguments."""
    fmt = get_format("minimax_m2")
    output = case["output"]
    turn = fmt.parse_assistant(output.removeprefix("<think>\n") + "[e~[", TOOL_CALLS["tools"])
    expected = case["expected"]
    served = from_message({"role": "assistant", "content": expected["content"] or "",
                           "tool_calls": [{"id": "", "type": "function", "function": c} for c in expected["calls"]]})
    assert [(c.name, c.arguments) for c in turn.tool_calls] == [(c.name, c.arguments) for c in served.tool_calls]
    assert (turn.thinking, turn.content) == (served.thinking, served.content)
    # raw typed values, as the reference's JSON arguments hold them
    for ours, theirs in zip(turn.tool_calls, expected["calls"]):
        assert ours.arguments == {k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                                  for k, v in json.loads(theirs["arguments"]).items()}


def test_minimax_m2_typing_examples():
    fmt = get_format("minimax_m2")
    cases = {c["output"]: c for c in TOOL_CALLS["cases"]}
    typed = next(c for o, c in cases.items() if "configure" in o and "true" in o)
    turn = fmt.parse_assistant(typed["output"], TOOL_CALLS["tools"])
    assert turn.tool_calls[0].arguments == {"flag": "true", "ratio": "0.5", "count": "3.0", "tags": '["a", "b"]',
                                            "options": '{"depth": 2}', "limit": "null", "mode": "fast",
                                            "note": "日本語 ✓"}
    # without the schema every value stays text (stripped)
    untyped = fmt.parse_assistant(typed["output"])
    assert untyped.tool_calls[0].arguments["count"] == "3.0" and untyped.tool_calls[0].arguments["limit"] == "null"


def test_minimax_m2_unclosed_thinking_is_content():
    turn = get_format("minimax_m2").parse_assistant("12345 no think close[e~[")
    assert turn == AssistantTurn(thinking="", content="12345 no think close")


def test_message_thinking_field_is_reasoning_and_details_are_read():
    turn = AssistantTurn(thinking="why", content="what")
    assert to_message(turn) == {"role": "assistant", "reasoning": "why", "content": "what"}
    assert to_message(turn, thinking_field="reasoning_content")["reasoning_content"] == "why"
    with pytest.raises(ValueError, match="known: reasoning, reasoning_content, content"):
        to_message(turn, thinking_field="thoughts")
    details = {"role": "assistant", "content": "ok",
               "reasoning_details": [{"type": "reasoning.text", "id": "r1", "format": "MiniMax-response-v1",
                                      "text": "Think it through."}]}
    assert from_message(details).thinking == "Think it through."
    assert split_thinking("<think>\nx\n</think>\n\ny") == ("x", "\n\ny")
