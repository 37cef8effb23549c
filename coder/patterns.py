"""Label patterns shared by every rules file: match modes and compiled matchers.

The status rules (``rules/status.csv``), the rule mapper (``rules/mapper.csv``)
and the consistency rules apply a pattern to a label *key*
(:func:`coder.normalize.label_key`) in one of four :data:`MATCH_MODES`:
``full`` (the whole key), ``prefix``, ``suffix`` or ``contains``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["MATCH_MODES", "compile_matcher", "split_cell"]

MATCH_MODES = ("full", "prefix", "suffix", "contains")
_META = re.compile(r"[.^$*+?{}\[\]\\|()]")


def compile_matcher(pattern: str, match: str) -> Callable[[str], int | None]:
    """Return ``f(key) -> matched length or None`` for a pattern and match mode.

    Plain literals (most rules) use string operations; regexes are compiled once.
    """
    if match not in MATCH_MODES:
        raise ValueError(f"match must be one of {MATCH_MODES}, not {match!r}")
    if not _META.search(pattern):
        n = len(pattern)
        if match == "full":
            return lambda key: n if key == pattern else None
        if match == "prefix":
            return lambda key: n if key.startswith(pattern) else None
        if match == "suffix":
            return lambda key: n if key.endswith(pattern) else None
        return lambda key: n if pattern in key else None
    if match == "full":
        rx = re.compile(pattern)
        find = rx.fullmatch
    elif match == "prefix":
        find = re.compile(pattern).match
    elif match == "suffix":
        find = re.compile(f"(?:{pattern})$").search
    else:
        find = re.compile(pattern).search

    def run(key: str) -> int | None:
        m = find(key)
        return None if m is None else m.end() - m.start()

    return run


def split_cell(cell: str | None) -> tuple[str, ...]:
    """Split an ``a | b | c`` cell into its non-empty parts."""
    return tuple(x.strip() for x in (cell or "").split(" | ") if x.strip())
