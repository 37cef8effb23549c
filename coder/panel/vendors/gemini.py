"""Google Gemini ``generateContent`` through the official ``google-genai`` SDK.

``google.genai.Client(api_key=…, http_options=HttpOptions(base_url=…, timeout=ms))`` posts to
``{base_url}/v1beta/models/{model}:generateContent``.  The SDK retries nothing unless told to
(``retry_options`` unset): the runner retries.  Structured output: ``response_mime_type =
"application/json"`` with ``response_json_schema`` by default.  ``thinking_budget`` (e.g. 0 for
``gemini-2.5-flash``: thinking tokens are billed as output) goes in ``thinking_config``;
``[member.params]`` are further ``GenerateContentConfig`` fields.
"""

from __future__ import annotations

from typing import ClassVar

from ..parse import ANSWER_SCHEMA
from ..vendor import BaseAdapter, CallError, Reply, http_client, status_error, transport_error

__all__ = ["Adapter"]


class Adapter(BaseAdapter):
    vendor: ClassVar[str] = "gemini"
    api: ClassVar[str] = "generateContent"
    default_format: ClassVar[str] = "json_schema"

    def __init__(self, member, api_key):
        super().__init__(member, api_key)
        from google import genai
        from google.genai import types

        self._types = types
        self._errors = genai.errors
        self.http = http_client(member.timeout_s)  # timeout_s is a deadline for the whole call
        options = {"timeout": max(int(member.timeout_s * 1000), 1), "httpx_client": self.http}
        if member.base_url:
            options["base_url"] = member.base_url
        self.client = genai.Client(api_key=self.api_key, http_options=types.HttpOptions(**options))
        self._last_config: tuple[str, object] | None = None

    def _config(self, system: str):
        """The request config for ``system`` (built once: every call of a run has the same system prompt)."""
        if self._last_config is not None and self._last_config[0] == system:
            return self._last_config[1]
        config = self._build_config(system)
        self._last_config = (system, config)
        return config

    def _build_config(self, system: str):
        m, types = self.member, self._types
        cfg: dict = {"system_instruction": system, "temperature": m.temperature, "max_output_tokens": m.max_tokens}
        if m.top_p is not None:
            cfg["top_p"] = m.top_p
        if m.seed is not None:
            cfg["seed"] = m.seed
        if m.thinking_budget is not None:
            cfg["thinking_config"] = types.ThinkingConfig(thinking_budget=m.thinking_budget)
        if self.response_format(m) != "text":
            cfg["response_mime_type"] = "application/json"
            if self.response_format(m) == "json_schema":
                cfg["response_json_schema"] = ANSWER_SCHEMA
        cfg.update(m.params)
        return types.GenerateContentConfig(**cfg)

    def call(self, system: str, user: str) -> Reply:
        import httpx2

        m = self.member
        try:
            resp = self.client.models.generate_content(model=m.model, contents=user, config=self._config(system))
        except self._errors.APIError as exc:
            resp_obj = getattr(exc, "response", None)
            raise status_error(
                int(exc.code or 0), str(exc.message or exc.status or ""), getattr(resp_obj, "headers", None)
            ) from None
        except httpx2.TransportError as exc:
            raise transport_error(exc) from None
        except ValueError as exc:  # a body that is not JSON
            raise CallError(f"unreadable response ({type(exc).__name__})", retryable=True) from None
        try:
            text = resp.text or ""
        except ValueError:
            text = ""
        usage = resp.usage_metadata
        out = int(getattr(usage, "candidates_token_count", 0) or 0) + int(
            getattr(usage, "thoughts_token_count", 0) or 0
        )
        return Reply(
            text=text,
            model=str(getattr(resp, "model_version", "") or m.model),
            input_tokens=int(getattr(usage, "prompt_token_count", 0) or 0),
            output_tokens=out,
        )
