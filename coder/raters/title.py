"""Exact KSCO-7 title lookup (rater ``title``).

A label whose key equals the key of a KSCO-7 title gets that title's code.  A
title repeated across levels in one lineage (``9422``/``94220`` 검표원) gives the
level-5 code.  A title shared by codes in different lineages is ambiguous: no
code, and the detail lists every candidate — the lookup never guesses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..codes import CodeList, load_codes
from .base import RaterResult

__all__ = ["lookup_titles"]


def lookup_titles(keys: Sequence[str], *, codes: CodeList | None = None) -> RaterResult:
    """Code each label key by exact title match; see the module docstring."""
    if codes is None:
        codes = load_codes()
    out_codes, scores, details, flags, cands = [], [], [], [], []
    for key in keys:
        found = codes.by_title_key.get(key, ()) if key else ()
        cands.append(tuple((c, 1.0) for c in found))
        if not found:
            out_codes.append("")
            scores.append(math.nan)
            details.append("")
            flags.append(())
        elif all(codes.same_lineage(found[0], c) for c in found[1:]):
            out_codes.append(found[0])
            scores.append(1.0)
            details.append(f"{codes.name}:{found[0]}")
            flags.append(())
        else:
            out_codes.append("")
            scores.append(math.nan)
            details.append("ambiguous: " + "|".join(found))
            flags.append(("ambiguous",))
    return RaterResult(
        "title",
        tuple(keys),
        tuple(out_codes),
        tuple(scores),
        tuple(details),
        flags=tuple(flags),
        candidates=tuple(cands),
    )
