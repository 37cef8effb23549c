"""OpenAI-compatible servers through the ``openai`` SDK with a base URL.

HyperCLOVA X (CLOVA Studio, ``https://clovastudio.stream.ntruss.com/v1/openai/``), vLLM,
Ollama (``http://localhost:11434/v1``), llama.cpp (``http://localhost:8080/v1``).  Such servers
differ in what they accept, so the defaults are the common denominator: ``max_tokens`` (not
``max_completion_tokens``) and no ``response_format`` — the answer is parsed from plain text or
a ```` ```json ```` fence.  Set ``response_format = "json_schema"`` or ``"json_object"`` in the
member for a server that supports it.  ``base_url`` is required; ``api_key_env`` may be empty
for local servers (a placeholder key is sent).

Reasoning models served this way (HCX-007, DeepSeek-R1 or Qwen3 on vLLM/Ollama) often put their
reasoning in the content as a leading ``<think>…</think>`` block; it is removed before parsing,
and the reasoning tokens still count as output tokens in the usage.
"""

from __future__ import annotations

import re
from typing import ClassVar

from ...errors import InputError
from ..vendor import Reply
from . import openai as _openai

__all__ = ["Adapter", "strip_reasoning"]

_THINK = re.compile(r"^\s*<think>.*?</think>\s*", re.S)


def strip_reasoning(text: str) -> str:
    """Text without a leading ``<think>…</think>`` block.

    >>> strip_reasoning('<think>음…</think>{"code": "1"}')
    '{"code": "1"}'
    """
    return _THINK.sub("", text, count=1)


class Adapter(_openai.Adapter):
    vendor: ClassVar[str] = "openai-compatible"
    api: ClassVar[str] = "chat.completions"
    default_format: ClassVar[str] = "text"
    token_parameter: ClassVar[str] = "max_tokens"

    def __init__(self, member, api_key):
        if not member.base_url:
            raise InputError(
                f"panel member {member.id}: vendor openai-compatible needs a base_url "
                "(e.g. https://clovastudio.stream.ntruss.com/v1/openai/ or http://localhost:8000/v1) — "
                "add it to the panel file."
            )
        super().__init__(member, api_key)

    def call(self, system: str, user: str) -> Reply:
        reply = super().call(system, user)
        text = strip_reasoning(reply.text)
        if text == reply.text:
            return reply
        return Reply(text, reply.model, reply.input_tokens, reply.output_tokens)
