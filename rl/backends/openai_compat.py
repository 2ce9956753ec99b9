"""Any OpenAI-compatible chat-completions endpoint (e.g. vLLM serving MiniMax-M2 with
`--tool-call-parser minimax_m2 --reasoning-parser minimax_m2_append_think`).

Message level: the endpoint renders and parses; the scaffold sends the whole conversation,
thinking included, so a served M2 keeps its interleaved thinking across turns. Each assistant
message goes back as the endpoint returned it (MiniMax: "pass the thinking back whole"), with
its thinking also in `thinking_field`: `reasoning` (default; what current vLLM reads on incoming
messages), `reasoning_content` (older servers) or `content` (`<think>…</think>` in front).
"""

from __future__ import annotations

from typing import Any

import httpx

from envmine.rl.backends.base import GenerateRequest, Generation
from envmine.rl.formats.openai import THINKING_FIELDS, from_message


class EndpointError(RuntimeError):
    """The endpoint answered with an error or an unusable body."""


class OpenAICompatBackend:
    token_level = False

    def __init__(self, base_url: str, model: str = "", api_key: str = "", timeout_s: float = 600.0,
                 think_in_content: bool = False, extra_body: dict[str, Any] | None = None,
                 client: httpx.AsyncClient | None = None, thinking_field: str = "reasoning"):
        self.base_url = base_url.rstrip("/")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        if thinking_field not in THINKING_FIELDS:
            raise ValueError(f"unknown thinking field {thinking_field!r}; known: {', '.join(THINKING_FIELDS)}")
        self.model = model
        self.thinking_field = "content" if think_in_content else thinking_field
        self.extra_body = extra_body or {}
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = client or httpx.AsyncClient(timeout=timeout_s, headers=headers)

    async def model_name(self) -> str:
        """The configured model, or the first one the endpoint lists."""
        if not self.model:
            resp = await self._client.get(f"{self.base_url}/models")
            resp.raise_for_status()
            self.model = resp.json()["data"][0]["id"]
        return self.model

    async def generate(self, request: GenerateRequest) -> Generation:
        body = {"model": await self.model_name(), "messages": self._messages(request.messages),
                "max_tokens": request.max_new_tokens, "temperature": request.temperature,
                **self.extra_body}
        if request.tools:
            body["tools"], body["tool_choice"] = request.tools, "auto"
        resp = await self._client.post(f"{self.base_url}/chat/completions", json=body)
        if resp.status_code >= 400:
            raise EndpointError(f"{resp.status_code} from {self.base_url}: {resp.text[:500]}")
        try:
            data = resp.json()
            choice = data["choices"][0]
        except (ValueError, KeyError, IndexError) as exc:
            raise EndpointError(f"unusable response from {self.base_url}: {resp.text[:500]}") from exc
        turn = from_message(choice["message"])
        usage = data.get("usage") or {}
        reason = "length" if choice.get("finish_reason") == "length" else "stop"
        return Generation(text=choice["message"].get("content") or "", turn=turn, finish_reason=reason,
                          completion_tokens=int(usage.get("completion_tokens") or 0),
                          message=dict(choice["message"]))

    def _messages(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Every assistant message with its thinking in `thinking_field` (nothing else changed)."""
        return [self._with_thinking(m) if m.get("role") == "assistant" else m for m in messages]

    def _with_thinking(self, message: dict[str, Any]) -> dict[str, Any]:
        turn = from_message(message)
        if not turn.thinking:
            return message
        out = {k: v for k, v in message.items() if k not in ("reasoning", "reasoning_content")}
        if self.thinking_field == "content":
            out["content"] = f"<think>\n{turn.thinking}\n</think>\n\n{turn.content}"
        else:
            out[self.thinking_field] = turn.thinking
        return out

    async def aclose(self) -> None:
        await self._client.aclose()
