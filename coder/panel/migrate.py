"""``coder cache migrate``: convert an old diskcache cache folder, reading plain data only.

Before the JSON cache, the response cache was a :mod:`diskcache` folder (``cache.db``) whose
values were pickled.  Loading a pickle can run any code, so :class:`~coder.panel.cache.ResponseCache`
refuses such a folder; :func:`migrate_cache` converts it with :class:`PlainUnpickler`, which
refuses every class and function a pickle names — the only way a pickle runs code — and checks
each value like a bundle line.
"""

from __future__ import annotations

import io
import pickle
import sqlite3
from pathlib import Path

from ..errors import CacheError
from .cache import DB_NAME, MAX_LINE_BYTES, OLD_DB_NAME, ResponseCache, cache_dir
from .entries import check_entry, clean_entry

__all__ = ["PlainUnpickler", "migrate_cache"]


class PlainUnpickler(pickle.Unpickler):
    """Unpickles plain data only (dicts, lists, strings, numbers): any class or function is refused.

    A pickle runs code only through the objects it names (``find_class``, also for the extension
    registry), so refusing every name leaves nothing to run (the ``pickle`` docs' "Restricting Globals").
    """

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"names {module}.{name}")

    def persistent_load(self, pid: object):
        raise pickle.UnpicklingError("uses a persistent id")


def _plain_unpickle(data: bytes) -> object:
    return PlainUnpickler(io.BytesIO(data)).load()


def migrate_cache(directory: str | Path | None = None) -> tuple[int, list[str]]:
    """Convert an old diskcache folder (``cache.db``, pickled values) into ``answers.db``: ``(entries, problems)``.

    Values are unpickled with :class:`PlainUnpickler` (plain data only) and checked like bundle
    lines; a row that names a class or function, or is not a valid entry, is skipped and listed.
    The old ``cache.db`` is left in place (it is not read again; delete it when satisfied).
    """
    d = Path(directory) if directory is not None else cache_dir()
    old = d / OLD_DB_NAME
    if not old.exists():
        raise CacheError(f"{d}: no old-format cache here (no {OLD_DB_NAME}) — nothing to migrate.", path=d)
    if (d / DB_NAME).exists():
        raise CacheError(
            f"{d}: already holds {DB_NAME} — the old {OLD_DB_NAME} was migrated; delete it if you no longer need it.",
            path=d,
        )
    try:
        src = sqlite3.connect(f"{old.resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = src.execute("SELECT rowid, key, raw, mode, filename, value FROM Cache ORDER BY rowid").fetchall()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise CacheError(
            f"{old}: cannot read the old cache ({exc}) — move the folder aside and `coder cache import` a bundle.",
            path=d,
        ) from None
    entries, problems = [], []
    root = d.resolve()
    for rowid, _key, _raw, mode, filename, value in rows:
        where = f"row {rowid}"
        data = value
        if filename:
            f = (root / str(filename)).resolve()
            if root not in f.parents or not f.is_file() or f.stat().st_size > MAX_LINE_BYTES:
                problems.append(f"{where}: value file {filename!r} missing, outside the folder or too large")
                continue
            data = f.read_bytes()
        if mode != 4 or not isinstance(data, bytes) or len(data) > MAX_LINE_BYTES:  # 4 = diskcache MODE_PICKLE
            problems.append(f"{where}: not a pickled entry (mode {mode})")
            continue
        try:
            obj = _plain_unpickle(data)
        except Exception as exc:
            problems.append(f"{where}: not plain data ({exc}) — skipped, not loaded")
            continue
        problem, entry = check_entry(obj)
        if problem:
            problems.append(f"{where}: {problem}")
            continue
        entries.append(clean_entry(entry))
    with ResponseCache(d, _old_ok=True) as cache:
        for i in range(0, len(entries), 1000):
            cache.put_many(entries[i : i + 1000])
    return len(entries), problems
