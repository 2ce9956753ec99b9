"""The OpenAI-compatible backend against a local HTTP server answering as vLLM does for a served
MiniMax-M2 (tool-call + reasoning parsers): tool calls parsed, thinking sent back every turn."""

import asyncio
import json

from envmine.rl.backends import backend_class, known_backends
from envmine.rl.backends.openai_compat import OpenAICompatBackend
from envmine.rl.formats import get_format
from envmine.rl.scaffold import EpisodeLimits, EpisodeSetup, run_episode
from envmine.rl.toy import ToyEnvironment, ToyTask


def completion(message, finish="tool_calls"):
    return {"id": "chatcmpl-1", "object": "chat.completion", "model": "MiniMaxAI/MiniMax-M2",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 900, "completion_tokens": 37, "total_tokens": 937}}


FIRST = completion({"role": "assistant", "content": None, "reasoning_content": "List the files first.",
                    "tool_calls": [{"id": "chatcmpl-tool-a1", "type": "function",
                                    "function": {"name": "bash", "arguments": "{\"command\": \"ls\"}"}}]})
SECOND = completion({"role": "assistant", "content": "All done.", "reasoning_content": "Looks fine; submit.",
                     "tool_calls": [{"id": "chatcmpl-tool-b2", "type": "function",
                                     "function": {"name": "submit", "arguments": "{}"}}]})


def test_registry_lists_backends_and_vllm_is_lazy():
    assert known_backends() == ["openai", "scripted", "transformers", "vllm"]
    assert backend_class("vllm").__name__ == "VLLMBackend"  # importable without vllm installed


def test_episode_through_an_openai_compatible_endpoint(httpserver):
    bodies = []

    def handler(request):
        from werkzeug import Response
        bodies.append(json.loads(request.data))
        return Response(json.dumps(FIRST if len(bodies) == 1 else SECOND), content_type="application/json")

    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(handler)
    backend = OpenAICompatBackend(httpserver.url_for("/"), model="MiniMaxAI/MiniMax-M2", think_in_content=True)
    setup = EpisodeSetup(system="sys", user="fix it")
    env = ToyEnvironment()
    traj = asyncio.run(run_episode(env, ToyTask("t"), backend, get_format("minimax_m2"), setup, EpisodeLimits()))
    assert traj.stop_reason == "submitted" and traj.turns == 2 and traj.tokens == 74
    second = bodies[1]
    assert second["model"] == "MiniMaxAI/MiniMax-M2" and second["tools"][0]["function"]["name"] == "bash"
    assistant = second["messages"][2]
    assert assistant["content"] == "<think>\nList the files first.\n</think>\n\n"  # thinking kept, M2 style
    assert assistant["tool_calls"][0]["id"] == "chatcmpl-tool-a1"
    assert second["messages"][3] == {"role": "tool", "tool_call_id": "chatcmpl-tool-a1", "content": "ok"}
