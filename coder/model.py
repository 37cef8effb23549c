"""Learned offline rater (rater ``model``): a character n-gram model of job names.

What it is
    A Korean job name carries its head noun at the end (``휠체어조립원``,
    ``병원청소원``, ``컴퓨터시스템엔지니어``).  Each label key becomes TF-IDF weighted
    features: character n-grams (1–4) of ``^key$`` — the ``$`` anchors the head
    noun — plus explicit suffixes of length 1–6 (a trailing ``(...)`` is dropped
    first).  One linear SVM per KSCO level (major, 2-, 3- and 4-digit; scikit-learn
    ``LinearSVC``) is trained on the index (:mod:`coder.jobindex`): every
    job-dictionary name with its unit group, and every level-4 and level-5 KSCO-7
    title with its unit group (titles of levels 1–3 name no unit group and are left
    out; the military titles are in, so ``A011``… can be predicted), and the single
    occupations inside titles that list several (:func:`title_parts`:
    ``정당 및 특수단체 임원`` → ``정당임원``, ``특수단체임원``).  A unit group's
    score is the sum of its own score and its ancestors' scores, so the top code is
    consistent with the hierarchy by construction and the major-level model (nine
    classes, many examples each) steers the fine levels.  Probabilities are
    ``softmax(score / T)`` over the unit groups, with the temperature ``T`` fitted by
    minimising the log-loss on out-of-fold predictions (3 folds grouped by job).

Evaluation (``coder model evaluate``, :mod:`coder.model_eval`)
    Jobs, not names, are held out: a job and all its similar names fall on one side
    of the split (seeded hash of ``job_id``, 20 % held out); titles always train.
    The threshold curve in :data:`MODEL_THRESHOLD` is from that held-out part.

Storage
    The model is plain arrays (``.npz``, loaded with ``allow_pickle=False``) plus a
    JSON metadata file with the sha256 of the arrays and of the training data, so
    loading runs no pickle and does not depend on the scikit-learn version.  The
    package ships a trained model in ``coder/models/``; :func:`load_model` reads it,
    or a directory the caller names explicitly, and refuses files whose sha256 does
    not match their metadata.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import time
import warnings
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from .codes import CodeList, load_codes
from .errors import CrosswalkError, InputError
from .jobindex import JobIndex, load_index
from .raters import RaterResult
from .resources import file_sha256

if TYPE_CHECKING:  # re-exported lazily by __getattr__ at the end of this module
    from .model_eval import CURVE_THRESHOLDS, ModelEvaluation, evaluate_model

__all__ = [
    "CURVE_THRESHOLDS",
    "MODEL_DIR",
    "MODEL_NAME",
    "MODEL_THRESHOLD",
    "PARAMS",
    "SEED",
    "THRESHOLD_TARGET_ACCURACY",
    "JobModel",
    "ModelEvaluation",
    "TrainingData",
    "evaluate_model",
    "key_features",
    "load_model",
    "model_rater",
    "save_model",
    "split_groups",
    "title_parts",
    "train_model",
    "training_data",
    "training_data_matches",
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

MODEL_DIR = Path(__file__).resolve().parent / "models"
MODEL_NAME = "jobdict_model"
FORMAT_VERSION = 1
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
class _Vectorizer:
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


def _fit_vectorizer(keys: Sequence[str], ngram_max: int, suffix_max: int, min_df: int) -> _Vectorizer:
    df: Counter[str] = Counter()
    for key in keys:
        df.update(set(key_features(key, ngram_max, suffix_max)))
    terms = sorted(t for t, n in df.items() if n >= min_df)
    n = len(keys)
    idf = np.array([math.log((1 + n) / (1 + df[t])) + 1.0 for t in terms], dtype=np.float32)
    return _Vectorizer({t: i for i, t in enumerate(terms)}, idf, ngram_max, suffix_max)


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
    from .normalize import label_key

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


def _data_sha256(sha: Mapping[str, str]) -> str:
    canon = json.dumps(dict(sorted(sha.items())), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class JobModel:
    """A trained model: vectorizer, one sparse linear layer per level, temperature, metadata."""

    vectorizer: _Vectorizer = field(repr=False)
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
        return _softmax(self.scores(keys) / self.temperature)

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


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _fit(data: TrainingData, params: Mapping, seed: int) -> JobModel:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    vec = _fit_vectorizer(data.keys, int(params["ngram_max"]), int(params["suffix_max"]), int(params["min_df"]))
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


def _oof(data: TrainingData, params: Mapping, seed: int) -> list[tuple[JobModel, np.ndarray, np.ndarray]]:
    """Per fold: model trained without the fold, its raw scores on the fold's dictionary names, true class index."""
    k = int(params["cv_folds"])
    is_dict = np.array([s == "jobdict" for s in data.sources])
    fold = np.array([zlib.crc32(f"cv:{seed}:{g}".encode()) % k for g in data.groups])
    out = []
    for f in range(k):
        val = np.flatnonzero(is_dict & (fold == f))
        m = _fit(data.subset(~(is_dict & (fold == f))), params, seed)
        pos = {c: i for i, c in enumerate(m.classes)}
        out.append((m, m.scores([data.keys[i] for i in val]), np.array([pos.get(data.codes[i], -1) for i in val])))
    return out


def _fit_temperature(folds: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
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


def _calibrate(data: TrainingData, params: Mapping, seed: int) -> float:
    return _fit_temperature([(S, t) for _, S, t in _oof(data, params, seed)])


def _with(model: JobModel, **changes: object) -> JobModel:
    fields = {f: getattr(model, f) for f in model.__dataclass_fields__}
    fields.update(changes)
    return JobModel(**fields)


def train_model(
    *,
    seed: int = SEED,
    params: Mapping | None = None,
    data: TrainingData | None = None,
    evaluate: bool = True,
) -> JobModel:
    """Train the model on the whole index (deterministic for a seed); optionally evaluate first.

    The temperature is fitted on out-of-fold predictions; with ``evaluate=True`` the
    held-out evaluation of :func:`evaluate_model` is run with the same seed and
    parameters and stored in the metadata.
    """
    import sklearn

    params = {**PARAMS, **(params or {})}
    data = data or training_data()
    t0 = time.perf_counter()
    from .model_eval import evaluate_model

    evaluation = evaluate_model(seed=seed, params=params, data=data).as_dict() if evaluate else None
    model = _fit(data, params, seed)
    temperature = _calibrate(data, params, seed)
    meta = {
        "format_version": FORMAT_VERSION,
        "name": MODEL_NAME,
        "seed": seed,
        "params": dict(params),
        "threshold": MODEL_THRESHOLD,
        "temperature": temperature,
        "classes": len(model.classes),
        "features": len(model.vectorizer.idf),
        "nonzero_weights": int(sum(W.nnz for W in model.weights)),
        "training_data": {
            "files": dict(sorted(data.sha256.items())),
            "sha256": _data_sha256(data.sha256),
            "texts": len(data),
            "jobdict_names": sum(s == "jobdict" for s in data.sources),
            "titles": sum(s == "ksco7" for s in data.sources),
            "title_parts": sum(s == "ksco7_part" for s in data.sources),
        },
        "versions": {"scikit-learn": sklearn.__version__, "numpy": np.__version__},
        "train_seconds": round(time.perf_counter() - t0, 2),
        "evaluation": evaluation,
    }
    return _with(model, temperature=temperature, metadata=meta)


# --------------------------------------------------------------------------- storage


def save_model(model: JobModel, directory: str | Path) -> Path:
    """Write ``<directory>/jobdict_model.npz`` and ``.json`` (metadata with the npz sha256); return the json path."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    vocab = sorted(model.vectorizer.vocab, key=model.vectorizer.vocab.__getitem__)
    arrays: dict[str, np.ndarray] = {
        "vocab": np.array(vocab, dtype=str),
        "idf": model.vectorizer.idf,
        "classes": np.array(model.classes, dtype=str),
    }
    for i, (W, b, anc) in enumerate(zip(model.weights, model.intercepts, model.ancestors, strict=True)):
        arrays.update(
            {
                f"w{i}_data": W.data.astype(np.float16),
                f"w{i}_indices": W.indices.astype(np.int32),
                f"w{i}_indptr": W.indptr.astype(np.int32),
                f"w{i}_shape": np.array(W.shape, dtype=np.int64),
                f"b{i}": b,
                f"anc{i}": anc,
                f"classes{i}": np.array(model.level_classes[i], dtype=str),
            }
        )
    npz = d / f"{MODEL_NAME}.npz"
    np.savez_compressed(npz, **arrays)
    meta = {**model.metadata, "format_version": FORMAT_VERSION, "name": MODEL_NAME}
    meta.update(temperature=model.temperature, levels_stored=len(model.weights))
    meta["vectorizer"] = {"ngram_max": model.vectorizer.ngram_max, "suffix_max": model.vectorizer.suffix_max}
    meta["model_file"] = npz.name
    meta["model_sha256"] = file_sha256(npz)
    js = d / f"{MODEL_NAME}.json"
    js.write_text(json.dumps(meta, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return js


def _retrain_hint(path: Path) -> str:
    return f"retrain with `coder model train --out {path.parent}` (or `--ship` for the packaged model)"


def _read_model(js: Path) -> JobModel:
    try:
        meta = json.loads(js.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CrosswalkError(f"{js}: model metadata not found — {_retrain_hint(js)}.", path=js) from None
    except json.JSONDecodeError as exc:
        raise CrosswalkError(
            f"{js}:{exc.lineno}: model metadata is not valid JSON — {_retrain_hint(js)}.", path=js
        ) from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise CrosswalkError(
            f"{js}: model format {meta.get('format_version')!r}, this toolkit reads {FORMAT_VERSION} — {_retrain_hint(js)}.",
            path=js,
        )
    npz = js.parent / str(meta.get("model_file", ""))
    if not npz.is_file():
        raise CrosswalkError(f"{npz}: model arrays not found next to {js.name} — {_retrain_hint(js)}.", path=npz)
    actual = file_sha256(npz)
    if actual != meta.get("model_sha256"):
        raise CrosswalkError(
            f"{npz}: sha256 {actual[:12]}… differs from {js.name} ({str(meta.get('model_sha256'))[:12]}…); "
            f"refusing to load an altered model — {_retrain_hint(js)}.",
            path=npz,
        )
    try:
        with np.load(npz, allow_pickle=False) as z:
            a = {k: z[k] for k in z.files}
        n = int(meta["levels_stored"])
        vocab = {str(t): i for i, t in enumerate(a["vocab"])}
        vec = _Vectorizer(vocab, a["idf"].astype(np.float32), **meta["vectorizer"])
        weights = tuple(
            sparse.csr_matrix(
                (a[f"w{i}_data"].astype(np.float32), a[f"w{i}_indices"], a[f"w{i}_indptr"]),
                shape=tuple(int(s) for s in a[f"w{i}_shape"]),
            )
            for i in range(n)
        )
        return JobModel(
            vec,
            tuple(str(c) for c in a["classes"]),
            weights,
            tuple(a[f"b{i}"] for i in range(n)),
            tuple(a[f"anc{i}"] for i in range(n)),
            float(meta["temperature"]),
            tuple(tuple(str(c) for c in a[f"classes{i}"]) for i in range(n)),
            meta,
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise CrosswalkError(f"{npz}: model arrays unreadable ({exc}) — {_retrain_hint(js)}.", path=npz) from None


@functools.lru_cache(maxsize=1)
def _packaged() -> JobModel:
    return _read_model(MODEL_DIR / f"{MODEL_NAME}.json")


def load_model(path: str | Path | None = None) -> JobModel:
    """Load the packaged model, or the one at ``path`` (a directory or its ``.json``) the caller names.

    No other location is ever searched.  The arrays are read without pickle and
    checked against the sha256 in the metadata.
    """
    if path is None:
        return _packaged()
    p = Path(path)
    if p.is_dir():
        p = p / f"{MODEL_NAME}.json"
    if p.suffix != ".json":
        raise InputError(f"{p}: give the model directory or its {MODEL_NAME}.json, not {p.name}.", path=p)
    return _read_model(p)


def training_data_matches(model: JobModel, data: TrainingData | None = None) -> bool:
    """True when the model's recorded training-data sha256 equals that of ``data`` (default: the shipped index)."""
    data = data or training_data()
    recorded = model.metadata.get("training_data", {})
    return recorded.get("sha256") == _data_sha256(data.sha256) and recorded.get("files") == dict(
        sorted(data.sha256.items())
    )


# --------------------------------------------------------------------------- rater


def model_rater(
    keys: Sequence[str], *, k: int = 5, model: JobModel | None = None, threshold: float = MODEL_THRESHOLD
) -> RaterResult:
    """Rater ``model``: top unit group with its calibrated probability, top-k as JSON detail.

    Code = the most probable 4-digit code (empty for an empty key); score = its
    probability; detail = ``[[code, prob], ...]`` of the top ``k``; extra column
    ``final_ok`` = probability ≥ ``threshold`` (default :data:`MODEL_THRESHOLD`).
    """
    model = model or load_model()
    distinct = sorted({key for key in keys if key})
    top = dict(zip(distinct, model.top_k(distinct, k), strict=True))
    codes, scores, details, final = [], [], [], []
    for key in keys:
        if key not in top:
            codes.append(""), scores.append(math.nan), details.append(""), final.append(False)
            continue
        best = top[key]
        codes.append(best[0][0])
        scores.append(best[0][1])
        details.append(json.dumps([[c, round(p, 4)] for c, p in best], separators=(",", ":")))
        final.append(best[0][1] >= threshold)
    return RaterResult("model", tuple(keys), tuple(codes), tuple(scores), tuple(details), {"final_ok": tuple(final)})


_EVALUATION_NAMES = ("CURVE_THRESHOLDS", "ModelEvaluation", "evaluate_model")


def __getattr__(name: str) -> object:
    """Re-export the evaluation names from :mod:`coder.model_eval` (imported on first use, no import cycle)."""
    if name in _EVALUATION_NAMES:
        from . import model_eval

        return getattr(model_eval, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
