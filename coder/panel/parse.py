"""Strict parsing of a member's answer: one JSON object ``{"code", "confidence", "reason"}``.

Accepted forms: the object as the whole text, or the object as the only content of a
```` ```json ```` (or bare ```` ``` ````) fence — what many OpenAI-compatible servers return.
Nothing is fished out of prose.  The vote is **valid** when the text parses to an object whose
``code`` is a string in the code list (the military ``A…`` codes are in it) or the project bucket ``0`` (not in employment).  A code
outside the list is kept verbatim and counted invalid — never truncated, padded or mapped.
``confidence`` must be a number in [0, 1] (otherwise NaN, and the problem is noted);
``reason`` a string.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from ..codes import BUCKET_NOT_EMPLOYED, CodeList

__all__ = ["ANSWER_SCHEMA", "ParsedAnswer", "parse_answer"]

ANSWER_SCHEMA = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "description": "KSCO-7 code, 1-5 characters"},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "reason": {"type": "string"},
    },
    "required": ["code", "confidence", "reason"],
    "additionalProperties": False,
}
"""The answer's JSON schema, sent to vendors with structured output."""

_FENCE = re.compile(r"^```(?:json|JSON)?[ \t]*\n(.*?)\n?```$", re.S)


@dataclass(frozen=True)
class ParsedAnswer:
    """One answer: the code (verbatim), confidence (NaN when absent or bad), reason, validity and the problem."""

    code: str
    confidence: float
    reason: str
    valid: bool
    problem: str = ""


def _short(text: str, n: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def parse_answer(text: str | None, codes: CodeList) -> ParsedAnswer:
    """Parse one answer text (see the module docstring)."""
    raw = (text or "").strip()
    if not raw:
        return ParsedAnswer("", math.nan, "", False, "empty answer")
    body = raw
    fence = _FENCE.match(raw)
    if fence:
        body = fence.group(1).strip()
    try:
        obj = json.loads(body)
    except json.JSONDecodeError:
        return ParsedAnswer("", math.nan, "", False, f"not a JSON object: {_short(raw)!r}")
    if not isinstance(obj, dict):
        return ParsedAnswer("", math.nan, "", False, f"not a JSON object: {_short(raw)!r}")
    problems = []
    code = obj.get("code")
    reason = obj.get("reason", "")
    if not isinstance(reason, str):
        problems.append("reason is not a string")
        reason = str(reason)
    conf = obj.get("confidence")
    if isinstance(conf, bool) or not isinstance(conf, int | float) or not (0.0 <= float(conf) <= 1.0):
        problems.append(f"confidence {conf!r} is not a number in [0, 1]")
        conf = math.nan
    conf = float(conf)
    if code is None:
        return ParsedAnswer("", conf, reason, False, "; ".join(["no code", *problems]))
    if not isinstance(code, str):
        return ParsedAnswer(str(code), conf, reason, False, "; ".join([f"code {code!r} is not a string", *problems]))
    if not code:
        return ParsedAnswer("", conf, reason, False, "; ".join(["empty code", *problems]))
    if code not in codes and code != BUCKET_NOT_EMPLOYED:
        return ParsedAnswer(code, conf, reason, False, "; ".join([f"code {code!r} is not in {codes.name}", *problems]))
    return ParsedAnswer(code, conf, reason, True, "; ".join(problems))
