"""What every vendor adapter provides, and how one is found.

An adapter is a module ``coder.panel.<vendor>`` (``openai-compatible`` →
``openai_compatible``) defining ``Adapter``, a subclass of :class:`BaseAdapter`.  Adding a
vendor is adding one module: :func:`adapter_class` looks it up by name, nothing else lists
vendors.  ``Adapter(member, api_key).call(system, user)`` returns a :class:`Reply` or raises
:class:`CallError` (``retryable`` for 408/409/429/5xx, timeouts and connection failures; with
the server's ``Retry-After`` in seconds when it sent one).  Adapters turn the SDK's own retries
off (the runner retries, honouring ``Retry-After``) and set the member's timeout.
"""

from __future__ import annotations

import datetime as _dt
import email.utils
from abc import ABC, abstractmethod
from dataclasses import dataclass
from importlib import import_module
from typing import ClassVar

from .config import Member

__all__ = ["RETRY_STATUS", "BaseAdapter", "CallError", "Reply", "adapter_class", "parse_retry_after", "status_error"]

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
NO_KEY = "no-key"  # placeholder for servers that take none (api_key_env = "")


@dataclass(frozen=True)
class Reply:
    """A vendor's answer: the text, the model id it reported, and token usage."""

    text: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0


class CallError(Exception):
    """A failed call: message (never holding a key), whether a retry may help, Retry-After seconds, HTTP status."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status


def parse_retry_after(headers: object) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date); None if absent."""
    if headers is None:
        return None
    get = getattr(headers, "get", None)
    if get is None:
        return None
    ms = get("retry-after-ms")
    if ms:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    value = get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.UTC)
    return max((when - _dt.datetime.now(_dt.UTC)).total_seconds(), 0.0)


def status_error(status: int, body: str, headers: object = None) -> CallError:
    """A :class:`CallError` for an HTTP error status (retryable per :data:`RETRY_STATUS`)."""
    text = " ".join(str(body or "").split())[:200]
    hint = " (check the key)" if status in (401, 403) else ""
    return CallError(
        f"HTTP {status}{hint}: {text}" if text else f"HTTP {status}{hint}",
        retryable=status in RETRY_STATUS,
        retry_after=parse_retry_after(headers),
        status=status,
    )


class BaseAdapter(ABC):
    """Common part of the adapters: the member, the key, and the defaults a vendor module overrides."""

    vendor: ClassVar[str] = ""
    api: ClassVar[str] = ""  # the API used, part of the cache key (e.g. "messages", "chat.completions")
    default_format: ClassVar[str] = "json_schema"

    def __init__(self, member: Member, api_key: str | None):
        self.member = member
        self.api_key = api_key or NO_KEY

    @classmethod
    def response_format(cls, member: Member) -> str:
        return member.response_format or cls.default_format

    @abstractmethod
    def call(self, system: str, user: str) -> Reply:
        """Send one request (system and user prompt); the :class:`Reply`, or raise :class:`CallError`."""

    def close(self) -> None:
        """Close the SDK client's connections."""
        close = getattr(getattr(self, "client", None), "close", None)
        if close is not None:
            close()


def adapter_class(vendor: str) -> type[BaseAdapter]:
    """The ``Adapter`` of ``coder.panel.<vendor>`` (imported on first use)."""
    module = import_module(f"{__package__}.vendors.{vendor.replace('-', '_')}")
    return module.Adapter


def stainless_call(sdk: object, fn, *args, **kwargs):
    """Call an ``anthropic``/``openai`` SDK method, turning its exceptions into :class:`CallError`."""
    try:
        return fn(*args, **kwargs)
    except sdk.APIStatusError as exc:  # type: ignore[attr-defined]
        resp = exc.response
        raise status_error(exc.status_code, _body(resp), resp.headers) from None
    except sdk.APITimeoutError:  # type: ignore[attr-defined]
        raise CallError("timed out", retryable=True) from None
    except sdk.APIConnectionError as exc:  # type: ignore[attr-defined]
        raise CallError(f"connection failed ({type(exc.__cause__ or exc).__name__})", retryable=True) from None
    except sdk.APIResponseValidationError as exc:  # type: ignore[attr-defined]
        raise CallError(f"unexpected response ({exc.message[:100]})", retryable=True) from None
    except ValueError as exc:  # a body that is not JSON
        raise CallError(f"unreadable response ({type(exc).__name__})", retryable=True) from None


def _body(resp: object) -> str:
    try:
        return resp.text  # type: ignore[attr-defined]
    except Exception:
        return ""
