"""Fuzzy shortlist (rater ``fuzzy``): the nearest known names by string similarity.

For each label key the top-k entries of a shortlist index (KSCO-7 titles, and
job-dictionary names once :mod:`coder.raters.index` is available) with rapidfuzz
scores in [0, 1].  It is a *weak* rater: its top code becomes a final code only
at or above :data:`FUZZY_THRESHOLD` and is then marked ``code_source=fuzzy``;
below it the shortlist is kept as candidates for the LLM panel and reviewers.

The scorer is :func:`rapidfuzz.fuzz.ratio` on label keys (normalised Indel
similarity), which beat ``WRatio`` and ``partial_ratio`` on job names.  Evidence
for the threshold (``python bench/fuzzy_threshold.py``: index = KSCO-7 titles +
the training jobs' dictionary names, queries = 1,062 held-out job names): over
all queries the top code is right at the major level 0.71 and at the unit
group 0.31; at score ≥ 0.80 it covers 20% with 4-digit accuracy 0.53; at ≥ 0.90
only 1.4% with 0.60.  That is weaker than the learned model at its threshold,
so the fuzzy top code is final only for near-identical strings (≥ 0.95) and is
otherwise a shortlist.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from ..codes import CodeList, load_codes
from ..normalize import label_key
from .base import RaterResult

__all__ = ["FUZZY_THRESHOLD", "ShortlistEntry", "fuzzy_shortlist", "title_entries"]

FUZZY_THRESHOLD = 0.95
"""Minimum score for the fuzzy top code to become a final code."""


@dataclass(frozen=True)
class ShortlistEntry:
    """One name the shortlist can propose: its text, key and code, and where it is from."""

    text: str
    key: str
    code: str
    source: str  # "ksco7", "jobdict", ...


def title_entries(codes: CodeList | None = None) -> list[ShortlistEntry]:
    # The coding pipeline passes the job-dictionary index (titles + names) instead.
    """Every code-list title as a shortlist entry (one per key, deepest code)."""
    codes = codes or load_codes()
    entries = []
    for key, found in sorted(codes.by_title_key.items()):
        code = found[0]
        entries.append(ShortlistEntry(codes.title(code), key, code, codes.name))
    return entries


def fuzzy_shortlist(
    keys: Sequence[str],
    *,
    entries: Sequence[ShortlistEntry] | None = None,
    k: int = 5,
    threshold: float = FUZZY_THRESHOLD,
    skip: Sequence[bool] | None = None,
) -> RaterResult:
    """Top-k shortlist per key (rater ``fuzzy``).

    ``code`` is the top entry's code and ``score`` its score (the crosswalk
    makes it final only at or above ``threshold``; extra column ``final_ok``); ``detail`` a JSON list of
    ``[text, code, score]`` for the top ``k`` entries (distinct codes).  Keys
    with ``skip[i]`` true (already coded by a stronger rater) get no shortlist.
    """
    entries = list(entries) if entries is not None else title_entries()
    n = len(keys)
    out_codes, scores, details = [""] * n, [math.nan] * n, [""] * n
    todo = [i for i in range(n) if keys[i] and not (skip is not None and skip[i])]
    if todo and entries:
        choices = [e.key for e in entries]
        queries = [label_key(keys[i]) for i in todo]
        matrix = process.cdist(queries, choices, scorer=fuzz.ratio, dtype=np.uint8, workers=1)
        width = min(len(choices), max(4 * k, 20))
        top = np.argpartition(-matrix.astype(np.int16), width - 1, axis=1)[:, :width]
        for row, i in enumerate(todo):
            cand = top[row][np.argsort(-matrix[row, top[row]], kind="stable")]
            picked, seen = [], set()
            for j in cand:
                e = entries[j]
                if e.code in seen:
                    continue
                seen.add(e.code)
                picked.append([e.text, e.code, round(float(matrix[row, j]) / 100, 3)])
                if len(picked) == k:
                    break
            if not picked:
                continue
            best = picked[0]
            scores[i] = best[2]
            details[i] = json.dumps(picked, ensure_ascii=False)
            out_codes[i] = best[1]
    final_ok = tuple(bool(c) and s >= threshold for c, s in zip(out_codes, scores))
    return RaterResult("fuzzy", tuple(keys), tuple(out_codes), tuple(scores), tuple(details), {"final_ok": final_ok})
