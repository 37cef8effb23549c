"""Prediction core of the job-name model (rater ``model``): features, vectorizer, the trained model and its detector.

What a trained model *does* with a label key lives here; how it is trained is in
:mod:`coder.raters.model_fit`, how it is stored and used as a rater in
:mod:`coder.raters.model`.  See :mod:`coder.raters.model` for what the model is.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

__all__ = [
    "EvidenceModel",
    "JobModel",
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


@dataclass(frozen=True)
class Vectorizer:
    vocab: Mapping[str, int]
    idf: np.ndarray
    ngram_max: int
    suffix_max: int

    def transform(self, keys: Sequence[str]) -> sparse.csr_matrix:
        """Sublinear-tf × idf, l2-normalised rows (features unknown to the vocabulary dropped)."""
        indptr, indices, data = [0], [], []
        vocab = self.vocab
        for key in keys:
            counts = Counter(f for f in key_features(key, self.ngram_max, self.suffix_max) if f in vocab)
            for f, n in counts.items():
                indices.append(vocab[f])
                data.append(1.0 + math.log(n))
            indptr.append(len(indices))
        idx = np.asarray(indices, dtype=np.int32)
        vals = np.asarray(data, dtype=np.float32) * self.idf[idx]
        X = sparse.csr_matrix((vals, idx, np.asarray(indptr, dtype=np.int64)), shape=(len(keys), len(self.idf)))
        norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sparse.csr_matrix(sparse.diags((1.0 / norms).astype(np.float32)) @ X)


# --------------------------------------------------------------------------- model


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
        p = self.evidence.proba(keys)
        known = known_share(self.vectorizer.vocab, keys, self.vectorizer.ngram_max)
        return np.where(known >= self.evidence.known_floor, p, 0.0)

    def scores(self, keys: Sequence[str]) -> np.ndarray:
        """Hierarchical scores (keys × 4-digit classes): own score plus every ancestor's score."""
        X = self.vectorizer.transform(keys)
        S = np.zeros((len(keys), len(self.classes)), dtype=np.float32)
        for W, b, anc in zip(self.weights, self.intercepts, self.ancestors, strict=True):
            D = (X @ W).toarray() + b
            S += D[:, anc]
        return S

    def predict_proba(self, keys: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities over :attr:`classes` (rows sum to 1)."""
        return softmax(self.scores(keys) / self.temperature)

    def top_k(self, keys: Sequence[str], k: int = 5) -> list[list[tuple[str, float]]]:
        """The ``k`` most probable unit groups per key, most probable first."""
        if not keys:
            return []
        P = self.predict_proba(keys)
        k = min(k, P.shape[1])
        part = np.argpartition(-P, k - 1, axis=1)[:, :k]
        out = []
        for i, cols in enumerate(part):
            cols = sorted(cols, key=lambda c: (-P[i, c], self.classes[c]))
            out.append([(self.classes[c], float(P[i, c])) for c in cols])
        return out

    def level_proba(self, keys: Sequence[str], P: np.ndarray | None = None) -> list[np.ndarray]:
        """Per level (1–4): probabilities over :attr:`level_classes` — the sum of the unit-group probabilities below each code.

        Every row sums to 1 at every level, and a parent's probability is at least each child's.
        """
        P = self.predict_proba(keys) if P is None else P
        out = []
        for names, anc in zip(self.level_classes, self.ancestors, strict=True):
            M = sparse.csr_matrix(
                (np.ones(len(anc), dtype=np.float64), (np.arange(len(anc)), anc)), shape=(len(anc), len(names))
            )
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
        levels = self.level_proba(keys, P)
        n = len(levels[0]) if levels else 0
        codes = np.empty((n, len(levels)), dtype=object)
        raw = np.zeros((n, len(levels)))
        chosen = None
        for lv, (names, Q) in enumerate(zip(self.level_classes, levels, strict=True)):
            if chosen is None:
                pick = Q.argmax(axis=1)
            else:
                parent = {c: i for i, c in enumerate(self.level_classes[lv - 1])}
                parent_idx = np.array([parent.get(c[:-1], -1) for c in names])
                pick = np.where(parent_idx[None, :] == chosen[:, None], Q, -1.0).argmax(axis=1)
            codes[:, lv] = np.array(names, dtype=object)[pick]
            raw[:, lv] = Q[np.arange(n), pick]
            chosen = pick
        cal = apply_calibration(self.calibration, raw)
        return codes, raw, cal


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
        z = self.vectorizer.transform(keys) @ self.weights.astype(np.float64) + self.bias
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
