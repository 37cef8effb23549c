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

The shortlist ranks the entries by score; equal scores by key in index order (dictionary names
first, then titles) and one key's entries deepest code first (see :func:`fuzzy_shortlist`), and takes
the first entry of each code among the first ``max(4k, 20)``.
Until issue 22 equal scores came in the order numpy's ``argpartition`` left them, which depends on
the CPU's vector instructions (with AVX-512 switched off, 892 of the 2,120 NPK labels' shortlists
listed tied entries differently); scores and the entries above a tie are as before.  The jamo are
compared as one-byte characters (:class:`_JamoBytes`), a block of labels gets only the length of
each pair's longest common subsequence from rapidfuzz and ranks only the few columns that can hold
a row's best entries (:class:`_Columns`): the fuzzy stage of ``bench/bench_scale.py profile``
takes 3.7-4.6x less time than the full float32 matrix and its ``argpartition`` (20,000 labels:
6.0-8.8 s -> 1.6-1.8 s; 100,000: 46-51 s -> 10-13 s, on this shared 2-core machine at load 5),
what is left being rapidfuzz's all-pairs LCS; memory is one block of one-byte lengths.
A second pass made the index keys rapidfuzz's SIMD-packed side, found the pairs to rank with one byte
comparison each and computes the next block's LCS on a second thread while a block is ranked: the two
calls of ``profile 100000`` (75,328 labels rated) take 4.4-4.5 s of CPU instead of 5.9-6.1 s, and the
fuzzy stage 7.2-9.4 s of wall instead of 12.3-14.1 s (same machine at load 4-5, interleaved runs).  The
LCS itself (~3 s of CPU for 513 million pairs) is ~70% of what is left; bag-of-jamo and length bounds
were measured and discarded (with the exact threshold they still leave 25% and 89% of the pairs, and
computing the bag bound costs more than rapidfuzz's LCS).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise
from json.encoder import encode_basestring

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import LCSseq, Levenshtein

from ..codes import CodeList, load_codes
from .base import RaterResult, rater_spec
from .rules import key_again

__all__ = ["FUZZY_THRESHOLD", "ShortlistEntry", "decompose_jamo", "fuzzy_scores", "fuzzy_shortlist", "title_entries"]

FUZZY_THRESHOLD = rater_spec("fuzzy").threshold  # 0.95, held in the rater registry
"""Minimum score for the fuzzy top code to become a final code."""

TYPO_SCORE = 0.96
"""Score of a one-jamo typo (one jamo inserted, deleted or replaced) of a name of ≥ 2 syllables."""
_TYPO_MIN_JAMO = 6
_CHUNK = 2048
_GROUPS = 32
"""Columns a group (see :class:`_Columns`): 32 ranks 40,191 labels in ~10% less time than 16 (0.37 s vs 0.41 s);
fewer, larger groups make the row's bound cheaper to find and only a little lower."""


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

    The entries are ranked by score, best first; entries of equal score by key, in the order of each
    key's first entry in ``entries`` (the index: dictionary names, then titles), and one key's entries
    deepest code first (the code the index rater gives the key when its codes lie on one lineage),
    then in index order.  The shortlist takes the first entry of each code among the first
    ``max(4k, 20)`` entries.
    """
    entries = list(entries) if entries is not None else title_entries()
    n = len(keys)
    out_codes, scores, details = [""] * n, [math.nan] * n, [""] * n
    cands: list[tuple[tuple[str, float], ...]] = [()] * n
    todo = [i for i in range(n) if keys[i] and not (skip is not None and skip[i])]
    if todo and entries:
        index = _Columns(entries, max(4 * k, 20))
        heads, tails, codes = index.heads, index.tails, index.codes
        got: list[list] = [[], [], [], []]  # the todo keys' scores, codes, details and candidates, in order
        for bounds, picked, rounded in index.shortlists([keys[i] for i in todo], k):
            spans, starts = list(pairwise(bounds)), bounds[:-1]
            # json.dumps of the [text, code, score] lists: each entry's '["text", "code", ' and the score's 'repr]'
            parts = list(map(str.__add__, map(heads.__getitem__, picked), map(tails.__getitem__, rounded)))
            named = list(map(codes.__getitem__, picked))
            pairs = list(zip(named, rounded))
            got[0] += map(rounded.__getitem__, starts)
            got[1] += map(named.__getitem__, starts)
            got[2] += ["[" + ", ".join(parts[b:e]) + "]" for b, e in spans]
            got[3] += [tuple(pairs[b:e]) for b, e in spans]
        for column, values in zip((scores, out_codes, details, cands), got):
            for i, value in zip(todo, values):
                column[i] = value
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


class _Memo(dict):
    """``memo[x]`` is ``make(x)``, made once."""

    def __init__(self, make: Callable) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, x: object) -> object:
        self[x] = value = self.make(x)
        return value


class _Columns:
    """The shortlist entries as score columns, one per distinct key, each holding its entries in index order.

    A block of queries gets the length of its longest common subsequence with every column
    (rapidfuzz's ``LCSseq``, all cores, one byte a pair: ~40% less time than ``fuzz.ratio``, whose
    score, ``100 * (1 - (n - 2 * lcs) / n)`` with ``n`` the two lengths' sum, is then computed
    in numpy, bit for bit, on the pairs that need it).  The columns are the rapidfuzz *queries* and
    the block's labels its *choices*: rapidfuzz packs 8 to 32 short queries into one SIMD vector, and
    the index keys (median 18 jamo) are shorter than the labels (median 29), so a block costs ~25%
    less time than the other way round (1.69 s instead of 2.30 s of one core on 40,191 labels).
    Only the columns that can hold one of a row's ``width`` best entries are ranked: those at or
    above a lower bound of the row's ``width``-th best column score (a column holds one entry or
    more, so the ``width``-th best entry scores at least that much).  The columns are in length
    order and fall in groups of :data:`_GROUPS` in a row (about one length each): a group's longest
    common subsequence over its longest column bounds its best score from below, and the bound is the
    ``width``-th best of the row's group bounds.  The pairs that reach it are found with one byte
    comparison each: the common subsequence against the least that reaches the bound at the column's
    length (one row of thresholds per column length), ~1.7 million pairs of 513 million at 10^5 labels.
    """

    def __init__(self, entries: Sequence[ShortlistEntry], width: int) -> None:
        self.entries = entries
        self.width = min(len(entries), width)
        distinct, column = np.unique([e.key for e in entries], return_inverse=True)
        self.table = _JamoBytes(distinct.tolist())
        jamo = [c.translate(self.table) for c in distinct.tolist()]
        m = len(jamo)
        # place p holds the p-th shortest column (equal lengths in a fixed shuffle: the best columns rarely share
        # a group); a group is _GROUPS places in a row, so its members have about one length
        length = np.array([len(c) for c in jamo])
        at = np.lexsort((np.random.default_rng(0).permutation(m), length))  # at[p]: the column at place p
        self.jamo = [jamo[c] for c in at.tolist()]
        self.clen = length[at]
        self.group = _GROUPS if m >= _GROUPS * self.width else 1
        self.firsts = np.arange(0, m, self.group)  # each group's first place
        self.longest = self.clen[np.append(self.firsts[1:], m) - 1].astype(np.float32)
        self.lengths, first = np.unique(self.clen, return_index=True)
        self.runs = list(pairwise([*first.tolist(), m]))  # the places of each length
        self.lcs_type = np.uint8 if m == 0 or self.clen.max() < 256 else np.uint16
        where = np.empty(m, dtype=np.int64)
        where[at] = np.arange(m)
        column = where[column.ravel()]  # each entry's place
        # equal scores: keys in the order of their first entry, a key's entries deepest code first (the code the
        # index rater gives the key when its codes lie on one lineage), then in index order
        first = np.full(m, len(entries), dtype=np.int64)
        np.minimum.at(first, column, np.arange(len(entries)))
        depth = np.array([len(e.code) for e in entries])
        self.tie = np.empty(len(entries), dtype=np.int64)
        self.tie[np.lexsort((np.arange(len(entries)), -depth, first[column]))] = np.arange(len(entries))
        self.order = np.argsort(column, kind="stable")  # entries place by place, in index order within one
        self.count = np.bincount(column, minlength=m)
        self.start = np.cumsum(self.count) - self.count
        self.code = np.unique([e.code for e in entries], return_inverse=True)[1].ravel()
        self.codes = [e.code for e in entries]
        # json.dumps([text, code], ensure_ascii=False) without its "]": json's own string encoder
        self.heads = [f"[{encode_basestring(e.text)}, {encode_basestring(e.code)}, " for e in entries]
        self.tails = _Memo(lambda score: f"{score!r}]")

    def _ratio(self, queries: Sequence[str], lcs: np.ndarray, qlen: np.ndarray, rows: np.ndarray, cols: np.ndarray):
        """``fuzz.ratio`` (0–100, float32) of the pairs ``(rows, cols)`` from their common subsequence's length.

        The formula gives rapidfuzz's float32 whenever the two lengths sum to less than 319 (checked on
        every such sum and subsequence length); a longer pair is scored by rapidfuzz itself.
        """
        both = (qlen[rows] + self.clen[cols]).astype(np.float64)
        ratio = ((1.0 - (both - 2.0 * lcs) / both) * 100.0).astype(np.float32)
        for i in np.flatnonzero(both >= 319).tolist():  # rare: one label of ~100 syllables or more
            ratio[i] = fuzz.ratio(queries[rows[i]], self.jamo[cols[i]])
        return ratio

    def common(self, keys: Sequence[str]) -> tuple[list[str], np.ndarray]:
        """The keys' jamo and the length of their longest common subsequence with each column (columns x keys)."""
        queries = [key.translate(self.table) for key in keys]
        return queries, process.cdist(self.jamo, queries, scorer=LCSseq.similarity, dtype=self.lcs_type, workers=-1)

    def shortlists(self, keys: Sequence[str], k: int) -> Iterator[tuple[list[int], list[int], list[float]]]:
        """The shortlists of the keys (:func:`~coder.raters.rules.key_again` of each), block by block of
        :data:`_CHUNK` keys (see :meth:`rank`).

        The next two blocks' common subsequences are computed on a second thread while this block is
        ranked: rapidfuzz holds no lock while it computes, and the ranking (numpy and Python, one core,
        ~30% of the stage's CPU) would otherwise leave the second core idle.  Two blocks ahead, not one:
        with one, the thread waited 0.13 s between blocks at 10^5 labels (its LCS done before the block
        before it was ranked).  ``key_again`` runs here, block by block: the first block's LCS starts after
        2,048 of them, not all, and the thread holds Python's lock only to translate.  Memory holds three
        blocks of one-byte lengths.
        """
        blocks = [keys[a : a + _CHUNK] for a in range(0, len(keys), _CHUNK)]
        with ThreadPoolExecutor(1) as ahead:
            pending = deque(ahead.submit(self.common, list(map(key_again, block))) for block in blocks[:2])
            for b in range(len(blocks)):
                queries, lcs = pending.popleft().result()
                if b + 2 < len(blocks):
                    pending.append(ahead.submit(self.common, list(map(key_again, blocks[b + 2]))))
                yield self.rank(queries, lcs, k)

    def rank(self, queries: Sequence[str], lcs: np.ndarray, k: int) -> tuple[list[int], list[int], list[float]]:
        """The shortlists of jamo ``queries`` (see :func:`fuzzy_shortlist`) from :meth:`common`'s ``lcs``: entry
        positions and scores (rounded to 3 places), query ``r``'s in ``[bounds[r], bounds[r + 1])``, best first;
        returns ``(bounds, entries, scores)``."""
        n, m = len(queries), len(self.jamo)
        qlen = np.array([len(q) for q in queries], dtype=np.int64)
        size, full = self.group, m - m % self.group
        peak = lcs[:full].reshape(full // size, size, n).max(axis=1)  # each group's longest common subsequence
        if full < m:  # the last group, short
            peak = np.concatenate([peak, lcs[full:].max(axis=0, keepdims=True)])
        low = peak.T.astype(np.float32, order="C")
        low *= 200 / (qlen.astype(np.float32)[:, None] + self.longest)  # the group's best ratio is at least this
        # the row's width-th best lower bound, less 1e-6 (float32 rounding): a typo only raises
        # scores, so it stays below the width-th best entry
        wide = len(self.firsts) - min(self.width, len(self.firsts))
        floor = np.partition(low, wide, axis=1)[:, wide] * (1 - 1e-6)
        # a one-jamo typo raises a ratio of 80 or more to 96 (see _block_scores): look down to 80 where 96 counts
        lower = np.where(floor <= 96, np.minimum(floor, 80), floor)
        # the least common subsequence that can reach lower, each column length by each row (1e-5 below it,
        # for the float32 rounding of the ratio): one comparison a pair, run by run of one length
        need = np.ceil(lower * (qlen + self.lengths[:, None]) * ((1 - 1e-5) / 200))
        need = need.clip(0, np.iinfo(self.lcs_type).max).astype(self.lcs_type)
        hit = np.empty(lcs.shape, dtype=bool)
        for i, (a, b) in enumerate(self.runs):
            np.greater_equal(lcs[a:b], need[i], out=hit[a:b])
        pair = np.flatnonzero(hit)
        cols, rows = pair // n, pair % n
        value = self._ratio(queries, lcs.ravel()[pair], qlen, rows, cols)
        keep = value >= lower[rows]
        rows, cols, value = rows[keep], cols[keep], value[keep]
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
        bits = len(self.entries).bit_length()
        if n.bit_length() + 32 + bits <= 63:  # one int64 key: row, score descending (float32 bits), entry
            worse = np.uint32(0xFFFFFFFF) - score.view(np.uint32)
            ranked = np.argsort(
                (rows.astype(np.int64) << (32 + bits)) | (worse.astype(np.int64) << bits) | self.tie[entry]
            )
        else:
            ranked = np.lexsort((self.tie[entry], -score, rows))
        rows, score, entry = rows[ranked], score[ranked], entry[ranked]
        keep = np.arange(len(rows)) - np.searchsorted(rows, np.arange(n))[rows] < self.width
        rows, score, entry = rows[keep], score[keep], entry[keep]
        # the first entry of each code, at most k a row
        seen = rows.astype(np.int64) * (int(self.code.max()) + 1) + self.code[entry]
        first_of_code = np.sort(np.unique(seen, return_index=True)[1])
        rows, score, entry = rows[first_of_code], score[first_of_code], entry[first_of_code]
        if k >= 1:
            keep = np.arange(len(rows)) - np.searchsorted(rows, np.arange(n))[rows] < k
            rows, score, entry = rows[keep], score[keep], entry[keep]
        values = score.tolist()
        rounded = {sc: round(sc, 3) for sc in set(values)}
        return np.searchsorted(rows, np.arange(n + 1)).tolist(), entry.tolist(), list(map(rounded.__getitem__, values))
