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
    MODEL_THRESHOLD,
    PARAMS,
    SEED,
    THRESHOLD_TARGET_ACCURACY,
    TrainingData,
    fit_levels,
    fit_temperature,
    out_of_fold,
    softmax,
    split_groups,
    training_data,
)

__all__ = ["CURVE_THRESHOLDS", "ModelEvaluation", "evaluate_model"]

CURVE_THRESHOLDS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


@dataclass(frozen=True)
class ModelEvaluation:
    """Held-out metrics of the model (higher accuracy and coverage are better; lower log-loss and ECE are better).

    ``accuracy[level]`` is micro accuracy of the top code truncated to ``level``
    (1 = major … 4 = unit group); ``macro[level]`` averages it over the true major
    groups.  ``curve`` rows hold, for each probability threshold, the share of
    held-out names whose top probability reaches it (coverage) and the accuracy
    among them; ``cv_curve`` is the same from out-of-fold predictions on the
    training part (what a threshold would be chosen on).
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
    ece: float
    seconds: float

    def as_dict(self) -> dict:
        d = {f: getattr(self, f) for f in self.__dataclass_fields__}
        d["accuracy"] = {str(k): v for k, v in self.accuracy.items()}
        d["macro"] = {str(k): v for k, v in self.macro.items()}
        d["curve"], d["cv_curve"] = list(self.curve), list(self.cv_curve)
        return d

    def to_text(self) -> str:
        """The metrics table and the coverage/accuracy curve as plain text."""
        lines = [
            f"held-out: {self.n_test} names of {self.n_test_jobs} jobs ({self.n_test_unseen} not in the training index); "
            f"trained on {self.n_train} texts; seed {self.seed}; T={self.temperature:.3f}",
            "level   micro   macro(major groups)",
        ]
        for level in (1, 2, 3, 4):
            lines.append(f"{level}-digit {self.accuracy[level]:.3f}   {self.macro[level]:.3f}")
        lines.append(f"log-loss {self.log_loss:.3f}   ECE {self.ece:.3f}")
        lines.append("major    n   acc1   acc4")
        for m, row in self.per_major.items():
            lines.append(f"{m:>5} {int(row['n']):>4}  {row['acc1']:.3f}  {row['acc4']:.3f}")
        lines.append("threshold  coverage  acc4   acc1   (held-out) | cv coverage  cv acc4")
        for r, c in zip(self.curve, self.cv_curve, strict=True):
            lines.append(
                f"{r['threshold']:>9.2f}  {r['coverage']:>8.3f}  {r['acc4']:.3f}  {r['acc1']:.3f}"
                f"              | {c['coverage']:>11.3f}  {c['acc4']:.3f}"
            )
        at = self.at_threshold
        lines.append(
            f"at MODEL_THRESHOLD {self.threshold:.2f}: codes {at['coverage']:.3f} of held-out names, "
            f"4-digit accuracy {at['acc4']:.3f}, major accuracy {at['acc1']:.3f}"
        )
        lines.append(
            f"threshold rule (smallest cv threshold with 4-digit accuracy ≥ {THRESHOLD_TARGET_ACCURACY:.2f}): "
            f"{self.suggested_threshold:.2f}"
        )
        return "\n".join(lines)


def _curve(prob: np.ndarray, ok4: np.ndarray, ok1: np.ndarray, thresholds: Sequence[float]) -> list[dict]:
    rows = []
    for t in thresholds:
        m = prob >= t
        n = int(m.sum())
        rows.append(
            {
                "threshold": float(t),
                "n": n,
                "coverage": round(n / max(len(prob), 1), 4),
                "acc4": round(float(ok4[m].mean()) if n else math.nan, 4),
                "acc1": round(float(ok1[m].mean()) if n else math.nan, 4),
            }
        )
    return rows


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

    The temperature is fitted on out-of-fold predictions of the training part only.
    """
    t0 = time.perf_counter()
    params = {**PARAMS, **(params or {})}
    data = data or training_data()
    is_dict = np.array([s == "jobdict" for s in data.sources])
    test = is_dict & split_groups(data.groups, seed=seed, share=float(params["test_share"]))
    train = data.subset(~test)
    folds = out_of_fold(train, params, seed)
    temperature = fit_temperature([(S, t) for _, S, t in folds])
    cv_prob = np.concatenate([softmax(S / temperature).max(axis=1) for _, S, _ in folds])
    cv_ok4 = np.concatenate([S.argmax(axis=1) == t for _, S, t in folds])
    cv_ok1 = np.concatenate(
        [
            np.array([m.classes[i][0] for i in S.argmax(axis=1)])
            == np.array([m.classes[j][0] if j >= 0 else "" for j in t])
            for m, S, t in folds
        ]
    )
    cv_rows = _curve(cv_prob, cv_ok4, cv_ok1, CURVE_THRESHOLDS)
    model = fit_levels(train, params, seed)
    keys = [data.keys[i] for i in np.flatnonzero(test)]
    truth = np.array([data.codes[i] for i in np.flatnonzero(test)])
    P = softmax(model.scores(keys) / temperature)
    top = np.array(model.classes)[P.argmax(axis=1)]
    prob = P.max(axis=1)
    ok = {level: np.array([a[:level] == b[:level] for a, b in zip(top, truth, strict=True)]) for level in (1, 2, 3, 4)}
    majors = np.array([c[0] for c in truth])
    groups = sorted(set(majors))
    pos = {c: i for i, c in enumerate(model.classes)}
    p_true = np.array([P[i, pos[c]] if c in pos else 0.0 for i, c in enumerate(truth)])
    at = _curve(prob, ok[4], ok[1], [threshold])[0]
    train_keys = set(train.keys)
    return ModelEvaluation(
        seed=seed,
        n_train=len(train),
        n_test=len(keys),
        n_test_jobs=len({data.groups[i] for i in np.flatnonzero(test)}),
        n_test_unseen=sum(k not in train_keys for k in keys),
        accuracy={lv: round(float(ok[lv].mean()), 4) for lv in ok},
        macro={lv: round(float(np.mean([ok[lv][majors == g].mean() for g in groups])), 4) for lv in ok},
        per_major={
            g: {
                "n": int((majors == g).sum()),
                "acc1": round(float(ok[1][majors == g].mean()), 4),
                "acc4": round(float(ok[4][majors == g].mean()), 4),
            }
            for g in groups
        },
        curve=tuple(_curve(prob, ok[4], ok[1], CURVE_THRESHOLDS)),
        cv_curve=tuple(cv_rows),
        threshold=threshold,
        suggested_threshold=next(
            (r["threshold"] for r in cv_rows if r["n"] and r["acc4"] >= THRESHOLD_TARGET_ACCURACY), 1.0
        ),
        at_threshold={"coverage": at["coverage"], "acc4": at["acc4"], "acc1": at["acc1"], "n": at["n"]},
        temperature=round(temperature, 4),
        log_loss=round(float(-np.mean(np.log(np.clip(p_true, 1e-12, 1.0)))), 4),
        ece=round(_ece(prob, ok[4]), 4),
        seconds=round(time.perf_counter() - t0, 2),
    )
