"""What every vendor adapter provides, and how one is found.

An adapter is a module ``coder.panel.<vendor>`` (``openai-compatible`` →
``openai_compatible``) defining ``Adapter``, a subclass of :class:`BaseAdapter`.  Adding a
vendor is adding one module: :func:`adapter_class` looks it up by name, nothing else lists
vendors.  ``Adapter(member, api_key).call(system, user)`` returns a :class:`Reply` or raises
:class:`CallError` (``retryable`` for 408/409/429/5xx, timeouts and connection failures; with
the server's ``Retry-After`` in seconds when it sent one; ``kind`` says which).  Adapters turn
the SDK's own retries off (the runner retries, honouring ``Retry-After``).

**``timeout_s`` is a deadline for the whole call**, not for each read: a server that trickles its
reply a byte at a time would otherwise hold a call as long as it likes (each read is quick).
Adapters give their SDK an HTTP client from :func:`http_client`, whose every connect, read and
write waits at most the time left before the deadline that :func:`call_deadline` set for the
calling thread (the runner sets one per attempt); past it, the SDK sees its own timeout error.
The client is an ``httpx2`` client whose connection pool has its network backend wrapped
(``_pool._network_backend``, a private attribute of ``httpx2``/``httpcore2``: the test of a
trickling reply guards it).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import email.utils
import functools
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import import_module
from typing import ClassVar

from .config import Member

__all__ = [
    "RETRY_STATUS",
    "BaseAdapter",
    "CallError",
    "Reply",
    "adapter_class",
    "call_deadline",
    "http_client",
    "parse_retry_after",
    "redact_logs",
    "status_error",
]

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
    """A failed call: message (never holding a key), whether a retry may help, Retry-After seconds, HTTP status.

    ``kind``: ``"status"`` (an HTTP error status), ``"timeout"`` (no complete reply within the
    deadline), ``"connect"`` (no connection: refused, unreachable, DNS), ``"response"`` (a reply
    the SDK could not read).
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        status: int | None = None,
        kind: str = "response",
    ):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status
        self.kind = "status" if status is not None and kind == "response" else kind


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
        for owner in (getattr(self, "client", None), getattr(self, "http", None)):
            close = getattr(owner, "close", None)
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
    except sdk.APITimeoutError as exc:  # type: ignore[attr-defined]
        raise transport_error(exc.__cause__ or exc) from None
    except sdk.APIConnectionError as exc:  # type: ignore[attr-defined]
        raise transport_error(exc.__cause__ or exc) from None
    except sdk.APIResponseValidationError as exc:  # type: ignore[attr-defined]
        raise CallError(f"unexpected response ({exc.message[:100]})", retryable=True) from None
    except ValueError as exc:  # a body that is not JSON
        raise CallError(f"unreadable response ({type(exc).__name__})", retryable=True) from None


def _body(resp: object) -> str:
    try:
        return resp.text  # type: ignore[attr-defined]
    except Exception:
        return ""


def transport_error(exc: BaseException) -> CallError:
    """A :class:`CallError` for an ``httpx2`` transport exception (timeout, connection failure, protocol error)."""
    import httpx2

    name = type(exc).__name__
    if isinstance(exc, httpx2.ConnectTimeout | httpx2.ConnectError):
        reason = " ".join(str(exc).split())[:120]
        return CallError(f"connection failed ({name}{': ' + reason if reason else ''})", retryable=True, kind="connect")
    if isinstance(exc, httpx2.TimeoutException):
        return CallError("timed out", retryable=True, kind="timeout")
    return CallError(f"connection failed ({name})", retryable=True, kind="response")


# ---------------------------------------------------------------------- logs

_LOGGERS = ("httpx", "httpx2", "httpcore", "httpcore2", "openai", "anthropic", "google_genai")


class _Redact(logging.Filter):
    """Replaces every secret it knows by ``***`` in the records of the HTTP and SDK loggers."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if any(s in text for s in self.secrets):
            for s in self.secrets:
                text = text.replace(s, "***")
            record.msg, record.args = text, ()
        return True


_REDACT = _Redact()


def redact_logs(secrets: list[str]) -> None:
    """Keep ``secrets`` (keys, credentials in a base URL) out of what the SDKs and ``httpx2`` log.

    ``httpx2`` logs every request's URL at INFO — with its ``user:password@`` and query — and the
    SDKs log request options at DEBUG; an application that turns logging on would write them.
    The filter goes on every logger of those packages (a logger's filters see only its own records).
    """
    new = [s for s in secrets if s and len(s) >= 4 and s not in _REDACT.secrets]
    if not new:
        return
    _REDACT.secrets = sorted([*_REDACT.secrets, *new], key=len, reverse=True)
    for name in list(logging.root.manager.loggerDict):
        if name.split(".")[0] in _LOGGERS:
            logger = logging.getLogger(name)
            if _REDACT not in logger.filters:
                logger.addFilter(_REDACT)


# ---------------------------------------------------------------------- the whole-call deadline

_deadline = threading.local()


@contextlib.contextmanager
def call_deadline(seconds: float) -> Iterator[None]:
    """Every network operation of :func:`http_client` clients in this thread ends within ``seconds`` from now."""
    previous = getattr(_deadline, "at", None)
    _deadline.at = time.monotonic() + seconds
    try:
        yield
    finally:
        _deadline.at = previous


def _left(timeout: float | None, timeout_error: type[Exception]) -> float | None:
    at = getattr(_deadline, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise timeout_error("the call's deadline (timeout_s) passed")
    return left if timeout is None else min(timeout, left)


@functools.cache
def _backend_classes():
    import httpcore2
    from httpcore2._backends.base import NetworkBackend, NetworkStream

    class Stream(NetworkStream):
        def __init__(self, inner: NetworkStream):
            self._inner = inner

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return self._inner.read(max_bytes, _left(timeout, httpcore2.ReadTimeout))

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            self._inner.write(buffer, _left(timeout, httpcore2.WriteTimeout))

        def close(self) -> None:
            self._inner.close()

        def start_tls(self, ssl_context, server_hostname=None, timeout=None):
            inner = self._inner.start_tls(ssl_context, server_hostname, _left(timeout, httpcore2.ConnectTimeout))
            return Stream(inner)

        def get_extra_info(self, info: str):
            return self._inner.get_extra_info(info)

    class Backend(NetworkBackend):
        def __init__(self, inner: NetworkBackend):
            self._inner = inner

        def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
            left = _left(timeout, httpcore2.ConnectTimeout)
            return Stream(self._inner.connect_tcp(host, port, left, local_address, socket_options))

        def connect_unix_socket(self, path, timeout=None, socket_options=None):
            left = _left(timeout, httpcore2.ConnectTimeout)
            return Stream(self._inner.connect_unix_socket(path, left, socket_options))

        def sleep(self, seconds: float) -> None:
            self._inner.sleep(seconds)

    return Backend


def http_client(timeout_s: float):
    """An ``httpx2.Client`` for an SDK, bounded by :func:`call_deadline` (see the module docstring)."""
    import httpx2

    backend = _backend_classes()
    client = httpx2.Client(
        transport=httpx2.HTTPTransport(limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=100)),
        timeout=timeout_s,
        follow_redirects=True,
    )
    for transport in [client._transport, *client._mounts.values()]:
        pool = getattr(transport, "_pool", None)
        if pool is not None and hasattr(pool, "_network_backend"):
            pool._network_backend = backend(pool._network_backend)
    return client
