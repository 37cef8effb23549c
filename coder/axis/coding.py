"""How uncertain is each label's major bucket? The coding distributions behind ``rho_ci_coding``.

:func:`coding_probabilities` reads a decided crosswalk and gives every label a probability for
each major bucket ``1``–``9``, ``A``, ``0`` and, last, *out* (no code), according to the rater
that decided it (``code_source``):

- **review** (a person decided): certain;
- **model**: the model's calibrated probability of its major (the first level of its stored
  chain, :func:`coder.crosswalk.decide._model_levels`); the rest of the mass is spread over the
  other majors in proportion to the model's top unit groups (summed per major), or uniformly over
  the other eight majors when the top list has none;
- **panel**: the share of the valid votes of the panel members (``panel_<id>_code``) for each
  major (a vote without a code, or for ``0``, is a vote for leaving the frame);
- **title, rule, index, consistency, fuzzy**: the rater's precision at the major level —
  a per-rule precision when ``rule_precision`` has the label's rule id, else the documented
  default of :data:`RATER_PRECISION` — with the remaining mass spread as for the model
  (its top unit groups when the label has a model answer, else uniformly).

Labels with no code, or whose status decided them (not employed, military, employed with no
occupation stated), are certain: their frame membership is a status decision, not a code.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..raters.base import slot_of
from .frame import AuditFrame, build_frame
from .references import KSCO_MAJORS

__all__ = ["CODING_BUCKETS", "FRAME_EXCLUDE", "RATER_PRECISION", "coding_note", "coding_probabilities", "label_frame"]

FRAME_EXCLUDE = ("0", "A", "employed_unstated", "unknown")
"""Buckets out of the comparison by default (the reasons are :data:`coder.axis.frame.EXCLUSION_REASONS`)."""

CODING_BUCKETS = (*KSCO_MAJORS, "A", "0")
"""The buckets of a coding distribution (its last column, beyond these, is *out*: no code)."""

RATER_PRECISION: dict[str, tuple[float, str]] = {
    "title": (
        0.99,
        "exact KSCO-7 title: the label names the code; 1 % covers titles that recur under another major and "
        "loose use (a judgement, to be replaced by the residual-error audit of `coder review export --audit`)",
    ),
    "consistency": (0.98, "consistency rules are written by people and cite titles (judgement)"),
    "rule": (
        0.938,
        "rules/MAPPER.md: winning rule codes in the true code's lineage on 5,280 job-dictionary names, 1978/2109",
    ),
    "index": (0.95, "job-dictionary name match (judgement: names shared across jobs of different majors)"),
    "fuzzy": (0.80, "fuzzy top code at or above its threshold (judgement: a near spelling, not the name)"),
    "panel": (0.90, "panel with no readable votes (judgement); with votes the vote shares are used"),
    "model": (0.75, "model with no readable chain: its default threshold; with a chain its calibrated probability"),
}
"""Default precision at the major level of each rater, with where the number comes from."""


def coding_probabilities(
    crosswalk: pd.DataFrame,
    *,
    rule_precision: Mapping[str, float] | None = None,
    precision: Mapping[str, float] | None = None,
) -> tuple[np.ndarray, dict[str, object]]:
    """Per label (row of the decided ``crosswalk``) its bucket distribution ``(L, len(CODING_BUCKETS) + 1)``.

    ``precision`` overrides entries of :data:`RATER_PRECISION`; ``rule_precision`` gives a
    precision per rule id. Returns the probabilities and a record of what was used (for the JSON).
    """
    prec = {k: v[0] for k, v in RATER_PRECISION.items()} | dict(precision or {})
    rule_prec = dict(rule_precision or {})
    n = len(crosswalk)
    k = len(CODING_BUCKETS)
    out_col = k
    pos = {b: i for i, b in enumerate(CODING_BUCKETS)}
    probs = np.zeros((n, k + 1))
    majors = _col(crosswalk, "ksco_major")
    sources = _col(crosswalk, "code_source")
    rule_ids = _col(crosswalk, "rule_id")
    details = _col(crosswalk, "model_detail")
    members = [c[: -len("_code")] for c in crosswalk.columns if c.startswith("panel_") and c.endswith("_code")]
    votes = {m: (_col(crosswalk, f"{m}_code"), _col(crosswalk, f"{m}_valid", "True")) for m in members}
    used: dict[str, int] = {}
    for i in range(n):
        major = majors[i]
        slot = slot_of(sources[i]) if sources[i] else ""
        j = pos.get(major, out_col) if major else out_col
        if not major or major not in KSCO_MAJORS or slot in ("review", "status", ""):
            probs[i, j] = 1.0
            used["certain"] = used.get("certain", 0) + 1
            continue
        first, alt = _model_majors(details[i])
        if slot == "panel" and members:
            shares = np.zeros(k + 1)
            for codes, valid in votes.values():
                if str(valid[i]).strip().lower() in ("false", "0"):
                    continue
                v = codes[i][:1]
                shares[pos.get(v, out_col) if v and v != "0" else out_col] += 1
            if shares.sum() > 0 and shares[j] > 0:
                probs[i] = shares / shares.sum()
                used["panel votes"] = used.get("panel votes", 0) + 1
                continue
        if slot == "model" and first is not None and first[0] == major:
            p = first[1]
            used["model probability"] = used.get("model probability", 0) + 1
        elif slot == "rule" and rule_ids[i] in rule_prec:
            p = float(rule_prec[rule_ids[i]])
            used["rule precision"] = used.get("rule precision", 0) + 1
        else:
            p = float(prec.get(slot, prec["fuzzy"]))
            used[f"{slot} default"] = used.get(f"{slot} default", 0) + 1
        probs[i, j] = p
        rest = np.zeros(k + 1)
        for code, q in alt:
            if code != major and code in pos:
                rest[pos[code]] += q
        if rest.sum() <= 0:
            for b in KSCO_MAJORS:
                if b != major:
                    rest[pos[b]] = 1.0
        probs[i] += (1.0 - p) * rest / rest.sum()
    record = {
        "precision": {s: {"precision": prec[s], "source": RATER_PRECISION[s][1]} for s in RATER_PRECISION},
        "rule_precision": rule_prec,
        "labels_by_distribution": dict(sorted(used.items())),
    }
    return probs, record


def _col(frame: pd.DataFrame, name: str, default: str = "") -> list[str]:
    if name not in frame.columns:
        return [default] * len(frame)
    values = frame[name]
    return values.astype(object).where(values.notna(), default).map(str).tolist()


def _model_majors(detail: str) -> tuple[tuple[str, float] | None, list[tuple[str, float]]]:
    """The model's major with its calibrated probability, and every major's summed top unit-group probability."""
    if not detail.startswith("{"):
        return None, []
    try:
        info = json.loads(detail)
        levels = info.get("levels", [])
        top = info.get("top", [])
        first = (str(levels[0][0])[:1], float(levels[0][1])) if levels else None
        per: dict[str, float] = {}
        for code, p in top:
            per[str(code)[:1]] = per.get(str(code)[:1], 0.0) + float(p)
    except (ValueError, TypeError, AttributeError, IndexError):
        return None, []
    return first, sorted(per.items(), key=lambda kv: (-kv[1], kv[0]))


def label_frame(
    decided: pd.DataFrame,
    label_keys: Sequence[str],
    counts: np.ndarray,
    *,
    respondents: np.ndarray | None = None,
    weights_sq: np.ndarray | None = None,
    weighted: bool = False,
    exclude: Iterable[str] = FRAME_EXCLUDE,
    coding: bool = True,
    rule_precision: Mapping[str, float] | None = None,
    notes: Sequence[str] = (),
) -> AuditFrame:
    """The audit frame of a label × sex table (``counts``: persons per label and sex) coded by ``decided``.

    Each label's bucket is the decided crosswalk's major (no code: ``employed_unstated`` when its
    status says so, else ``unknown``); with ``coding`` each label gets its coding distribution
    (:func:`coding_probabilities`). ``respondents`` / ``weights_sq``: input rows and squared
    weights per label × sex for weighted rows (``weighted=True``); omitted, every count is a respondent.
    """
    keys = [str(k) for k in label_keys]
    pos = {k: i for i, k in enumerate(decided["label_key"].astype(str))}
    rows = np.array([pos.get(k, -1) for k in keys], dtype=np.int64)
    majors, statuses = _col(decided, "ksco_major"), _col(decided, "status")
    buckets = []
    for r in rows:
        if r < 0:
            buckets.append("unknown")
        else:
            m = majors[r]
            buckets.append(m if m else ("employed_unstated" if statuses[r] == "employed_unstated" else "unknown"))
    notes = list(notes)
    missing = int((rows < 0).sum())
    if missing:
        notes.append(f"{missing} label(s) of the rows are missing from the crosswalk: counted as unknown (no code)")
    probs = None
    note = ""
    if coding:
        all_probs, record = coding_probabilities(decided, rule_precision=rule_precision)
        probs = np.zeros((len(keys), len(CODING_BUCKETS) + 1))
        probs[rows >= 0] = all_probs[rows[rows >= 0]]
        probs[rows < 0, -1] = 1.0
        note = coding_note(record)
    counts = np.asarray(counts, dtype=float)
    return build_frame(
        keys,
        buckets,
        counts if respondents is None else respondents,
        weights=counts if weighted else None,
        weights_sq=weights_sq if weighted else None,
        exclude=exclude,
        unit_kind="label",
        coding=probs,
        coding_buckets=CODING_BUCKETS,
        coding_note=note,
        notes=notes,
    )


def coding_note(record: Mapping[str, object]) -> str:
    """One sentence: how the labels' coding distributions were made (from :func:`coding_probabilities`'s record)."""
    used = record.get("labels_by_distribution", {})
    parts = ", ".join(f"{k} {v:,}" for k, v in used.items())  # type: ignore[union-attr]
    prec = record.get("precision", {})
    defaults = ", ".join(f"{k} {v['precision']:g}" for k, v in prec.items())  # type: ignore[union-attr]
    return (
        f"coding uncertainty per label (labels by distribution: {parts}); default precision at the major level: "
        f"{defaults} (coder.axis.coding.RATER_PRECISION says where each comes from)"
    )
