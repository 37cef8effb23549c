"""Cache entries: the key of a request, an entry's shape, and the check every entry read passes.

An entry is ``{"key", "request", "response": {"text"}, "usage", "model", "created_utc"}`` (see
:mod:`coder.panel.cache`).  :func:`check_entry` is applied to every entry read — a bundle line,
a row of the cache, an old cache being migrated — so nothing of the wrong type or shape reaches
``coder cache stats``, ``prune`` or a panel run; :func:`clean_entry` takes credentials out of a
request's ``base_url`` (re-keying the entry).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
from collections.abc import Mapping

from .config import redact_url

__all__ = ["ENTRY_FIELDS", "cache_key", "canonical_json", "check_entry", "clean_entry", "make_entry", "parse_line"]

ENTRY_FIELDS = ("key", "request", "response", "usage", "model", "created_utc")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")


def canonical_json(obj: object) -> str:
    """JSON with sorted keys and no spaces: equal requests give equal text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def cache_key(request: Mapping[str, object]) -> str:
    """sha256 hex of the canonical JSON of ``request``."""
    return hashlib.sha256(canonical_json(request).encode("utf-8")).hexdigest()


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _clean_request(request: Mapping[str, object]) -> dict:
    """``request`` with the credentials taken out of its ``base_url`` (raises ValueError on a URL that does not parse)."""
    req = dict(request)
    url = req.get("base_url")
    if isinstance(url, str) and url:
        req["base_url"] = redact_url(url)
    return req


def make_entry(
    request: Mapping[str, object], text: str, usage: Mapping[str, int], model: str, *, key: str | None = None
) -> dict:
    """A cache entry for an answer (see the module docstring); ``key`` defaults to :func:`cache_key`.

    A request whose ``base_url`` holds credentials is stored without them, under the key of the
    credential-free request.
    """
    clean = _clean_request(request)
    if clean != dict(request):
        key = None
    return {
        "key": key or cache_key(clean),
        "request": clean,
        "response": {"text": text},
        "usage": {k: int(v) for k, v in usage.items()},
        "model": model,
        "created_utc": _now(),
    }


def check_entry(entry: object) -> tuple[str, dict]:
    """``("", entry)`` for a well-formed entry (only its fields kept), else ``(problem, {})``."""
    if not isinstance(entry, dict):
        return "not a JSON object", {}
    missing = [f for f in ENTRY_FIELDS if f not in entry]
    if missing:
        return f"field(s) {', '.join(missing)} missing", {}
    key, request, response, usage = entry["key"], entry["request"], entry["response"], entry["usage"]
    if not isinstance(key, str) or not _HEX64.fullmatch(key):
        return "key must be 64 lower-case hex digits (a sha256)", {}
    if not isinstance(request, dict) or not isinstance(response, dict):
        return "request and response must be objects", {}
    if not isinstance(response.get("text"), str):
        return "response.text must be a string", {}
    if not isinstance(usage, dict) or not all(
        isinstance(k, str) and type(v) is int and v >= 0 for k, v in usage.items()
    ):
        return f"usage must be an object of token counts (whole numbers ≥ 0), not {_show(usage)}", {}
    if not isinstance(entry["model"], str):
        return f"model must be a string, not {_show(entry['model'])}", {}
    created = entry["created_utc"]
    if not isinstance(created, str) or not _UTC.fullmatch(created):
        return f"created_utc must be a UTC time like 2026-01-31T12:00:00+00:00, not {_show(created)}", {}
    url = request.get("base_url")
    if url is not None and not isinstance(url, str):
        return "request.base_url must be a string", {}
    try:
        if cache_key(request) != key:
            return f"key {key[:12]}… is not the sha256 of its request", {}
        if url:
            redact_url(url)
    except ValueError as exc:
        return f"request cannot be read ({exc})", {}
    return "", {f: entry[f] for f in ENTRY_FIELDS}


def _show(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    text = text if len(text) <= 40 else text[:40] + "…"
    return f"{type(value).__name__} {text}" if not isinstance(value, dict | list) else text


def clean_entry(entry: dict) -> dict:
    """A checked entry without credentials in its request (re-keyed when any were removed)."""
    clean = _clean_request(entry["request"])
    if clean == entry["request"]:
        return entry
    return {**entry, "request": clean, "key": cache_key(clean)}


def parse_line(line: bytes) -> tuple[str, dict]:
    if not line.strip():
        return "empty line", {}
    try:
        obj = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        return "not UTF-8", {}
    except json.JSONDecodeError as exc:
        return f"not JSON ({exc.msg})", {}
    except (ValueError, RecursionError):
        return "not JSON", {}
    return check_entry(obj)
