"""The LLM response cache: every panel answer is stored once, under a key that cannot lie.

The cache is a folder holding one SQLite file, ``answers.db``.  Where it lives:

1. ``$CODER_CACHE_DIR`` when set;
2. otherwise ``cache/`` under the **current directory** — the project folder a user runs
   ``coder`` from (the repository ships ``cache/README.md`` there).  The cache is part of a
   project's results, like its crosswalks: it is what lets a panel run be re-done for free and
   published, so it sits beside them rather than in a per-user folder such as ``~/.cache``.

**Key.** :func:`cache_key` is the sha256 of canonical JSON (``sort_keys=True``,
``separators=(",", ":")``, UTF-8) of the *request*: a dict holding everything that can change
the answer — vendor, model, base URL (without credentials: :func:`coder.panel.config.redact_url`),
every sampling parameter, the rendered prompts, the prompt-template hash, the code-list version
and the sample index (built by :mod:`coder.panel`).  The request never holds an API key.

**Entry.** ``{"key", "request", "response": {"text"}, "usage": {"input_tokens", "output_tokens"},
"model" (the model id the vendor reported), "created_utc"}``.  Only answers are stored: an
error (HTTP status, timeout, a body the SDK could not parse) is never cached.

**Storage: JSON text, nothing executable.**  ``answers(key TEXT PRIMARY KEY, entry TEXT)`` holds
each entry as canonical JSON; ``leases`` and ``meta`` are plain columns too.  Nothing read is
unpickled or evaluated: a row is parsed as JSON and checked like a bundle line (types, sizes,
key = sha256 of its request); a row that fails is ignored — ``coder cache stats`` counts it as
unreadable, and a panel run asks the vendor again and replaces it.  The file is in WAL mode:
several processes on one machine may use one cache at once (WAL needs a local disk, not a
network share).  A read-only folder or file is still read (opened as immutable): ``stats``,
``export`` and fully cached runs work; anything that writes says why it cannot.

**Old caches.**  Before this format the cache was a :mod:`diskcache` folder (``cache.db``)
whose values were *pickled*: loading one can run any code, so such a folder is refused, never
read.  ``coder cache migrate`` (:func:`migrate_cache`) converts it into ``answers.db`` reading
only plain data — a pickle that names any class or function (which is how a pickle runs code) is
skipped and reported, not loaded.

**Leases** (two runs on one cache pay once).  Before a call, a run claims its key
(:meth:`ResponseCache.claim`: key → owner, host, pid, expiry).  Another run that needs the same
key waits until the answer is stored, then reads it instead of calling.  A lease whose owner
process is gone (same host) or whose time ran out is taken over.

**Bundles.** :meth:`ResponseCache.export` writes gzip-compressed JSONL, one entry per line,
sorted by key; :meth:`ResponseCache.import_` loads one and checks that every key is the
sha256 of its request, so a bundle cannot smuggle an answer under another request's key.  The
import reads in bounded pieces: a line over :data:`MAX_LINE_BYTES`, a bundle expanding past
:data:`MAX_EXPANSION` times its size (and past :data:`MIN_BUNDLE_BYTES`), or more than
:data:`MAX_BAD_LINES` bad lines stops the read, and nothing is imported.

**Errors.**  A damaged (corrupt, truncated), read-only or missing cache raises one
:class:`~coder.errors.CacheError` naming the folder and what to do; never a ``sqlite3`` traceback.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import gzip
import json
import os
import random
import socket
import sqlite3
import threading
import time
import uuid
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import CacheError
from ..io import pid_alive
from .entries import cache_key, canonical_json, check_entry, clean_entry, make_entry, parse_line

__all__ = [
    "CACHE_ENV",
    "DB_NAME",
    "MAX_BAD_LINES",
    "MAX_EXPANSION",
    "MAX_LINE_BYTES",
    "MIN_BUNDLE_BYTES",
    "CacheStats",
    "ResponseCache",
    "cache_dir",
    "cache_key",
    "canonical_json",
    "make_entry",
    "migrate_cache",
]

CACHE_ENV = "CODER_CACHE_DIR"
DB_NAME = "answers.db"
OLD_DB_NAME = "cache.db"  # diskcache, pickled values: refused (see the module docstring)
FORMAT = "coder-response-cache/2"
MAX_LINE_BYTES = 1 << 20  # one entry (a bundle line, a row) — entries are a few KB
MIN_BUNDLE_BYTES = 256 << 20
MAX_EXPANSION = 200  # decompressed / compressed size of a bundle (coder's own: about 10-50)
MAX_BAD_LINES = 100
BUSY_TIMEOUT_S = 30.0
_SCHEMA = (
    "CREATE TABLE answers (key TEXT PRIMARY KEY, entry TEXT NOT NULL)",
    "CREATE TABLE leases (key TEXT PRIMARY KEY, owner TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,"
    " expires REAL NOT NULL)",
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


def migrate_cache(directory: str | Path | None = None) -> tuple[int, list[str]]:
    """Convert an old diskcache folder into this format (:func:`coder.panel.migrate.migrate_cache`)."""
    from .migrate import migrate_cache as migrate

    return migrate(directory)


def cache_dir() -> Path:
    """``$CODER_CACHE_DIR``, else ``./cache`` (see the module docstring for why)."""
    env = os.environ.get(CACHE_ENV, "").strip()
    return Path(env) if env else Path.cwd() / "cache"


@dataclass(frozen=True)
class CacheStats:
    """What a cache holds: its folder, entries, bytes on disk, and entries per ``vendor/model``.

    ``unreadable`` counts rows that are not valid entries (ignored; a panel run asks again).
    """

    directory: str
    entries: int
    size_bytes: int
    by_model: Mapping[str, int]
    oldest_utc: str
    newest_utc: str
    unreadable: int = 0

    def to_text(self) -> str:
        lines = [
            f"cache: {self.directory}",
            f"entries: {self.entries:,}  size: {self.size_bytes / 1e6:.1f} MB",
        ]
        if self.entries:
            lines.append(f"oldest: {self.oldest_utc}  newest: {self.newest_utc}")
        for model, n in self.by_model.items():
            lines.append(f"  {model}: {n:,}")
        if self.unreadable:
            lines.append(
                f"unreadable: {self.unreadable:,} row(s) that are not valid entries, ignored — a panel run asks "
                "the vendor again and replaces them; `coder cache prune --all` deletes everything"
            )
        return "\n".join(lines)


class ResponseCache:
    """The response cache in ``directory`` (default :func:`cache_dir`); thread-safe, and several processes may share it.

    ``create=False`` refuses a folder without a cache instead of making one (for reading commands:
    ``stats``, ``export``, ``prune``).  Raises :class:`~coder.errors.CacheError` for an old
    (pickled) cache, a damaged one, or one that cannot be opened.
    """

    def __init__(self, directory: str | Path | None = None, *, create: bool = True, _old_ok: bool = False):
        self.directory = Path(directory) if directory is not None else cache_dir()
        self.path = self.directory / DB_NAME
        self.owner = uuid.uuid4().hex  # this object's leases
        self._host, self._pid = socket.gethostname(), os.getpid()
        self._lock = threading.RLock()
        self.read_only = False
        self._con: sqlite3.Connection | None = None
        self._open(create, _old_ok)

    # ------------------------------------------------------------------ opening, errors

    def _open(self, create: bool, old_ok: bool) -> None:
        d = self.directory
        if d.exists() and not d.is_dir():
            raise CacheError(
                f"{d}: is a file, not a cache folder — point {CACHE_ENV} at a folder (or remove the file).", path=d
            )
        if not self.path.exists():
            if (d / OLD_DB_NAME).exists() and not old_ok:
                raise CacheError(_old_format_message(d), path=d)
            if not create:
                raise CacheError(
                    f"{d}: no response cache here (no {DB_NAME}) — run `coder panel` to fill one, "
                    f"`coder cache import FILE` to load a bundle, or point {CACHE_ENV} at the cache folder.",
                    path=d,
                )
            try:
                d.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CacheError(
                    f"{d}: the cache folder cannot be created ({exc.strerror or exc}) — check the permissions "
                    f"of its parent, or point {CACHE_ENV} at a writable folder.",
                    path=d,
                ) from None
        started = time.monotonic()
        while True:
            try:
                self._con = self._connect(str(self.path), uri=False)
                self._setup()
                return
            except sqlite3.Error as exc:
                self._close_connection()
                waited = time.monotonic() - started
                if _is_busy(exc) and waited < BUSY_TIMEOUT_S:
                    # another process is creating the file or converting it to WAL; SQLite runs no busy
                    # handler for the journal-mode switch, so the wait is ours
                    time.sleep(min(0.05 + random.random() * 0.2, BUSY_TIMEOUT_S - waited))
                    continue
                if not (_is_read_only(exc) and self.path.exists()):
                    raise self._error(exc, "opening it", waited=waited) from None
                break
        # a read-only folder or file: read it as it is (WAL needs a writable folder to read otherwise)
        try:
            self._con = self._connect(f"{self.path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
            self.read_only = True
            self._check_format()
        except sqlite3.Error as exc2:
            self._close_connection()
            raise self._error(exc2, "opening it") from None

    @staticmethod
    def _connect(target: str, *, uri: bool) -> sqlite3.Connection:
        return sqlite3.connect(target, uri=uri, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)

    def _setup(self) -> None:
        con = self._con
        assert con is not None
        # WAL is a property of the file: switch only when it is not yet (the switch needs the file to itself)
        if str(con.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
            con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables:
            self._check_format()
            return
        con.execute("BEGIN IMMEDIATE")
        try:
            if not con.execute("SELECT 1 FROM sqlite_master").fetchone():
                for statement in _SCHEMA:
                    con.execute(statement)
                con.execute("INSERT INTO meta VALUES ('format', ?)", (FORMAT,))
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                con.execute("ROLLBACK")
            raise

    def _check_format(self) -> None:
        assert self._con is not None
        try:
            row = self._con.execute("SELECT value FROM meta WHERE name = 'format'").fetchone()
        except sqlite3.OperationalError:
            row = None
        if row is None or row[0] != FORMAT:
            raise CacheError(
                f"{self.path}: not a coder response cache (format {row[0] if row else 'unknown'}, expected {FORMAT}) — "
                f"move the file aside, or point {CACHE_ENV} at the cache folder.",
                path=self.directory,
            )

    def _error(self, exc: sqlite3.Error, doing: str, *, waited: float | None = None) -> CacheError:
        d, text = self.directory, str(exc)
        name = getattr(exc, "sqlite_errorname", "")
        if _is_read_only(exc):
            msg = (
                f"{d}: the response cache cannot be written ({text}) while {doing} — make the folder and "
                f"{DB_NAME} writable, or point {CACHE_ENV} at a writable copy of the folder."
            )
        elif _is_busy(exc):
            msg = (
                f"{d}: the response cache stayed locked by another process for "
                f"{BUSY_TIMEOUT_S if waited is None else waited:.0f} s while {doing} "
                f"({text}) — wait for the other `coder` run to finish, then try again."
            )
        elif name == "SQLITE_FULL":
            msg = f"{d}: the disk is full ({text}) while {doing} — free disk space and run again."
        elif name.startswith("SQLITE_IOERR"):
            msg = f"{d}: the response cache cannot be read or written ({text}) while {doing} — check the disk."
        else:  # SQLITE_NOTADB, SQLITE_CORRUPT, …
            msg = (
                f"{self.path}: the response cache is damaged ({text}) — move the folder aside "
                f"(`mv {d} {d}.broken`) and re-import your bundle into a new one (`coder cache import FILE`), "
                "or let `coder panel` ask the vendors again (at their price)."
            )
        return CacheError(msg, path=d)

    @contextlib.contextmanager
    def _sql(self, doing: str) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock, with sqlite errors turned into :class:`CacheError`."""
        with self._lock:
            if self._con is None:
                raise CacheError(f"{self.directory}: the response cache was closed — open it again.")
            try:
                yield self._con
            except sqlite3.Error as exc:
                raise self._error(exc, doing) from None

    @contextlib.contextmanager
    def _tx(self, doing: str) -> Iterator[sqlite3.Connection]:
        """A write transaction (all or nothing)."""
        with self._sql(doing) as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def _close_connection(self) -> None:
        if self._con is not None:
            with contextlib.suppress(sqlite3.Error):
                self._con.close()
            self._con = None

    def close(self) -> None:
        """Release this object's leases and close the file."""
        with self._lock:
            if self._con is not None and not self.read_only:
                with contextlib.suppress(sqlite3.Error):
                    self._con.execute("DELETE FROM leases WHERE owner = ?", (self.owner,))
            self._close_connection()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ entries

    def _load(self, key: str, text: object) -> dict | None:
        if not isinstance(text, str) or len(text) > MAX_LINE_BYTES:
            return None
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            return None
        problem, entry = check_entry(obj)
        return entry if not problem and entry["key"] == key else None

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def __len__(self) -> int:
        with self._sql("counting entries") as con:
            return int(con.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def get(self, key: str) -> dict | None:
        """The entry stored under ``key``, or None (also when the stored row is not a valid entry)."""
        with self._sql("reading an entry") as con:
            row = con.execute("SELECT entry FROM answers WHERE key = ?", (key,)).fetchone()
        return self._load(key, row[0]) if row else None

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
        rows = []
        for entry in entries:
            problem, checked = check_entry(entry)
            if problem:
                raise CacheError(f"{self.directory}: refusing to store a malformed cache entry ({problem}).")
            rows.append((checked["key"], canonical_json(checked)))
        with self._tx("storing answers") as con:
            con.executemany("INSERT OR REPLACE INTO answers (key, entry) VALUES (?, ?)", rows)
            con.executemany("DELETE FROM leases WHERE key = ?", [(k,) for k, _ in rows])

    def _scan(self) -> Iterator[tuple[str, dict | None]]:
        """``(key, entry or None when unreadable)`` for every row, by key (read in pages)."""
        last = ""
        while True:
            with self._sql("reading entries") as con:
                rows = con.execute(
                    "SELECT key, entry FROM answers WHERE key > ? ORDER BY key LIMIT 500", (last,)
                ).fetchall()
            if not rows:
                return
            for key, text in rows:
                yield key, self._load(key, text)
            last = rows[-1][0]

    def entries(self) -> Iterator[dict]:
        """Every valid entry, sorted by key."""
        for _key, entry in self._scan():
            if entry is not None:
                yield entry

    def stats(self) -> CacheStats:
        by_model: dict[str, int] = {}
        oldest = newest = ""
        n = bad = 0
        for _key, entry in self._scan():
            if entry is None:
                bad += 1
                continue
            n += 1
            req = entry["request"]
            name = f"{req.get('vendor', '?')}/{req.get('model', '?')}"
            by_model[name] = by_model.get(name, 0) + 1
            t = entry["created_utc"]
            oldest = t if not oldest or t < oldest else oldest
            newest = max(newest, t)
        size = sum(p.stat().st_size for p in self.directory.glob(f"{DB_NAME}*") if p.is_file())
        return CacheStats(str(self.directory), n, size, dict(sorted(by_model.items())), oldest, newest, bad)

    def export(self, path: str | Path) -> int:
        """Write every entry to a gzip JSONL bundle at ``path`` (atomically; no credentials); return the count."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        n = 0
        try:
            with gzip.open(tmp, "wt", encoding="utf-8") as fh:
                for entry in self.entries():
                    fh.write(canonical_json(clean_entry(entry)) + "\n")
                    n += 1
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise CacheError(
                f"{path}: cannot write the cache bundle ({exc.strerror or exc}) — choose a writable path.", path=path
            ) from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return n

    def import_(self, path: str | Path) -> tuple[int, int]:
        """Load a bundle written by :meth:`export`: ``(entries added, entries already present)``.

        Every line is checked (valid JSON, every field of the right type, key = sha256 of its
        request) while it is read, in bounded pieces (see the module docstring); a bad bundle
        raises one :class:`CacheError` listing the bad lines, and adds nothing.  Credentials
        in a request's ``base_url`` are removed (and the entry re-keyed).
        """
        path = Path(path)
        added = present = 0
        bad: list[str] = []
        stopped = ""
        try:
            raw = open(path, "rb")
        except FileNotFoundError:
            raise CacheError(
                f"{path}: no such cache bundle — give the path of a file written by `coder cache export`.", path=path
            ) from None
        except OSError as exc:
            raise CacheError(f"{path}: cannot read the cache bundle ({exc.strerror or exc}).", path=path) from None
        cap = max(MIN_BUNDLE_BYTES, MAX_EXPANSION * os.fstat(raw.fileno()).st_size)
        try:
            with raw, gzip.GzipFile(fileobj=raw) as gz, self._tx("importing a bundle") as con:
                total = 0
                for i in range(1, 1 << 62):
                    line = gz.readline(MAX_LINE_BYTES + 1)
                    if not line:
                        break
                    total += len(line)
                    if total > cap:
                        stopped = (
                            f"it expands to more than {cap / 1e6:,.0f} MB ({MAX_EXPANSION}× its size): not a bundle "
                            "written by `coder cache export` (a gzip bomb?)"
                        )
                        break
                    if len(line) > MAX_LINE_BYTES:
                        stopped = f"line {i} is longer than {MAX_LINE_BYTES:,} bytes (an entry is a few KB)"
                        break
                    problem, entry = parse_line(line)
                    if problem:
                        bad.append(f"line {i}: {problem}")
                        if len(bad) >= MAX_BAD_LINES:
                            stopped = f"stopped reading at line {i}, after {MAX_BAD_LINES} bad lines"
                            break
                        continue
                    if bad:
                        continue  # nothing will be imported: only look for more bad lines
                    entry = clean_entry(entry)
                    row = con.execute("SELECT entry FROM answers WHERE key = ?", (entry["key"],)).fetchone()
                    if row and self._load(entry["key"], row[0]) is not None:
                        present += 1
                        continue
                    con.execute(
                        "INSERT OR REPLACE INTO answers (key, entry) VALUES (?, ?)",
                        (entry["key"], canonical_json(entry)),
                    )
                    added += 1
                if stopped or bad:
                    raise _Refused()
        except _Refused:
            pass
        except (OSError, EOFError, zlib.error) as exc:
            raise CacheError(
                f"{path}: not a cache bundle (gzip JSONL) ({exc}) — give a file written by `coder cache export`.",
                path=path,
            ) from None
        if stopped:
            shown = f"; first bad lines: {'; '.join(bad[:5])}" if bad else ""
            raise CacheError(
                f"{path}: refused — {stopped}{shown}. Nothing was imported; give a bundle written by "
                "`coder cache export`.",
                path=path,
            )
        if bad:
            shown = "; ".join(bad[:5]) + (" …" if len(bad) > 5 else "")
            raise CacheError(
                f"{path}: {len(bad)} bad line(s) in the cache bundle — {shown}. Nothing was imported; "
                "re-export the bundle with `coder cache export`.",
                path=path,
            )
        return added, present

    def prune(self, *, older_than_days: float | None = None, model: str | None = None) -> int:
        """Delete entries created more than ``older_than_days`` ago and/or of ``model``; both None = all.

        Returns the number deleted (with both None, unreadable rows too).
        """
        if older_than_days is None and model is None:
            with self._tx("deleting entries") as con:
                return con.execute("DELETE FROM answers").rowcount
        cutoff = None
        if older_than_days is not None:
            cutoff = (_dt.datetime.now(_dt.UTC) - _dt.timedelta(days=older_than_days)).isoformat(timespec="seconds")
        doomed = []
        for key, entry in self._scan():
            if entry is None:
                continue
            if cutoff is not None and entry["created_utc"] >= cutoff:
                continue
            if model is not None and entry["request"].get("model") != model:
                continue
            doomed.append((key,))
        with self._tx("deleting entries") as con:
            con.executemany("DELETE FROM answers WHERE key = ?", doomed)
        return len(doomed)

    # ------------------------------------------------------------------ leases

    def claim(self, key: str, *, seconds: float) -> str:
        """Claim ``key`` for a call: ``"answered"`` (it is cached), ``"mine"`` (call it; leased for ``seconds``),
        or ``"busy"`` (another run holds a live lease: wait, then ask again)."""
        now = time.time()
        with self._tx("claiming a call") as con:
            row = con.execute("SELECT entry FROM answers WHERE key = ?", (key,)).fetchone()
            if row and self._load(key, row[0]) is not None:
                return "answered"
            lease = con.execute("SELECT owner, host, pid, expires FROM leases WHERE key = ?", (key,)).fetchone()
            if lease and lease[0] != self.owner and lease[3] > now and self._alive(lease[1], lease[2]):
                return "busy"
            con.execute(
                "INSERT OR REPLACE INTO leases (key, owner, host, pid, expires) VALUES (?, ?, ?, ?, ?)",
                (key, self.owner, self._host, self._pid, now + seconds),
            )
            return "mine"

    def release(self, key: str) -> None:
        """Give up this object's lease on ``key`` (the call failed: another run may try)."""
        with self._tx("releasing a claim") as con:
            con.execute("DELETE FROM leases WHERE key = ? AND owner = ?", (key, self.owner))

    def _alive(self, host: str, pid: int) -> bool:
        # another host's process cannot be checked (its lease expires); on Windows os.kill(pid, 0) is no probe
        if host != self._host or pid == self._pid:
            return True
        return pid_alive(pid)


class _Refused(Exception):
    """Internal: roll the import back."""


def _is_busy(exc: sqlite3.Error) -> bool:
    """Another connection holds the lock (``SQLITE_BUSY``/``SQLITE_LOCKED`` and their extended codes)."""
    name = getattr(exc, "sqlite_errorname", "")
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(exc)


def _is_read_only(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", "")
    return name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")) or (
        "readonly" in str(exc)
    )


def _old_format_message(d: Path) -> str:
    return (
        f"{d}: holds a response cache in the old format ({OLD_DB_NAME}: diskcache with pickled values), which is "
        "not read, since loading a pickle can run code. Convert it with `coder cache migrate` (it reads plain data "
        "only), or move the folder aside and `coder cache import` a bundle."
    )
