"""The OpenAI-compatible backend against a local HTTP server answering as vLLM does for a served
MiniMax-M2 (tool-call + reasoning parsers): tool calls parsed, thinking sent back every turn."""

import asyncio
import json

from envmine.rl.backends import BACKENDS, backend_class
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
    assert sorted(BACKENDS) == ["openai", "scripted", "transformers", "vllm"]
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


def test_endpoint_sends_thinking_as_reasoning_and_the_message_back_whole(httpserver):
    bodies = []
    first = completion({"role": "assistant", "content": None, "reasoning_details": [
        {"type": "reasoning.text", "id": "r-1", "format": "MiniMax-response-v1", "text": "List the files first."}],
        "tool_calls": FIRST["choices"][0]["message"]["tool_calls"]})

    def handler(request):
        from werkzeug import Response
        bodies.append(json.loads(request.data))
        return Response(json.dumps(first if len(bodies) == 1 else SECOND), content_type="application/json")

    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(handler)
    backend = OpenAICompatBackend(httpserver.url_for("/"), model="MiniMaxAI/MiniMax-M2")
    traj = asyncio.run(run_episode(ToyEnvironment(), ToyTask("t"), backend, get_format("minimax_m2"),
                                   EpisodeSetup(system="sys", user="fix it"), EpisodeLimits()))
    assert traj.stop_reason == "submitted"
    assistant = bodies[1]["messages"][2]
    assert assistant["reasoning"] == "List the files first."  # the field current vLLM reads
    assert assistant["reasoning_details"][0]["id"] == "r-1"  # passed back whole
    assert "reasoning_content" not in assistant


def test_vllm_sampling_and_engine_arguments():
    from envmine.rl.backends.base import GenerateRequest
    from envmine.rl.backends.vllm_backend import engine_kwargs, sampling_kwargs

    request = GenerateRequest([1, 2, 3], [], max_new_tokens=64, temperature=0.7)
    assert sampling_kwargs(request, [0, 7]) == {"max_tokens": 64, "temperature": 0.7, "top_p": 1.0,
                                                "stop_token_ids": [0, 7], "logprobs": 0, "skip_special_tokens": False}
    kwargs = engine_kwargs("/m", type("M", (), {"dtype": "torch.bfloat16"})(), 0.4, 8192)
    assert kwargs == {"model": "/m", "tokenizer": "/m", "dtype": "bfloat16", "gpu_memory_utilization": 0.4,
                      "enable_prefix_caching": True, "logprobs_mode": "processed_logprobs", "seed": 0,
                      "max_model_len": 8192}


def test_vllm_model_path_saves_a_model_without_a_folder(tmp_path):
    from envmine.rl.backends.vllm_backend import model_path, stop_token_ids, weight_items
    from envmine.rl.tiny import tiny_pair

    model, tok = tiny_pair(seed=0)
    path = model_path(model, tok, tmp_path / "tiny")
    assert path == str(tmp_path / "tiny")
    assert (tmp_path / "tiny" / "config.json").is_file() and list((tmp_path / "tiny").glob("*.safetensors"))
    assert (tmp_path / "tiny" / "tokenizer.json").is_file()
    model.config._name_or_path = path  # as from_pretrained(path) sets it
    assert model_path(model, tok) == path  # a model with its own folder is used as it is
    names = [n for n, _ in weight_items(model)]
    assert names[0] == "model.embed_tokens.weight" and set(names) <= set(model.state_dict())
    assert stop_token_ids(tok, ["[e~[", "not one token"]) == [tok.eos_token_id, tok.convert_tokens_to_ids("[e~[")]


def test_vllm_completion_output_becomes_a_generation():
    from types import SimpleNamespace as NS

    from envmine.rl.backends.vllm_backend import to_generation
    from envmine.rl.tiny import byte_tokenizer

    tok = byte_tokenizer()
    ids = tok.encode("ok[e~[", add_special_tokens=False)
    # vLLM's CompletionOutput shape: logprobs is one {token id: Logprob} per sampled token
    steps = [{i: NS(logprob=-0.25 * (k + 1), rank=1, decoded_token=None)} for k, i in enumerate(ids)]
    gen = to_generation(NS(token_ids=tuple(ids), logprobs=steps, finish_reason="stop"), tok)
    assert gen.text == "ok[e~[" and gen.token_ids == ids and gen.finish_reason == "stop"
    assert gen.logprobs == [-0.25, -0.5, -0.75]
    cut = to_generation(NS(token_ids=ids[:2], logprobs=None, finish_reason="length"), tok)
    assert cut.finish_reason == "length" and cut.logprobs is None and cut.completion_tokens == 2
