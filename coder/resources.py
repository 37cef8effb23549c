"""Where the curated data folders live, installed or in a source checkout.

A wheel carries ``crosswalks/``, ``references/`` and ``rules/`` inside the package
as ``coder/_data/<folder>`` (see ``pyproject.toml``); a source checkout or editable
install reads the top-level folders of the repository.  Each folder has a
``manifest.json`` recording source, licence and sha256 of every file in it;
:func:`verify_manifest` checks the hashes.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

from .errors import CoderError, CrosswalkError, InputError
from .io import decode_text, file_delimiter

__all__ = [
    "data_path",
    "file_identity",
    "file_sha256",
    "iter_csv_cells",
    "iter_csv_rows",
    "load_manifest",
    "read_csv_rows",
    "verify_manifest",
]

_PACKAGE = Path(__file__).resolve().parent
FOLDERS = ("crosswalks", "references", "rules")


def _folder(folder: str) -> Path:
    if folder not in FOLDERS:
        raise ValueError(f"unknown data folder {folder!r}; expected one of {FOLDERS}")
    installed = _PACKAGE / "_data" / folder
    if installed.is_dir():
        return installed
    checkout = _PACKAGE.parent / folder
    if checkout.is_dir():
        return checkout
    raise CrosswalkError(
        f"data folder {folder}/ not found (looked in {installed} and {checkout}) — "
        "reinstall the package (pip install .) or run from a full checkout."
    )


def data_path(folder: str, name: str = "") -> Path:
    """Return the path of ``name`` inside the curated data ``folder``."""
    base = _folder(folder)
    return base / name if name else base


def file_sha256(path: str | Path) -> str:
    """sha256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_identity(path: str | Path) -> tuple[str, int, int]:
    """``(resolved path, st_mtime_ns, st_size)``: a cache key that changes when the file does.

    Use it as the ``functools.lru_cache`` key of anything loaded from a file, so an
    edited file is read again in a long session instead of serving stale content
    (and a stale sha256).  A missing file gets ``(resolved path, -1, -1)`` so the
    loader itself raises its usual "not found" error.
    """
    p = Path(path).resolve()
    try:
        st = p.stat()
    except OSError:
        return (str(p), -1, -1)
    return (str(p), st.st_mtime_ns, st.st_size)


def load_manifest(folder: str) -> dict:
    """Read ``<folder>/manifest.json`` (``{"files": {name: {sha256, source, licence, ...}}}``)."""
    path = data_path(folder, "manifest.json")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CrosswalkError(f"{path}: manifest missing — restore it from the repository.", path=path) from None
    except json.JSONDecodeError as exc:
        raise CrosswalkError(f"{path}:{exc.lineno}: manifest is not valid JSON ({exc.msg}).", path=path) from None


def verify_manifest(folder: str) -> dict[str, str]:
    """Check every file listed in the folder's manifest against its sha256.

    Returns ``{name: sha256}``; raises :class:`CrosswalkError` listing every file
    that is missing or whose bytes changed.
    """
    manifest = load_manifest(folder)
    problems, hashes = [], {}
    for name, entry in sorted(manifest.get("files", {}).items()):
        path = data_path(folder, name)
        if not path.is_file():
            problems.append(f"{folder}/{name}: listed in manifest.json but missing")
            continue
        actual = file_sha256(path)
        hashes[name] = actual
        if actual != entry.get("sha256"):
            problems.append(
                f"{folder}/{name}: sha256 {actual[:12]}… differs from manifest {str(entry.get('sha256'))[:12]}…"
            )
    if problems:
        raise CrosswalkError(
            "Curated data files do not match their manifest — "
            + "; ".join(problems)
            + ". Restore the files, or if the change is deliberate update manifest.json with the new sha256 and its provenance.",
            path=data_path(folder, "manifest.json"),
        )
    return hashes


def read_csv_rows(
    path: str | Path,
    required: tuple[str, ...] = (),
    *,
    error: type[CoderError] = InputError,
    what: str = "CSV file",
    one_of: tuple[str, ...] = (),
) -> list[tuple[int, dict[str, str | None]]]:
    """Rows of a delimited text file as ``(line number, row)`` — the one CSV reader for data files.

    The encoding is detected (:func:`coder.io.detect_encoding`: UTF-8, UTF-8 with
    BOM, cp949/EUC-KR) and the delimiter taken from the name (:func:`coder.io.file_delimiter`:
    ``.tsv`` tab, ``.txt`` sniffed, otherwise comma).  Raises ``error`` when the
    file is missing, cannot be decoded, lacks a ``required`` column, or has none
    of the ``one_of`` columns.  A row with more cells than the header keeps the
    extra cells under key None.
    """
    return list(iter_csv_rows(path, required, error=error, what=what, one_of=one_of))


def iter_csv_rows(
    path: str | Path,
    required: tuple[str, ...] = (),
    *,
    error: type[CoderError] = InputError,
    what: str = "CSV file",
    one_of: tuple[str, ...] = (),
) -> Iterator[tuple[int, dict[str, str | None]]]:
    """:func:`read_csv_rows`' rows one at a time (its errors raised at once, before the first row).

    The rows are what ``csv.DictReader`` gives (a missing cell None, extra cells a list under None,
    blank rows skipped, numbered from 2 as they come), made from :func:`iter_csv_cells`' lists: the
    code list, rules and job dictionary (7,500 rows read at every run's setup) took ~0.020 s through
    DictReader and ~0.016 s this way in a fresh process, and a loader going through the rows one at a
    time keeps none of them for the garbage collector to count.
    """
    header, rows = iter_csv_cells(path, required, error=error, what=what, one_of=one_of)
    return _dict_rows(rows, header)


def iter_csv_cells(
    path: str | Path,
    required: tuple[str, ...] = (),
    *,
    error: type[CoderError] = InputError,
    what: str = "CSV file",
    one_of: tuple[str, ...] = (),
) -> tuple[list[str], Iterator[tuple[int, list[str | None]]]]:
    """The header (names stripped) and the rows of :func:`read_csv_rows` as ``(line number, cells)``.

    The cells are ``csv.reader``'s, a short row made as long as the header with None (a row with
    more cells keeps them): ``cells[i]`` is the DictReader row's value of a name whose last column
    is ``i``.  The same errors as :func:`read_csv_rows`, raised at once.  For a loader reading a few
    columns of many rows: the job dictionary's 5,280 rows took ~2 ms less than as dicts.
    """
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise error(f"{path}: {what} not found — pass an existing file.", path=path) from None
    except IsADirectoryError:
        raise error(f"{path}: {what} is a directory — pass a file.", path=path) from None
    try:
        text = _decode(data, path)
        delimiter = file_delimiter(path, text)
    except InputError as exc:
        raise error(str(exc), path=path, line=getattr(exc, "line", None)) from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [c.strip() for c in next(reader, [])]
    missing = [c for c in required if c not in header]
    if missing or (one_of and not any(c in header for c in one_of)):
        need = ",".join(required) + (f" and one of {'/'.join(one_of)}" if one_of else "")
        found = ", ".join(h for h in header if h) or "no header"
        lacks = f"missing column(s) {', '.join(missing)}" if missing else f"none of the columns {', '.join(one_of)}"
        raise error(
            f"{path}: {what} has {lacks} (found {found}) — the header must have {need}.",
            path=path,
        )
    return header, _cells(reader, len(header))


def _decode(data: bytes, path: str | Path) -> str:
    """:func:`coder.io.decode_text` of ``data``: UTF-8 without a byte-order mark decoded at once (the
    bundled files; decode_text's check of it through Arrow cost ~6 ms on a fresh process's first call,
    0.2 ms here), anything else through decode_text."""
    if not data.startswith(codecs.BOM_UTF8):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return decode_text(data, path=path)


def _cells(reader: Iterator[list[str]], width: int) -> Iterator[tuple[int, list[str | None]]]:
    """The non-blank rows of ``reader`` numbered from 2, each at least ``width`` cells long (None added)."""
    line = 1
    for cells in reader:
        if not cells:
            continue
        line += 1
        if len(cells) < width:
            cells += [None] * (width - len(cells))  # type: ignore[list-item]
        yield line, cells  # type: ignore[misc]


def _dict_rows(
    rows: Iterator[tuple[int, list[str | None]]], header: list[str]
) -> Iterator[tuple[int, dict[str, str | None]]]:
    """``csv.DictReader``'s rows from :func:`_cells`' (a name's value: its last column's cell)."""
    n = len(header)
    for line, cells in rows:
        row = dict(zip(header, cells))
        if len(cells) > n:
            row[None] = cells[n:]  # type: ignore[index]
        yield line, row
