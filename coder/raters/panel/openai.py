"""OpenAI Chat Completions through the official ``openai`` SDK (``POST {base_url}/chat/completions``).

Structured output: ``response_format={"type": "json_schema", ...}`` with the answer schema
(strict) by default; ``json_object`` and ``text`` on request (``response_format`` in the member).
``temperature``, ``top_p``, ``seed`` and ``max_tokens`` (sent as ``max_completion_tokens``) go as
the SDK's own parameters; ``[member.params]`` go in the request body as they are.
"""

from __future__ import annotations

from typing import ClassVar

from .parse import ANSWER_SCHEMA
from .vendor import BaseAdapter, CallError, Reply, stainless_call

__all__ = ["Adapter"]


class Adapter(BaseAdapter):
    vendor: ClassVar[str] = "openai"
    api: ClassVar[str] = "chat.completions"
    default_format: ClassVar[str] = "json_schema"
    token_parameter: ClassVar[str] = "max_completion_tokens"

    def __init__(self, member, api_key):
        super().__init__(member, api_key)
        import openai

        self._sdk = openai
        kwargs = {"api_key": self.api_key, "timeout": member.timeout_s, "max_retries": 0}
        if member.base_url:
            kwargs["base_url"] = member.base_url
        self.client = openai.OpenAI(**kwargs)

    def _format(self) -> dict | None:
        fmt = self.response_format(self.member)
        if fmt == "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {"name": "ksco_answer", "schema": ANSWER_SCHEMA, "strict": True},
            }
        if fmt == "json_object":
            return {"type": "json_object"}
        return None

    def call(self, system: str, user: str) -> Reply:
        m = self.member
        kwargs: dict = {
            "model": m.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "temperature": m.temperature,
            self.token_parameter: m.max_tokens,
        }
        fmt = self._format()
        if fmt is not None:
            kwargs["response_format"] = fmt
        if m.top_p is not None:
            kwargs["top_p"] = m.top_p
        if m.seed is not None:
            kwargs["seed"] = m.seed
        if m.params:
            kwargs["extra_body"] = dict(m.params)
        resp = stainless_call(self._sdk, self.client.chat.completions.create, **kwargs)
        if not getattr(resp, "choices", None):
            raise CallError("response without choices", retryable=True)
        message = resp.choices[0].message
        text = message.content or ""
        if not text and getattr(message, "refusal", None):
            text = ""
        usage = resp.usage
        return Reply(
            text=text,
            model=str(resp.model or m.model),
            input_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            output_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        )
