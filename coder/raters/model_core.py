"""Prediction core of the job-name model (rater ``model``): features, vectorizer, the trained model and its detector.

What a trained model *does* with a label key lives here; how it is trained is in
:mod:`coder.raters.model_fit`, how it is stored and used as a rater in
:mod:`coder.raters.model`.  See :mod:`coder.raters.model` for what the model is.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import ItemsView, Iterator, KeysView, Mapping, Sequence, ValuesView
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np
from scipy import sparse

__all__ = [
    "EvidenceModel",
    "JobModel",
    "StoredNames",
    "Vectorizer",
    "apply_calibration",
    "key_features",
    "known_share",
    "softmax",
]

_PAREN_END = re.compile(r"\([^()]*\)$")

# --------------------------------------------------------------------------- features


def key_features(key: str, ngram_max: int = 4, suffix_max: int = 6) -> list[str]:
    """Features of one label key: n-grams of ``^key$`` and suffixes ``S:<tail>``.

    >>> key_features("조립원", 2, 2)
    ['^', '조', '립', '원', '$', '^조', '조립', '립원', '원$', 'S:원', 'S:립원']
    """
    t = f"^{key}$"
    out = [t[i : i + n] for n in range(1, ngram_max + 1) for i in range(len(t) - n + 1)]
    head = _PAREN_END.sub("", key) or key
    out += ["S:" + head[-k:] for k in range(1, min(suffix_max, len(head)) + 1)]
    return out


_TAIL = ")\n"  # a key ending otherwise has no trailing ``(...)`` for _PAREN_END to drop ($ also matches before a final newline)
_TF = np.asarray([0.0, *(1.0 + math.log(n) for n in range(1, 4097))], dtype=np.float32)  # sublinear tf of a count


def _extract(keys: Sequence[str], ngram_max: int, suffix_max: int) -> tuple[list[str], np.ndarray]:
    """Every key's :func:`key_features`, in that order, in one flat list; and per key the number of
    n-grams of each length 1…``ngram_max`` and of suffixes (keys × ``ngram_max`` + 1, in list order)."""
    ngram_max = max(ngram_max, 0)
    feats: list[str] = []
    ext = feats.extend
    heads: list[int] = []
    happ = heads.append
    sub = _PAREN_END.sub
    grams = range(2, ngram_max + 1)
    for key in keys:
        t = f"^{key}$"
        if ngram_max:
            ext(t)  # the 1-grams
        m = len(t) + 1
        for n in grams:
            ext([t[i : i + n] for i in range(m - n)])
        head = (sub("", key) or key) if key[-1:] in _TAIL else key
        h = max(0, min(suffix_max, len(head)))
        ext(["S:" + head[-k:] for k in range(1, h + 1)])
        happ(h)
    lens = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys)) + 2
    seg = np.empty((len(keys), ngram_max + 1), dtype=np.int64)
    for n in range(1, ngram_max + 1):
        seg[:, n - 1] = np.maximum(lens - n + 1, 0)
    seg[:, ngram_max] = heads
    return feats, seg


def _lookup(vocab: Mapping[str, int], feats: list[str], missing: int = -1) -> np.ndarray:
    """``vocab[f]`` for each feature (``missing`` when absent), as an int64 array."""
    get = vocab.lookup.get if isinstance(vocab, StoredNames) else vocab.get
    return np.fromiter(map(get, feats, repeat(missing, len(feats))), dtype=np.int64, count=len(feats))


class StoredNames(Mapping[str, int]):
    """Names as a model file stores them (a numpy string array), read as ``{str(t): first + i for i, t in
    enumerate(names)}``; that dict (:attr:`lookup`) is made on first use.

    A loaded model's vocabularies are these: the batch rater's plan (:meth:`_Plan.of`) reads the arrays
    themselves and never needs the dicts of the 71,103 + 18,706 names (~0.015 s of a fresh process's
    first rating); :meth:`Vectorizer.transform`, the training and the tests use them as mappings.
    """

    def __init__(self, names: np.ndarray, first: int = 0) -> None:
        self.names = names
        self.first = first

    @functools.cached_property
    def lookup(self) -> dict[str, int]:
        return dict(zip(self.names.tolist(), range(self.first, self.first + len(self.names))))

    def __getitem__(self, key: str) -> int:
        return self.lookup[key]

    def __contains__(self, key: object) -> bool:
        return key in self.lookup

    def __iter__(self) -> Iterator[str]:
        return iter(self.lookup)

    def __len__(self) -> int:
        return len(self.lookup)

    def get(self, key: str, default: int | None = None) -> int | None:  # type: ignore[override]
        return self.lookup.get(key, default)

    def keys(self) -> KeysView[str]:
        return self.lookup.keys()

    def values(self) -> ValuesView[int]:
        return self.lookup.values()

    def items(self) -> ItemsView[str, int]:
        return self.lookup.items()


def _tfidf(ids: np.ndarray, rows: np.ndarray, n: int, idf: np.ndarray) -> sparse.csr_matrix:
    """:meth:`Vectorizer.transform` from the features' vocabulary indices (-1 = unknown) and rows.

    Each row's distinct features in the order of their first occurrence, with their counts (as a
    ``Counter`` over the feature list gives them), so the matrix is the former per-key one, entry
    for entry and in the same order (the order a sparse product sums in).
    """
    keep = np.flatnonzero(ids >= 0)
    at, counts, _ = _distinct(rows[keep], ids[keep], len(idf))
    at = keep[at]
    return _csr(rows[at], ids[at], counts, n, idf)


def _distinct(
    rows: np.ndarray, ids: np.ndarray, size: int, marks: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Each (row, id)'s first place, in order (rows, then first occurrence), its count, and how many
    of its places are marked (``marks``)."""
    comb = rows * size + ids
    order = np.argsort(comb)
    ranked = comb[order]
    group = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]]) if len(comb) else np.zeros(0, dtype=np.int64)
    first = np.minimum.reduceat(order, group) if len(group) else group  # a feature's first place in its row
    once = np.zeros(len(comb), dtype=np.int64)
    once[first] = np.diff(np.r_[group, len(comb)])  # its count, at its first place; 0 elsewhere
    at = np.flatnonzero(once)  # first places, in row order then order of first occurrence
    marked = None
    if marks is not None:
        tally = np.zeros(len(comb), dtype=np.int64)
        if len(group):
            tally[first] = np.add.reduceat(marks[order].astype(np.int64), group)
        marked = tally[at]
    return at, once[at], marked


def _csr(row: np.ndarray, ids: np.ndarray, counts: np.ndarray, n: int, idf: np.ndarray) -> sparse.csr_matrix:
    idx = ids.astype(np.int32)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=n), out=indptr[1:])
    tf = (
        _TF[counts]
        if len(counts) and counts.max() < len(_TF)
        else np.asarray([1.0 + math.log(c) for c in counts.tolist()], dtype=np.float32)
    )
    vals = tf * idf[idx]
    X = sparse.csr_matrix((vals, idx, indptr), shape=(n, len(idf)))
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.csr_matrix(sparse.diags((1.0 / norms).astype(np.float32)) @ X)


def _parents(model: JobModel) -> tuple[np.ndarray, ...] | None:
    """Per level, each code's parent column in the previous level (level 1: 0), read from the unit
    groups' ancestors; None when they disagree (a code with two parents) or a code has no unit group."""
    out = []
    below: np.ndarray | None = None
    for names, anc in zip(model.level_classes, model.ancestors, strict=True):
        anc = np.asarray(anc)
        if (
            len(anc) != len(model.classes)
            or len(np.unique(anc)) != len(names)
            or not 0 <= anc.min(initial=0) <= anc.max(initial=0) < len(names)
        ):
            return None
        parent = np.zeros(len(names), dtype=np.int64)
        if below is not None:
            parent[anc] = below
            if not np.array_equal(parent[anc], below):
                return None
        out.append(parent)
        below = anc
    return tuple(out) if out else None


_SLOT = 16  # bits per character in an n-gram's integer code


def _gram_codes(
    union: Mapping[str, int], ngram_max: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The union's strings of 1…``ngram_max`` characters as integers: each character's rank in the
    alphabet (1…, the characters of every string in the union) in its own 16 bits, the first lowest.

    Two strings have the same code only when they are equal (no rank is 0, so the length is in the
    code), and a text's n-gram with a character outside the alphabet is in no vocabulary.  None when
    the codes would not fit 64 bits (n-grams over 4, or 65,535 characters or more).
    """
    # one array of code points for every string of the union (the setup's critical path: a Python loop over
    # the ~260,000 characters of the vocabulary took 0.25 s of 1.1 s)
    names = list(union)
    cp = np.frombuffer("".join(names).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    size = np.fromiter(map(len, names), dtype=np.int64, count=len(names))
    start = np.cumsum(size) - size
    # each string's first ngram_max code points (past its end: any, unread)
    heads = cp[np.minimum(start[:, None] + np.arange(max(ngram_max, 0)), len(cp) - 1)] if len(cp) else None
    ids = np.fromiter(union.values(), dtype=np.int64, count=len(names))
    return _codes(_seen(cp), heads, size, ids, ngram_max)


def _seen(cp: np.ndarray) -> np.ndarray:
    """A table over the code points (at most 0x110000 entries): True for those in ``cp``."""
    seen = np.zeros(int(cp.max(initial=0)) + 1, dtype=bool)
    seen[cp] = True
    return seen


def _codes(
    seen: np.ndarray, heads: np.ndarray | None, size: np.ndarray, union_ids: np.ndarray, ngram_max: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """:func:`_gram_codes` of strings of ``size`` characters, with their union ids: ``seen`` marks the code
    points of their characters (:func:`_seen`), ``heads`` holds each one's first ``ngram_max`` characters
    (a string's places from its ``size`` on are not read; None when there are no characters)."""
    # the alphabet and each character's rank from the table, and the codes from each string's first
    # characters: 0.015 s less for the shipped union than np.unique, np.searchsorted and sums over all its
    # ~290,000 characters (759 distinct)
    alphabet = np.flatnonzero(seen)
    if not 1 <= ngram_max <= 64 // _SLOT or len(alphabet) >= 2**_SLOT - 1:
        return None
    rank = np.cumsum(seen, dtype=np.uint16)  # a character's rank: 1 + the number of smaller ones in the alphabet
    short = (size >= 1) & (size <= ngram_max)
    codes_a = np.zeros(int(short.sum()), dtype=np.uint64)
    order = np.zeros(0, dtype=np.intp)
    if heads is not None:
        first, length = heads[short], size[short]
        slots = [np.where(j < length, rank[first[:, j]], np.uint16(0)) for j in range(ngram_max)]
        for j, ranks in enumerate(slots):
            codes_a |= ranks.astype(np.uint64) << np.uint64(_SLOT * j)
        # the codes' order, the last character's rank first: distinct strings have distinct codes, so this is
        # the stable argsort's order (~1 ms for the shipped union instead of ~3.6 ms)
        order = np.lexsort(slots)
    single = np.zeros(len(alphabet) + 1, dtype=np.int64)  # rank -> union id of that one character (0: none)
    one = size == 1
    if heads is not None:
        single[rank[heads[one, 0]].astype(np.int64)] = union_ids[one]
    return alphabet.astype(np.uint32), codes_a[order], union_ids[short][order], single


def _extract_ids(keys: Sequence[str], plan: _Plan, ngram_max: int, suffix_max: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_extract` then :func:`_lookup` in the union, as union ids (0 = neither vocabulary): the
    n-grams read as integers from one array of code points (:func:`_gram_codes`), the suffixes by name."""
    alphabet, codes, ids, single = plan.grams  # type: ignore[misc]
    n = len(keys)
    text = "^" + "$^".join(keys) + "$" if n else ""
    cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    at = np.minimum(np.searchsorted(alphabet, cp), len(alphabet) - 1)
    rank = np.where(alphabet[at] == cp, at + 1, 0).astype(np.uint64)
    size = np.fromiter(map(len, keys), dtype=np.int64, count=n) + 2  # characters of ^key$
    # suffixes by name: a key's head is itself unless it ends with ")" (or a newline: $ matches before one)
    suffixes: list[str] = []
    ext = suffixes.extend
    heads: list[int] = []
    happ = heads.append
    sub = _PAREN_END.sub
    for key in keys:
        head = (sub("", key) or key) if key[-1:] in _TAIL else key
        h = max(0, min(suffix_max, len(head)))
        ext(["S:" + head[-k:] for k in range(1, h + 1)])
        happ(h)
    seg = np.empty((n, ngram_max + 1), dtype=np.int64)
    for g in range(1, ngram_max + 1):
        seg[:, g - 1] = np.maximum(size - g + 1, 0)
    seg[:, ngram_max] = heads
    first = (np.cumsum(seg.ravel()) - seg.ravel()).reshape(seg.shape)  # where each key's group begins
    out = np.empty(int(seg.sum()), dtype=np.int64)
    start = np.repeat(np.cumsum(size) - size, size)
    pos = np.arange(len(cp)) - start  # place of each character in its ^key$
    left = np.repeat(size, size) - pos  # characters from it to the end of its ^key$
    key_of = np.repeat(np.arange(n), size)
    code = np.zeros(len(cp), dtype=np.uint64)
    whole = np.ones(len(cp), dtype=bool)  # every character so far in the alphabet
    for g in range(1, ngram_max + 1):
        shifted = np.zeros(len(cp), dtype=np.uint64)
        shifted[: max(len(cp) - g + 1, 0)] = rank[g - 1 :]
        code |= shifted << np.uint64(_SLOT * (g - 1))
        whole &= shifted > 0
        fits = left >= g
        where = first[key_of[fits], g - 1] + pos[fits]
        if g == 1:  # a character's code is its rank
            out[where] = single[rank[fits].astype(np.int64)]
            continue
        found = np.minimum(np.searchsorted(codes, code[fits]), len(codes) - 1)
        out[where] = np.where(whole[fits] & (codes[found] == code[fits]), ids[found], 0)
    hs = seg[:, ngram_max]  # suffixes per key
    place = np.arange(len(suffixes), dtype=np.int64) - np.repeat(np.cumsum(hs) - hs, hs)
    out[np.repeat(first[:, ngram_max], hs) + place] = _lookup(plan.suffixes, suffixes, 0)
    return out, seg


@dataclass(frozen=True)
class Vectorizer:
    vocab: Mapping[str, int]
    idf: np.ndarray
    ngram_max: int
    suffix_max: int

    def transform(self, keys: Sequence[str]) -> sparse.csr_matrix:
        """Sublinear-tf × idf, l2-normalised rows (features unknown to the vocabulary dropped)."""
        feats, seg = _extract(keys, self.ngram_max, self.suffix_max)
        ids = _lookup(self.vocab, feats)
        return _tfidf(ids, np.repeat(np.arange(len(keys)), seg.sum(axis=1)), len(keys), self.idf)


# --------------------------------------------------------------------------- model

USED_WEIGHTS_BYTES = 64 * 2**20
"""Memory a batch may spend on a dense copy of the rows of a level's weights its keys use (see
:func:`_used_columns`): NPK's 2,120 keys use 14,407 of the 71,103 features, 26 MB at the unit-group level, and
are scored in ~0.035 s instead of ~0.06 s with the sparse products (the same numbers)."""


def _used_columns(X: sparse.csr_matrix) -> tuple[np.ndarray, sparse.csr_matrix]:
    """The columns ``X`` uses, in order, and ``X`` on them alone: the same entries in the same order.

    ``X[:, used] @ W[used].toarray()`` adds, for each score, the products of the sparse product ``X @ W``
    in the same order (row entry by row entry; a zero weight adds +0.0, which changes no sum, for finite
    features), as the dense weights do (:attr:`JobModel._dense_weights`), but on the rows the keys use.
    """
    mark = np.zeros(X.shape[1], dtype=bool)
    mark[X.indices] = True
    at = np.cumsum(mark) - 1
    Xu = sparse.csr_matrix(
        (X.data, at[X.indices].astype(X.indices.dtype), X.indptr), shape=(X.shape[0], int(at[-1]) + 1)
    )
    return np.flatnonzero(mark), Xu


DENSE_WEIGHTS_BYTES = 256 * 2**20
"""Memory the rater may spend on dense copies of the level weights (see :attr:`JobModel._dense_weights`;
the shipped model's four levels take 190 MB)."""


@dataclass(frozen=True)
class JobModel:
    """A trained model: vectorizer, one sparse linear layer per level, temperature, metadata."""

    vectorizer: Vectorizer = field(repr=False)
    classes: tuple[str, ...]  # 4-digit codes
    weights: tuple[sparse.csr_matrix, ...] = field(repr=False)  # per level: features × level classes
    intercepts: tuple[np.ndarray, ...] = field(repr=False)
    ancestors: tuple[np.ndarray, ...] = field(repr=False)  # per level: level-class index of each 4-digit class
    temperature: float
    level_classes: tuple[tuple[str, ...], ...] = field(default=(), repr=False)  # per level: class codes
    metadata: Mapping[str, object] = field(default_factory=dict, repr=False)
    # per level: (x, y) knots of the isotonic map raw level probability -> calibrated; () = identity
    calibration: tuple[tuple[np.ndarray, np.ndarray], ...] = field(default=(), repr=False)
    evidence: EvidenceModel | None = field(default=None, repr=False)  # the "names an occupation?" detector

    def evidence_of(self, keys: Sequence[str]) -> np.ndarray:
        """Per key, the evidence that it names an occupation (see :data:`EVIDENCE_THRESHOLD`); NaN without a detector."""
        if self.evidence is None:
            return np.full(len(keys), np.nan)
        return self._evidence(self._features(keys, main=False), keys)

    def scores(self, keys: Sequence[str]) -> np.ndarray:
        """Hierarchical scores (keys × 4-digit classes): own score plus every ancestor's score."""
        return self._scores(self.vectorizer.transform(keys))

    def _scores(self, X: sparse.csr_matrix, dense: bool = False) -> np.ndarray:
        """:meth:`scores` of a feature matrix; ``dense``: with :attr:`_dense_weights` (the rater; the same numbers)."""
        up = self._plan.up
        if up is None:
            S = np.zeros((X.shape[0], len(self.classes)), dtype=np.float32)
            for W, b, anc, same in zip(self.weights, self.intercepts, self.ancestors, self._plan.identity, strict=True):
                D = (X @ W).toarray() + b
                S += D if same else D[:, anc]
            return S
        # the same sums, level by level at each level's width: a unit group's score is
        # ((0 + major) + sub-major) + … in that order, as above, with each level's sum kept per code
        T = np.zeros((X.shape[0], 1), dtype=np.float32)
        finite = bool(np.isfinite(X.data).all())
        full = self._dense_weights if dense and finite else (None,) * len(self.weights)
        used: tuple[np.ndarray, sparse.csr_matrix] | None = None
        for W, Wd, b, parent in zip(self.weights, full, self.intercepts, up, strict=True):
            if Wd is not None:
                D = X @ Wd
            elif finite and W.dtype == np.float32 and X.nnz:
                used = _used_columns(X) if used is None else used
                rows, Xu = used
                if len(rows) * W.shape[1] * 4 <= USED_WEIGHTS_BYTES:  # the rows of W the keys use, made dense
                    D = Xu @ W[rows].toarray()
                else:
                    D = (X @ W).toarray()
            else:
                D = (X @ W).toarray()
            D += b
            D += T[:, parent]
            T = D
        return T if self._plan.identity[-1] else T[:, self.ancestors[-1]]

    def predict_proba(self, keys: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities over :attr:`classes` (rows sum to 1)."""
        return softmax(self.scores(keys) / self.temperature)

    def top_k(self, keys: Sequence[str], k: int = 5) -> list[list[tuple[str, float]]]:
        """The ``k`` most probable unit groups per key, most probable first."""
        if not keys:
            return []
        cols, vals = self._top(self.predict_proba(keys), k)
        names = self._plan.class_array
        return [list(zip(c, v, strict=True)) for c, v in zip(names[cols].tolist(), vals.tolist(), strict=True)]

    def _top(self, P: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most probable columns per row, most probable first (ties: the smaller code), and their probabilities."""
        n, width = P.shape
        k = min(k, width)
        if 0 < k < min(width, 17) and n:
            # the k + 1 largest by argmax, k + 1 passes: the k largest are the former argpartition's
            # set unless the k-th equals the next (or a NaN); those rows go through argpartition
            Q = P.copy()
            rows = np.arange(n)
            picked = np.empty((n, k + 1), dtype=np.int64)
            for t in range(k + 1):
                picked[:, t] = c = Q.argmax(axis=1)
                Q[rows, c] = -np.inf
            del Q
            v = np.take_along_axis(P, picked, axis=1)
            part = picked[:, :k]
            redo = (v[:, k - 1] == v[:, k]) | np.isnan(v).any(axis=1)
            if redo.any():
                part[redo] = np.argpartition(-P[redo], k - 1, axis=1)[:, :k]
        else:
            part = np.argpartition(-P, k - 1, axis=1)[:, :k]
        vals = np.take_along_axis(P, part, axis=1)
        order = np.lexsort((self._plan.class_rank[part], -vals), axis=-1)
        return np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1).astype(np.float64)

    def level_proba(self, keys: Sequence[str], P: np.ndarray | None = None) -> list[np.ndarray]:
        """Per level (1–4): probabilities over :attr:`level_classes` — the sum of the unit-group probabilities below each code.

        Every row sums to 1 at every level, and a parent's probability is at least each child's.
        """
        P = self.predict_proba(keys) if P is None else P
        PT = np.ascontiguousarray(P.T)  # classes × keys: a code's children summed row by row, in order, in float64
        out = []
        for starts, M in zip(self._plan.starts, self._plan.sum_matrices, strict=True):
            if starts is not None:  # each code's children added one after the other, as the sparse product did
                Q = np.empty((len(starts), PT.shape[1]))
                ends = [*starts[1:].tolist(), len(PT)]
                for q, a, b in zip(Q, starts.tolist(), ends, strict=True):
                    q[:] = PT[a]
                    for j in range(a + 1, b):
                        q += PT[j]
                out.append(Q.T)
            else:
                out.append(np.asarray(M.T @ P.astype(np.float64).T).T)
        return out

    def chain(self, keys: Sequence[str], P: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The most probable nested codes, level by level (major first, then its most probable child, …).

        Returns ``(codes, raw, calibrated)``, each keys × levels: the code at each
        level, its summed probability (:meth:`level_proba`), and its calibrated
        probability — the level's isotonic map (:attr:`calibration`) applied to the
        raw probability, capped by the parent's calibrated probability, so that it
        never increases going deeper.
        """
        picks, raw = self._chain(self.level_proba(keys, P))
        codes = np.empty(picks.shape, dtype=object)
        for lv, names in enumerate(self._plan.level_arrays):
            codes[:, lv] = names[picks[:, lv]]
        return codes, raw, apply_calibration(self.calibration, raw)

    def _chain(self, levels: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Per key and level, the column of the chain's code and its summed probability."""
        n = len(levels[0]) if levels else 0
        picks = np.zeros((n, len(levels)), dtype=np.int64)
        raw = np.zeros((n, len(levels)))
        rows = np.arange(n)
        chosen = None
        for lv, Q in enumerate(levels):
            if chosen is None:
                pick = Q.argmax(axis=1)
            else:  # the most probable child of the chosen parent (the first on a tie; column 0 when it has none)
                kids, pad = self._plan.children[lv]
                G = Q[rows[:, None], kids[chosen]]
                G[pad[chosen]] = -1.0
                pick = kids[chosen, G.argmax(axis=1)]
            picks[:, lv] = pick
            raw[:, lv] = Q[rows, pick]
            chosen = pick
        return picks, raw

    # ------------------------------------------------------------------ one pass over a batch of keys

    def _features(self, keys: Sequence[str], main: bool = True) -> _Features:
        """Each key's features extracted once: the model's matrix, the detector's, and the known share."""
        plan = self._plan
        vec = self.vectorizer
        n = len(keys)
        if plan.grams is not None:
            uid, seg = _extract_ids(keys, plan, vec.ngram_max, vec.suffix_max)
        else:
            feats, seg = _extract(keys, vec.ngram_max, vec.suffix_max)
            uid = _lookup(plan.union, feats, 0)
        rows = np.repeat(np.arange(n), seg.sum(axis=1))
        main_ids = plan.main_of[uid]
        # n-gram length (1…) of each feature, 0 for the suffixes, and its place among its key's suffixes
        kinds = np.tile(np.r_[np.arange(1, vec.ngram_max + 1), 0], n)
        kind = np.repeat(kinds[: seg.size], seg.ravel())
        grams = kind >= 2  # known_share: the 2-…ngram_max-grams
        total = np.bincount(rows[grams], minlength=n)
        known_n = np.bincount(rows[grams & (main_ids >= 0)], minlength=n)
        known = np.ones(n)
        has = total > 0
        known[has] = known_n[has] / total[has]
        ev = self.evidence
        if ev is None or plan.ev_of is None:
            return _Features(_tfidf(main_ids, rows, n, vec.idf) if main else None, None, known)
        ends = np.cumsum(seg.ravel())
        place = np.arange(len(kind)) - np.repeat(ends - seg.ravel(), seg.ravel())
        take = ((kind >= 1) & (kind <= ev.vectorizer.ngram_max)) | ((kind == 0) & (place < ev.vectorizer.suffix_max))
        # one pass over the distinct features of the union for both matrices: the model's counts every
        # place, the detector's only its own (take); the same string at places of both kinds (a key
        # holding "S:") falls back to a pass of its own
        keep = np.flatnonzero(uid > 0)
        at, counts, taken = _distinct(rows[keep], uid[keep], len(plan.main_of), take[keep])
        at = keep[at]
        u, r = uid[at], rows[at]
        X = None
        if main:
            m = plan.main_of[u]
            ok = m >= 0
            X = _csr(r[ok], m[ok], counts[ok], n, vec.idf)
        e = plan.ev_of[u]
        if ((e >= 0) & (taken > 0) & (taken < counts)).any():
            Xev = _tfidf(np.where(take, plan.ev_of[uid], -1), rows, n, ev.vectorizer.idf)
        else:
            ok = (e >= 0) & (taken == counts)
            Xev = _csr(r[ok], e[ok], counts[ok], n, ev.vectorizer.idf)
        return _Features(X, Xev, known)

    def _evidence(self, f: _Features, keys: Sequence[str]) -> np.ndarray:
        ev = self.evidence
        if ev is None:
            return np.full(len(keys), np.nan)
        p = ev.proba(keys) if f.Xev is None else ev._proba(f.Xev)
        return np.where(f.known >= ev.known_floor, p, 0.0)

    @functools.cached_property
    def _plan(self) -> _Plan:
        return _Plan.of(self)

    @functools.cached_property
    def _dense_weights(self) -> tuple[np.ndarray | None, ...]:
        """The level weights as dense float32 arrays, coarse levels first, while they fit :data:`DENSE_WEIGHTS_BYTES`.

        ``X @ W`` with a dense ``W`` adds, for each score, the same products in the same order as the
        sparse product (row entry by row entry; a zero weight adds +0.0, which changes no sum, for
        finite features) at a third of the time: the frequent n-grams weigh on most classes.
        """
        out: list[np.ndarray | None] = []
        room = DENSE_WEIGHTS_BYTES
        for W in self.weights:
            size = W.shape[0] * W.shape[1] * 4
            ok = W.dtype == np.float32 and size <= room
            room -= size if ok else 0
            out.append(W.toarray() if ok else None)
        return tuple(out)


@dataclass(frozen=True)
class _Features:
    X: sparse.csr_matrix | None  # the model's rows
    Xev: sparse.csr_matrix | None  # the detector's rows (None: its features are not the model's)
    known: np.ndarray  # known_share of each key in the model's vocabulary


@dataclass(frozen=True)
class _Plan:
    """What the batch path precomputes once per model (see :meth:`JobModel._features`, :meth:`JobModel._chain`)."""

    union: Mapping[str, int]  # a feature of the model's or the detector's vocabulary -> 1…; 0 = neither
    suffixes: Mapping[str, int]  # the union, or (a loaded model) only its entries "S:…", for the suffixes' lookup
    main_of: np.ndarray  # union id -> the model's feature index (-1: not in it)
    ev_of: np.ndarray | None  # union id -> the detector's feature index; None when its features are not a subset
    identity: tuple[bool, ...]  # per level: the ancestor map is the identity
    starts: tuple[np.ndarray | None, ...]  # per level: first unit group of each code (codes contiguous), else None
    sum_matrices: tuple[sparse.csr_matrix | None, ...]  # per level: unit group -> code (when not contiguous)
    children: tuple[tuple[np.ndarray, np.ndarray] | None, ...]  # per level: (children columns, padding) per parent
    class_array: np.ndarray
    class_rank: np.ndarray  # rank of each class code in string order (top-k ties)
    level_arrays: tuple[np.ndarray, ...]
    # per level: the parent (previous level's column) of each code, when every unit group's ancestors
    # agree with them (level 1: all 0); None otherwise
    up: tuple[np.ndarray, ...] | None
    # the n-grams of the union as integers (see _extract_ids): sorted alphabet, sorted codes, their union ids,
    # and the union id of each single character by rank
    grams: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    @staticmethod
    def of(model: JobModel) -> _Plan:
        stored = _Plan._stored(model)
        union, suffixes, main, ev_of, grams = stored if stored is not None else _Plan._mapped(model)
        identity, starts, mats, children = [], [], [], []
        for lv, (names, anc) in enumerate(zip(model.level_classes, model.ancestors, strict=True)):
            anc = np.asarray(anc)
            identity.append(len(anc) == len(model.classes) and bool(np.array_equal(anc, np.arange(len(anc)))))
            contiguous = (
                len(anc) > 0
                and bool(np.all(np.diff(anc) >= 0))
                and bool(np.array_equal(np.unique(anc), np.arange(len(names))))
            )
            starts.append(np.flatnonzero(np.r_[True, np.diff(anc) != 0]) if contiguous else None)
            mats.append(
                None
                if contiguous
                else sparse.csr_matrix(
                    (np.ones(len(anc), dtype=np.float64), (np.arange(len(anc)), anc)), shape=(len(anc), len(names))
                )
            )
            if lv == 0:
                children.append(None)
                continue
            parent = {c: i for i, c in enumerate(model.level_classes[lv - 1])}
            parent_idx = np.array([parent.get(c[:-1], -1) for c in names])
            kids = [np.flatnonzero(parent_idx == p) for p in range(len(parent))]
            width = max(1, max((len(k) for k in kids), default=1))
            cols = np.zeros((len(parent), width), dtype=np.int64)
            pad = np.ones((len(parent), width), dtype=bool)
            for p, k in enumerate(kids):
                cols[p, : len(k)] = k
                pad[p, : len(k)] = False
            children.append((cols, pad))
        classes = np.array(model.classes, dtype=object)
        rank = np.empty(len(classes), dtype=np.int64)
        rank[sorted(range(len(classes)), key=model.classes.__getitem__)] = np.arange(len(classes))
        return _Plan(
            union,
            suffixes,
            main,
            ev_of,
            tuple(identity),
            tuple(starts),
            tuple(mats),
            tuple(children),
            classes,
            rank,
            tuple(np.array(names, dtype=object) for names in model.level_classes),
            _parents(model),
            grams,
        )

    @staticmethod
    def _shares_features(model: JobModel) -> bool:
        """The detector's features are among the model's (looked up once, in the union)."""
        ev = model.evidence
        return (
            ev is not None
            and ev.vectorizer.ngram_max <= model.vectorizer.ngram_max
            and ev.vectorizer.suffix_max <= model.vectorizer.suffix_max
        )

    @staticmethod
    def _mapped(model: JobModel) -> tuple:
        """The union, its suffixes' lookup (the union itself), main_of, ev_of and the n-gram codes, from the
        vocabularies as mappings."""
        # built at C speed (dict(zip(...)), np.fromiter): a Python loop over the ~90,000 features took ~0.02 s
        # of the ~0.14 s of a fresh process's first rating
        vocab = model.vectorizer.vocab
        union = dict(zip(vocab, range(1, len(vocab) + 1)))
        main = np.empty(len(vocab) + 1, dtype=np.int64)
        main[0] = -1
        main[1:] = np.fromiter(vocab.values(), dtype=np.int64, count=len(vocab))
        ev, ev_of = model.evidence, None
        if ev is not None and _Plan._shares_features(model):
            ev_vocab = ev.vectorizer.vocab
            extra = [f for f in ev_vocab if f not in union]
            union.update(zip(extra, range(len(main), len(main) + len(extra))))
            main = np.r_[main, np.full(len(extra), -1, dtype=np.int64)]
            ev_of = np.full(len(main), -1, dtype=np.int64)
            ev_of[np.fromiter(map(union.__getitem__, ev_vocab), dtype=np.int64, count=len(ev_vocab))] = np.fromiter(
                ev_vocab.values(), dtype=np.int64, count=len(ev_vocab)
            )
        return union, union, main, ev_of, _gram_codes(union, model.vectorizer.ngram_max)

    @staticmethod
    def _stored(model: JobModel) -> tuple | None:
        """:meth:`_mapped`'s union (as :class:`StoredNames`, its dict made only on use), main_of, ev_of and
        n-gram codes read from the arrays of a loaded model's names, with the union's "S:…" entries as the
        suffixes' lookup; None when the vocabularies are not :class:`StoredNames` from 0 (or hold a name twice).

        The batch rater needs no dict of the ~90,000 names (the n-grams are looked up by their codes, the
        suffixes in the ~16,000 "S:…" entries): ~0.017 s instead of ~0.038 s with the dicts.
        """
        vocab, ev = model.vectorizer.vocab, model.evidence
        shared = ev is not None and _Plan._shares_features(model)
        vocabs = [vocab, ev.vectorizer.vocab] if shared else [vocab]
        if not all(isinstance(v, StoredNames) and v.first == 0 and v.names.ndim == 1 for v in vocabs):
            return None
        names = vocab.names
        order = np.argsort(names, kind="stable")
        ranked = names[order]
        if not len(names) or (ranked[1:] == ranked[:-1]).any():
            return None
        main = np.r_[-1, np.arange(len(names), dtype=np.int64)]
        ev_of = None
        if shared:
            ev_names = ev.vectorizer.vocab.names
            ev_ranked = np.sort(ev_names)
            if (ev_ranked[1:] == ev_ranked[:-1]).any():
                return None
            at = np.minimum(np.searchsorted(ranked, ev_names), len(names) - 1)
            found = ranked[at] == ev_names
            uid = np.where(found, order[at] + 1, 0)
            extra = np.flatnonzero(~found)  # in the detector's order, after the model's names
            uid[extra] = np.arange(len(main), len(main) + len(extra))
            names = np.concatenate([names, ev_names[extra]])
            main = np.r_[main, np.full(len(extra), -1, dtype=np.int64)]
            ev_of = np.full(len(main), -1, dtype=np.int64)
            ev_of[uid] = np.arange(len(ev_names))
        # every name's code points from the array itself (NUL-padded; a name ends at its last non-NUL,
        # as str() of it does, and np.char.str_len counts)
        width = names.dtype.itemsize // 4
        cp2d = np.ascontiguousarray(names).view(np.uint32).reshape(len(names), width)
        size = np.char.str_len(names).astype(np.int64)
        ngram_max = max(model.vectorizer.ngram_max, 0)
        heads = np.zeros((len(names), ngram_max), dtype=np.uint32)
        heads[:, : min(width, ngram_max)] = cp2d[:, :ngram_max]
        ids = np.arange(1, len(names) + 1, dtype=np.int64)
        seen = _seen(cp2d.ravel())
        seen[0] = np.count_nonzero(cp2d) < int(size.sum())  # a NUL inside a name (the padding's are no characters)
        grams = _codes(seen, heads, size, ids, model.vectorizer.ngram_max)
        s = np.flatnonzero((size >= 2) & (cp2d[:, 0] == ord("S")) & (cp2d[:, min(1, width - 1)] == ord(":")))
        suffixes = dict(zip(names[s].tolist(), (s + 1).tolist()))
        return StoredNames(names, 1), suffixes, main, ev_of, grams


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def apply_calibration(calibration: Sequence[tuple[np.ndarray, np.ndarray]], raw: np.ndarray) -> np.ndarray:
    """Calibrated chain probabilities (keys × levels): each level's isotonic map, then a running minimum.

    With no calibration the raw probabilities are returned (already non-increasing along the chain).
    """
    cal = np.array(raw, dtype=np.float64, copy=True)
    for lv, (x, y) in enumerate(calibration):
        cal[:, lv] = np.interp(raw[:, lv], x, y)
    return np.clip(np.minimum.accumulate(cal, axis=1), 0.0, 1.0)


# --------------------------------------------------------------------------- evidence (no evidence, no code)


@dataclass(frozen=True)
class EvidenceModel:
    """Logistic "names an occupation" detector: its own vectorizer, one weight vector, a bias, the OOV floor."""

    vectorizer: Vectorizer = field(repr=False)
    weights: np.ndarray = field(repr=False)
    bias: float
    known_floor: float

    def proba(self, keys: Sequence[str]) -> np.ndarray:
        """Probability that each key names an occupation (higher = more evidence)."""
        if not len(keys):
            return np.zeros(0)
        return self._proba(self.vectorizer.transform(keys))

    def _proba(self, X: sparse.csr_matrix) -> np.ndarray:
        if not X.shape[0]:
            return np.zeros(0)
        z = X @ self.weights.astype(np.float64) + self.bias
        return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64).ravel()))


def _ngrams(key: str, ngram_max: int) -> list[str]:
    t = f"^{key}$"
    return [t[i : i + n] for n in range(2, ngram_max + 1) for i in range(len(t) - n + 1)]


def known_share(vocab: Mapping[str, int] | set[str], keys: Sequence[str], ngram_max: int = 4) -> np.ndarray:
    """Share of each key's character 2-…``ngram_max``-grams (of ``^key$``) found in ``vocab`` (1.0 for an empty key).

    >>> float(known_share({"^조", "조립", "립$"}, ["조립"], 2)[0])
    1.0
    """
    out = np.ones(len(keys))
    for i, key in enumerate(keys):
        grams = _ngrams(key, ngram_max)
        if grams:
            out[i] = sum(g in vocab for g in grams) / len(grams)
    return out
