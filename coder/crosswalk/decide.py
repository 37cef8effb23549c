"""Decide: the final code of every label, a pure function of the stored rater columns.

``decide(crosswalk, policy)`` reads the columns :func:`~coder.crosswalk.assemble.assemble_crosswalk`
wrote (or :func:`~coder.crosswalk.store.read_crosswalk` read back), the code list and a
:class:`DecisionPolicy`, and returns the crosswalk with these columns (re)computed:

``status, ksco_code, ksco_level, ksco_major, ksco_title, code_source, rule_id, needs_review, review_reasons, code_note``
    the final status and code, its level (0 = none), its major bucket (``1``–``9``, ``A``
    military, ``0`` not in employment, ``""`` unknown), the rater and rule that decided it,
    whether a person should look at it, the machine-readable reasons (``no_code``, ``weak``,
    ``ambiguous``, ``conflict``, ``disagree``, ``invalid``, ``panel_split``, ``panel_not_employed``)
    and why, in words.
``panel_votes, panel_valid, panel_agreement``  (when ``panel_<id>`` members are present)
    every member's vote, how many were valid KSCO-7 codes, and the share of valid votes that
    back the panel code.

**Precedence.** The first slot in ``policy.precedence`` with a valid answer decides; strong
slots (``review``, ``consistency``, ``title``, ``rule``, ``index``, ``panel``) always, weak
slots (``model``, ``fuzzy``) only at or above their threshold, and then the label is marked
for review.  **Panel**: members ``panel_<id>`` vote first; the panel's code is the code,
truncated to the deepest level where a majority agrees, that more than half of the valid
votes share; no majority → no panel code and ``panel_split``; a majority for ``0`` (not in
employment) decides nothing and sends the label to review (``panel_not_employed``).  **Refinement**: when a strong
rater or a confident model agrees in lineage and is deeper, the deeper code is taken and the
note says who refined whom (rule ``8`` + index ``8411`` → ``8411``).  A code not in the code
list is never final.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ..codes import BUCKET_MILITARY, BUCKET_NOT_EMPLOYED, CodeList, load_codes
from ..raters.base import REGISTRY, decode_candidates, slot_of
from .assemble import LABEL_COLUMNS, STATUS_COLUMNS, order_raters

__all__ = [
    "FINAL_COLUMNS",
    "PANEL_COLUMNS",
    "PRECEDENCE",
    "STRONG",
    "DecisionPolicy",
    "decide",
    "panel_vote",
    "rater_names",
]

PRECEDENCE: tuple[str, ...] = tuple(s.slot for s in REGISTRY)
STRONG: frozenset[str] = frozenset(s.slot for s in REGISTRY if s.strong)
FINAL_COLUMNS = (
    "status",
    "ksco_code",
    "ksco_level",
    "ksco_major",
    "ksco_title",
    "code_source",
    "rule_id",
    "needs_review",
    "review_reasons",
    "code_note",
)
PANEL_COLUMNS = ("panel_votes", "panel_valid", "panel_agreement")
_NO_CODE_STATUSES = {
    "not_employed": "not in employment",
    "unknown": "no usable label",
    "employed_unstated": "employed, occupation not stated",
}


@dataclass(frozen=True)
class DecisionPolicy:
    """How to decide: precedence of slots, which are strong, weak thresholds, refinement, exclusions.

    ``corroborate_threshold``: when nothing else decides, the model's deepest code with at least
    this probability is taken if the fuzzy shortlist's top candidate shares its lineage (two
    independent weak raters agree); ``1.0`` or more turns this off.

    ``exclude_raters`` leaves raters (by name, or a whole slot such as ``panel``) out;
    ``exclude_rules`` ignores answers whose ``rule_id`` is listed (leave-one-rule-out).
    """

    precedence: tuple[str, ...] = PRECEDENCE
    strong: frozenset[str] = STRONG
    model_threshold: float = 0.75  # = coder.raters.model.MODEL_THRESHOLD (checked by tests)
    fuzzy_threshold: float = 0.95
    refine: bool = True
    corroborate_threshold: float = 0.6
    exclude_raters: frozenset[str] = frozenset()
    exclude_rules: frozenset[str] = frozenset()
    thresholds: Mapping[str, float] = field(default_factory=dict)

    def threshold(self, slot: str) -> float:
        if slot in self.thresholds:
            return float(self.thresholds[slot])
        return {"model": self.model_threshold, "fuzzy": self.fuzzy_threshold}.get(slot, math.inf)

    def with_(self, **changes: object) -> DecisionPolicy:
        return replace(self, **changes)

    def as_dict(self) -> dict[str, object]:
        return {
            "precedence": list(self.precedence),
            "strong": sorted(self.strong),
            "model_threshold": self.model_threshold,
            "fuzzy_threshold": self.fuzzy_threshold,
            "refine": self.refine,
            "corroborate_threshold": self.corroborate_threshold,
            "exclude_raters": sorted(self.exclude_raters),
            "exclude_rules": sorted(self.exclude_rules),
        }


def rater_names(crosswalk: pd.DataFrame) -> list[str]:
    """Every rater stored in a crosswalk (columns ``<name>_code``), in column order."""
    return [
        c[: -len("_code")] for c in crosswalk.columns if c.endswith("_code") and c not in ("ksco_code", "panel_code")
    ]


def panel_vote(votes: Sequence[tuple[str, str]], codes: CodeList) -> tuple[str, int, float, list[str]]:
    """Combine ``(member, code)`` votes: ``(code, n_valid, agreement, invalid members)``.

    Empty codes abstain. A valid vote is a code of the list or ``0`` (not in employment, a
    major-level answer, as the answer parser counts it). The code is the deepest truncation that
    more than half of the valid votes share ('' when there is none); agreement = share of valid
    votes backing it.
    """
    valid = [c for _, c in votes if c and (c in codes or c == BUCKET_NOT_EMPLOYED)]
    invalid = [m for m, c in votes if c and c not in codes and c != BUCKET_NOT_EMPLOYED]
    n = len(valid)
    if not n:
        return "", 0, math.nan, invalid

    def depth(c: str) -> int:
        return 1 if c == BUCKET_NOT_EMPLOYED else codes.level(c)

    def cut(c: str, level: int) -> str:
        return c if c == BUCKET_NOT_EMPLOYED else codes.truncate(c, level)

    for level in (5, 4, 3, 2, 1):
        counts = Counter(cut(c, level) for c in valid if depth(c) >= level)
        if not counts:
            continue
        best, k = max(sorted(counts.items()), key=lambda kv: kv[1])
        if k * 2 > n:
            return best, n, k / n, invalid
    return "", n, 0.0, invalid


def decide(
    crosswalk: pd.DataFrame, policy: DecisionPolicy | None = None, *, codes: CodeList | None = None
) -> pd.DataFrame:
    """Return the crosswalk with its final columns computed from the stored rater columns.

    Pure: the same stored columns, code list and policy give the same result.
    """
    if policy is None:
        policy = DecisionPolicy()
    if codes is None:
        codes = load_codes()
    missing = [c for c in (*LABEL_COLUMNS, *STATUS_COLUMNS) if c not in crosswalk.columns]
    if missing:
        raise ValueError(f"not a crosswalk: column(s) {', '.join(missing)} missing")
    names = [
        n for n in rater_names(crosswalk) if n not in policy.exclude_raters and slot_of(n) not in policy.exclude_raters
    ]
    names = order_raters([n for n in names if slot_of(n) in policy.precedence], policy.precedence)
    members = [n for n in names if slot_of(n) == "panel"]
    singles = [n for n in names if slot_of(n) != "panel"]
    rank = {s: i for i, s in enumerate(policy.precedence)}
    thresholds = {s: policy.threshold(s) for s in policy.precedence}

    def col(name: str, field_: str, default: object) -> list:
        c = f"{name}_{field_}"
        return crosswalk[c].tolist() if c in crosswalk.columns else [default] * len(crosswalk)

    data = {
        n: (
            [str(v or "") for v in col(n, "code", "")],
            [float(v) if v not in ("", None) else math.nan for v in col(n, "score", math.nan)],
            [str(v or "") for v in col(n, "rule_id", "")],
            [str(v or "") for v in col(n, "flags", "")],
            [str(v or "") for v in col(n, "detail", "")],
        )
        for n in names
    }
    levels: list[list[tuple[str, float]]] = []
    if "model" in data:
        levels = [_model_levels(d) for d in data["model"][4]]
        m_codes, m_scores = data["model"][0], data["model"][1]
        t = policy.threshold("model")
        for i, chain in enumerate(levels):
            if chain:  # the model's answer at this policy's threshold (rate once, decide many times)
                ok = [(c, s) for c, s in chain if s >= t]
                m_codes[i], m_scores[i] = ok[-1] if ok else ("", chain[0][1])
    fuzzy_top = (
        [next(iter(decode_candidates(v)), ("", math.nan))[0] for v in col("fuzzy", "candidates", "")]
        if "fuzzy" in data and levels and policy.corroborate_threshold < 1
        else []
    )
    rows = {n: list(zip(*v, strict=True)) for n, v in data.items()}
    slots = {n: slot_of(n) for n in names}
    slots["panel"] = "panel"
    rule_hits = col("rule", "hits", "")
    rule_conflict = [_truthy(v) for v in col("rule", "conflict", False)]
    exclude_rules = policy.exclude_rules
    code_set = codes.codes
    statuses = crosswalk["status_parsed"].astype(str).tolist()
    status_rules = crosswalk["status_rule"].astype(str).tolist()
    cores = crosswalk["core_key"].astype(str).tolist()
    out: dict[str, list] = {c: [] for c in FINAL_COLUMNS}
    panel_out: dict[str, list] = {c: [] for c in PANEL_COLUMNS}

    for i in range(len(crosswalk)):
        st, core = statuses[i], cores[i]
        notes: list[str] = []
        reasons: list[str] = []
        if members:
            votes = [(m[len("panel_") :], data[m][0][i]) for m in members]
            p_code, p_valid, p_agree, p_invalid = panel_vote(votes, codes)
            panel_out["panel_votes"].append(" ".join(f"{m}={c}" for m, c in votes if c))
            panel_out["panel_valid"].append(p_valid)
            panel_out["panel_agreement"].append(p_agree)
        code, source, rule_id = "", "", ""
        if st in _NO_CODE_STATUSES or (st == "job_seeker" and not core):
            source, rule_id = ("status", status_rules[i]) if status_rules[i] else ("", "")
            notes.append(_NO_CODE_STATUSES.get(st, "job-seeker with no former occupation"))
            final_status = st
            major = BUCKET_NOT_EMPLOYED if st in ("not_employed", "job_seeker") else ""
        else:
            answers: list[tuple[int, str, str, float, str]] = []  # (rank, name, code, score, rule_id)
            for n in singles:
                c, s, rid, fl, det = rows[n][i]
                if fl or det:
                    flags = fl.split(";")
                    if "ambiguous" in flags or det.startswith("ambiguous"):
                        notes.append(f"{n} {det}" if det else f"{n} ambiguous")
                        reasons.append("ambiguous")
                    if "conflict" in flags:
                        notes.append(
                            f"{n} conflict: {rule_hits[i]}" if n == "rule" and rule_hits[i] else f"{n} conflict"
                        )
                        reasons.append("conflict")
                if n == "rule" and rule_conflict[i] and "conflict" not in fl.split(";"):
                    notes.append(f"{n} conflict: {rule_hits[i]}" if rule_hits[i] else f"{n} conflict")
                    reasons.append("conflict")
                if not c or (rid and rid in exclude_rules):
                    continue
                if c not in code_set:
                    notes.append(f"{n} gave {c!r}, not in {codes.name} (ignored)")
                    reasons.append("invalid")
                    continue
                answers.append((rank[slots[n]], n, c, s, rid))
            if members:
                if p_invalid:
                    notes.append(f"invalid panel vote(s) from {', '.join(p_invalid)}")
                    reasons.append("invalid")
                if p_code == BUCKET_NOT_EMPLOYED:
                    # the panel does not change a label's status on its own: a person decides (review "0")
                    notes.append(
                        f"panel majority says not in employment ({panel_out['panel_votes'][-1]}): left to review"
                    )
                    reasons.append("panel_not_employed")
                elif p_code:
                    answers.append((rank["panel"], "panel", p_code, p_agree, ""))
                elif p_valid:
                    notes.append(f"panel split ({panel_out['panel_votes'][-1]})")
                    reasons.append("panel_split")
            answers.sort(key=lambda a: (a[0], a[1]))
            strong = [a for a in answers if slots[a[1]] in policy.strong]
            confident = [a for a in answers if slots[a[1]] not in policy.strong and a[3] >= thresholds[slots[a[1]]]]
            chosen = next((a for a in answers if a in strong or a in confident), None)
            if chosen is None and fuzzy_top and fuzzy_top[i] and levels[i]:
                backed = [
                    (c, s)
                    for c, s in levels[i]
                    if s >= policy.corroborate_threshold and c in code_set and codes.same_lineage(c, fuzzy_top[i])
                ]
                if backed:
                    c, s = backed[-1]
                    chosen = (rank["model"], "model", c, s, "")
                    confident = [chosen]
                    notes.append(f"model={c} ({s:.2f}) corroborated by fuzzy top {fuzzy_top[i]}")
            if chosen is not None:
                _, source, code, score, rule_id = chosen
                if chosen in confident and chosen not in strong:
                    if score >= policy.threshold(slot_of(source)):
                        notes.append(
                            f"weak rater {source}: score {score:.3f} >= {policy.threshold(slot_of(source)):.2f}"
                        )
                    reasons.append("weak")
                if policy.refine:
                    deeper = [a for a in strong + confident if a[2] != code and code in codes.ancestors(a[2])]
                    if deeper:
                        best = max(deeper, key=lambda a: (codes.level(a[2]), -a[0]))
                        notes.append(f"{best[1]}={best[2]} refines {source}={code}")
                        code, source = best[2], best[1]
                        rule_id = rule_id or best[4]
                clash = [f"{a[1]}={a[2]}" for a in strong if not codes.same_lineage(code, a[2])]
                if clash:
                    notes.append(f"disagrees with {', '.join(clash)}")
                    reasons.append("disagree")
                for a in confident:
                    if a[1] != source and not codes.same_lineage(code, a[2]):
                        notes.append(f"{a[1]}={a[2]} ({a[3]:.2f}) disagrees")
                level = codes.level(code)
                if source == "rule" and level < 3:
                    notes.append(f"vague label: coded at level {level} only")
                final_status = (
                    "job_seeker"
                    if st == "job_seeker"
                    else ("military" if code.startswith(BUCKET_MILITARY) else "employed")
                )
                major = codes.major(code)
            else:
                notes.append("no rater could code it")
                reasons.append("no_code")
                final_status = "job_seeker" if st == "job_seeker" else "unknown"
                major = ""
        out["status"].append(final_status)
        out["ksco_code"].append(code)
        out["ksco_level"].append(codes.level(code))
        out["ksco_major"].append(major)
        out["ksco_title"].append(codes.title(code))
        out["code_source"].append(source)
        out["rule_id"].append(rule_id)
        out["needs_review"].append(bool(reasons))
        out["review_reasons"].append(";".join(dict.fromkeys(reasons)))
        out["code_note"].append("; ".join(dict.fromkeys(notes)))

    frame = crosswalk.drop(columns=[c for c in (*FINAL_COLUMNS, *PANEL_COLUMNS) if c in crosswalk.columns])
    head = [*LABEL_COLUMNS, *STATUS_COLUMNS]
    rest = [c for c in frame.columns if c not in head]
    final = pd.DataFrame(out, index=frame.index)
    final["ksco_level"] = final["ksco_level"].astype("int64")
    final["needs_review"] = final["needs_review"].astype(bool)
    parts = [frame[head], final]
    if members:
        panel = pd.DataFrame(panel_out, index=frame.index)
        panel["panel_valid"] = panel["panel_valid"].astype("int64")
        panel["panel_agreement"] = panel["panel_agreement"].astype(float)
        parts.append(panel)
    parts.append(frame[rest])
    return pd.concat(parts, axis=1)


def _model_levels(detail: str) -> list[tuple[str, float]]:
    """The model's per-level chain ``[(code, p), ...]`` (major → unit group) from its stored detail JSON."""
    if not detail.startswith("{"):
        return []
    try:
        chain = json.loads(detail).get("levels", [])
        return [(str(c), float(s)) for c, s in chain]
    except (ValueError, TypeError, AttributeError):
        return []


def _truthy(v: object) -> bool:
    if isinstance(v, bool | np.bool_):
        return bool(v)
    return str(v).strip().lower() in ("true", "1")
