"""Anthropic Messages API through the official ``anthropic`` SDK (``POST {base_url}/v1/messages``).

Structured output: ``output_config={"format": {"type": "json_schema", "schema": …}}`` by default
(``response_format = "text"`` turns it off).  The installed SDK (2.x) has no ``temperature`` or
``top_p`` parameter on ``messages.create``; the member's values are sent in the request body
(``extra_body``), where the Messages API reads them.  ``[member.params]`` go there too.
"""

from __future__ import annotations

from typing import ClassVar

from ..parse import ANSWER_SCHEMA
from ..vendor import BaseAdapter, CallError, Reply, http_client, stainless_call

__all__ = ["Adapter"]


class Adapter(BaseAdapter):
    vendor: ClassVar[str] = "anthropic"
    api: ClassVar[str] = "messages"
    default_format: ClassVar[str] = "json_schema"

    def __init__(self, member, api_key):
        super().__init__(member, api_key)
        import anthropic

        self._sdk = anthropic
        self.http = http_client(member.timeout_s)  # timeout_s is a deadline for the whole call
        kwargs = {"api_key": self.api_key, "timeout": member.timeout_s, "max_retries": 0}
        if member.base_url:
            kwargs["base_url"] = member.base_url
        self.client = anthropic.Anthropic(**kwargs, http_client=self.http)

    def call(self, system: str, user: str) -> Reply:
        m = self.member
        body: dict = {"temperature": m.temperature}
        if m.top_p is not None:
            body["top_p"] = m.top_p
        body.update(m.params)
        kwargs: dict = {
            "model": m.model,
            "max_tokens": m.max_tokens,
            "system": system,
            "messages": [{"role": "user", "content": user}],
            "extra_body": body,
        }
        if self.response_format(m) != "text":
            kwargs["output_config"] = {"format": {"type": "json_schema", "schema": ANSWER_SCHEMA}}
        resp = stainless_call(self._sdk, self.client.messages.create, **kwargs)
        content = getattr(resp, "content", None)
        if content is None:
            raise CallError("response without content", retryable=True)
        text = "".join(getattr(b, "text", "") for b in content if getattr(b, "type", "") == "text")
        usage = resp.usage
        return Reply(
            text=text,
            model=str(resp.model or m.model),
            input_tokens=int(getattr(usage, "input_tokens", 0) or 0),
            output_tokens=int(getattr(usage, "output_tokens", 0) or 0),
        )
