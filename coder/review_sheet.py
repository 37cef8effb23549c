"""The cells of a review sheet, which people open in a spreadsheet (used by :mod:`coder.review`).

- **No cell is a formula.**  A text cell whose first character a spreadsheet would run as a
  formula (``= + - @``, tab, CR, LF, NUL) is written with a leading ``'``, as OWASP advises
  against CSV injection; so is a cell that starts with ``'``, so that a spreadsheet that takes the
  ``'`` as a text marker and drops it on saving still gives back the same text
  (:func:`neutralise`, :func:`restore`).
- **Cells are text.**  :func:`cell_text` reads what a spreadsheet wrote back (``9421.0`` →
  ``9421``, empty → ``''``); :func:`sheet_cell` also removes the ``'``.
- **Checksums and ids are computed on the cells as they were**, before the ``'``; they start
  with letters (``c-``, ``x-``, ``<batch>-``) so that no spreadsheet reads them as numbers.
  :func:`checksum` covers the protected cells by column name, so columns may come back in any
  order; :func:`review_ids` are unique within a crosswalk; :func:`crosswalk_id` names a
  crosswalk's set of label keys.
- **An audit row says so only through its checksum**: :func:`audit_cell` is a hidden cell (the
  row's number of draws) the checksum also covers; :func:`audit_draws` finds it on import
  (bounded: at most 10,000 draws are tried, and only on rows with no ``why`` and no suggestion).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping

__all__ = [
    "audit_cell",
    "audit_draws",
    "cell_text",
    "checksum",
    "checksum_fits",
    "crosswalk_id",
    "neutralise",
    "normal_code",
    "restore",
    "review_ids",
    "sheet_cell",
]

_INT_FLOAT = re.compile(r"(-?\d+)\.0+")
_ID_HEX = 16  # hex digits of a review id; more where two labels of one crosswalk share them
_RISKY = frozenset("=+-@\t\r\n\0'")  # first characters that get a leading ' (OWASP; ' itself so it survives)


def cell_text(v: object) -> str:
    """A cell as the text a reviewer saw: None/NaN → '', 9421.0 → '9421' (Excel numbers), spaces around removed.

    >>> cell_text(None), cell_text(9421.0), cell_text(" 9421.0 "), cell_text("경비원")
    ('', '9421', '9421', '경비원')
    """
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    s = str(v).strip()
    m = _INT_FLOAT.fullmatch(s)
    return m.group(1) if m else s


def neutralise(text: str) -> str:
    """A text cell as the sheet shows it: a leading ``'`` where a spreadsheet would see a formula (or a ``'``).

    >>> neutralise('=HYPERLINK("http://x","y")'), neutralise("-3"), neutralise("경비원")
    ('\\'=HYPERLINK("http://x","y")', "'-3", '경비원')
    """
    return "'" + text if text[:1] in _RISKY else text


def restore(text: str) -> str:
    """A sheet cell as it was before :func:`neutralise`, whether or not a spreadsheet dropped the ``'``.

    >>> restore("'=1+1"), restore("=1+1"), restore("''x"), restore("'x")
    ('=1+1', '=1+1', "'x", "'x")
    """
    return text[1:] if text[:1] == "'" and text[1:2] in _RISKY else text


def sheet_cell(v: object) -> str:
    """A cell read back from a sheet: :func:`restore`, then :func:`cell_text`.

    >>> sheet_cell("'=1+1"), sheet_cell("=1+1"), sheet_cell(41231)
    ('=1+1', '=1+1', '41231')
    """
    return cell_text(restore(v)) if isinstance(v, str) else cell_text(v)


def _hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def checksum(cells: Mapping[str, str]) -> str:
    """``c-`` and 16 hex digits of the sha256 over the protected cells by column name (any column order)."""
    return "c-" + _hex(json.dumps(sorted(cells.items()), ensure_ascii=False, separators=(",", ":")))[:16]


def crosswalk_id(keys: Iterable[str]) -> str:
    """``x-`` and 16 hex digits of the sha256 over the crosswalk's sorted label keys."""
    return "x-" + _hex(json.dumps(sorted(set(keys)), ensure_ascii=False, separators=(",", ":")))[:16]


def review_ids(keys: Iterable[str], *, digits: int | None = None) -> dict[str, str]:
    """Label key → the hex part of its review id: ``digits`` (default 16) hex digits of its sha256.

    Keys whose first ``digits`` hex digits are the same get as many more as they need to differ
    (deterministic: the same keys give the same ids).

    >>> review_ids(["경비원", "무직"], digits=4)
    {'경비원': 'd5d3', '무직': '93c1'}
    """
    digits = _ID_HEX if digits is None else digits
    full = {k: _hex(k) for k in dict.fromkeys(keys)}
    groups: dict[str, list[str]] = {}
    for k, h in full.items():
        groups.setdefault(h[:digits], []).append(k)
    out = {}
    for prefix, group in groups.items():
        n = digits
        while len(group) > 1 and len({full[k][:n] for k in group}) < len(group) and n < 64:
            n += 1
        for k in group:
            out[k] = full[k][:n] if len(group) > 1 else prefix
    return out


def normal_code(text: str) -> str:
    """A decision code as typed, made comparable: NFKC, no spaces, upper case.

    >>> normal_code("４３１"), normal_code(" a0200"), normal_code("9 4 2 1")
    ('431', 'A0200', '9421')
    """
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).upper()


def checksum_fits(
    raw: Mapping[str, object],
    cells: Mapping[str, str],
    protected: list[str],
    extra: Mapping[str, str] | None = None,
) -> bool:
    """Whether a row's ``checksum`` cell fits its ``protected`` cells (``cells``: read by :func:`sheet_cell`).

    ``raw`` is the row as read; ``extra`` adds cells (a column the sheet lost).  A cell read as
    ``'=x`` is ``=x`` neutralised, or ``'=x`` itself when a spreadsheet dropped the ``'`` of
    ``''=x``: where that is ambiguous (up to 8 cells of a row), every reading is tried.
    """
    values = {c: cells[c] for c in protected} | dict(extra or {})
    if checksum(values) == cells["checksum"]:
        return True
    either = [c for c in protected if isinstance(raw[c], str) and restore(raw[c]) != raw[c]][:8]  # type: ignore[arg-type]
    for keep in itertools.product((False, True), repeat=len(either)):
        if any(keep):
            tried = values | {c: cell_text(raw[c]) for c, k in zip(either, keep) if k}
            if checksum(tried) == cells["checksum"]:
                return True
    return False


_MAX_DRAWS = 10_000  # the most draws an audit row's hidden cell is tried with on import


def audit_cell(draws: int) -> dict[str, str]:
    """The hidden cell an audit row's checksum also covers (its number of draws): the sheet says which rows
    are the audit's without showing it to the reviewer."""
    return {"audit": str(draws)} if draws else {}


def audit_draws(raw: Mapping[str, object], cells: Mapping[str, str], protected: list[str]) -> int:
    """How many draws an audit row stands for (0: not an audit row, or an edited one)."""
    if cells.get("why", "") or cells.get("suggested_code", ""):
        return 0
    for d in range(1, _MAX_DRAWS + 1):
        if checksum_fits(raw, cells, protected, audit_cell(d)):
            return d
    return 0
