"""Training core of the job-name model (rater ``model``): features, data, fitting, calibration.

:mod:`coder.raters.model` (training entry point, storage, the rater) and
:mod:`coder.raters.model_eval` (held-out evaluation) both build on this module;
neither imports the other's internals.  See :mod:`coder.raters.model` for what
the model is.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import warnings
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from ..codes import CodeList, load_codes
from ..normalize import label_key
from .base import rater_spec
from .index import JobIndex, load_index

__all__ = [
    "MODEL_THRESHOLD",
    "PARAMS",
    "SEED",
    "THRESHOLD_TARGET_ACCURACY",
    "THRESHOLD_TARGET_PRECISION",
    "JobModel",
    "TrainingData",
    "Vectorizer",
    "apply_calibration",
    "calibrate",
    "chain_outcomes",
    "data_sha256",
    "fit_isotonic",
    "fit_levels",
    "fit_temperature",
    "fit_vectorizer",
    "key_features",
    "out_of_fold",
    "softmax",
    "split_groups",
    "title_parts",
    "training_data",
    "with_changes",
]

MODEL_THRESHOLD = rater_spec("model").threshold  # 0.75, held in the rater registry
"""Calibrated probability a code must reach for the model to give it (the deepest chain code at/above it).

Rule (:func:`coder.raters.model_eval.suggest_threshold`): the smallest threshold on
the *out-of-fold* curve of the training part whose precision — the code right at
its own level — reaches :data:`THRESHOLD_TARGET_PRECISION` (0.85) there and at every
larger threshold; the held-out part only confirms it.  ``coder model evaluate``
(seed 0, 20 % of jobs held out, 1080 names of 649 unseen jobs)::

    threshold  coverage  precision  mean level (held-out) | cv coverage  cv precision  cv level
         0.00     1.000      0.418        4.00            |       1.000         0.405      4.00
         0.30     0.987      0.544        3.19            |       0.984         0.532      3.11
         0.50     0.901      0.722        2.54            |       0.875         0.723      2.49
         0.60     0.820      0.784        2.37            |       0.800         0.789      2.29
         0.65     0.782      0.798        2.34            |       0.758         0.810      2.27
         0.70     0.718      0.845        2.23            |       0.688         0.839      2.19
         0.75     0.656      0.878        2.09            |       0.623         0.873      2.07   <- chosen
         0.80     0.628      0.879        2.13            |       0.582         0.880      2.12
         0.85     0.541      0.906        2.02            |       0.507         0.907      1.95
         0.90     0.423      0.939        1.81            |       0.386         0.938      1.78
         0.95     0.326      0.966        1.02            |       0.275         0.970      1.03

The issue's target (coverage ≥ 0.75 *and* precision ≥ 0.85) is not reachable:
held-out major accuracy is 0.813, and at 0.70 the model codes 0.718 at precision
0.845, at 0.65 0.782 at 0.798.  At 0.75 it codes about two thirds of unseen job
names, at a mean level of about 2 (mostly major or sub-major groups), 0.878 right.
"""

THRESHOLD_TARGET_PRECISION = 0.85
"""Precision (code right at its own level) the threshold rule asks of the codes the model gives."""

THRESHOLD_TARGET_ACCURACY = THRESHOLD_TARGET_PRECISION  # former name

SEED = 0
PARAMS: Mapping[str, object] = {
    "ngram_max": 4,
    "suffix_max": 6,
    "min_df": 1,
    "C": 0.5,
    "levels": [1, 2, 3, 4],
    "prune": 0.02,
    "cv_folds": 3,
    "test_share": 0.2,
}
"""Training parameters (recorded in the model metadata)."""

_PAREN_END = re.compile(r"\([^()]*\)$")
_PAREN_ANY = re.compile(r"\([^()]*\)")

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


def fit_vectorizer(keys: Sequence[str], ngram_max: int, suffix_max: int, min_df: int) -> Vectorizer:
    df: Counter[str] = Counter()
    for key in keys:
        df.update(set(key_features(key, ngram_max, suffix_max)))
    terms = sorted(t for t, n in df.items() if n >= min_df)
    n = len(keys)
    idf = np.array([math.log((1 + n) / (1 + df[t])) + 1.0 for t in terms], dtype=np.float32)
    return Vectorizer({t: i for i, t in enumerate(terms)}, idf, ngram_max, suffix_max)


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class TrainingData:
    """Training texts (label keys) with their 4-digit codes, job groups and sources."""

    keys: tuple[str, ...]
    codes: tuple[str, ...]
    groups: tuple[str, ...]  # job_id for dictionary names, "ksco7:<code>" for titles and their parts
    sources: tuple[str, ...]  # "jobdict", "ksco7" (title) or "ksco7_part" (see title_parts)
    sha256: Mapping[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.keys)

    def subset(self, mask: np.ndarray) -> TrainingData:
        idx = np.flatnonzero(mask)
        pick = lambda xs: tuple(xs[i] for i in idx)  # noqa: E731
        return TrainingData(pick(self.keys), pick(self.codes), pick(self.groups), pick(self.sources), self.sha256)


def training_data(index: JobIndex | None = None, *, codes: CodeList | None = None) -> TrainingData:
    """The index as training data: dictionary names, and level-4/5 titles mapped to their unit group."""
    index = load_index() if index is None else index
    codes = load_codes() if codes is None else codes
    rows = []
    for e in index.entries:
        if e.source == "jobdict":
            rows.append((e.key, e.code, e.ref, "jobdict"))
        elif codes.level(e.code) in (4, 5):
            unit = codes.truncate(e.code, 4)
            rows.append((e.key, unit, f"ksco7:{unit}", "ksco7"))
    rows += [(key, unit, f"ksco7:{unit}", "ksco7_part") for key, unit in title_parts(codes)]
    keys, ys, groups, sources = zip(*rows, strict=True)
    return TrainingData(keys, ys, groups, sources, dict(index.sha256))


_TITLE_PART = re.compile(r"\s*(?:및|[·∙‧ㆍ・,])\s*")


def title_parts(codes: CodeList) -> list[tuple[str, str]]:
    """Single occupations named inside the level-4/5 titles that list several, as ``(label key, unit group)``.

    A title ``A 및 B 임원`` or ``A·B 임원`` is split at ``및`` and middle dots; a
    one-word part before the last borrows the last part's head noun
    (``정당 및 특수단체 임원`` → ``정당임원``, ``특수단체임원``); longer parts stand
    alone (``의회 의원·고위 공무원 및 …`` → ``의회의원``, ``고위공무원``, …).
    Sorted and without duplicates.

    >>> title_parts(load_codes())[:2]
    [('가공기조작원', '8431'), ('가구제조', '7302')]
    """

    out: set[tuple[str, str]] = set()
    for c in codes:
        if c.level not in (4, 5):
            continue
        title = _PAREN_ANY.sub("", c.title).strip()
        title = re.sub(r"^그\s*외\s*", "", title)
        parts = [p.split() for p in _TITLE_PART.split(title) if p.strip()]
        if len(parts) < 2:
            continue
        head = parts[-1][-1]
        unit = codes.truncate(c.code, 4)
        for i, words in enumerate(parts):
            key = label_key("".join(words) if len(words) > 1 or i == len(parts) - 1 else words[0] + head)
            if key:
                out.add((key, unit))
    return sorted(out)


def split_groups(groups: Sequence[str], *, seed: int = SEED, share: float = 0.2, salt: str = "test") -> np.ndarray:
    """Boolean mask of rows whose group falls in the held-out ``share`` (seeded hash; stable across runs)."""
    cut = round(share * 10_000)
    return np.array([zlib.crc32(f"{salt}:{seed}:{g}".encode()) % 10_000 < cut for g in groups], dtype=bool)


def data_sha256(sha: Mapping[str, str]) -> str:
    canon = json.dumps(dict(sorted(sha.items())), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()


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


def fit_levels(data: TrainingData, params: Mapping, seed: int) -> JobModel:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    vec = fit_vectorizer(data.keys, int(params["ngram_max"]), int(params["suffix_max"]), int(params["min_df"]))
    X = vec.transform(data.keys)
    classes = tuple(sorted(set(data.codes)))
    weights, intercepts, ancestors, names = [], [], [], []
    for level in params["levels"]:
        y = np.array([c[:level] for c in data.codes])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # accuracy is checked by evaluation
            clf = LinearSVC(C=float(params["C"]), random_state=seed, max_iter=2000).fit(X, y)
        level_classes = [str(c) for c in clf.classes_]
        coef, bias = clf.coef_, clf.intercept_
        if len(level_classes) == 2:  # binary problem: liblinear keeps one row
            coef, bias = np.vstack([-coef, coef]), np.concatenate([-bias, bias])
        coef = np.where(np.abs(coef) >= float(params["prune"]), coef, 0.0).astype(np.float16).astype(np.float32)
        weights.append(sparse.csr_matrix(coef.T))
        intercepts.append(bias.astype(np.float32))
        pos = {c: i for i, c in enumerate(level_classes)}
        ancestors.append(np.array([pos[c[:level]] for c in classes], dtype=np.int32))
        names.append(tuple(level_classes))
    return JobModel(vec, classes, tuple(weights), tuple(intercepts), tuple(ancestors), 1.0, tuple(names))


def out_of_fold(
    data: TrainingData, params: Mapping, seed: int
) -> list[tuple[JobModel, np.ndarray, np.ndarray, tuple[str, ...]]]:
    """Per fold: model trained without the fold, its raw scores on the fold's dictionary names, true class index, true codes."""
    k = int(params["cv_folds"])
    is_dict = np.array([s == "jobdict" for s in data.sources])
    fold = np.array([zlib.crc32(f"cv:{seed}:{g}".encode()) % k for g in data.groups])
    out = []
    for f in range(k):
        val = np.flatnonzero(is_dict & (fold == f))
        m = fit_levels(data.subset(~(is_dict & (fold == f))), params, seed)
        pos = {c: i for i, c in enumerate(m.classes)}
        truth = tuple(data.codes[i] for i in val)
        out.append(
            (m, m.scores([data.keys[i] for i in val]), np.array([pos.get(c, -1) for c in truth], dtype=np.int64), truth)
        )
    return out


def fit_temperature(folds: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
    """The temperature minimising the log-loss of ``softmax(S / T)`` over stacked (scores, true index) pairs.

    Rows whose true class the fold's model never saw are left out (they have no probability to calibrate).
    """
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        total, n = 0.0, 0
        for S, t in folds:
            ok = t >= 0
            z = S[ok].astype(np.float64) / math.exp(log_t)
            z = z - z.max(axis=1, keepdims=True)
            total += float(np.sum(np.log(np.exp(z).sum(axis=1)) - z[np.arange(int(ok.sum())), t[ok]]))
            n += int(ok.sum())
        return total / max(n, 1)

    return float(math.exp(minimize_scalar(nll, bounds=(-5.0, 3.0), method="bounded").x))


def apply_calibration(calibration: Sequence[tuple[np.ndarray, np.ndarray]], raw: np.ndarray) -> np.ndarray:
    """Calibrated chain probabilities (keys × levels): each level's isotonic map, then a running minimum.

    With no calibration the raw probabilities are returned (already non-increasing along the chain).
    """
    cal = np.array(raw, dtype=np.float64, copy=True)
    for lv, (x, y) in enumerate(calibration):
        cal[:, lv] = np.interp(raw[:, lv], x, y)
    return np.clip(np.minimum.accumulate(cal, axis=1), 0.0, 1.0)


def fit_isotonic(p: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knots ``(x, y)`` of the isotonic (non-decreasing) fit of correctness ``ok`` on probability ``p``.

    Applied with :func:`numpy.interp` (linear between knots, flat outside); anchored
    at ``(0, 0)`` below the lowest and ``(1, ·)`` above the highest observation.
    """
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    iso.fit(np.asarray(p, dtype=np.float64), np.asarray(ok, dtype=np.float64))
    x, y = np.asarray(iso.X_thresholds_, dtype=np.float64), np.asarray(iso.y_thresholds_, dtype=np.float64)
    if x[0] > 0.0:
        x, y = np.concatenate([[0.0], x]), np.concatenate([[min(0.0, y[0])], y])
    if x[-1] < 1.0:
        x, y = np.concatenate([x, [1.0]]), np.concatenate([y, [y[-1]]])
    return x, y


def chain_outcomes(model: JobModel, P: np.ndarray, truth: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(codes, raw, ok)`` of the model's chain on probabilities ``P``: ``ok[i, l]`` = code at level l+1 is right."""
    codes, raw, _ = with_changes(model, calibration=()).chain([""] * len(P), P)
    ok = np.array([[str(c) == t[: len(str(c))] for c in row] for row, t in zip(codes, truth, strict=True)])
    return codes, raw, ok.reshape(raw.shape)


def calibrate(
    data: TrainingData, params: Mapping, seed: int
) -> tuple[float, tuple[tuple[np.ndarray, np.ndarray], ...]]:
    """Temperature and per-level isotonic maps, both fitted on out-of-fold predictions of ``data``."""
    folds = out_of_fold(data, params, seed)
    temperature = fit_temperature([(S, t) for _, S, t, _ in folds])
    return temperature, fit_level_calibration(folds, temperature)


def fit_level_calibration(folds: Sequence, temperature: float) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """One isotonic map per level, fitted on the stacked out-of-fold chains (see :meth:`JobModel.chain`)."""
    raws, oks = [], []
    for m, S, _, truth in folds:
        _, raw, ok = chain_outcomes(m, softmax(S / temperature), truth)
        raws.append(raw), oks.append(ok)
    raw, ok = np.vstack(raws), np.vstack(oks)
    return tuple(fit_isotonic(raw[:, lv], ok[:, lv]) for lv in range(raw.shape[1]))


def with_changes(model: JobModel, **changes: object) -> JobModel:
    fields = {f: getattr(model, f) for f in model.__dataclass_fields__}
    fields.update(changes)
    return JobModel(**fields)
