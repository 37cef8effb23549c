"""Learned offline rater (rater ``model``): a character n-gram model of job names.

What it is
    A Korean job name carries its head noun at the end (``휠체어조립원``,
    ``병원청소원``, ``컴퓨터시스템엔지니어``).  Each label key becomes TF-IDF weighted
    features: character n-grams (1–4) of ``^key$`` — the ``$`` anchors the head
    noun — plus explicit suffixes of length 1–6 (a trailing ``(...)`` is dropped
    first).  One linear SVM per KSCO level (major, 2-, 3- and 4-digit; scikit-learn
    ``LinearSVC``) is trained on the index (:mod:`coder.raters.index`): every
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

Per-level probabilities and calibration
    A code's probability at levels 1–3 is the sum of the unit-group probabilities
    below it (:meth:`JobModel.level_proba`).  The rater follows the nested chain of
    most probable codes (major, then its most probable child, …) and calibrates each
    level with a map fitted on the out-of-fold chains (``PARAMS["calibration"]``: a beta
    fit or isotonic; stored as knot arrays ``cal<level>_x/_y`` in the npz, applied by
    linear interpolation), capped by the parent so it never grows going deeper.  It answers the deepest code reaching :data:`MODEL_THRESHOLD`.

Evaluation (``coder model evaluate``, :mod:`coder.raters.model_eval`)
    Jobs, not names, are held out: a job and all its similar names fall on one side
    of the split (seeded hash of ``job_id``, 20 % held out); titles always train.
    The coverage–precision table in :data:`MODEL_THRESHOLD` is from that held-out
    part (and the out-of-fold curve the threshold is chosen on).

Storage
    The model is plain arrays (``.npz``, read as ``allow_pickle=False`` reads it: an object
    array is refused; see :func:`_read_arrays`) plus a
    JSON metadata file with the sha256 of the arrays and of the training data, so
    loading runs no pickle and does not depend on the scikit-learn version.  The
    package ships a trained model in ``coder/models/``; :func:`load_model` reads it,
    or a directory the caller names explicitly, and refuses files whose sha256 does
    not match their metadata.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import os
import struct
import time
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from scipy import sparse

from ..errors import CrosswalkError, InputError
from ..resources import file_sha256
from .base import RaterResult
from .model_core import StoredNames, apply_calibration, softmax
from .model_eval import CURVE_THRESHOLDS, ModelEvaluation, evaluate_model
from .model_fit import (
    EVIDENCE_THRESHOLD,
    MODEL_THRESHOLD,
    PARAMS,
    SEED,
    THRESHOLD_TARGET_ACCURACY,
    THRESHOLD_TARGET_PRECISION,
    EvidenceModel,
    JobModel,
    TrainingData,
    Vectorizer,
    calibrate,
    data_sha256,
    fit_evidence,
    fit_levels,
    key_features,
    split_groups,
    title_parts,
    training_data,
    with_changes,
)

__all__ = [
    "CURVE_THRESHOLDS",
    "EVIDENCE_THRESHOLD",
    "MODEL_DIR",
    "MODEL_NAME",
    "MODEL_THRESHOLD",
    "PARAMS",
    "SEED",
    "THRESHOLD_TARGET_ACCURACY",
    "THRESHOLD_TARGET_PRECISION",
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

MODEL_DIR = Path(__file__).resolve().parent.parent / "models"
MODEL_NAME = "jobdict_model"
FORMAT_VERSION = 3


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
    data = training_data() if data is None else data
    t0 = time.perf_counter()
    evaluation = evaluate_model(seed=seed, params=params, data=data).as_dict() if evaluate else None
    model = fit_levels(data, params, seed)
    temperature, calibration = calibrate(data, params, seed)
    evidence, evidence_info = fit_evidence(data, seed)
    meta = {
        "format_version": FORMAT_VERSION,
        "name": MODEL_NAME,
        "seed": seed,
        "params": dict(params),
        "threshold": MODEL_THRESHOLD,
        "temperature": temperature,
        "calibration": f"per-level {params.get('calibration', 'isotonic')} maps on out-of-fold chains "
        "(knot arrays cal<level>_x/_y in the npz)",
        "classes": len(model.classes),
        "features": len(model.vectorizer.idf),
        "nonzero_weights": int(sum(W.nnz for W in model.weights)),
        "training_data": {
            "files": dict(sorted(data.sha256.items())),
            "sha256": data_sha256(data.sha256),
            "texts": len(data),
            "jobdict_names": sum(s == "jobdict" for s in data.sources),
            "titles": sum(s == "ksco7" for s in data.sources),
            "title_parts": sum(s == "ksco7_part" for s in data.sources),
        },
        "versions": {"scikit-learn": sklearn.__version__, "numpy": np.__version__},
        "train_seconds": round(time.perf_counter() - t0, 2),
        "evaluation": evaluation,
        "evidence": {**evidence_info, "threshold": EVIDENCE_THRESHOLD},
    }
    return with_changes(model, temperature=temperature, calibration=calibration, metadata=meta, evidence=evidence)


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
    for i, (x, y) in enumerate(model.calibration):
        arrays[f"cal{i}_x"] = np.asarray(x, dtype=np.float64)
        arrays[f"cal{i}_y"] = np.asarray(y, dtype=np.float64)
    ev = model.evidence
    if ev is not None:
        ev_vocab = sorted(ev.vectorizer.vocab, key=ev.vectorizer.vocab.__getitem__)
        arrays.update(
            {
                "ev_vocab": np.array(ev_vocab, dtype=str),
                "ev_idf": ev.vectorizer.idf,
                "ev_w": ev.weights.astype(np.float32),
            }
        )
    npz = d / f"{MODEL_NAME}.npz"
    np.savez_compressed(npz, **arrays)
    meta = {**model.metadata, "format_version": FORMAT_VERSION, "name": MODEL_NAME}
    meta.update(
        temperature=model.temperature, levels_stored=len(model.weights), calibration_levels=len(model.calibration)
    )
    meta["vectorizer"] = {"ngram_max": model.vectorizer.ngram_max, "suffix_max": model.vectorizer.suffix_max}
    meta["evidence_detector"] = (
        None
        if ev is None
        else {
            "bias": ev.bias,
            "known_floor": ev.known_floor,
            "ngram_max": ev.vectorizer.ngram_max,
            "suffix_max": ev.vectorizer.suffix_max,
        }
    )
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
    stored = npz.read_bytes()  # read once: checked, then its arrays read from memory
    actual = hashlib.sha256(stored).hexdigest()
    if actual != meta.get("model_sha256"):
        raise CrosswalkError(
            f"{npz}: sha256 {actual[:12]}… differs from {js.name} ({str(meta.get('model_sha256'))[:12]}…); "
            f"refusing to load an altered model — {_retrain_hint(js)}.",
            path=npz,
        )
    try:
        a = _read_arrays(stored)
        n = int(meta["levels_stored"])
        vec = Vectorizer(StoredNames(a["vocab"]), a["idf"].astype(np.float32, copy=False), **meta["vectorizer"])
        weights = tuple(
            sparse.csr_matrix(
                (a[f"w{i}_data"].astype(np.float32), a[f"w{i}_indices"], a[f"w{i}_indptr"]),
                shape=tuple(int(s) for s in a[f"w{i}_shape"]),
            )
            for i in range(n)
        )
        detector = meta.get("evidence_detector")
        evidence = None
        if detector:
            ev_vec = Vectorizer(
                StoredNames(a["ev_vocab"]),
                a["ev_idf"].astype(np.float32, copy=False),
                int(detector["ngram_max"]),
                int(detector["suffix_max"]),
            )
            evidence = EvidenceModel(
                ev_vec,
                a["ev_w"].astype(np.float32, copy=False),
                float(detector["bias"]),
                float(detector["known_floor"]),
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
            tuple((a[f"cal{i}_x"], a[f"cal{i}_y"]) for i in range(int(meta.get("calibration_levels", 0)))),
            evidence,
        )
    except (KeyError, ValueError, TypeError, zipfile.BadZipFile, zlib.error) as exc:
        raise CrosswalkError(f"{npz}: model arrays unreadable ({exc}) — {_retrain_hint(js)}.", path=npz) from None


def _read_arrays(stored: bytes) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file's bytes, as ``np.load(..., allow_pickle=False)`` gives them (an object
    array is refused), the same dtypes, shapes and values but read-only.

    A deflated member is inflated at once into a buffer of its size and its array read in place, where
    ``np.load`` inflates it in chunks, copies each into the array and checks the zip's CRC (the caller has
    checked the file's sha256): the shipped model's 4 MB (14 MB inflated) in ~0.035-0.045 s instead of
    ~0.055-0.075 s, most of it zlib's inflating, in a fresh process.
    """
    out: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(io.BytesIO(stored)) as zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            if info.compress_type == zipfile.ZIP_DEFLATED and not info.flag_bits & 1:  # deflated, not encrypted
                at = info.header_offset
                if stored[at : at + 4] != b"PK\x03\x04":
                    raise zipfile.BadZipFile(f"{info.filename}: no local header at {at}")
                name, extra = struct.unpack_from("<HH", stored, at + 26)
                start = at + 30 + name + extra
                raw = zlib.decompress(memoryview(stored)[start : start + info.compress_size], -15, info.file_size)
            else:
                raw = zf.read(info)
            out[info.filename[: -len(".npy")]] = _npy(raw)
    return out


def _npy(raw: bytes) -> np.ndarray:
    """The array of an ``.npy`` file's bytes, read-only on them (formats 1.0 and 2.0; others as ``np.lib.format``
    reads them); an object array is refused (it needs pickle)."""
    f = io.BytesIO(raw)
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        return np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
    if dtype.hasobject:
        raise ValueError("Object arrays cannot be loaded when allow_pickle=False")
    array = np.frombuffer(raw, dtype=dtype, count=math.prod(shape), offset=f.tell())
    return array.reshape(shape[::-1]).transpose() if fortran else array.reshape(shape)


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
    return recorded.get("sha256") == data_sha256(data.sha256) and recorded.get("files") == dict(
        sorted(data.sha256.items())
    )


# --------------------------------------------------------------------------- rater


def model_rater(
    keys: Sequence[str],
    *,
    k: int = 5,
    model: JobModel | None = None,
    threshold: float = MODEL_THRESHOLD,
    evidence_threshold: float = EVIDENCE_THRESHOLD,
) -> RaterResult:
    """Rater ``model``: the deepest code whose calibrated probability reaches ``threshold``.

    For each key the model's nested chain (:meth:`JobModel.chain`: most probable
    major group, its most probable sub-major group, …, unit group) carries a
    calibrated probability per level that never increases going deeper.  Code =
    the deepest chain code at or above ``threshold`` (default
    :data:`MODEL_THRESHOLD`), so a name placed in major 8 but not in a unit group
    gets ``8`` or ``84``; empty when even the major group is below (or the key is
    empty).  **No evidence, no code**: a key whose evidence of naming an occupation
    (:meth:`JobModel.evidence_of`, see :data:`EVIDENCE_THRESHOLD`) is below
    ``evidence_threshold`` gets no code and no candidates, whatever its chain says
    (``asdf``, ``냉장고``, ``그냥 집에 있어요``).  Score = that code's calibrated
    probability (the major group's when no code is given).  Candidates = the top
    ``k`` unit groups with their (temperature-calibrated) probabilities.  Detail
    (JSON) = ``{"levels": [[code, p], ...] (major → unit group), "top": [[code, p],
    ...], "evidence": e}``.  Extra columns: ``final_ok`` = a code is given;
    ``evidence`` = the key's evidence (NaN for a model without a detector).

    Speed: the distinct keys are rated in batches of :data:`RATE_BATCH` on :data:`RATE_THREADS`
    threads, each key's features extracted once for the model, the detector and the known share;
    memory holds a few batch × classes arrays per thread and dense copies of the weight rows a batch's
    keys use (:data:`~coder.raters.model_core.USED_WEIGHTS_BYTES`), or from :data:`DENSE_MIN_KEYS` keys
    dense copies of all the weights (:data:`~coder.raters.model_core.DENSE_WEIGHTS_BYTES`).  The answers are the per-key code's,
    bit for bit, whatever the batch size or thread count (``tests/test_model_speed.py``).
    """
    if model is None:
        model = load_model()
    distinct = sorted({key for key in keys if key})
    answer: dict[str, tuple] = {}
    workers = min(RATE_THREADS, -(-len(distinct) // _MIN_BATCH))
    size = max(1, min(RATE_BATCH, -(-len(distinct) // max(workers, 1))))
    batches = [distinct[a : a + size] for a in range(0, len(distinct), size)]

    dense = len(distinct) >= DENSE_MIN_KEYS or "_dense_weights" in vars(model)  # made once, then kept

    def rate(batch: list[str]) -> list[tuple]:
        return _rate(model, batch, k, threshold, evidence_threshold, dense)

    if batches:  # built once, before any thread asks
        if dense:
            model._dense_weights  # noqa: B018  (made first: its copy releases the GIL)
        model._plan, _text(model)
    if workers > 1 and len(batches) > 1:  # the sparse products and array work run outside the GIL
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(rate, batches))
    else:
        results = [rate(b) for b in batches]
    for batch, result in zip(batches, results, strict=True):
        answer.update(zip(batch, result, strict=True))
    out = [answer.get(key, _NO_ANSWER) for key in keys]
    return RaterResult(
        "model",
        tuple(keys),
        tuple(a[0] for a in out),
        tuple(a[1] for a in out),
        tuple(a[2] for a in out),
        extra={"final_ok": tuple(bool(a[0]) for a in out), "evidence": tuple(a[4] for a in out)},
        candidates=tuple(a[3] for a in out),
    )


RATE_BATCH = 8192
"""Keys the model rates at once: memory holds a few batch × classes matrices per thread, whatever the number of keys."""
RATE_THREADS = min(2, os.cpu_count() or 1)
"""Batches rated at the same time (threads: numpy and scipy's sparse products release the GIL)."""
_MIN_BATCH = 1024  # fewer keys per thread are rated in one batch
DENSE_MIN_KEYS = 20_000
"""Distinct keys from which the model rates with dense copies of its weights
(:attr:`~coder.raters.model_core.JobModel._dense_weights`: the same numbers, a third of the time per key,
but 190 MB made once in ~0.1 s): fewer, such as NPK's 2,120 labels, are rated with dense copies of the weight
rows their batch uses (:data:`~coder.raters.model_core.USED_WEIGHTS_BYTES`)."""

_NO_ANSWER = ("", math.nan, "", (), math.nan)


def _rate(
    model: JobModel, keys: Sequence[str], k: int, threshold: float, evidence_threshold: float, dense: bool = True
) -> list[tuple]:
    """``(code, score, detail, candidates, evidence)`` per key: the features extracted once for the model,
    the detector and the known share; the chain, top ``k`` and the detail string built from arrays."""
    f = model._features(keys)
    P = softmax(model._scores(f.X, dense=dense) / model.temperature)
    picks, raw = model._chain(model.level_proba(keys, P))
    cal = apply_calibration(model.calibration, raw)
    cols, vals = model._top(P, k)
    evidence = model._evidence(f, keys)
    del P
    nan = np.isnan(evidence)
    none = ~nan & (evidence < evidence_threshold)
    ok = cal >= threshold
    deepest = cal.shape[1] - 1 - ok[:, ::-1].argmax(axis=1)
    lv = np.where(ok.any(axis=1) & ~none, deepest, -1)
    text = _text(model)
    code = np.full(len(keys), "", dtype=object)
    for j, names in enumerate(text.level_names):
        at = lv == j
        code[at] = names[picks[at, j]]
    cal_r, cal_s = _round4(cal)
    top_r, top_s = _round4(vals)
    ev_r, ev_s = _round4(evidence)
    score = np.take_along_axis(cal_r, np.maximum(lv, 0)[:, None], axis=1).ravel()
    # the detail, as json.dumps(..., ensure_ascii=False, separators=(",", ":")) spells it, column by column
    detail = np.full(len(keys), '{"levels":[', dtype=object)
    for j in range(cal.shape[1]):
        detail = detail + ("," if j else "") + text.level_json[j][picks[:, j]] + cal_s[:, j] + "]"
    detail = detail + '],"top":['
    for t in range(cols.shape[1]):
        detail = detail + ("," if t else "") + text.class_json[cols[:, t]] + top_s[:, t] + "]"
    detail = detail + "]" + np.where(nan, "}", ',"evidence":' + ev_s + "}")
    cands = [
        () if n else tuple(zip(c, r, strict=True))
        for n, c, r in zip(none.tolist(), text.class_names[cols].tolist(), top_r.tolist(), strict=True)
    ]
    return list(zip(code.tolist(), score.tolist(), detail.tolist(), cands, ev_r.tolist(), strict=True))


_DECIMALS = np.array([repr(i / 10000) for i in range(10001)], dtype=object)


def _round4(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``round(v, 4)`` of each value and its JSON spelling (``repr``; ``NaN``, ``Infinity``).

    Python's ``round`` gives the double nearest the decimal nearest ``v`` (ties to even on the exact
    binary value): for ``v`` in [0, 1] whose ``v * 10^4`` is not within 10^-6 of a half, that decimal
    is ``rint(v * 10^4) / 10^4`` (the product is exact to 2·10^-12), spelt from a table; the other
    values (near a half, negative, above 1, -0.0, infinite) go through ``round`` itself.
    """
    x = np.asarray(x, dtype=np.float64)
    y = x * 10000.0
    whole = np.rint(y)
    nan = np.isnan(x)
    fast = ((x > 0) & (x <= 1) & (np.abs(y - np.floor(y) - 0.5) > 1e-6)) | ((x == 0) & ~np.signbit(x))
    r = whole / 10000.0
    r[nan] = np.nan
    s = np.full(x.shape, "NaN", dtype=object)
    s[fast] = _DECIMALS[whole[fast].astype(np.int64)]
    for at in zip(*np.nonzero(~fast & ~nan), strict=True):
        v = round(float(x[at]), 4)
        r[at] = v
        s[at] = json.dumps(v)
    return r, s


class _Text:
    """A model's codes as plain strings and as the start of a JSON pair (``["8411",``)."""

    def __init__(self, model: JobModel) -> None:
        self.level_names = [np.array([str(c) for c in names], dtype=object) for names in model.level_classes]
        self.level_json = [
            np.array(["[" + json.dumps(str(c), ensure_ascii=False) + "," for c in names], dtype=object)
            for names in model.level_classes
        ]
        self.class_names = np.array(list(model.classes), dtype=object)
        self.class_json = np.array(["[" + json.dumps(c, ensure_ascii=False) + "," for c in model.classes], dtype=object)


_TEXTS: dict[int, tuple[JobModel, _Text]] = {}


def _text(model: JobModel) -> _Text:
    kept = _TEXTS.get(id(model))
    if kept is None or kept[0] is not model:
        if len(_TEXTS) >= 8:
            _TEXTS.clear()
        kept = (model, _Text(model))
        _TEXTS[id(model)] = kept
    return kept[1]
