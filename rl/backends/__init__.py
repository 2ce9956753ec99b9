"""Rollout backends behind one interface: transformers (CPU tests), vLLM (GPU), any
OpenAI-compatible endpoint, and scripted policies. Registry by name, imported lazily, so
vLLM is only imported where it is used."""

from __future__ import annotations

from envmine.registry import resolve

BACKENDS: dict[str, str] = {
    "transformers": "transformers_cpu:TransformersBackend",
    "openai": "openai_compat:OpenAICompatBackend",
    "vllm": "vllm_backend:VLLMBackend",
    "scripted": "base:ScriptedBackend",
}


def backend_class(name: str) -> type:
    """The backend class registered as `name`; an unknown name's error lists the valid names."""
    return resolve("backend", __name__, BACKENDS, name)
