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

The shortlist ranks the entries by score and entries of equal score in index order (dictionary
names first, then titles), and takes the first entry of each code among the first ``max(4k, 20)``.
Until issue 22 equal scores came in the order numpy's ``argpartition`` left them, which depends on
the CPU's vector instructions (with AVX-512 switched off, 892 of the 2,120 NPK labels' shortlists
listed tied entries differently); scores and the entries above a tie are as before.  The jamo are
compared as one-byte characters (:class:`_JamoBytes`), and a block of labels ranks only the few
columns that can hold a row's best entries (:class:`_Columns`): ~12x less time than the full
matrix and its ``argpartition``, memory one block of scores.
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
_GROUPS = 16


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


class _JamoBytes(dict):
    """A :meth:`str.translate` table: text to its decomposed jamo, one character below U+0100 per jamo.

    Built from the ``choices``' jamo: each character they use gets its own code point (1, 2, …) and
    every other character one spare code point, so a query and a choice have the same common
    subsequences and edit distances as their jamo strings (a character no choice has matches no
    choice, whichever it is) and the same length: every score is unchanged.  rapidfuzz compares such
    one-byte strings with a 256-entry table instead of a hash map, ~2.5x faster on 2,048 queries x
    6,836 index keys.  With 255 or more distinct characters in the choices the jamo are kept as they are.
    """

    def __init__(self, choices: Sequence[str]) -> None:
        chars = sorted({j for ch in set().union(*choices) for j in decompose_jamo(ch)})
        self.spare = chr(len(chars) + 1) if len(chars) < 255 else None
        super().__init__({ord(ch): chr(i + 1) for i, ch in enumerate(chars)} if self.spare else {})

    def __missing__(self, o: int) -> str:  # each character once: a syllable's jamo, or the spare code point
        if 0xAC00 <= o <= 0xD7A3:
            jamo = decompose_jamo(chr(o))
            text = "".join(self.get(ord(ch), self.spare) for ch in jamo) if self.spare else jamo
        else:
            text = self.spare or chr(o)
        self[o] = text
        return text


def _typos(
    queries: Sequence[str], choices: Sequence[str], rows: np.ndarray, cols: np.ndarray, percent: np.ndarray
) -> np.ndarray:
    """Which pairs ``(queries[rows], choices[cols])``, of ratio ``percent`` (0–100), are one jamo edit apart.

    Only for a query of at least six jamo (two syllables).  The Levenshtein distance runs only on the
    pairs whose Indel distance can be 2 or less (a Levenshtein distance of 1 is one insertion or
    deletion, Indel 1, or one substitution, Indel 2), which a ratio of at least
    ``100 - 200 / (len(q) + len(c))`` shows (250, not 200: float32 rounding).
    """
    lq = np.array([len(queries[r]) for r in rows.tolist()], dtype=np.int64)
    lc = np.array([len(choices[c]) for c in cols.tolist()], dtype=np.int64)
    near = (lq >= _TYPO_MIN_JAMO) & (np.abs(lq - lc) <= 1) & (percent >= 100 - 250 / np.maximum(lq + lc, 1))
    hit = np.zeros(len(rows), dtype=bool)
    for i in np.flatnonzero(near).tolist():
        hit[i] = Levenshtein.distance(queries[rows[i]], choices[cols[i]], score_cutoff=1) == 1
    return hit


def _block_scores(queries: Sequence[str], choices: Sequence[str]) -> np.ndarray:
    """Scores of jamo ``queries`` × jamo ``choices``; see :func:`fuzzy_scores`.

    The ratio runs on every pair (rapidfuzz, all cores); the typo test only on the pairs of ratio 80
    or more (a typo pair has ``len(q) >= 6`` and ``len(c) >= 5``, so a ratio of at least
    ``100 - 200 / 11``, 81.8): a handful per query instead of a second full matrix.
    """
    ratio = process.cdist(queries, choices, scorer=fuzz.ratio, dtype=np.float32, workers=-1)
    rows, cols = np.nonzero(ratio >= 80)
    hit = _typos(queries, choices, rows, cols, ratio[rows, cols])
    ratio /= 100
    rows, cols = rows[hit], cols[hit]
    ratio[rows, cols] = np.maximum(ratio[rows, cols], TYPO_SCORE)
    return ratio  # in [0, 1]: a ratio is at most 100


def fuzzy_scores(queries: Sequence[str], choices: Sequence[str]) -> np.ndarray:
    """Similarity matrix (queries × choices) in [0, 1] over decomposed jamo.

    The score is the Indel similarity (:func:`rapidfuzz.fuzz.ratio`) of the jamo
    strings, raised to :data:`TYPO_SCORE` when the two differ by exactly one jamo
    edit (Levenshtein distance 1) and the query has at least six jamo (two
    syllables): a one-jamo typo of a title is as good as the title.
    The whole matrix is built: :func:`fuzzy_shortlist` scores in blocks of rows instead.
    """
    table = _JamoBytes(choices)
    cj = [c.translate(table) for c in choices]
    qj = [q.translate(table) for q in queries]
    out = np.empty((len(qj), len(cj)), dtype=np.float32)
    for a in range(0, len(qj), _CHUNK):
        out[a : a + _CHUNK] = _block_scores(qj[a : a + _CHUNK], cj)
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

    The entries are ranked by score, best first, and entries of equal score in their order in
    ``entries`` (the index: dictionary names, then titles); the shortlist takes the first entry of
    each code among the first ``max(4k, 20)`` entries.
    """
    entries = list(entries) if entries is not None else title_entries()
    n = len(keys)
    out_codes, scores, details = [""] * n, [math.nan] * n, [""] * n
    cands: list[tuple[tuple[str, float], ...]] = [()] * n
    todo = [i for i in range(n) if keys[i] and not (skip is not None and skip[i])]
    if todo and entries:
        index = _Columns(entries, max(4 * k, 20))
        for a in range(0, len(todo), _CHUNK):
            block = todo[a : a + _CHUNK]
            bounds, picked, rounded = index.shortlists([label_key(keys[i]) for i in block], k)
            for row, i in enumerate(block):
                js, ss = picked[bounds[row] : bounds[row + 1]], rounded[bounds[row] : bounds[row + 1]]
                scores[i], out_codes[i] = ss[0], index.codes[js[0]]
                # json.dumps of the [text, code, score] lists, from each entry's '["text", "code", '
                details[i] = "[" + ", ".join([f"{index.json[j]}{sc!r}]" for j, sc in zip(js, ss)]) + "]"
                cands[i] = tuple(zip([index.codes[j] for j in js], ss))
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


class _Columns:
    """The shortlist entries as score columns, one per distinct key, each holding its entries in index order.

    A block of queries is scored against every column (rapidfuzz, all cores), and only the columns that can
    hold one of a row's ``width`` best entries are ranked: those scoring at least a lower bound of
    the row's ``width``-th best column score (a column holds one entry or more, so the ``width``-th
    best entry scores at least that much).  The bound is the ``width``-th best of the row's group
    maxima: the columns fall in ``groups`` groups ``t, t + g, t + 2g, …`` (``g`` = columns //
    groups), neighbours in the sorted keys in different groups, so the row's best columns are
    rarely in one group and the bound is nearly the exact score (21.6 columns pass per row on
    2,048 synthetic labels where 21.2 score at least the exact one), found by a partition of
    ``g`` maxima instead of all columns.
    """

    def __init__(self, entries: Sequence[ShortlistEntry], width: int) -> None:
        self.entries = entries
        self.width = min(len(entries), width)
        distinct, column = np.unique([e.key for e in entries], return_inverse=True)
        self.table = _JamoBytes(distinct.tolist())
        self.jamo = [c.translate(self.table) for c in distinct.tolist()]
        m = len(self.jamo)
        self.groups = _GROUPS if m >= _GROUPS * self.width else 1
        self.g = m // self.groups
        column = column.ravel()
        self.order = np.argsort(column, kind="stable")  # entries column by column, in index order within one
        self.count = np.bincount(column, minlength=m)
        self.start = np.cumsum(self.count) - self.count
        self.code = np.unique([e.code for e in entries], return_inverse=True)[1].ravel()
        self.codes = [e.code for e in entries]
        self.json = [json.dumps([e.text, e.code], ensure_ascii=False)[:-1] + ", " for e in entries]

    def _at_least(self, ratio: np.ndarray, peak: np.ndarray, floor: np.ndarray) -> tuple[np.ndarray, ...]:
        """``(rows, cols, ratios)`` of every ``ratio[row, col] >= floor[row]``, row by row, through the group maxima ``peak``."""
        m, groups, g = ratio.shape[1], self.groups, self.g
        rr, tt = np.nonzero(peak >= floor[:, None])
        rows = np.repeat(rr, groups)
        cols = (tt[:, None] + g * np.arange(groups)).ravel()
        value = ratio.ravel()[rows * m + cols]
        keep = value >= floor[rows]
        rows, cols, value = rows[keep], cols[keep], value[keep]
        if groups * g < m:  # the last columns, in no group
            r2, c2 = np.nonzero(ratio[:, groups * g :] >= floor[:, None])
            c2 += groups * g
            rows, cols = np.concatenate([rows, r2]), np.concatenate([cols, c2])
            value = np.concatenate([value, ratio[r2, c2]])
        return rows, cols, value

    def shortlists(self, keys: Sequence[str], k: int) -> tuple[list[int], list[int], list[float]]:
        """The keys' shortlists (see :func:`fuzzy_shortlist`): entry positions and scores (rounded to 3
        places), key ``r``'s in ``[bounds[r], bounds[r + 1])``, best first; returns ``(bounds, entries, scores)``."""
        queries = [key.translate(self.table) for key in keys]
        ratio = process.cdist(queries, self.jamo, scorer=fuzz.ratio, dtype=np.float32, workers=-1)  # 0-100
        n, groups, g = len(queries), self.groups, self.g
        peak = ratio[:, : groups * g].reshape(n, groups, g).max(axis=1)
        # the row's width-th best group maximum, less 1e-6 (a ratio a hair below it may give the same score
        # once divided by 100 in float32): a typo only raises scores, so it stays below the width-th best entry
        wide = min(self.width, g)
        floor = np.partition(peak, g - wide, axis=1)[:, g - wide] * np.float32(1 - 1e-6)
        # a one-jamo typo raises a ratio of 80 or more to 96 (see _block_scores): look down to 80 where 96 counts
        rows, cols, value = self._at_least(ratio, peak, np.where(floor <= 96, np.minimum(floor, 80), floor))
        near = np.flatnonzero(value >= 80)
        hit = near[_typos(queries, self.jamo, rows[near], cols[near], value[near])]
        value[hit] = np.maximum(value[hit], np.float32(TYPO_SCORE * 100))
        keep = value >= floor[rows]
        rows, cols, score = rows[keep], cols[keep], value[keep] / np.float32(100)
        # spread to entries, ranked by row, score descending, then place in the index
        many = self.count[cols]
        rows, score = np.repeat(rows, many), np.repeat(score, many)
        first = np.repeat(self.start[cols] - np.cumsum(many) + many, many)
        entry = self.order[first + np.arange(len(first))]
        rank = np.lexsort((entry, -score, rows))
        rows, score, entry = rows[rank], score[rank], entry[rank]
        keep = np.arange(len(rows)) - np.searchsorted(rows, np.arange(n))[rows] < self.width
        rows, score, entry = rows[keep], score[keep], entry[keep]
        # the first entry of each code, at most k a row
        seen = rows.astype(np.int64) * (int(self.code.max()) + 1) + self.code[entry]
        first_of_code = np.sort(np.unique(seen, return_index=True)[1])
        rows, score, entry = rows[first_of_code], score[first_of_code], entry[first_of_code]
        if k >= 1:
            keep = np.arange(len(rows)) - np.searchsorted(rows, np.arange(n))[rows] < k
            rows, score, entry = rows[keep], score[keep], entry[keep]
        rounded = {sc: round(sc, 3) for sc in set(score.tolist())}
        return np.searchsorted(rows, np.arange(n + 1)).tolist(), entry.tolist(), [rounded[sc] for sc in score.tolist()]
