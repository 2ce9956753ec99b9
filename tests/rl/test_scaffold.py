"""The episode loop with a tiny random model: ids kept as generated, mask over model tokens only,
thinking kept in the history, limits stop episodes, the environment is always closed."""

import asyncio
import json
from pathlib import Path

import pytest

from envmine.rl.backends.base import GenerateRequest, Generation
from envmine.rl.backends.transformers_cpu import TransformersBackend
from envmine.rl.formats import get_format
from envmine.rl.scaffold import EpisodeLimits, EpisodeSetup, run_episode
from envmine.rl.tiny import tiny_pair
from envmine.rl.toy import ToyEnvironment, ToyTask
from envmine.rl.types import AssistantTurn, ToolCall, ToolResult

TEMPLATE = json.loads((Path(__file__).parent / "fixtures" / "minimax_m2_chat_template.json").read_text())


@pytest.fixture(scope="module")
def pair():
    return tiny_pair(seed=1)


class IdsBackend:
    """A token-level backend that 'generates' fixed id lists and records its requests."""

    token_level = True

    def __init__(self, tok, id_lists):
        self.tok, self.id_lists, self.requests = tok, list(id_lists), []

    async def generate(self, request: GenerateRequest) -> Generation:
        self.requests.append(request)
        ids = self.id_lists.pop(0)
        return Generation(text=self.tok.decode(ids), token_ids=ids, completion_tokens=len(ids))


class FailingEnv(ToyEnvironment):
    async def step(self, call):
        raise RuntimeError("sandbox died")


def _setup(on_no_tool_call="nudge"):
    return EpisodeSetup(system="You are tested.", user="Fix it.", on_no_tool_call=on_no_tool_call)


@pytest.mark.parametrize("fmt_name", ["minimax_m2", "openai"])
def test_ids_are_kept_as_generated_and_mask_covers_only_model_tokens(pair, fmt_name):
    _, tok = pair
    fmt = get_format(fmt_name)
    turn1 = AssistantTurn(thinking="look first", tool_calls=[ToolCall("bash", {"command": "ls"})])
    turn2 = AssistantTurn(thinking="now submit", tool_calls=[ToolCall("submit")])
    ids1 = tok.encode(fmt.render_assistant(turn1), add_special_tokens=False)
    # Non-canonical ids: "</think>" spelled byte by byte decodes to the same text as the
    # special token, so re-tokenizing the text would change the ids.
    think_bytes = [tok.convert_tokens_to_ids(ch) for ch in "</think>"]
    text2 = fmt.render_assistant(turn2)
    cut = text2.index("</think>")
    ids2 = (tok.encode(text2[:cut], add_special_tokens=False) + think_bytes
            + tok.encode(text2[cut + len("</think>"):], add_special_tokens=False))
    backend, env = IdsBackend(tok, [ids1, ids2]), ToyEnvironment()
    traj = asyncio.run(run_episode(env, ToyTask("t1"), backend, fmt, _setup(), EpisodeLimits(), tok))

    assert traj.stop_reason == "submitted" and traj.turns == 2 and env.closed
    roles = [s.role for s in traj.segments]
    # M2's template writes a newline after the last end-of-turn: a scaffold token, not trained on
    assert roles == ["prompt", "assistant", "tool", "assistant"] + ["scaffold"] * (fmt_name == "minimax_m2")
    assert traj.segments[1].ids == ids1 and traj.segments[3].ids == ids2
    assert think_bytes in [traj.segments[3].ids[i:i + 8] for i in range(len(ids2))]
    mask, ids = traj.loss_mask, traj.input_ids
    assert [i for i, m in zip(ids, mask) if m] == ids1 + ids2
    assert len(mask) == len(ids) and sum(mask) == len(ids1) + len(ids2)
    # Interleaved thinking: the second request continues the first turn's exact ids, and the
    # message view keeps the first turn's thinking.
    second = backend.requests[1]
    assert second.prompt_ids[:len(backend.requests[0].prompt_ids) + len(ids1)] == backend.requests[0].prompt_ids + ids1
    assert second.messages[2]["reasoning"] == "look first"
    assert second.messages[3]["role"] == "tool" and second.messages[3]["content"] == "ok"


def test_tiny_model_episode_ends_and_closes(pair):
    model, tok = pair
    fmt = get_format("minimax_m2")
    backend = TransformersBackend(model, tok, [fmt.end_of_turn])
    env = ToyEnvironment()
    limits = EpisodeLimits(max_turns=3, max_new_tokens=12)
    traj = asyncio.run(run_episode(env, ToyTask("t2"), backend, fmt, _setup(), limits, tok))
    assert env.closed
    assert traj.stop_reason in {"submitted", "max_turns"}
    generated = [s for s in traj.segments if s.trainable]
    assert len(generated) == traj.turns and all(1 <= len(s.ids) <= 12 for s in generated)
    # a turn cut by max_new_tokens is closed by the scaffold, and that token is not trained on
    for seg, nxt in zip(traj.segments, traj.segments[1:]):
        if seg.trainable and seg.ids[-1] != tok.convert_tokens_to_ids(fmt.end_of_turn):
            assert nxt.role == "scaffold" and not nxt.trainable


def test_token_limit_stops_episode(pair):
    _, tok = pair
    fmt = get_format("minimax_m2")
    turn = AssistantTurn(thinking="x" * 50, tool_calls=[ToolCall("bash", {"command": "ls"})])
    ids = tok.encode(fmt.render_assistant(turn), add_special_tokens=False)
    backend = IdsBackend(tok, [ids] * 10)
    prompt_len = len(tok.encode(fmt.render_prompt("You are tested.", _setup().toolbox.specs, "Fix it."), add_special_tokens=False))
    limits = EpisodeLimits(max_tokens=prompt_len + 2 * len(ids) + 10)
    traj = asyncio.run(run_episode(ToyEnvironment(), ToyTask("t3"), backend, fmt, _setup(), limits, tok))
    assert traj.stop_reason == "max_tokens" and traj.truncated


def test_environment_error_is_recorded_and_env_closed(pair):
    _, tok = pair
    fmt = get_format("openai")
    turn = AssistantTurn(thinking="go", tool_calls=[ToolCall("bash", {"command": "ls"})])
    backend = IdsBackend(tok, [tok.encode(fmt.render_assistant(turn), add_special_tokens=False)])
    env = FailingEnv()
    traj = asyncio.run(run_episode(env, ToyTask("t4"), backend, fmt, _setup(), EpisodeLimits(), tok))
    assert traj.stop_reason == "error" and "sandbox died" in traj.error and env.closed


def test_unknown_tool_is_answered_not_executed(pair):
    _, tok = pair
    fmt = get_format("minimax_m2")
    turns = [AssistantTurn(thinking="hm", tool_calls=[ToolCall("rm_rf", {})]),
             AssistantTurn(thinking="ok", tool_calls=[ToolCall("submit")])]
    backend = IdsBackend(tok, [tok.encode(fmt.render_assistant(t), add_special_tokens=False) for t in turns])
    traj = asyncio.run(run_episode(ToyEnvironment(), ToyTask("t5"), backend, fmt, _setup(), EpisodeLimits(), tok))
    assert traj.stop_reason == "submitted"
    assert "unknown tool 'rm_rf'" in traj.segments[2].text and "bash" in traj.segments[2].text


class ReplayEnv(ToyEnvironment):
    """Answers tool calls with fixed outputs, in order."""

    def __init__(self, outputs):
        super().__init__()
        self.outputs = list(outputs)

    async def step(self, call):
        if call.name == "submit":
            return ToolResult(call, "Submitted.", submitted=True)
        return ToolResult(call, self.outputs.pop(0))


def _sequences(traj):
    out = [[]]
    for seg in traj.segments:
        if seg.role == "reset":
            out.append([])
        else:
            out[-1].append(seg)
    return out


def test_token_path_is_the_published_template_turn_by_turn(pair):
    """Every prompt the model continues is the template's rendering of the conversation so far,
    across several tool calls, empty content, non-ASCII text and a mid-episode user message."""
    _, tok = pair
    fmt = get_format("minimax_m2")
    case = TEMPLATE["cases"][0]
    msgs, prompts = case["messages"], [p["text"] for p in case["prompts"]]
    after = {2: msgs[7]}  # the turn before the nudge: no later rendering keeps its thinking
    outputs = []
    for i, prompt in enumerate(prompts):
        following = prompts[i + 1] if i + 1 < len(prompts) and prompts[i + 1].startswith(prompt) else case["full"]
        if i in after:
            outputs.append(f"{after[i]['reasoning_content']}\n</think>\n\n{after[i]['content']}[e~[")
        else:
            rest = following[len(prompt):]
            outputs.append(rest[:rest.index("[e~[") + len("[e~[")])
    backend = IdsBackend(tok, [tok.encode(o, add_special_tokens=False) for o in outputs])
    env = ReplayEnv([msgs[3]["content"], msgs[5]["content"], msgs[6]["content"]])
    setup = EpisodeSetup(system=msgs[0]["content"], user=msgs[1]["content"])
    traj = asyncio.run(run_episode(env, ToyTask("m2"), backend, fmt, setup, EpisodeLimits(), tok))

    assert traj.stop_reason == "submitted" and traj.turns == 4
    assert [tok.decode(r.prompt_ids) for r in backend.requests] == prompts
    first, second = _sequences(traj)
    assert tok.decode([i for s in first for i in s.ids]) == prompts[2] + outputs[2]
    assert tok.decode([i for s in second for i in s.ids]) == case["full"]
    # the trainable tokens are the four turns exactly as generated, once each
    trained = [s.ids for s in traj.segments if s.trainable]
    assert trained == [tok.encode(o, add_special_tokens=False) for o in outputs]
    # the message view, as a served M2 renders it, is the same conversation
    assert fmt.render_messages(traj.messages, case["tools"], add_generation_prompt=False) == case["full"]
