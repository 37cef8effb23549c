"""The LLM response cache: every panel answer is stored once, under a key that cannot lie.

The cache is a :mod:`diskcache` folder.  Where it lives:

1. ``$CODER_CACHE_DIR`` when set;
2. otherwise ``cache/`` under the **current directory** — the project folder a user runs
   ``coder`` from (the repository ships ``cache/README.md`` there).  The cache is part of a
   project's results, like its crosswalks: it is what lets a panel run be re-done for free and
   published, so it sits beside them rather than in a per-user folder such as ``~/.cache``.

**Key.** :func:`cache_key` is the sha256 of canonical JSON (``sort_keys=True``,
``separators=(",", ":")``, UTF-8) of the *request*: a dict holding everything that can change
the answer — vendor, model, base URL, every sampling parameter, the rendered prompts, the
prompt-template hash, the code-list version and the sample index (built by
:mod:`coder.panel`).  The request never holds an API key.

**Entry.** ``{"key", "request", "response": {"text"}, "usage": {"input_tokens", "output_tokens"},
"model" (the model id the vendor reported), "created_utc"}``.  Only answers are stored: an
error (HTTP status, timeout, a body the SDK could not parse) is never cached.

**Bundles.** :meth:`ResponseCache.export` writes gzip-compressed JSONL, one entry per line,
sorted by key; :meth:`ResponseCache.import_` loads one and checks that every key is the
sha256 of its request, so a bundle cannot smuggle an answer under another request's key.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import CacheError

__all__ = [
    "CACHE_ENV",
    "CacheStats",
    "ResponseCache",
    "cache_dir",
    "cache_key",
    "canonical_json",
    "make_entry",
]

CACHE_ENV = "CODER_CACHE_DIR"
_ENTRY_FIELDS = ("key", "request", "response", "usage", "model", "created_utc")


def cache_dir() -> Path:
    """``$CODER_CACHE_DIR``, else ``./cache`` (see the module docstring for why)."""
    env = os.environ.get(CACHE_ENV, "").strip()
    return Path(env) if env else Path.cwd() / "cache"


def canonical_json(obj: object) -> str:
    """JSON with sorted keys and no spaces: equal requests give equal text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def cache_key(request: Mapping[str, object]) -> str:
    """sha256 hex of the canonical JSON of ``request``."""
    return hashlib.sha256(canonical_json(request).encode("utf-8")).hexdigest()


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def make_entry(
    request: Mapping[str, object], text: str, usage: Mapping[str, int], model: str, *, key: str | None = None
) -> dict:
    """A cache entry for an answer (see the module docstring); ``key`` defaults to :func:`cache_key`."""
    return {
        "key": key or cache_key(request),
        "request": dict(request),
        "response": {"text": text},
        "usage": {k: int(v) for k, v in usage.items()},
        "model": model,
        "created_utc": _now(),
    }


@dataclass(frozen=True)
class CacheStats:
    """What a cache holds: its folder, entries, bytes on disk, and entries per ``vendor/model``."""

    directory: str
    entries: int
    size_bytes: int
    by_model: Mapping[str, int]
    oldest_utc: str
    newest_utc: str

    def to_text(self) -> str:
        lines = [
            f"cache: {self.directory}",
            f"entries: {self.entries:,}  size: {self.size_bytes / 1e6:.1f} MB",
        ]
        if self.entries:
            lines.append(f"oldest: {self.oldest_utc}  newest: {self.newest_utc}")
        for model, n in self.by_model.items():
            lines.append(f"  {model}: {n:,}")
        return "\n".join(lines)


class ResponseCache:
    """A diskcache-backed store of panel answers (thread-safe; one instance may serve many threads)."""

    def __init__(self, directory: str | Path | None = None):
        import diskcache

        self.directory = Path(directory) if directory is not None else cache_dir()
        try:
            # never evict: an answer was paid for (diskcache's default drops the least recently
            # stored entries once the folder passes 1 GB, and checks the size on every write)
            self._cache = diskcache.Cache(str(self.directory), eviction_policy="none", cull_limit=0)
        except OSError as exc:
            raise CacheError(
                f"{self.directory}: the response cache cannot be opened ({exc.strerror or exc}) — "
                f"check the folder's permissions or point {CACHE_ENV} at a writable folder.",
                path=self.directory,
            ) from None

    def close(self) -> None:
        self._cache.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __contains__(self, key: str) -> bool:
        return key in self._cache

    def __len__(self) -> int:
        return len(self._cache)

    def get(self, key: str) -> dict | None:
        """The entry stored under ``key``, or None."""
        return self._cache.get(key)

    def put(
        self, request: Mapping[str, object], text: str, usage: Mapping[str, int], model: str, *, key: str | None = None
    ) -> dict:
        """Store an answer (never an error) and return the entry."""
        entry = make_entry(request, text, usage, model, key=key)
        self._write([entry])
        return entry

    def put_many(self, entries: Sequence[dict]) -> None:
        """Store entries made by :func:`make_entry`, in one transaction (all or none)."""
        if entries:
            self._write(entries)

    def _write(self, entries: Sequence[dict]) -> None:
        try:
            if len(entries) == 1:
                self._cache.set(entries[0]["key"], entries[0])
            else:
                with self._cache.transact():
                    for entry in entries:
                        self._cache.set(entry["key"], entry)
        except OSError as exc:
            raise CacheError(
                f"{self.directory}: cannot write to the response cache ({exc.strerror or exc}) — "
                "free disk space or check the folder's permissions.",
                path=self.directory,
            ) from None

    def entries(self) -> Iterator[dict]:
        """Every entry, sorted by key."""
        for key in sorted(self._cache.iterkeys()):
            entry = self._cache.get(key)
            if entry is not None:
                yield entry

    def stats(self) -> CacheStats:
        by_model: dict[str, int] = {}
        times = []
        n = 0
        for entry in self.entries():
            n += 1
            req = entry.get("request", {})
            name = f"{req.get('vendor', '?')}/{req.get('model', '?')}"
            by_model[name] = by_model.get(name, 0) + 1
            times.append(entry.get("created_utc", ""))
        return CacheStats(
            directory=str(self.directory),
            entries=n,
            size_bytes=int(self._cache.volume()),
            by_model=dict(sorted(by_model.items())),
            oldest_utc=min(times) if times else "",
            newest_utc=max(times) if times else "",
        )

    def export(self, path: str | Path) -> int:
        """Write every entry to a gzip JSONL bundle at ``path`` (atomically); return the count."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        n = 0
        try:
            with gzip.open(tmp, "wt", encoding="utf-8") as fh:
                for entry in self.entries():
                    fh.write(canonical_json({k: entry.get(k) for k in _ENTRY_FIELDS}) + "\n")
                    n += 1
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise CacheError(
                f"{path}: cannot write the cache bundle ({exc.strerror or exc}) — choose a writable path.", path=path
            ) from None
        return n

    def import_(self, path: str | Path) -> tuple[int, int]:
        """Load a bundle written by :meth:`export`: ``(entries added, entries already present)``.

        Every line is checked first (valid JSON, all fields, key = sha256 of its request);
        a bad bundle raises one :class:`CacheError` listing the bad lines and adds nothing.
        """
        path = Path(path)
        good: list[dict] = []
        bad: list[str] = []
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                for i, line in enumerate(fh, start=1):
                    if not line.strip():
                        continue
                    problem, entry = _check_entry(line)
                    if problem:
                        bad.append(f"line {i}: {problem}")
                    else:
                        good.append(entry)
        except FileNotFoundError:
            raise CacheError(
                f"{path}: no such cache bundle — give the path of a file written by `coder cache export`.", path=path
            ) from None
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise CacheError(
                f"{path}: not a cache bundle (gzip JSONL) ({exc}) — give a file written by `coder cache export`.",
                path=path,
            ) from None
        if bad:
            shown = "; ".join(bad[:5]) + (" …" if len(bad) > 5 else "")
            raise CacheError(
                f"{path}: {len(bad)} bad line(s) in the cache bundle — {shown}. Nothing was imported; "
                "re-export the bundle with `coder cache export`.",
                path=path,
            )
        first: dict[str, dict] = {}
        for entry in good:
            if entry["key"] not in self._cache:
                first.setdefault(entry["key"], entry)
        new = list(first.values())
        for i in range(0, len(new), 1000):
            self._write(new[i : i + 1000])
        return len(new), len(good) - len(new)

    def prune(self, *, older_than_days: float | None = None, model: str | None = None) -> int:
        """Delete entries created more than ``older_than_days`` ago and/or of ``model``; both None = all.

        Returns the number deleted.
        """
        cutoff = None
        if older_than_days is not None:
            cutoff = (_dt.datetime.now(_dt.UTC) - _dt.timedelta(days=older_than_days)).isoformat(timespec="seconds")
        n = 0
        for entry in list(self.entries()):
            if cutoff is not None and entry.get("created_utc", "") >= cutoff:
                continue
            if model is not None and entry.get("request", {}).get("model") != model:
                continue
            if self._cache.delete(entry["key"]):
                n += 1
        return n


def _check_entry(line: str) -> tuple[str, dict]:
    try:
        entry = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"not JSON ({exc.msg})", {}
    if not isinstance(entry, dict):
        return "not a JSON object", {}
    missing = [f for f in _ENTRY_FIELDS if f not in entry]
    if missing:
        return f"field(s) {', '.join(missing)} missing", {}
    if not isinstance(entry["request"], dict) or not isinstance(entry["response"], dict):
        return "request and response must be objects", {}
    if not isinstance(entry["response"].get("text"), str):
        return "response.text must be a string", {}
    if cache_key(entry["request"]) != entry["key"]:
        return f"key {str(entry['key'])[:12]}… is not the sha256 of its request", {}
    return "", entry
