"""The crosswalk: one row per distinct label, every rater side by side, one final code.

Columns, in order:

``label_key, label, n_rows, weight``
    the distinct-label table (:mod:`coder.labels`).
``status, status_rule, core_key``
    :mod:`coder.status`; ``core_key`` is what the raters coded (X of ``전직 X, 현재 구직중``).
``ksco_code, ksco_level, ksco_major, ksco_title, code_source, rule_id, needs_review, code_note``
    the final decision: the code, its level (0 = none), its major bucket (``1``–``9``,
    ``A`` military, ``0`` not in employment, ``""`` unknown), the rater that decided
    it (``status`` for not-in-employment and unknown labels), the rule that fired
    (mapper or status rule), whether a person should look at it, and why.
``<rater>_code, <rater>_score, <rater>_detail, <rater>_<extra>``
    every rater's own answer (see :mod:`coder.raters`).

**Precedence** (:data:`PRECEDENCE`): the first rater in this order with a valid
code decides — ``review`` (a person), ``consistency`` (a KSCO-7 decision rule),
``title`` (exact title), ``rule`` (curated mapper), ``index`` (exact
job-dictionary name), ``panel`` (LLM panel), then the weak raters ``model`` and
``fuzzy``, which decide only at or above their threshold (:data:`WEAK`) and are
marked so in ``code_note``.  When another strong rater agrees in lineage but is
more specific (a rule says ``8``, the job-dictionary index ``8411``), the deeper
code is taken and the note says which rater refined which.  A code not in the code list is never final; the
label is flagged for review and the note names the rater.

``needs_review`` is true when a label in employment has no code, the final code
came from a weak rater, the title lookup was ambiguous, the top rules conflict,
two strong raters disagree across lineages, or a rater gave an invalid code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..codes import BUCKET_MILITARY, BUCKET_NOT_EMPLOYED, CodeList, load_codes
from ..labels import LabelTable
from ..raters.base import RaterResult
from ..status import LabelStatus

__all__ = ["FINAL_COLUMNS", "PRECEDENCE", "STRONG", "WEAK", "build_crosswalk"]

PRECEDENCE: tuple[str, ...] = ("review", "consistency", "title", "rule", "index", "panel", "model", "fuzzy")
STRONG: frozenset[str] = frozenset({"review", "consistency", "title", "rule", "index"})
WEAK: Mapping[str, str] = {"model": "model", "fuzzy": "fuzzy"}
FINAL_COLUMNS = (
    "ksco_code",
    "ksco_level",
    "ksco_major",
    "ksco_title",
    "code_source",
    "rule_id",
    "needs_review",
    "code_note",
)


def _slot(rater: str) -> str:
    return "panel" if rater.startswith("panel_") else rater


def _order(results: Sequence[RaterResult]) -> list[RaterResult]:
    rank = {name: i for i, name in enumerate(PRECEDENCE)}
    unknown = [r.rater for r in results if _slot(r.rater) not in rank]
    if unknown:
        raise ValueError(f"raters {unknown} have no place in the precedence {PRECEDENCE}")
    return sorted(results, key=lambda r: (rank[_slot(r.rater)], r.rater))


def build_crosswalk(
    labels: LabelTable,
    statuses: Sequence[LabelStatus],
    results: Sequence[RaterResult],
    *,
    codes: CodeList | None = None,
    thresholds: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Combine the label table, statuses and rater results into the crosswalk.

    ``results`` are keyed by core key (each rater saw the distinct core keys);
    ``thresholds`` gives the minimum score of each weak rater (``model``,
    ``fuzzy``) for its code to become final.
    """
    codes = codes or load_codes()
    thresholds = dict(thresholds or {})
    ordered = _order(results)
    frame = labels.frame.copy()
    n = len(frame)
    if len(statuses) != n:
        raise ValueError(f"{len(statuses)} statuses for {n} labels")
    core = [s.core_key for s in statuses]
    lookups = [dict(zip(r.keys, range(len(r.keys)))) for r in ordered]
    pos = [np.array([lk.get(k, -1) for k in core]) for lk in lookups]

    out = {c: [] for c in FINAL_COLUMNS}
    status_col = []
    for i, st in enumerate(statuses):
        code, source, rule_id, notes, review = "", "", "", [], False
        if st.status in ("not_employed", "unknown") or (st.status == "job_seeker" and not st.core_key):
            source, rule_id = ("status", st.status_id) if st.status_id else ("", "")
            notes.append(
                {"not_employed": "not in employment", "unknown": "no usable label"}.get(
                    st.status, "job-seeker with no former occupation"
                )
            )
            final_status = st.status
            major = "" if st.status == "unknown" else BUCKET_NOT_EMPLOYED
        else:
            strong_codes: list[tuple[str, str]] = []
            confident_weak: list[tuple[str, str, float]] = []
            for r, p in zip(ordered, pos):
                j = p[i]
                if j < 0 or not r.codes[j]:
                    continue
                c, name, slot = r.codes[j], r.rater, _slot(r.rater)
                if c not in codes:
                    notes.append(f"{name} gave {c!r}, not in {codes.name} (ignored)")
                    review = True
                    continue
                if slot in STRONG:
                    strong_codes.append((name, c))
                elif slot in WEAK and r.scores[j] >= thresholds.get(slot, math.inf):
                    confident_weak.append((name, c, r.scores[j]))
                if code:
                    continue
                if slot in WEAK:
                    score = r.scores[j]
                    limit = thresholds.get(slot, math.inf)
                    if not (score >= limit):
                        continue
                    notes.append(f"weak rater {name}: score {score:.3f} >= {limit:.2f}")
                    review = True
                code, source = c, name
                if name == "rule":
                    rule_id = r.details[j]
            for r, p in zip(ordered, pos):
                j = p[i]
                if j < 0:
                    continue
                if r.rater == "title" and r.details[j].startswith("ambiguous"):
                    notes.append(f"title {r.details[j]}")
                    review = True
                if r.rater == "rule" and r.extra.get("conflict", (False,) * len(r.keys))[j]:
                    notes.append(f"rule conflict: {r.extra['hits'][j]}")
                    review = True
            if code and _slot(source) in STRONG:
                deeper = [(nm, c) for nm, c in strong_codes if c != code and code in codes.ancestors(c)]
                if deeper:
                    nm, c = max(deeper, key=lambda x: codes.level(x[1]))
                    notes.append(f"{nm}={c} refines {source}={code}")
                    code, source = c, nm
            if code:
                clash = [f"{nm}={c}" for nm, c in strong_codes if not codes.same_lineage(code, c)]
                if clash:
                    notes.append(f"disagrees with {', '.join(clash)}")
                    review = True
                for nm, c, score in confident_weak:
                    if nm != source and not codes.same_lineage(code, c):
                        notes.append(f"{nm}={c} ({score:.2f}) disagrees")
                level = codes.level(code)
                if source == "rule" and level < 3:
                    notes.append(f"vague label: coded at level {level} only")
                final_status = (
                    "job_seeker"
                    if st.status == "job_seeker"
                    else ("military" if code.startswith(BUCKET_MILITARY) else "employed")
                )
                major = codes.major(code)
            else:
                notes.append("no rater could code it")
                review = True
                final_status = "job_seeker" if st.status == "job_seeker" else "unknown"
                major = ""
        status_col.append(final_status)
        out["ksco_code"].append(code)
        out["ksco_level"].append(codes.level(code))
        out["ksco_major"].append(major)
        out["ksco_title"].append(codes.title(code))
        out["code_source"].append(source)
        out["rule_id"].append(rule_id)
        out["needs_review"].append(review)
        out["code_note"].append("; ".join(notes))

    frame["status"] = status_col
    frame["status_rule"] = [s.status_id for s in statuses]
    frame["core_key"] = core
    for c in FINAL_COLUMNS:
        frame[c] = out[c]
    frame["ksco_level"] = frame["ksco_level"].astype("int64")
    frame["needs_review"] = frame["needs_review"].astype(bool)
    for r, p in zip(ordered, pos):
        for name, values in r.as_columns().items():
            arr = np.asarray(values, dtype=object)
            col = np.where(p >= 0, arr[np.clip(p, 0, None)] if len(arr) else None, None)
            frame[name] = _clean(col, values)
    return frame


def _clean(col: np.ndarray, values: tuple) -> pd.Series:
    sample = next((v for v in values if v is not None), "")
    if isinstance(sample, bool | np.bool_):
        return pd.Series([bool(v) if v is not None else False for v in col], dtype=bool)
    if isinstance(sample, float | int) and not isinstance(sample, bool):
        return pd.Series([math.nan if v is None else float(v) for v in col], dtype=float)
    return pd.Series(["" if v is None else str(v) for v in col], dtype=object)
