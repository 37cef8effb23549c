"""OpenAI Chat Completions through the official ``openai`` SDK (``POST {base_url}/chat/completions``).

Structured output: ``response_format={"type": "json_schema", ...}`` with the answer schema
(strict) by default; ``json_object`` and ``text`` on request (``response_format`` in the member).
``temperature``, ``top_p``, ``seed`` and ``max_tokens`` (sent as ``max_completion_tokens``) and
``[member.params]`` go in the request body, which is posted with the SDK's ``client.post`` (its
documented call for a body sent as it is; auth, timeout, errors and the ``ChatCompletion``
response model are the SDK's).
"""

from __future__ import annotations

from typing import ClassVar

from ..parse import ANSWER_SCHEMA
from ..vendor import BaseAdapter, CallError, Reply, http_client, stainless_call

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
        self.http = http_client(member.timeout_s)  # timeout_s is a deadline for the whole call
        kwargs = {"api_key": self.api_key, "timeout": member.timeout_s, "max_retries": 0}
        if member.base_url:
            kwargs["base_url"] = member.base_url
        self.client = openai.OpenAI(**kwargs, http_client=self.http)
        from openai.types.chat import ChatCompletion

        self._completion = ChatCompletion

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

    def body(self, system: str, user: str) -> dict:
        """The request body (JSON) of a Chat Completions call."""
        m = self.member
        body: dict = {
            "model": m.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "temperature": m.temperature,
            self.token_parameter: m.max_tokens,
        }
        fmt = self._format()
        if fmt is not None:
            body["response_format"] = fmt
        if m.top_p is not None:
            body["top_p"] = m.top_p
        if m.seed is not None:
            body["seed"] = m.seed
        body.update(m.params)
        return body

    def call(self, system: str, user: str) -> Reply:
        m = self.member
        # the SDK's documented way to send a request body as it is (``client.post``, "undocumented
        # endpoints" in its README): same auth, timeout, errors and response model as
        # ``chat.completions.create``, without walking the body through its TypedDict transform on
        # every call (a third of the client's CPU per call at panel rates)
        resp = stainless_call(
            self._sdk, self.client.post, "/chat/completions", body=self.body(system, user), cast_to=self._completion
        )
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
