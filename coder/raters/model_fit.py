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
from .index import JobIndex, load_index

__all__ = [
    "MODEL_THRESHOLD",
    "PARAMS",
    "SEED",
    "THRESHOLD_TARGET_ACCURACY",
    "JobModel",
    "TrainingData",
    "Vectorizer",
    "calibrate",
    "data_sha256",
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

MODEL_THRESHOLD = 0.5
"""Calibrated probability at or above which the model's top unit group may become a final code.

Rule: the smallest threshold on the *out-of-fold* curve of the training part whose
4-digit accuracy reaches :data:`THRESHOLD_TARGET_ACCURACY` (0.80); the held-out part
then confirms it.  ``coder model evaluate`` (seed 0, 20 % of jobs held out)::

    threshold  coverage  acc4   acc1   (held-out)  | cv coverage  cv acc4
         0.00     1.000  0.438  0.808              |       1.000  0.435
         0.10     0.786  0.516  0.854              |       0.752  0.536
         0.20     0.576  0.609  0.876              |       0.549  0.625
         0.30     0.434  0.682  0.898              |       0.413  0.714
         0.40     0.334  0.715  0.895              |       0.334  0.754
         0.50     0.261  0.769  0.908              |       0.258  0.812   <- chosen
         0.60     0.199  0.805  0.921              |       0.199  0.843
         0.70     0.146  0.835  0.943              |       0.138  0.883
         0.80     0.100  0.889  0.954              |       0.083  0.911
         0.90     0.046  0.960  0.960              |       0.034  0.909

At 0.5 the model alone codes about a quarter of unseen job names, with 4-digit
accuracy ≈ 0.77 and major-group accuracy ≈ 0.91; below it the label stays open
for the LLM panel or a reviewer (the top-k are kept as candidates).
"""

THRESHOLD_TARGET_ACCURACY = 0.80
"""4-digit accuracy the threshold rule asks of the codes the model decides alone."""

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
    index = index or load_index()
    codes = codes or load_codes()
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
    from ..normalize import label_key

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


def out_of_fold(data: TrainingData, params: Mapping, seed: int) -> list[tuple[JobModel, np.ndarray, np.ndarray]]:
    """Per fold: model trained without the fold, its raw scores on the fold's dictionary names, true class index."""
    k = int(params["cv_folds"])
    is_dict = np.array([s == "jobdict" for s in data.sources])
    fold = np.array([zlib.crc32(f"cv:{seed}:{g}".encode()) % k for g in data.groups])
    out = []
    for f in range(k):
        val = np.flatnonzero(is_dict & (fold == f))
        m = fit_levels(data.subset(~(is_dict & (fold == f))), params, seed)
        pos = {c: i for i, c in enumerate(m.classes)}
        out.append((m, m.scores([data.keys[i] for i in val]), np.array([pos.get(data.codes[i], -1) for i in val])))
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


def calibrate(data: TrainingData, params: Mapping, seed: int) -> float:
    return fit_temperature([(S, t) for _, S, t in out_of_fold(data, params, seed)])


def with_changes(model: JobModel, **changes: object) -> JobModel:
    fields = {f: getattr(model, f) for f in model.__dataclass_fields__}
    fields.update(changes)
    return JobModel(**fields)
