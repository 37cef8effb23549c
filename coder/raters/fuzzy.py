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


def _block_scores(queries: Sequence[str], choices: Sequence[str], clen: np.ndarray) -> np.ndarray:
    """Scores of jamo ``queries`` × jamo ``choices`` (``clen``: the choices' lengths); see :func:`fuzzy_scores`.

    The ratio runs on every pair (rapidfuzz, all cores); the typo test only on the pairs whose Indel
    distance can be 2 or less (a Levenshtein distance of 1 is one insertion or deletion, Indel 1, or
    one substitution, Indel 2), which a ratio of at least ``1 - 2 / (len(q) + len(c))`` shows — a
    handful per query instead of a second full matrix.
    """
    ratio = process.cdist(queries, choices, scorer=fuzz.ratio, dtype=np.float32, workers=-1) / 100
    qlen = np.array([len(q) for q in queries])
    # a typo pair has len(q) >= 6 and len(c) >= 5, so its ratio is at least 1 - 2 / 11 (0.818): look only there
    rows, cols = np.nonzero(ratio >= 0.8)
    lq, lc = qlen[rows], clen[cols]
    near = (lq >= _TYPO_MIN_JAMO) & (np.abs(lq - lc) <= 1) & (ratio[rows, cols] >= 1 - 2.5 / np.maximum(lq + lc, 1))
    for r, c in zip(rows[near].tolist(), cols[near].tolist(), strict=True):  # 2.5, not 2: float32 rounding
        if Levenshtein.distance(queries[r], choices[c], score_cutoff=1) == 1:
            ratio[r, c] = max(ratio[r, c], TYPO_SCORE)
    return ratio  # in [0, 1]: a ratio is at most 100


def fuzzy_scores(queries: Sequence[str], choices: Sequence[str]) -> np.ndarray:
    """Similarity matrix (queries × choices) in [0, 1] over decomposed jamo.

    The score is the Indel similarity (:func:`rapidfuzz.fuzz.ratio`) of the jamo
    strings, raised to :data:`TYPO_SCORE` when the two differ by exactly one jamo
    edit (Levenshtein distance 1) and the query has at least six jamo (two
    syllables): a one-jamo typo of a title is as good as the title.
    The whole matrix is built: :func:`fuzzy_shortlist` scores in blocks of rows instead.
    """
    cj = [decompose_jamo(c) for c in choices]
    clen = np.array([len(c) for c in cj])
    qj = [decompose_jamo(q) for q in queries]
    out = np.empty((len(qj), len(cj)), dtype=np.float32)
    for a in range(0, len(qj), _CHUNK):
        out[a : a + _CHUNK] = _block_scores(qj[a : a + _CHUNK], cj, clen)
    return out


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
        # entries sharing a key share a column: score each distinct key once, then spread the columns
        distinct, column = np.unique([e.key for e in entries], return_inverse=True)
        cj = [decompose_jamo(c) for c in distinct]
        clen = np.array([len(c) for c in cj])
        width = min(len(entries), max(4 * k, 20))
        for a in range(0, len(todo), _CHUNK):
            block = todo[a : a + _CHUNK]
            # negated once on the distinct columns, then spread (np.take: 3x faster than fancy indexing)
            matrix = _block_scores([decompose_jamo(label_key(keys[i])) for i in block], cj, clen)
            neg = np.take(np.negative(matrix, out=matrix), column, axis=1)
            top = np.argpartition(neg, width - 1, axis=1)[:, :width]
            for row, i in enumerate(block):
                picked = _pick(entries, neg[row], top[row], k)
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


def _pick(entries: Sequence[ShortlistEntry], neg: np.ndarray, top: np.ndarray, k: int) -> list[list]:
    """``[text, code, score]`` of the best-scored entries among ``top``, one per code, at most ``k`` (``neg``: negated scores)."""
    picked, seen = [], set()
    for j in top[np.argsort(neg[top], kind="stable")]:
        e = entries[j]
        if e.code in seen:
            continue
        seen.add(e.code)
        picked.append([e.text, e.code, round(float(-neg[j]), 3)])
        if len(picked) == k:
            break
    return picked
