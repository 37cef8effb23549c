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
import random
import re
import warnings
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse

from ..codes import CodeList, load_codes
from ..normalize import label_key
from ..resources import file_sha256
from .base import rater_spec
from .index import JobIndex, load_index
from .model_core import (
    EvidenceModel,
    JobModel,
    Vectorizer,
    _ngrams,
    apply_calibration,
    key_features,
    known_share,
    softmax,
)

__all__ = [
    "EVIDENCE_GRID",
    "EVIDENCE_PARAMS",
    "EVIDENCE_THRESHOLD",
    "GENERATED_MIN_LENGTH",
    "MODEL_DEPTH_THRESHOLD",
    "MODEL_THRESHOLD",
    "NEGATIVES_FILE",
    "PARAMS",
    "SEED",
    "THRESHOLD_TARGET_ACCURACY",
    "THRESHOLD_TARGET_PRECISION",
    "EvidenceModel",
    "JobModel",
    "TrainingData",
    "Vectorizer",
    "apply_calibration",
    "calibrate",
    "chain_outcomes",
    "data_sha256",
    "evidence_negatives",
    "fit_beta",
    "fit_evidence",
    "fit_isotonic",
    "fit_levels",
    "fit_temperature",
    "fit_vectorizer",
    "generated_junk",
    "key_features",
    "known_share",
    "major_weights",
    "out_of_fold",
    "read_text_lines",
    "softmax",
    "split_groups",
    "title_parts",
    "training_data",
    "with_changes",
]

MODEL_THRESHOLD = rater_spec("model").threshold  # 0.60, held in the rater registry
"""Calibrated probability the model's major group must reach for the model to code a name.

Below the major group a code needs :data:`MODEL_DEPTH_THRESHOLD` as well (the deepest chain code
reaching both is given).  Rule (:func:`coder.raters.model_eval.suggest_threshold`): the smallest
threshold on the *out-of-fold* curve of the training part whose precision — the code right at
its own level — reaches :data:`THRESHOLD_TARGET_PRECISION` (0.85) there and at every larger
threshold; the held-out part only confirms it.  ``coder model evaluate`` (seed 0, 20 % of jobs
held out, 1080 names of 649 unseen jobs; the model alone, without rules or the index)::

    threshold  coverage  precision  mean level (held-out) | cv coverage  cv precision  cv level
         0.00     1.000      0.806        1.43            |       1.000         0.783      1.38
         0.10     1.000      0.806        1.43            |       1.000         0.783      1.38
         0.20     1.000      0.806        1.43            |       1.000         0.783      1.38
         0.30     0.997      0.809        1.43            |       0.996         0.785      1.39
         0.40     0.962      0.824        1.45            |       0.963         0.799      1.40
         0.50     0.895      0.847        1.48            |       0.887         0.831      1.43
         0.55     0.868      0.858        1.50            |       0.848         0.844      1.45
         0.60     0.832      0.867        1.52            |       0.806         0.858      1.48
         0.65     0.781      0.884        1.55            |       0.762         0.871      1.50
         0.70     0.739      0.895        1.58            |       0.719         0.882      1.53
         0.75     0.681      0.909        1.63            |       0.663         0.894      1.58
         0.80     0.632      0.916        1.68            |       0.589         0.909      1.65
         0.85     0.554      0.930        1.78            |       0.521         0.923      1.74
         0.90     0.475      0.947        1.54            |       0.421         0.949      1.52
         0.95     0.303      0.963        1.29            |       0.251         0.964      1.28

Issue 23 (MODEL23): with ``C`` 2.0 (0.5 before: out-of-fold major accuracy 0.758 → 0.772 on the
tune split's training part), beta calibration fitted unweighted, and the depth threshold, the rule
moved from 0.70 to 0.60.  The tune split of ``bench/bench_unseen.py`` (whole pipeline) agreed: at
0.60 coverage 0.796, precision 0.863, major-balanced precision 0.762 (0.55: 0.824 / 0.855 / 0.755;
0.65: 0.766 / 0.869 / 0.753); with the final evidence detector (:data:`EVIDENCE_THRESHOLD`) 0.788 / 0.865 / 0.764.
"""

THRESHOLD_TARGET_PRECISION = 0.85
"""Precision (code right at its own level) the threshold rule asks of the codes the model gives."""

THRESHOLD_TARGET_ACCURACY = THRESHOLD_TARGET_PRECISION  # former name

SEED = 0
PARAMS: Mapping[str, object] = {
    "ngram_max": 4,
    "suffix_max": 6,
    "min_df": 1,
    "C": 2.0,
    "levels": [1, 2, 3, 4],
    "prune": 0.02,
    "cv_folds": 3,
    "test_share": 0.2,
    "major_balance": 0.5,
    "calibration": "beta",
    "calibration_balance": 0.0,
}
"""Training parameters (recorded in the model metadata).

``C``: the linear SVMs' regularisation, 2.0 since issue 23 item 3 (0.5 before).  Out-of-fold major
accuracy on the training part of the tune split of ``bench/bench_unseen.py``: C 0.25 / 0.5 / 1 / 2 / 4
→ 0.750 / 0.758 / 0.767 / 0.772 / 0.774; C 4 was no better on the tune split itself and makes a larger model.

``major_balance`` (α): each training text weighs ``(mean count of a major group / count of its
major group) ** α`` in the fit and in the isotonic calibration — the job dictionary
over-represents majors 2 and 8; α = 0 is unweighted, 1 fully balanced (chosen on the tune split
of ``bench/bench_unseen.py``, never on the reported one).

``calibration``: how each level's raw chain probability is mapped to a calibrated one, fitted on
the out-of-fold chains — ``"beta"`` (a logistic fit on ``log p`` and ``-log(1 - p)``, stored as
dense knots: smooth, so every threshold gives a different coverage) or ``"isotonic"`` (a step
function: its plateaus left no calibrated probability in [0.70, 0.75) and made coverage jump by
10 points between neighbouring thresholds).  ``calibration_balance``: the major-group weight
exponent of that fit (0 = each name counts once).  A calibration fitted with major weights says
how often a code would be right *if the major groups were equally common*: on the held-out names
(mostly majors 2 and 8, as the dictionary) its calibration error was 0.05–0.08 against
0.03–0.05 unweighted, so the probabilities are calibrated unweighted and the major balance
stays in the training weights and in the evaluation (major-balanced precision)."""

MODEL_DEPTH_THRESHOLD = THRESHOLD_TARGET_PRECISION  # 0.85
"""Calibrated probability a model code *below the major group* must reach (and the model threshold).

The model gives the major group of its chain at :data:`MODEL_THRESHOLD` and a 2-, 3- or 4-digit
code only where that code is itself likely right: the deeper code's calibrated probability
reaches :data:`THRESHOLD_TARGET_PRECISION` (0.85), so each deeper code the model gives is
expected right at the precision the issue asks for.  An easy blank whose major group is likely
but whose unit group is not gets its major group instead of nothing.
Held in :class:`coder.crosswalk.decide.DecisionPolicy` (``model_depth_threshold``; 0 gives the
deepest code at the model threshold, the rule before issue 23 item 3).

This asks each *marginal* deeper code to be right 0.85 of the time.  Asking it of the *average*
code at each level instead would allow lower thresholds: out of fold (report split's training
part), the codes with calibrated probability ≥ 0.70 at level 2 are right 0.861 of the time, ≥ 0.75
at level 3 0.870 and at level 4 0.886 (≥ 0.70: 0.848 and 0.844).  On the tune split the lower depth
threshold 0.80 kept the targets only narrowly (precision 0.857, major-balanced 0.758 against 0.863 /
0.762 at 0.85, mean level 1.80 against 1.65), so the marginal rule stays.
"""

EVIDENCE_THRESHOLD = 0.65
"""Evidence a label needs before the model (or a fuzzy code, or corroboration) may code it: "no evidence, no code".

Rule: the threshold (on the grid 0.40, 0.45, …, 0.85) with the highest out-of-fold *balanced accuracy*
of the detector — the mean of the share of job names kept and the share of negatives rejected —
recorded per threshold in the model metadata (``evidence.cv.balanced``).  With the detector's ``C``
at 10 (chosen by out-of-fold AUC: C 0.3 / 1 / 3 / 10 / 30 → 0.9937 / 0.9962 / 0.9971 / 0.9975 /
0.9976) the rule gives 0.65 (0.50 before issue 23 item 3, with C 1).  On the tune split of
``bench/bench_unseen.py`` raising it from 0.50 to 0.65 costs 0.8 points of coverage (0.796 → 0.788)
at equal precision.

The evidence of a label key is the detector's probability that it names an occupation
(:class:`EvidenceModel`: a logistic regression on character 1–3-grams and 1–3-character
suffixes, trained with balanced class weights on the model's training texts against the
non-occupation text of :data:`NEGATIVES_FILE` and :func:`generated_junk`), set to 0 when
fewer than :attr:`EvidenceModel.known_floor` of the key's 2–4-grams were ever seen in a
training text (out of vocabulary).  Out-of-fold (3 folds grouped by job) the detector keeps
the job names and rejects the junk at the rates recorded in the model metadata
(``evidence.cv``); the held-out list ``tests/data/non_occupations.txt`` is never trained on.
"""

EVIDENCE_GRID = tuple(round(0.40 + 0.05 * i, 2) for i in range(10))
"""Thresholds the out-of-fold balanced accuracy of the detector is recorded at (0.40 … 0.85)."""

NEGATIVES_FILE = Path(__file__).resolve().parent.parent / "models" / "non_occupation_train.txt"
"""Hand-written non-occupation text the detector is trained on (one per line; ``# `` starts a comment)."""

EVIDENCE_PARAMS: Mapping[str, object] = {
    "ngram_max": 3,
    "suffix_max": 3,
    "min_df": 2,
    "C": 10.0,
    "generated": 1500,
    "known_quantile": 0.005,
}
"""Detector parameters (recorded in the model metadata): features, regularisation, how much junk is
generated, and the out-of-fold quantile of job names' known-n-gram share used as the out-of-vocabulary floor."""

_PAREN_ANY = re.compile(r"\([^()]*\)")

# --------------------------------------------------------------------------- features


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


def fit_levels(data: TrainingData, params: Mapping, seed: int) -> JobModel:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    vec = fit_vectorizer(data.keys, int(params["ngram_max"]), int(params["suffix_max"]), int(params["min_df"]))
    X = vec.transform(data.keys)
    weight = major_weights(data.codes, float(params.get("major_balance", 0.0)))
    classes = tuple(sorted(set(data.codes)))
    weights, intercepts, ancestors, names = [], [], [], []
    for level in params["levels"]:
        y = np.array([c[:level] for c in data.codes])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # accuracy is checked by evaluation
            clf = LinearSVC(C=float(params["C"]), random_state=seed, max_iter=2000).fit(X, y, sample_weight=weight)
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


def major_weights(codes: Sequence[str], alpha: float) -> np.ndarray:
    """Per code, ``(mean count per major group / count of its major group) ** alpha`` (all 1 for alpha 0).

    >>> major_weights(["21", "22", "23", "91"], 1.0).tolist()
    [0.6666666666666666, 0.6666666666666666, 0.6666666666666666, 2.0]
    """
    majors = [c[:1] for c in codes]
    counts = Counter(majors)
    mean = len(majors) / max(len(counts), 1)
    return np.array([(mean / counts[m]) ** alpha for m in majors], dtype=np.float64)


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


def fit_isotonic(p: np.ndarray, ok: np.ndarray, weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Knots ``(x, y)`` of the isotonic (non-decreasing) fit of correctness ``ok`` on probability ``p``.

    Applied with :func:`numpy.interp` (linear between knots, flat outside); anchored
    at ``(0, 0)`` below the lowest and ``(1, ·)`` above the highest observation.
    """
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    iso.fit(np.asarray(p, dtype=np.float64), np.asarray(ok, dtype=np.float64), sample_weight=weight)
    x, y = np.asarray(iso.X_thresholds_, dtype=np.float64), np.asarray(iso.y_thresholds_, dtype=np.float64)
    if x[0] > 0.0:
        x, y = np.concatenate([[0.0], x]), np.concatenate([[min(0.0, y[0])], y])
    if x[-1] < 1.0:
        x, y = np.concatenate([x, [1.0]]), np.concatenate([y, [y[-1]]])
    return x, y


def fit_beta(p: np.ndarray, ok: np.ndarray, weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Knots ``(x, y)`` of a beta calibration of correctness ``ok`` on probability ``p`` (Kull et al. 2017).

    A logistic regression of ``ok`` on ``log p`` and ``-log(1 - p)`` (both clipped to
    ``[1e-6, 1 - 1e-6]``), evaluated on a dense grid (uniform on [0, 1], log-spaced towards 0
    and 1, and the quantiles of ``p``) and made non-decreasing; applied with
    :func:`numpy.interp` like the isotonic knots.  Smooth where the isotonic map has plateaus.
    """
    from sklearn.linear_model import LogisticRegression

    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(ok, dtype=np.float64)

    def features(q: np.ndarray) -> np.ndarray:
        q = np.clip(q, 1e-6, 1 - 1e-6)
        return np.c_[np.log(q), -np.log1p(-q)]

    if y.min() == y.max():  # one outcome only: a constant map
        return np.array([0.0, 1.0]), np.array([y[0], y[0]])
    lr = LogisticRegression(C=1e4, max_iter=1000).fit(features(p), y, sample_weight=weight)
    tail = np.logspace(-6, -1, 60)
    grid = np.unique(np.r_[np.linspace(0.0, 1.0, 201), tail, 1.0 - tail, np.quantile(p, np.linspace(0, 1, 101))])
    return grid, np.maximum.accumulate(lr.predict_proba(features(grid))[:, 1])


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
    return temperature, fit_level_calibration(folds, temperature, params)


def fit_level_calibration(
    folds: Sequence, temperature: float, params: Mapping | float = 0.0
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """One map per level (``params["calibration"]``: beta or isotonic), fitted on the stacked out-of-fold
    chains (see :meth:`JobModel.chain`), each name weighted by its major group (:func:`major_weights`,
    exponent ``params["calibration_balance"]``).  A bare number is the weight exponent of an isotonic
    fit (the former signature)."""
    if isinstance(params, Mapping):
        kind = str(params.get("calibration", "isotonic"))
        balance = float(params.get("calibration_balance", params.get("major_balance", 0.0)))
    else:
        kind, balance = "isotonic", float(params)
    fit = {"beta": fit_beta, "isotonic": fit_isotonic}[kind]
    raws, oks, truths = [], [], []
    for m, S, _, truth in folds:
        _, raw, ok = chain_outcomes(m, softmax(S / temperature), truth)
        raws.append(raw), oks.append(ok), truths.extend(truth)
    raw, ok = np.vstack(raws), np.vstack(oks)
    w = major_weights(truths, balance)
    return tuple(fit(raw[:, lv], ok[:, lv], w) for lv in range(raw.shape[1]))


# --------------------------------------------------------------------------- evidence (no evidence, no code)


def read_text_lines(path: str | Path) -> list[str]:
    """Non-empty lines of a UTF-8 text file, without the comment lines (starting with ``# ``)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("# ")]


_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890")
_DUBEOL = dict(zip("qwertyuiopasdfghjklzxcvbnm", "ㅂㅈㄷㄱㅅㅛㅕㅑㅐㅔㅁㄴㅇㄹㅎㅗㅓㅏㅣㅋㅌㅊㅍㅠㅜㅡ", strict=True))
_SYLLABLES = "아어오우으이하호히헤에ㅋㅎㅇ"
_PUNCT = "!?.#*-~^@/_=+"


GENERATED_MIN_LENGTH = 5
"""Every generated junk string has at least this many characters: short junk (``asdf``, ``qwer``, ``ㅇㅇ``,
``50%``) comes only from the hand-written file, so the generator never reproduces a string of the held-out
list ``tests/data/non_occupations.txt`` (``tests/test_abstain.py`` checks the two are disjoint)."""


def _walk(rng: random.Random) -> str:
    row = rng.choice(_ROWS[:3])
    n = rng.randint(GENERATED_MIN_LENGTH, len(row))
    i = rng.randint(0, len(row) - n)
    w = row[i : i + n]
    return w[::-1] if rng.random() < 0.3 else w


def generated_junk(n: int, seed: int) -> list[str]:
    """``n`` seeded non-occupation strings of at least :data:`GENERATED_MIN_LENGTH` characters: keyboard walks
    (Latin and 2-beolsik jamo), random letters, numbers, dates, phone numbers, amounts, letter-digit codes,
    repeated characters, punctuation."""
    rng = random.Random(f"junk:{seed}")
    letters = "abcdefghijklmnopqrstuvwxyz"
    lo = GENERATED_MIN_LENGTH
    makers = (
        _walk,
        lambda r: "".join(_DUBEOL[c] for c in _walk(r)),
        lambda r: "".join(r.choice(letters) for _ in range(r.randint(lo, 10))),
        lambda r: "".join(r.choice(letters) for _ in range(r.randint(lo, 8))).upper(),
        lambda r: str(r.randint(10**4, 10 ** r.randint(5, 11))).zfill(r.choice((1, 1, 6, 8))),
        lambda r: f"{r.uniform(100, 100000):.{r.randint(1, 3)}f}",
        lambda r: (
            f"{r.randint(1950, 2030)}{r.choice('-./')}{r.randint(1, 12):02d}{r.choice('-./')}{r.randint(1, 28):02d}"
        ),
        lambda r: f"0{r.randint(10, 99)}-{r.randint(100, 9999)}-{r.randint(1000, 9999)}",
        lambda r: f"{r.randint(1000, 100000)}{r.choice(('%', '원', '개', '세', '살', '명', '번'))}",
        lambda r: "".join(r.choice(letters + "0123456789") for _ in range(r.randint(lo, 9))),
        lambda r: r.choice(letters + "0123456789" + _SYLLABLES) * r.randint(lo, 8),
        lambda r: "".join(r.choice(_PUNCT) for _ in range(r.randint(lo, 8))),
    )
    return [rng.choice(makers)(rng) for _ in range(n)]


def evidence_negatives(positives: Sequence[str], seed: int, n_generated: int) -> list[str]:
    """Label keys of the negatives file and the generated junk, without duplicates and without any positive key."""
    pos = set(positives)
    raw = read_text_lines(NEGATIVES_FILE) + generated_junk(n_generated, seed)
    return [k for k in dict.fromkeys(label_key(t) for t in raw) if k and k not in pos]


def _fit_detector(pos: Sequence[str], neg: Sequence[str], params: Mapping) -> EvidenceModel:
    from sklearn.linear_model import LogisticRegression

    keys = [*pos, *neg]
    vec = fit_vectorizer(keys, int(params["ngram_max"]), int(params["suffix_max"]), int(params["min_df"]))
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    clf = LogisticRegression(C=float(params["C"]), class_weight="balanced", solver="liblinear", max_iter=1000)
    clf.fit(vec.transform(keys), y)
    return EvidenceModel(vec, clf.coef_.ravel().astype(np.float32), float(clf.intercept_[0]), 0.0)


def fit_evidence(data: TrainingData, seed: int, params: Mapping | None = None) -> tuple[EvidenceModel, dict]:
    """The detector and its out-of-fold check (3 folds; job names grouped by job, negatives by line).

    The out-of-vocabulary floor is the ``known_quantile`` of the out-of-fold known-n-gram share
    of job names (each fold's names against the vocabulary of the other folds' texts).
    Returns the detector trained on everything and ``{"negatives": n, "sha256": …, "cv": {…}}``.
    """
    params = {**EVIDENCE_PARAMS, **(params or {})}
    pos = list(dict.fromkeys(data.keys))
    group = dict(zip(data.keys, data.groups, strict=True))
    neg = evidence_negatives(pos, seed, int(params["generated"]))
    k = 3
    pos_fold = np.array([zlib.crc32(f"ev:{seed}:{group[p]}".encode()) % k for p in pos])
    neg_fold = np.array([zlib.crc32(f"ev:{seed}:{t}".encode()) % k for t in neg])
    p_pos, p_neg, shares = np.zeros(len(pos)), np.zeros(len(neg)), np.zeros(len(pos))
    for f in range(k):
        tr_p = [p for p, g in zip(pos, pos_fold, strict=True) if g != f]
        tr_n = [t for t, g in zip(neg, neg_fold, strict=True) if g != f]
        det = _fit_detector(tr_p, tr_n, params)
        te_p, te_n = np.flatnonzero(pos_fold == f), np.flatnonzero(neg_fold == f)
        p_pos[te_p] = det.proba([pos[i] for i in te_p])
        p_neg[te_n] = det.proba([neg[i] for i in te_n])
        vocab = {g for p in tr_p for g in _ngrams(p, 4)}
        shares[te_p] = known_share(vocab, [pos[i] for i in te_p], 4)
    floor = float(np.quantile(shares, float(params["known_quantile"])))
    det = _fit_detector(pos, neg, params)
    det = EvidenceModel(det.vectorizer, det.weights, det.bias, round(floor, 4))
    cv = {
        "job_names_kept": round(float((p_pos >= EVIDENCE_THRESHOLD).mean()), 4),
        "negatives_rejected": round(float((p_neg < EVIDENCE_THRESHOLD).mean()), 4),
        "known_floor": round(floor, 4),
        "balanced": {
            f"{t:.2f}": round(float(((p_pos >= t).mean() + (p_neg < t).mean()) / 2), 4) for t in EVIDENCE_GRID
        },
    }
    info = {
        "negatives_file": NEGATIVES_FILE.name,
        "negatives_sha256": file_sha256(NEGATIVES_FILE),
        "generated_sha256": hashlib.sha256(
            "\n".join(generated_junk(int(params["generated"]), seed)).encode()
        ).hexdigest(),
        "negatives": len(neg),
        "positives": len(pos),
        "params": dict(params),
        "cv": cv,
    }
    return det, info


def with_changes(model: JobModel, **changes: object) -> JobModel:
    fields = {f: getattr(model, f) for f in model.__dataclass_fields__}
    fields.update(changes)
    return JobModel(**fields)
