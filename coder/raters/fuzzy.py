"""Fuzzy shortlist (rater ``fuzzy``): the nearest known names by string similarity.

For each label key the top-k entries of a shortlist index (KSCO-7 titles, and
job-dictionary names once :mod:`coder.raters.index` is available) with rapidfuzz
scores in [0, 1].  It is a *weak* rater: its top code becomes a final code only
at or above :data:`FUZZY_THRESHOLD` and is then marked ``code_source=fuzzy``;
below it the shortlist is kept as candidates for the LLM panel and reviewers.

The scorer (:func:`fuzzy_scores`) compares *decomposed jamo*: each Hangul
syllable is split into choseong, jungseong and jongseong by arithmetic
(:func:`decompose_jamo`), and the score is the Indel similarity
(:func:`rapidfuzz.fuzz.ratio`) of the jamo strings, raised to
:data:`TYPO_SCORE` (0.96) when the two differ by exactly one jamo edit and the
label has at least two syllables.  On syllables a one-syllable typo of a
three-syllable title (간효사 for 간호사) scored 0.67 and stayed uncoded; on jamo it
scores 0.96 and is final.

Evidence (``python bench/fuzzy_threshold.py``, 2026-12-02: index = KSCO-7
titles + the training jobs' dictionary names, 6,099 entries; queries = 1,062
held-out job names): over all queries the jamo top code is right at the major
level 0.714 and at the unit group 0.309 (syllable ``ratio``: 0.710 / 0.313).
At score ≥ 0.85 jamo covers 11.0% with unit accuracy 0.53 (ratio: 6.4%, 0.60);
≥ 0.90: 3.5%, 0.51; ≥ 0.95: 0.9% (n=10), major 0.50, unit 0.20 (ratio: no
query reaches 0.95).  Those 10 are distinct dictionary names one jamo apart
(포장반장 / 도장반장, 세관원 / 제관원), not typos: the bench holds out half the
dictionary, while in the pipeline every dictionary name is an exact index hit
before the fuzzy rater runs, so what reaches it one jamo from a name is mostly a
typo.  No threshold below 1.0 keeps typos final and excludes such pairs, and the
bench gives no evidence for moving it, so :data:`FUZZY_THRESHOLD` stays 0.95;
fuzzy finals stay marked ``code_source=fuzzy`` for review.  Below the threshold
the shortlist is kept as candidates for the LLM panel and reviewers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from ..codes import CodeList, load_codes
from ..normalize import label_key
from .base import RaterResult, rater_spec

__all__ = ["FUZZY_THRESHOLD", "ShortlistEntry", "decompose_jamo", "fuzzy_scores", "fuzzy_shortlist", "title_entries"]

FUZZY_THRESHOLD = rater_spec("fuzzy").threshold  # 0.95, held in the rater registry
"""Minimum score for the fuzzy top code to become a final code."""

TYPO_SCORE = 0.96
"""Score of a one-jamo typo (one jamo inserted, deleted or replaced) of a name of ≥ 2 syllables."""
_TYPO_MIN_JAMO = 6
_CHUNK = 2048


def decompose_jamo(text: str) -> str:
    """Split each Hangul syllable (U+AC00–U+D7A3) into choseong, jungseong and jongseong.

    Pure arithmetic (``index = (L * 21 + V) * 28 + T``); other characters pass through.
    ``간효사`` becomes ``ᄀ ᅡ ᆫ ᄒ ᅭ ᄉ ᅡ`` (without the spaces).
    """
    out = []
    for ch in text:
        o = ord(ch) - 0xAC00
        if 0 <= o <= 0xD7A3 - 0xAC00:
            out.append(chr(0x1100 + o // 588))
            out.append(chr(0x1161 + (o % 588) // 28))
            if o % 28:
                out.append(chr(0x11A7 + o % 28))
        else:
            out.append(ch)
    return "".join(out)


def fuzzy_scores(queries: Sequence[str], choices: Sequence[str]) -> np.ndarray:
    """Similarity matrix (queries × choices) in [0, 1] over decomposed jamo.

    The score is the Indel similarity (:func:`rapidfuzz.fuzz.ratio`) of the jamo
    strings, raised to :data:`TYPO_SCORE` when the two differ by exactly one jamo
    edit (Levenshtein distance 1) and the query has at least six jamo (two
    syllables): a one-jamo typo of a title is as good as the title.
    """
    qj = [decompose_jamo(q) for q in queries]
    cj = [decompose_jamo(c) for c in choices]
    qlen = np.array([len(q) for q in qj])
    out = np.empty((len(qj), len(cj)), dtype=np.float32)
    for a in range(0, len(qj), _CHUNK):
        part = qj[a : a + _CHUNK]
        ratio = process.cdist(part, cj, scorer=fuzz.ratio, dtype=np.float32, workers=1) / 100
        dist = process.cdist(part, cj, scorer=Levenshtein.distance, score_cutoff=1, dtype=np.int32, workers=1)
        typo = (dist == 1) & (qlen[a : a + _CHUNK, None] >= _TYPO_MIN_JAMO)
        out[a : a + _CHUNK] = np.where(typo, np.maximum(ratio, TYPO_SCORE), ratio)
    return np.clip(out, 0.0, 1.0)


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
    if codes is None:
        codes = load_codes()
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
    ``[text, code, score]`` for the top ``k`` entries (distinct codes) and
    ``candidates`` the same shortlist as ``(code, score)`` pairs, best first.  Keys
    with ``skip[i]`` true (already coded by a stronger rater) get no shortlist.
    """
    entries = list(entries) if entries is not None else title_entries()
    n = len(keys)
    out_codes, scores, details = [""] * n, [math.nan] * n, [""] * n
    cands: list[tuple[tuple[str, float], ...]] = [()] * n
    todo = [i for i in range(n) if keys[i] and not (skip is not None and skip[i])]
    if todo and entries:
        choices = [e.key for e in entries]
        queries = [label_key(keys[i]) for i in todo]
        matrix = fuzzy_scores(queries, choices)
        width = min(len(choices), max(4 * k, 20))
        top = np.argpartition(-matrix, width - 1, axis=1)[:, :width]
        for row, i in enumerate(todo):
            cand = top[row][np.argsort(-matrix[row, top[row]], kind="stable")]
            picked, seen = [], set()
            for j in cand:
                e = entries[j]
                if e.code in seen:
                    continue
                seen.add(e.code)
                picked.append([e.text, e.code, round(float(matrix[row, j]), 3)])
                if len(picked) == k:
                    break
            if not picked:
                continue
            best = picked[0]
            scores[i] = best[2]
            details[i] = json.dumps(picked, ensure_ascii=False)
            out_codes[i] = best[1]
            cands[i] = tuple((c, sc) for _, c, sc in picked)
    final_ok = tuple(bool(c) and s >= threshold for c, s in zip(out_codes, scores))
    return RaterResult(
        rater="fuzzy",
        keys=tuple(keys),
        codes=tuple(out_codes),
        scores=tuple(scores),
        details=tuple(details),
        extra={"final_ok": final_ok},
        candidates=tuple(cands),
    )
