"""Held-out evaluation of the learned rater (``coder model evaluate``); re-exported by :mod:`coder.raters.model`.

Jobs, not names, are held out: a job and all its similar names fall on one side of
the split (:func:`coder.raters.model_fit.split_groups`, 20 % of jobs); titles and their parts
always train.  The temperature and the threshold rule only ever see out-of-fold
predictions of the training part.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .model_fit import (
    MODEL_DEPTH_THRESHOLD,
    MODEL_THRESHOLD,
    PARAMS,
    SEED,
    THRESHOLD_TARGET_PRECISION,
    TrainingData,
    apply_calibration,
    chain_outcomes,
    fit_level_calibration,
    fit_levels,
    fit_temperature,
    out_of_fold,
    softmax,
    split_groups,
    training_data,
)

__all__ = ["CURVE_THRESHOLDS", "ModelEvaluation", "evaluate_model", "suggest_threshold"]

CURVE_THRESHOLDS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
LEVELS = (1, 2, 3, 4)


@dataclass(frozen=True)
class ModelEvaluation:
    """Held-out metrics of the model (higher accuracy, coverage, precision are better; lower log-loss and ECE are better).

    ``accuracy[level]`` is micro accuracy of the chain code at ``level`` (1 = major
    … 4 = unit group); ``macro[level]`` averages it over the true major groups.
    ``ece[level]`` is the expected calibration error (10 equal bins) of the
    calibrated chain probability at that level, ``ece_raw`` the same before the
    per-level calibration maps.  ``curve`` rows hold, for each threshold, the share of
    held-out names that get a code (coverage: the major group at/above the threshold;
    the code given is the deepest chain code that also reaches
    :data:`~coder.raters.model_fit.MODEL_DEPTH_THRESHOLD` below the major group, as
    the decision gives it), the share of those codes that are right at their own level
    (precision), and the mean level of the codes given; ``cv_curve`` is the same
    from out-of-fold predictions of the training part (what the threshold is
    chosen on).
    """

    seed: int
    n_train: int
    n_test: int
    n_test_jobs: int
    n_test_unseen: int
    accuracy: Mapping[int, float]
    macro: Mapping[int, float]
    per_major: Mapping[str, Mapping[str, float]]
    curve: tuple[Mapping[str, float], ...]
    cv_curve: tuple[Mapping[str, float], ...]
    threshold: float
    suggested_threshold: float
    at_threshold: Mapping[str, float]
    temperature: float
    log_loss: float
    ece: Mapping[int, float]
    ece_raw: Mapping[int, float]
    seconds: float

    def as_dict(self) -> dict:
        d = {f: getattr(self, f) for f in self.__dataclass_fields__}
        for f in ("accuracy", "macro", "ece", "ece_raw"):
            d[f] = {str(k): v for k, v in getattr(self, f).items()}
        d["curve"], d["cv_curve"] = list(self.curve), list(self.cv_curve)
        return d

    def to_text(self) -> str:
        """The metrics table and the coverage/precision table as plain text."""
        lines = [
            f"held-out: {self.n_test} names of {self.n_test_jobs} jobs ({self.n_test_unseen} not in the training index); "
            f"trained on {self.n_train} texts; seed {self.seed}; T={self.temperature:.3f}",
            "level   micro   macro(major groups)   ECE   (before calibration)",
        ]
        for lv in LEVELS:
            lines.append(
                f"{lv}-digit {self.accuracy[lv]:.3f}   {self.macro[lv]:.3f}                 "
                f"{self.ece[lv]:.3f} ({self.ece_raw[lv]:.3f})"
            )
        lines.append(f"log-loss (unit groups) {self.log_loss:.3f}")
        lines.append("major    n   acc1   acc4")
        for m, row in self.per_major.items():
            lines.append(f"{m:>5} {int(row['n']):>4}  {row['acc1']:.3f}  {row['acc4']:.3f}")
        lines.append("threshold  coverage  precision  mean level (held-out) | cv coverage  cv precision  cv level")
        for r, c in zip(self.curve, self.cv_curve, strict=True):
            lines.append(
                f"{r['threshold']:>9.2f}  {r['coverage']:>8.3f}  {r['precision']:>9.3f}  {r['mean_level']:>10.2f}"
                f"            | {c['coverage']:>11.3f}  {c['precision']:>12.3f}  {c['mean_level']:>8.2f}"
            )
        at = self.at_threshold
        lines.append(
            f"at MODEL_THRESHOLD {self.threshold:.2f}: codes {at['coverage']:.3f} of held-out names, "
            f"precision {at['precision']:.3f}, mean level {at['mean_level']:.2f}"
        )
        lines.append(
            f"threshold rule (smallest cv threshold with precision ≥ {THRESHOLD_TARGET_PRECISION:.2f} "
            f"there and at every larger threshold): {self.suggested_threshold:.2f}"
        )
        return "\n".join(lines)


def _curve(
    cal: np.ndarray, ok: np.ndarray, thresholds: Sequence[float], depth_threshold: float = MODEL_DEPTH_THRESHOLD
) -> list[dict]:
    """Coverage, precision and mean level of the code the model gives at each threshold: the major group at
    the threshold, the deepest chain code below it that also reaches ``depth_threshold``
    (:data:`~coder.raters.model_fit.MODEL_DEPTH_THRESHOLD`, as the decision does)."""
    rows = []
    n_all = max(len(cal), 1)
    for t in thresholds:
        need = np.r_[t, np.full(cal.shape[1] - 1, max(t, depth_threshold))]
        depth = (cal >= need).sum(axis=1)  # calibrated chain is non-increasing: depth = deepest level coded
        coded = depth > 0
        n = int(coded.sum())
        right = ok[np.flatnonzero(coded), depth[coded] - 1] if n else np.array([])
        rows.append(
            {
                "threshold": float(t),
                "n": n,
                "coverage": round(n / n_all, 4),
                "precision": round(float(right.mean()), 4) if n else math.nan,
                "mean_level": round(float(depth[coded].mean()), 3) if n else math.nan,
            }
        )
    return rows


def suggest_threshold(cv_rows: Sequence[Mapping[str, float]], target: float = THRESHOLD_TARGET_PRECISION) -> float:
    """Smallest curve threshold whose out-of-fold precision reaches ``target`` there and at every larger threshold."""
    best = 1.0
    for r in sorted(cv_rows, key=lambda r: -r["threshold"]):
        if r["n"] and r["precision"] >= target:
            best = r["threshold"]
        elif r["n"]:
            break
    return best


def _ece(prob: np.ndarray, ok: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(prob, edges) - 1, 0, bins - 1)
    return float(
        sum(
            abs(prob[which == b].mean() - ok[which == b].mean()) * (which == b).mean()
            for b in range(bins)
            if (which == b).any()
        )
    )


def evaluate_model(
    *,
    seed: int = SEED,
    params: Mapping | None = None,
    data: TrainingData | None = None,
    threshold: float = MODEL_THRESHOLD,
) -> ModelEvaluation:
    """Hold out a share of the dictionary's *jobs* (all their names), train on the rest plus titles, and score.

    The temperature, the per-level calibration maps and the threshold rule see only
    out-of-fold predictions of the training part.
    """
    t0 = time.perf_counter()
    params = {**PARAMS, **(params or {})}
    data = data or training_data()
    is_dict = np.array([s == "jobdict" for s in data.sources])
    test = is_dict & split_groups(data.groups, seed=seed, share=float(params["test_share"]))
    train = data.subset(~test)
    folds = out_of_fold(train, params, seed)
    temperature = fit_temperature([(S, t) for _, S, t, _ in folds])
    calibration = fit_level_calibration(folds, temperature, params)
    cv_cal, cv_ok = [], []
    for m, S, _, truth in folds:
        _, raw, ok_f = chain_outcomes(m, softmax(S / temperature), truth)
        cv_cal.append(apply_calibration(calibration, raw)), cv_ok.append(ok_f)
    cv_rows = _curve(np.vstack(cv_cal), np.vstack(cv_ok), CURVE_THRESHOLDS)
    model = fit_levels(train, params, seed)
    keys = [data.keys[i] for i in np.flatnonzero(test)]
    truth = [data.codes[i] for i in np.flatnonzero(test)]
    P = softmax(model.scores(keys) / temperature)
    _, raw, okm = chain_outcomes(model, P, truth)
    cal = apply_calibration(calibration, raw)
    ok = {lv: okm[:, lv - 1] for lv in LEVELS}
    majors = np.array([c[0] for c in truth])
    groups = sorted(set(majors))
    pos = {c: i for i, c in enumerate(model.classes)}
    p_true = np.array([P[i, pos[c]] if c in pos else 0.0 for i, c in enumerate(truth)])
    at = _curve(cal, okm, [threshold])[0]
    train_keys = set(train.keys)
    return ModelEvaluation(
        seed=seed,
        n_train=len(train),
        n_test=len(keys),
        n_test_jobs=len({data.groups[i] for i in np.flatnonzero(test)}),
        n_test_unseen=sum(k not in train_keys for k in keys),
        accuracy={lv: round(float(ok[lv].mean()), 4) for lv in LEVELS},
        macro={lv: round(float(np.mean([ok[lv][majors == g].mean() for g in groups])), 4) for lv in LEVELS},
        per_major={
            g: {
                "n": int((majors == g).sum()),
                "acc1": round(float(ok[1][majors == g].mean()), 4),
                "acc4": round(float(ok[4][majors == g].mean()), 4),
            }
            for g in groups
        },
        curve=tuple(_curve(cal, okm, CURVE_THRESHOLDS)),
        cv_curve=tuple(cv_rows),
        threshold=threshold,
        suggested_threshold=suggest_threshold(cv_rows),
        at_threshold={k: at[k] for k in ("coverage", "precision", "mean_level", "n")},
        temperature=round(temperature, 4),
        log_loss=round(float(-np.mean(np.log(np.clip(p_true, 1e-12, 1.0)))), 4),
        ece={lv: round(_ece(cal[:, lv - 1], ok[lv]), 4) for lv in LEVELS},
        ece_raw={lv: round(_ece(raw[:, lv - 1], ok[lv]), 4) for lv in LEVELS},
        seconds=round(time.perf_counter() - t0, 2),
    )
