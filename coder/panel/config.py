"""Panel members and prices as data: ``rules/panel.toml`` and ``rules/prices.toml``.

``panel.toml`` holds one ``[[member]]`` table per member::

    [[member]]
    id = "claude"                 # rater name panel_<id>; letters, digits, _ (unique)
    vendor = "anthropic"          # anthropic | gemini | openai | openai-compatible (a module of coder.panel)
    model = "claude-opus-4-5"
    base_url = ""                 # optional: another endpoint (proxy, local server, CLOVA Studio)
    api_key_env = "ANTHROPIC_API_KEY"   # the environment variable holding the key; "" = no key (local servers)
    temperature = 0.0
    samples = 1                   # answers per label; each is cached under its own sample index
    max_concurrency = 8           # calls in flight for this member
    timeout_s = 60.0              # deadline for each attempt: the whole call, not each read
    max_tokens = 300              # answer budget (also the output-token bound of the cost estimate)
    retries = 4                   # retries after the first attempt (429, 5xx, timeouts)
    # optional: seed, top_p, response_format ("json_schema" | "json_object" | "text"),
    # thinking_budget (gemini), and [member.params] passed to the vendor as they are

Every field that can change an answer (vendor, model, base URL, temperature, top_p, seed,
max_tokens, response_format, thinking_budget, params) is part of the cache key; id, key
variable, concurrency, timeout and retries are not.

**Credentials in ``base_url``** (``https://user:password@proxy/v1``, ``…?key=…``) are sent to the
server but never written: :meth:`Member.sampling` — the cache key's input, the cached request,
the bundle and the output's sidecar — holds :func:`redact_url` of it (no ``user:password@``,
the values of key-like query parameters as ``***``).  Host, port and path still change the key;
changing only a credential does not, like rotating an API key.  Error messages have the
credentials replaced by ``***`` (:func:`url_secrets`).

``prices.toml``: ``[models."<model>"] input = …, output = … (USD per million tokens), seen =
"YYYY-MM-DD", source = "…"``.  A member whose model has no price is refused unless the
caller allows unknown prices; its cost is then reported as unknown, never as $0.
"""

from __future__ import annotations

import math
import re
import tomllib
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

from ..errors import InputError, RuleError
from ..resources import data_path, file_sha256

__all__ = [
    "Member",
    "Price",
    "PriceTable",
    "load_panel",
    "load_prices",
    "redact_url",
    "select_members",
    "url_secrets",
]

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_FORMATS = ("json_schema", "json_object", "text")
# query parameters whose value is a credential (key=, api_key=, access_token=, sig=, password=, …)
_SECRET_PARAM = re.compile(r"key|token|secret|passw|pwd|auth|sig|credential|session", re.I)


def _query_pairs(query: str) -> list[tuple[str, str]]:
    pairs = []
    for piece in query.split("&"):
        name, eq, value = piece.partition("=")
        if piece:
            pairs.append((name, value if eq else ""))
    return pairs


def redact_url(url: str) -> str:
    """``url`` without credentials: no ``user:password@``; key-like query parameters keep their name, value ``***``.

    >>> redact_url("https://me:s3cret@proxy.example/v1?api_key=abc&region=kr")
    'https://proxy.example/v1?api_key=***&region=kr'
    """
    if not url:
        return url
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    query = "&".join(
        f"{n}=***" if _SECRET_PARAM.search(urllib.parse.unquote_plus(n)) else (f"{n}={v}" if v else n)
        for n, v in _query_pairs(parts.query)
    )
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def url_secrets(url: str) -> list[str]:
    """The credentials in ``url`` (user, password, key-like query values; raw and decoded), to scrub from messages."""
    if not url:
        return []
    parts = urllib.parse.urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    found = [*userinfo.split(":", 1)] if userinfo else []
    found += [v for n, v in _query_pairs(parts.query) if _SECRET_PARAM.search(urllib.parse.unquote_plus(n))]
    out = []
    for s in found:
        for form in (s, urllib.parse.unquote(s), urllib.parse.unquote_plus(s)):
            if form and form not in out:
                out.append(form)
    return sorted(out, key=len, reverse=True)


_FIELDS = {
    "id": str,
    "vendor": str,
    "model": str,
    "base_url": str,
    "api_key_env": str,
    "temperature": float,
    "samples": int,
    "max_concurrency": int,
    "timeout_s": float,
    "max_tokens": int,
    "retries": int,
    "seed": int,
    "top_p": float,
    "response_format": str,
    "thinking_budget": int,
    "params": dict,
    "backoff_s": float,
}


@dataclass(frozen=True)
class Member:
    """One panel member (see the module docstring for the fields)."""

    id: str
    vendor: str
    model: str
    base_url: str = ""
    api_key_env: str = ""
    temperature: float = 0.0
    samples: int = 1
    max_concurrency: int = 8
    timeout_s: float = 60.0
    max_tokens: int = 300
    retries: int = 4
    seed: int | None = None
    top_p: float | None = None
    response_format: str = ""  # "" = the adapter's default
    thinking_budget: int | None = None
    params: Mapping[str, object] = field(default_factory=dict)
    backoff_s: float = 1.0  # first retry waits about this long, doubling (a Retry-After header wins)

    @property
    def rater(self) -> str:
        return f"panel_{self.id}"

    @property
    def label(self) -> str:
        return f"{self.id} ({self.vendor}/{self.model})"

    def sampling(self) -> dict[str, object]:
        """The fields that can change an answer (part of the cache key)."""
        return {
            "vendor": self.vendor,
            "model": self.model,
            "base_url": redact_url(self.base_url),  # credentials are never part of a key or a file
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
            "max_tokens": self.max_tokens,
            "response_format": self.response_format,
            "thinking_budget": self.thinking_budget,
            "params": dict(self.params),
        }


def _vendor_module(vendor: str) -> str:
    return f"{__package__}.vendors.{vendor.replace('-', '_')}"


def _member(raw: Mapping[str, object], where: str, problems: list[str]) -> Member | None:
    bad = len(problems)
    unknown = sorted(set(raw) - set(_FIELDS))
    if unknown:
        problems.append(f"{where}: unknown field(s) {', '.join(unknown)} (fields: {', '.join(_FIELDS)})")
    for name in ("id", "vendor", "model"):
        if not str(raw.get(name, "") or "").strip():
            problems.append(f"{where}: {name} is required")
    values: dict[str, object] = {}
    for name, kind in _FIELDS.items():
        if name not in raw:
            continue
        v = raw[name]
        if kind is float and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if not isinstance(v, kind) or isinstance(v, bool):
            problems.append(f"{where}: {name} = {v!r} must be {kind.__name__}")
            continue
        values[name] = v
    if len(problems) > bad:
        return None
    mid = str(values["id"])
    if not _ID.match(mid):
        problems.append(f"{where}: id {mid!r} must start with a letter and hold only letters, digits and _")
    vendor = str(values["vendor"])
    if not re.fullmatch(r"[a-z][a-z0-9-]*", vendor) or find_spec(_vendor_module(vendor)) is None:
        problems.append(
            f"{where}: vendor {vendor!r} has no adapter (vendors: anthropic, gemini, openai, openai-compatible)"
        )
    url = str(values.get("base_url", ""))
    if url:
        try:
            parts = urllib.parse.urlsplit(url)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 0) >= 0
            shown = repr(redact_url(url))  # never echo a credential
        except ValueError as exc:
            ok, shown = False, f"({exc})"
        if not ok:
            problems.append(
                f"{where}: base_url {shown} is not an http(s) URL with a host (e.g. http://localhost:8000/v1)"
            )
    if vendor == "openai-compatible" and not url:
        problems.append(f"{where}: vendor openai-compatible needs a base_url (e.g. http://localhost:8000/v1)")
    t = float(values.get("temperature", 0.0))
    if not (0.0 <= t <= 2.0) or math.isnan(t):
        problems.append(f"{where}: temperature {t} must be between 0 and 2")
    for name, low in (("samples", 1), ("max_concurrency", 1), ("max_tokens", 1), ("retries", 0)):
        if name in values and int(values[name]) < low:
            problems.append(f"{where}: {name} must be at least {low}")
    if "timeout_s" in values and float(values["timeout_s"]) <= 0:
        problems.append(f"{where}: timeout_s must be positive")
    fmt = str(values.get("response_format", ""))
    if fmt and fmt not in _FORMATS:
        problems.append(f"{where}: response_format {fmt!r} must be one of {', '.join(_FORMATS)}")
    if len(problems) > bad:
        return None
    return Member(**values)  # type: ignore[arg-type]


def load_panel(path: str | Path | None = None) -> tuple[tuple[Member, ...], str]:
    """Read a panel file (default ``rules/panel.toml``): ``(members, sha256 of the file)``.

    Every bad member is reported in one :class:`~coder.errors.RuleError`.
    """
    p = Path(path) if path is not None else data_path("rules", "panel.toml")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"{p}: no such panel file — give a TOML file with [[member]] tables (see rules/panel.toml).", path=p
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{p}: not valid TOML ({exc}) — fix the file.", path=p) from None
    raw = data.get("member", [])
    problems: list[str] = []
    if not isinstance(raw, list) or not raw:
        problems.append(f"{p}: no [[member]] tables")
        raw = []
    members = []
    for i, m in enumerate(raw, start=1):
        member = _member(m if isinstance(m, dict) else {}, f"{p} member {i}", problems)
        if member is not None:
            members.append(member)
    ids = [m.id for m in members]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        problems.append(f"{p}: member id(s) {', '.join(dup)} repeat — ids must be unique")
    if problems:
        raise RuleError(
            f"{p}: {len(problems)} problem(s) in the panel file — " + "; ".join(problems) + ". Fix them.",
            path=p,
            problems=problems,
        )
    return tuple(members), file_sha256(p)


def select_members(members: Sequence[Member], ids: Sequence[str] | None) -> tuple[Member, ...]:
    """The members named in ``ids`` (in panel order); all when ``ids`` is empty."""
    if not ids:
        return tuple(members)
    known = {m.id for m in members}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise InputError(
            f"--members: no member {', '.join(unknown)} in the panel — members are {', '.join(sorted(known))}."
        )
    return tuple(m for m in members if m.id in set(ids))


@dataclass(frozen=True)
class Price:
    """USD per million input and output tokens, and the date the price was seen."""

    input: float
    output: float
    seen: str = ""
    source: str = ""

    def cost(self, input_tokens: float, output_tokens: float) -> float:
        return (input_tokens * self.input + output_tokens * self.output) / 1e6


@dataclass(frozen=True)
class PriceTable:
    path: str
    sha256: str
    prices: Mapping[str, Price]

    def get(self, model: str) -> Price | None:
        return self.prices.get(model)


def load_prices(path: str | Path | None = None) -> PriceTable:
    """Read a price table (default ``rules/prices.toml``)."""
    p = Path(path) if path is not None else data_path("rules", "prices.toml")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f'{p}: no such price file — give a TOML file with [models."<model>"] tables.', path=p
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{p}: not valid TOML ({exc}) — fix the file.", path=p) from None
    prices = {}
    problems = []
    for model, row in (data.get("models") or {}).items():
        try:
            prices[model] = Price(
                float(row["input"]), float(row["output"]), str(row.get("seen", "")), str(row.get("source", ""))
            )
        except (KeyError, TypeError, ValueError):
            problems.append(f"model {model!r} needs numeric input and output prices")
            continue
        if prices[model].input < 0 or prices[model].output < 0:
            problems.append(f"model {model!r} has a negative price")
    if problems:
        raise RuleError(f"{p}: " + "; ".join(problems) + " — fix the file.", path=p, problems=problems)
    return PriceTable(str(p), file_sha256(p), prices)
