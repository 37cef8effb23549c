"""Decide: the final code of every label, a pure function of the stored rater columns.

``decide(crosswalk, policy)`` reads the columns :func:`~coder.crosswalk.assemble.assemble_crosswalk`
wrote (or :func:`~coder.crosswalk.store.read_crosswalk` read back), the code list and a
:class:`DecisionPolicy`, and returns the crosswalk with these columns (re)computed:

``status, ksco_code, ksco_level, ksco_major, ksco_title, code_source, rule_id, needs_review, review_reasons, code_note``
    the final status and code, its level (0 = none), its major bucket (``1``–``9``, ``A``
    military, ``0`` not in employment, ``""`` unknown), the rater and rule that decided it,
    whether a person should look at it, the machine-readable reasons (``no_code``, ``weak``,
    ``ambiguous``, ``conflict``, ``disagree``, ``invalid``, ``panel_split``, ``panel_not_employed``,
    ``panel_advisory``, ``typo``) and why, in words.
``former_code, former_title``
    for a label parsed as a former occupation (``status_parsed`` ``former``: 은퇴한 교사, 퇴직 교사,
    전직 X; see :mod:`coder.status`), the code the raters gave X, decided like any code, and its
    title.  The label itself is ``not_employed`` with no ``ksco_code`` and bucket ``0``: a former
    occupation is never counted as employed.  A reviewer's code on such a label is the former
    code (a reviewer's ``0`` makes it plain not employed).  Empty for every other label.
An optional stored ``core_note`` column (how :mod:`coder.status` read the wording: a qualifier,
a workplace, a typo) is added to ``code_note``; a ``typo`` reading sends the label to review.
``panel_votes, panel_valid, panel_agreement``  (when ``panel_<id>`` members are present)
    every member's vote, how many were valid, and the share of valid votes that back the panel code.

**Precedence.** The first slot in ``policy.precedence`` with a valid answer decides; strong
slots (:data:`~coder.raters.base.REGISTRY`: ``review``, ``consistency``, ``title``, ``rule``,
``index``, ``panel``) always, weak slots (``model``, ``fuzzy``) only at or above their threshold
(``policy.thresholds``, keyed by rater), and then the label goes to review; the model gives its
major group at its threshold and a deeper code only where that code also reaches
``policy.model_depth_threshold`` (0.85: a code below the major group must itself be likely right).  When nothing
decides, the model's deepest code with probability ≥ ``corroborate_threshold`` is taken (weak)
if the fuzzy shortlist's top candidate shares its lineage.  **Refinement**: a strong or
confident rater that agrees in lineage and is deeper refines the code (rule ``8`` + index
``8411`` → ``8411``); the note says who refined whom.

**The rules a decision obeys** (each a hypothesis property in ``tests/test_decide_invariants.py``):

1. *A review decision is final.*  A reviewer's code (rater ``review``) is the code: nothing
   overrides, deepens or re-flags it, whatever the precedence; ``needs_review`` is False.
2. *An invalid vote never counts.*  A code not in the code list, or a panel answer flagged
   invalid (``panel_<id>_valid`` False), is ignored (reason ``invalid``).
3. *A panel decides only when at least two valid votes agree* (and more than half of the valid
   votes share the code, truncated to the deepest level where they do).  A single vote, a
   majority that contradicts a strong rater at the major level, or a panel that the policy does
   not count among the strong slots, is advisory: it may fill a
   blank (nothing else decided) only as a weak code, and the label goes to review
   (``panel_advisory``).  A majority for ``0`` decides nothing (``panel_not_employed``).
4. *A rule may declare its depth final* (``depth = final`` in the mapper: 교사 → 25) and the title
   lookup names the code exactly: nothing deepens such a code.
5. *A code is never deeper than the deepest rater that supports it*: the final code is always
   one rater's own answer (or the panel's majority code), never a composite.
6. *A code not in the code list is never final.*
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..codes import BUCKET_MILITARY, BUCKET_NOT_EMPLOYED, CodeList, load_codes
from ..raters.base import REGISTRY, decode_candidates, slot_of
from ..raters.model_fit import EVIDENCE_THRESHOLD, MODEL_DEPTH_THRESHOLD
from .assemble import LABEL_COLUMNS, STATUS_COLUMNS, order_raters

__all__ = [
    "FINAL_COLUMNS",
    "PANEL_COLUMNS",
    "PRECEDENCE",
    "STRONG",
    "THRESHOLDS",
    "DecisionPolicy",
    "decide",
    "panel_vote",
    "rater_names",
]

PRECEDENCE: tuple[str, ...] = tuple(s.slot for s in REGISTRY)
STRONG: frozenset[str] = frozenset(s.slot for s in REGISTRY if s.strong)
THRESHOLDS: Mapping[str, float] = {s.slot: s.threshold for s in REGISTRY if not s.strong}
"""Each weak rater's default threshold, from the registry."""
HUMAN: frozenset[str] = frozenset(s.slot for s in REGISTRY if s.human)
DEPTH_FINAL: frozenset[str] = frozenset({"title"})
"""Raters whose code is final in depth by construction (an exact title names the level)."""
CORROBORATE_FLOOR = 0.8
"""Fuzzy top score a corroborating candidate must reach (a real match, not any top candidate).

Chosen on the tune split of ``bench/bench_unseen.py --split tune`` (846 names, never the reported split):
with the model at 0.75, corroborated codes whose fuzzy top scored 0.6–0.8 were right 0.64–0.76 of the
time, below the model's own codes; the floor 0.8 moved precision 0.875 → 0.895 (major-balanced 0.812 →
0.827) for 6.5 points of coverage.  With the model at 0.70 few codes are left to corroborate and the
floor costs 1 point of coverage (0.687 → 0.676) at equal precision (0.850 → 0.851)."""
MIN_PANEL_VOTES = 2
"""A panel decides only where at least this many valid votes agree."""
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
    "former_code",
    "former_title",
)
PANEL_COLUMNS = ("panel_votes", "panel_valid", "panel_agreement")
_NO_CODE_STATUSES = {
    "not_employed": "not in employment",
    "unknown": "no usable label",
    "employed_unstated": "employed, occupation not stated",
}
_POLICY_KEYS = (
    "precedence",
    "strong",
    "thresholds",
    "refine",
    "corroborate_threshold",
    "corroborate_floor",
    "evidence_threshold",
    "model_depth_threshold",
    "exclude_raters",
    "exclude_rules",
)


@dataclass(frozen=True)
class DecisionPolicy:
    """How to decide: precedence of slots, which are strong, weak thresholds, refinement, exclusions.

    ``thresholds`` maps a weak rater to the score its code must reach; raters not given keep
    their registry default (:data:`THRESHOLDS`), so ``DecisionPolicy(thresholds={"model": 0.5})``
    has ``{"fuzzy": 0.95, "model": 0.5}``.  A threshold above 1 turns a weak rater off.

    ``corroborate_threshold``: when nothing else decides, the model's deepest code with at least
    this probability is taken if the fuzzy shortlist's top candidate shares its lineage (two
    independent weak raters agree); ``1.0`` or more turns this off.  ``corroborate_floor``: the
    score the fuzzy top candidate must reach to corroborate (:data:`CORROBORATE_FLOOR`; a top
    candidate at 0.40 is no match at all).

    ``evidence_threshold``: no evidence, no code — a label whose stored model evidence
    (``model_evidence``, the detector's probability that the label names an occupation, see
    :data:`coder.raters.model_fit.EVIDENCE_THRESHOLD`) is below this gets no code from a weak
    rater (model, fuzzy, corroboration); ``0`` turns the gate off.

    ``model_depth_threshold``: a model code below the major group (2-, 3- or 4-digit) needs this
    calibrated probability as well as the model's threshold (:data:`coder.raters.model_fit.MODEL_DEPTH_THRESHOLD`):
    the model gives its major group at its threshold and a deeper code only where that code is
    itself likely right; ``0`` gives the deepest code at the model's threshold.

    ``exclude_raters`` leaves raters (by name, or a whole slot such as ``panel``) out;
    ``exclude_rules`` ignores answers whose ``rule_id`` is listed (leave-one-rule-out).

    :meth:`as_dict` is what a sidecar records and :meth:`from_dict` reads it back: the two
    round-trip exactly.

    >>> DecisionPolicy(thresholds={"model": 0.5}).as_dict()["thresholds"]
    {'fuzzy': 0.95, 'model': 0.5}
    >>> DecisionPolicy.from_dict(DecisionPolicy(refine=False).as_dict()) == DecisionPolicy(refine=False)
    True
    """

    precedence: tuple[str, ...] = PRECEDENCE
    strong: frozenset[str] = STRONG
    thresholds: Mapping[str, float] = field(default_factory=dict)
    refine: bool = True
    corroborate_threshold: float = 0.6
    corroborate_floor: float = CORROBORATE_FLOOR
    evidence_threshold: float = EVIDENCE_THRESHOLD
    model_depth_threshold: float = MODEL_DEPTH_THRESHOLD
    exclude_raters: frozenset[str] = frozenset()
    exclude_rules: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = sorted(set(self.thresholds) - set(THRESHOLDS))
        if unknown:
            raise ValueError(
                f"thresholds for {', '.join(unknown)}: only weak raters have one ({', '.join(sorted(THRESHOLDS))})"
            )
        merged = {k: float(self.thresholds.get(k, v)) for k, v in sorted(THRESHOLDS.items())}
        bad = {k: v for k, v in merged.items() if not v >= 0}
        if bad:
            raise ValueError(f"thresholds must be numbers ≥ 0, got {bad}")
        slots = set(PRECEDENCE)
        wrong = [p for p in self.precedence if p not in slots]
        if wrong or len(set(self.precedence)) != len(self.precedence):
            raise ValueError(f"precedence {list(self.precedence)}: slots must be distinct and among {list(PRECEDENCE)}")
        object.__setattr__(self, "precedence", tuple(self.precedence))
        object.__setattr__(self, "strong", frozenset(self.strong))
        object.__setattr__(self, "thresholds", merged)
        object.__setattr__(self, "exclude_raters", frozenset(self.exclude_raters))
        object.__setattr__(self, "exclude_rules", frozenset(self.exclude_rules))
        object.__setattr__(self, "refine", bool(self.refine))
        object.__setattr__(self, "corroborate_threshold", float(self.corroborate_threshold))
        for name in ("corroborate_floor", "evidence_threshold", "model_depth_threshold"):
            value = float(getattr(self, name))
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be a number in [0, 1], got {getattr(self, name)!r}")
            object.__setattr__(self, name, value)

    def threshold(self, slot: str) -> float:
        """The score a weak slot's code must reach (``inf`` for a strong slot: thresholds do not apply)."""
        return self.thresholds.get(slot_of(slot), math.inf)

    def with_(self, **changes: object) -> DecisionPolicy:
        """A copy with fields changed; ``thresholds`` given here are merged into this policy's."""
        if "thresholds" in changes:
            changes["thresholds"] = {**self.thresholds, **changes["thresholds"]}  # type: ignore[dict-item]
        return replace(self, **changes)

    def as_dict(self) -> dict[str, object]:
        """The policy as JSON-ready data (what a sidecar records)."""
        return {
            "precedence": list(self.precedence),
            "strong": sorted(self.strong),
            "thresholds": dict(self.thresholds),
            "refine": self.refine,
            "corroborate_threshold": self.corroborate_threshold,
            "corroborate_floor": self.corroborate_floor,
            "evidence_threshold": self.evidence_threshold,
            "model_depth_threshold": self.model_depth_threshold,
            "exclude_raters": sorted(self.exclude_raters),
            "exclude_rules": sorted(self.exclude_rules),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> DecisionPolicy:
        """The policy :meth:`as_dict` wrote (older sidecars' ``model_threshold``/``fuzzy_threshold`` too).

        Raises ValueError naming any unknown key or bad value.
        """
        data = dict(data)
        thresholds = dict(data.pop("thresholds", None) or {})  # type: ignore[arg-type]
        for legacy, slot in (("model_threshold", "model"), ("fuzzy_threshold", "fuzzy")):
            if legacy in data:
                thresholds.setdefault(slot, data.pop(legacy))  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(_POLICY_KEYS))
        if unknown:
            raise ValueError(f"unknown policy key(s) {', '.join(unknown)}; keys are {', '.join(_POLICY_KEYS)}")
        kwargs: dict[str, object] = {"thresholds": {str(k): float(v) for k, v in thresholds.items()}}  # type: ignore[arg-type]
        for key in ("precedence",):
            if key in data:
                kwargs[key] = tuple(str(x) for x in data[key])  # type: ignore[union-attr]
        for key in ("strong", "exclude_raters", "exclude_rules"):
            if key in data:
                kwargs[key] = frozenset(str(x) for x in data[key])  # type: ignore[union-attr]
        if "refine" in data:
            if not isinstance(data["refine"], bool):
                raise ValueError(f"refine must be true or false, got {data['refine']!r}")
            kwargs["refine"] = data["refine"]
        for key in ("corroborate_threshold", "corroborate_floor", "evidence_threshold", "model_depth_threshold"):
            if key in data:
                kwargs[key] = float(data[key])  # type: ignore[arg-type]
        return cls(**kwargs)  # type: ignore[arg-type]


def rater_names(crosswalk: pd.DataFrame) -> list[str]:
    """Every rater stored in a crosswalk (columns ``<name>_code`` of a registered rater or panel member), in
    column order (``ksco_code``, ``panel_code`` and ``former_code`` are not raters)."""
    return [
        c[: -len("_code")]
        for c in crosswalk.columns
        if c.endswith("_code") and c not in ("ksco_code", "panel_code", "former_code")
    ]


def panel_vote(votes: Sequence[tuple[str, str]], codes: CodeList) -> tuple[str, int, float, list[str]]:
    """Combine ``(member, code)`` votes: ``(code, n_valid, agreement, invalid members)``.

    Empty codes abstain. A valid vote is a code of the list or ``0`` (not in employment, a
    major-level answer, as the answer parser counts it). The code is the deepest truncation that
    more than half of the valid votes share ('' when there is none); agreement = share of valid
    votes backing it.

    >>> from coder.codes import load_codes
    >>> panel_vote([("a", "94111"), ("b", "94112"), ("c", "3")], load_codes())[:3]
    ('9411', 3, 0.6666666666666666)
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


# ---------------------------------------------------------------- one label


@dataclass(frozen=True)
class _Answer:
    """One rater's usable answer on one label."""

    rank: int
    rater: str
    code: str
    score: float
    rule_id: str
    strong: bool
    confident: bool  # strong, or weak at/above its threshold
    depth_final: bool = False


@dataclass
class _Label:
    """What the raters said about one label, read from the stored columns."""

    status: str
    status_rule: str
    core: str
    answers: list[_Answer]
    human: _Answer | None = None
    panel: _Answer | None = None  # the panel's majority code (two or more agreeing valid votes)
    advisory: _Answer | None = None  # a lone or contradicted panel code
    model_chain: list[tuple[str, float]] = field(default_factory=list)
    fuzzy_top: str = ""
    notes: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Decision:
    status: str
    code: str
    source: str
    rule_id: str
    reasons: tuple[str, ...]
    notes: tuple[str, ...]
    coded: bool = True  # False: a label with an occupation that no rater could code (major unknown)


def _decide_label(ev: _Label, policy: DecisionPolicy, codes: CodeList) -> _Decision:
    """The decision of one label, following the rules of the module docstring in order."""
    notes, reasons = ev.notes, ev.reasons
    st = ev.status
    # rule 1: a person's decision is final (even on a label whose words give a status: 구직중 → 3)
    if ev.human is not None:
        h = ev.human
        others = [f"{a.rater}={a.code}" for a in ev.answers if a.strong and not codes.same_lineage(h.code, a.code)]
        if others:
            notes.append(f"reviewer decided against {', '.join(others)}")
        return _Decision(_status_of(st, h.code), h.code, h.rater, h.rule_id, (), tuple(notes))
    # a status that carries no occupation decides without a code
    if st in _NO_CODE_STATUSES or (st == "job_seeker" and not ev.core):
        notes.append(_NO_CODE_STATUSES.get(st, "job-seeker with no former occupation"))
        source, rid = ("status", ev.status_rule) if ev.status_rule else ("", "")
        if ev.status_rule in HUMAN:  # a reviewer's 0 set this status: final, nothing to look at
            return _Decision(st, "", ev.status_rule, "", (), tuple(notes))
        return _Decision(st, "", source, rid, tuple(reasons), tuple(notes))

    answers = sorted(ev.answers + ([ev.panel] if ev.panel else []), key=lambda a: (a.rank, a.rater))
    chosen = next((a for a in answers if a.confident), None)
    if chosen is None and ev.fuzzy_top and ev.model_chain:
        backed = [
            (c, s)
            for c, s in ev.model_chain
            if s >= policy.corroborate_threshold and c in codes and codes.same_lineage(c, ev.fuzzy_top)
        ]
        if backed:
            c, s = backed[-1]
            chosen = _Answer(_rank(policy, "model"), "model", c, s, "", False, True)
            answers.append(chosen)
            notes.append(f"model={c} ({s:.2f}) corroborated by fuzzy top {ev.fuzzy_top}")
    # rule 3: an advisory panel code only fills a blank, as a weak code
    if ev.advisory is not None:
        if chosen is None:
            chosen = replace(ev.advisory, strong=False, confident=True)
            notes.append(f"advisory panel code {chosen.code} fills a blank")
            reasons.append("panel_advisory")
        elif not codes.same_lineage(ev.advisory.code, chosen.code):
            notes.append(f"advisory panel code {ev.advisory.code} disagrees")
            reasons.append("panel_advisory")
    if chosen is None:
        notes.append("no rater could code it")
        reasons.append("no_code")
        return _Decision(st if st == "job_seeker" else "unknown", "", "", "", tuple(reasons), tuple(notes), coded=False)

    code, source, rule_id = chosen.code, chosen.rater, chosen.rule_id
    if not chosen.strong:
        if chosen.score >= policy.threshold(source):
            notes.append(f"weak rater {source}: score {chosen.score:.3f} >= {policy.threshold(source):.2f}")
        reasons.append("weak")
    # rule 4: refinement by a deeper agreeing rater, never below a code whose depth is final
    if policy.refine:
        # a cap at or above the code, or between it and a deeper one (consistency 9, depth-final rule 94, model 9411 → 94)
        caps = [a for a in answers if a.depth_final and codes.same_lineage(a.code, code)]
        deeper = [a for a in answers if a.confident and a.code != code and code in codes.ancestors(a.code)]
        held = [a for a in deeper if any(c.code != a.code and c.code in codes.ancestors(a.code) for c in caps)]
        if held:
            cap = next(c for c in caps if any(c.code != a.code and c.code in codes.ancestors(a.code) for a in held))
            notes.append(
                f"{cap.rater}={cap.code} is final in depth ({', '.join(f'{a.rater}={a.code}' for a in held)} not taken)"
            )
        deeper = [a for a in deeper if a not in held]
        if deeper:
            best = max(deeper, key=lambda a: (codes.level(a.code), -a.rank))
            notes.append(f"{best.rater}={best.code} refines {source}={code}")
            code, source = best.code, best.rater
            rule_id = rule_id or best.rule_id
    clash = [f"{a.rater}={a.code}" for a in answers if a.strong and not codes.same_lineage(code, a.code)]
    if clash:
        notes.append(f"disagrees with {', '.join(clash)}")
        reasons.append("disagree")
    for a in answers:
        if not a.strong and a.confident and a.rater != source and not codes.same_lineage(code, a.code):
            notes.append(f"{a.rater}={a.code} ({a.score:.2f}) disagrees")
    level = codes.level(code)
    if source == "rule" and level < 3:
        notes.append(f"vague label: coded at level {level} only")
    return _Decision(_status_of(st, code), code, source, rule_id, tuple(reasons), tuple(notes))


def _status_of(parsed: str, code: str) -> str:
    if parsed == "job_seeker":
        return "job_seeker"
    if parsed == "former":  # the code is the former occupation's (see _as_former)
        return "not_employed"
    return "military" if code.startswith(BUCKET_MILITARY) else "employed"


def _core_notes(crosswalk: pd.DataFrame) -> list[str]:
    """The stored ``core_note`` column as text ('' where absent or missing)."""
    if "core_note" not in crosswalk.columns:
        return [""] * len(crosswalk)
    return [v if isinstance(v, str) else "" for v in crosswalk["core_note"].tolist()]


def _as_former(d: _Decision, status_rule: str) -> tuple[_Decision, str]:
    """A former-occupation label: not employed, no code; the decided code moves to ``former_code``."""
    notes = [f"former occupation {d.code} ({d.source})" if d.code else "former occupation not coded", *d.notes]
    reasons = tuple(r for r in d.reasons if r != "no_code")
    source, rid = (d.source, d.rule_id) if d.source in HUMAN else ("status", status_rule)
    return _Decision("not_employed", "", source, rid, reasons, ("not in employment", *notes)), d.code


def _rank(policy: DecisionPolicy, slot: str) -> int:
    return policy.precedence.index(slot) if slot in policy.precedence else len(policy.precedence)


# ---------------------------------------------------------------- the table


def decide(
    crosswalk: pd.DataFrame, policy: DecisionPolicy | None = None, *, codes: CodeList | None = None
) -> pd.DataFrame:
    """Return the crosswalk with its final columns computed from the stored rater columns.

    Pure: the same stored columns, code list and policy give the same result.  The rules every
    decision obeys are in the module docstring.

    How it is fast (issue 22; 2.7 → 0.8 s of CPU for a batch of 100,000 synthetic labels): each
    rater's answers are read into arrays once per batch (which are usable, which confident), and a
    *plain* label (an employed status; no reviewer code, panel vote, flag or invalid code, nor an
    answer final in depth that is not confident; at most two confident answers, or any number of which
    each gives the first one's code or an ancestor of it: 92,000 of those 100,000) is decided where the
    module docstring's rules reduce to a few cases: with one confident answer, or more of which each
    gives the first one's code or an ancestor of it (60,000), all at once, with two others (18,000) by a
    short loop (the first decides; the second refines it, is held back, or disagrees), with none
    (15,000) the model corroborated by fuzzy or no code.  Every other label is decided on its own by :func:`_decide_label`, as before.
    The model's levels are read by :class:`_ModelLevels`, the fuzzy top candidate only where
    corroboration is asked (a malformed candidates cell elsewhere is not read).
    """
    if policy is None:
        policy = DecisionPolicy()
    if codes is None:
        codes = load_codes()
    missing = [c for c in (*LABEL_COLUMNS, *STATUS_COLUMNS) if c not in crosswalk.columns]
    if missing:
        raise ValueError(f"not a crosswalk: column(s) {', '.join(missing)} missing")
    excluded = policy.exclude_raters
    stored = [n for n in rater_names(crosswalk) if n not in excluded and slot_of(n) not in excluded]
    humans = [n for n in stored if slot_of(n) in HUMAN]
    names = order_raters([n for n in stored if slot_of(n) in policy.precedence and n not in humans], policy.precedence)
    members = [n for n in names if slot_of(n) == "panel"]
    singles = [n for n in names if slot_of(n) != "panel"]
    n_rows = len(crosswalk)
    present = set(crosswalk.columns)

    def col(name: str, field_: str, default: object) -> list:
        c = f"{name}_{field_}"
        return crosswalk[c].tolist() if c in present else [default] * n_rows

    def texts(name: str, field_: str) -> list[str]:
        c = f"{name}_{field_}"
        if c not in present:
            return [""] * n_rows
        values = crosswalk[c].to_numpy()
        if values.dtype == object and pd.api.types.infer_dtype(values, skipna=False) == "string":
            return values.tolist()  # every cell text already (as the raters write them)
        return [v if type(v) is str else str(v or "") for v in crosswalk[c].tolist()]

    def floats(name: str, field_: str) -> np.ndarray:
        c = f"{name}_{field_}"
        if c not in present:
            return np.full(n_rows, math.nan)
        if crosswalk[c].dtype == np.float64:
            return crosswalk[c].to_numpy(dtype=float, copy=True)
        return np.array([float(v) if v not in ("", None) else math.nan for v in crosswalk[c].tolist()], dtype=float)

    def flags(name: str, field_: str) -> np.ndarray:
        c = f"{name}_{field_}"
        if c not in present:
            return np.zeros(n_rows, dtype=bool)
        if crosswalk[c].dtype == bool:
            return crosswalk[c].to_numpy(dtype=bool, copy=True)
        return np.array([v if type(v) is bool else _truthy(v) for v in crosswalk[c].tolist()], dtype=bool)

    model_on = "model" in singles
    # no evidence, no code: a label the model's detector says names no occupation gets nothing from a weak rater
    evidence = floats("model", "evidence")
    no_evidence = evidence < policy.evidence_threshold if model_on else np.zeros(n_rows, dtype=bool)
    single_cols = {n: (texts(n, "code"), floats(n, "score"), texts(n, "rule_id")) for n in singles}
    chains = _ModelLevels(texts("model", "detail") if model_on else [""] * n_rows)
    if model_on:  # the model's answer at this policy's threshold (rate once, decide many times)
        m_codes, m_scores = single_cols["model"][0], single_cols["model"][1]
        t = policy.threshold("model")
        rows, picked, scores = chains.answer(t, max(t, policy.model_depth_threshold), no_evidence)
        m_scores[rows] = scores
        for i, c in zip(rows.tolist(), picked.tolist()):
            m_codes[i] = c

    # which answers count, per rater: a label is plain when two answers at most are confident and nothing
    # needs reading (a flag, an invalid or a human code, a panel vote, a status of its own)
    code_set = codes.codes
    exclude_rules = policy.exclude_rules
    plain = crosswalk["status_parsed"].astype(str).to_numpy() == ""
    n_confident = np.zeros(n_rows, dtype=np.int64)
    decider = np.full(n_rows, -1, dtype=np.int64)  # the position in singles of the first confident answer
    second = np.full(n_rows, -1, dtype=np.int64)  # and of the second
    first_code = np.full(n_rows, "", dtype=object)  # the first confident answer's code
    differ = np.zeros(n_rows, dtype=bool)  # a later confident answer gives neither that code nor an ancestor of it
    slot_facts = {
        slot: (_rank(policy, slot), slot in policy.strong, policy.threshold(slot))
        for slot in {slot_of(n) for n in singles}
    }
    rule_hits = texts("rule", "hits")
    rule_conflict = flags("rule", "conflict")
    single_rows = []
    for j, n in enumerate(singles):
        c, s, rid = single_cols[n]
        fl, det, final = texts(n, "flags"), texts(n, "detail"), flags(n, "depth_final")
        _, strong, threshold = slot_facts[slot_of(n)]
        code = np.array(c, dtype=object)
        given = code != ""
        if exclude_rules:
            given &= ~pd.Series(rid, dtype=object).isin([r for r in exclude_rules if r]).to_numpy()
        valid = pd.Series(code, dtype=object).isin(list(code_set)).to_numpy()
        read_flags = np.array(fl, dtype=object) != ""
        if "ambiguous" in "\n".join(det):  # else no detail starts with it
            read_flags |= np.fromiter((d.startswith("ambiguous") for d in det), dtype=bool, count=n_rows)
        if n == "rule":
            read_flags |= rule_conflict
        plain &= ~read_flags & ~(given & ~valid)
        usable = given & valid if strong else given & valid & ~no_evidence
        confident = usable if strong else usable & (s >= threshold)
        n_confident += confident
        first = confident & (decider < 0)
        second[confident & ~first & (second < 0)] = j
        decider[first] = j
        first_code[first] = code[first]
        later = np.flatnonzero(confident & ~first & ~differ)
        if later.size:
            above = [
                c == f or c in codes.ancestors(f) for c, f in zip(code[later].tolist(), first_code[later].tolist())
            ]
            differ[later[~np.array(above, dtype=bool)]] = True
        # an answer not confident that is final in depth may hold a deeper one back: such labels are not plain
        plain &= ~(usable & ~confident & (final | (slot_of(n) in DEPTH_FINAL)))
        single_rows.append((n, (code, s, np.array(rid, dtype=object)), (c, s.tolist(), rid, fl, det, final.tolist())))
    # confident answers that all give the first one's code or an ancestor of it decide as that one alone would
    # (_decide_label: nothing refines it, is held back or disagrees): NPK's titles, which the index names too and
    # the model places in their unit group
    agree = ~differ
    plain &= (n_confident <= 2) | agree
    member_cols = {
        m: (texts(m, "code"), [_truthy(v) if v not in ("", None) else True for v in col(m, "valid", True)])
        for m in members
    }
    for votes, _ in member_cols.values():
        plain &= np.array(votes, dtype=object) == ""
    human_cols = {h: (texts(h, "code"), texts(h, "rule_id")) for h in humans}
    for h_codes, _ in human_cols.values():
        plain &= np.array(h_codes, dtype=object) == ""

    # what a label says before any rater (no evidence, how the wording was read): 13,000 of 100,000 labels
    # (one tuple a label, no lists: 100,000 labels' containers alive at once cost two full garbage collections)
    bar = f"{policy.evidence_threshold:.2f}"
    lead = {
        i: (f"no evidence of an occupation (model evidence {e:.2f} < {bar}): weak raters abstain",)
        for i, e in zip(np.flatnonzero(no_evidence).tolist(), evidence[no_evidence].tolist())
    }
    core_notes = _core_notes(crosswalk)
    typo = set()
    for i in np.flatnonzero(np.array(core_notes, dtype=object) != "").tolist():
        lead[i] = (*lead.get(i, ()), core_notes[i])
        if core_notes[i].startswith("typo"):
            typo.add(i)

    # plain labels with one confident answer (or more, each the first's code or an ancestor of it), all at once: it
    # decides (a weak one with a note and a reason)
    code_out = np.full(n_rows, "", dtype=object)
    source_out, rid_out, own, reason = code_out.copy(), code_out.copy(), code_out.copy(), code_out.copy()
    for j, (n, (code, s, rid), _) in enumerate(single_rows):
        at = np.flatnonzero(plain & (n_confident >= 1) & agree & (decider == j))
        code_out[at], rid_out[at], source_out[at] = code[at], rid[at], n
        if not slot_facts[slot_of(n)][1]:
            reason[at] = "weak"
            bar = f"{policy.threshold(n):.2f}"
            own[at] = [f"weak rater {n}: score {score:.3f} >= {bar}" for score in s[at].tolist()]
        if n == "rule":
            for i, c in zip(at.tolist(), code[at].tolist()):
                if codes.level(c) < 3:
                    vague = f"vague label: coded at level {codes.level(c)} only"
                    own[i] = f"{own[i]}; {vague}" if own[i] else vague
    # with two: the first decides, the second refines it, is held back by it, or disagrees (_decide_label's rules
    # for two answers; 18,000 of 100,000 labels)
    deciders, seconds = decider.tolist(), second.tolist()
    strong_of = [slot_facts[slot_of(n)][1] for n in singles]
    depth_final_of = [slot_of(n) in DEPTH_FINAL for n in singles]
    for i in np.flatnonzero(plain & (n_confident == 2) & ~agree).tolist():
        ja, jb = deciders[i], seconds[i]
        na, (ca, sa, ra, _, _, fa) = singles[ja], single_rows[ja][2]
        nb, (cb, sb, rb, _, _, _) = singles[jb], single_rows[jb][2]
        ca, cb, notes, reasons = ca[i], cb[i], [], []
        code, source, rule_id = ca, na, ra[i]
        if not strong_of[ja]:
            notes.append(f"weak rater {na}: score {sa[i]:.3f} >= {policy.threshold(na):.2f}")
            reasons.append("weak")
        if policy.refine and cb != ca and ca in codes.ancestors(cb):
            if fa[i] or depth_final_of[ja]:
                notes.append(f"{na}={ca} is final in depth ({nb}={cb} not taken)")
            else:
                notes.append(f"{nb}={cb} refines {na}={ca}")
                code, source, rule_id = cb, nb, rule_id or rb[i]
        if not codes.same_lineage(code, cb):  # the first is always of the code's lineage
            if strong_of[jb]:
                notes.append(f"disagrees with {nb}={cb}")
                reasons.append("disagree")
            else:
                notes.append(f"{nb}={cb} ({sb[i]:.2f}) disagrees")
        if source == "rule" and codes.level(code) < 3:
            notes.append(f"vague label: coded at level {codes.level(code)} only")
        code_out[i], source_out[i], rid_out[i] = code, source, rule_id
        own[i], reason[i] = "; ".join(notes), ";".join(reasons)
    # with none: the model's code corroborated by the fuzzy top candidate, else no code
    blank = np.flatnonzero(plain & (decider < 0))
    reason[blank] = "no_code"
    own[blank] = "no rater could code it"
    corroborate = "fuzzy" in singles and model_on and policy.corroborate_threshold < 1
    candidates = col("fuzzy", "candidates", "") if corroborate else []
    if corroborate:
        for i in blank[~no_evidence[blank] & chains.present[blank]].tolist():
            top = _corroborator(candidates[i], policy.corroborate_floor)
            backed = [
                (c, s)
                for c, s in (chains.chain(i) if top else ())
                if s >= policy.corroborate_threshold and c in codes and codes.same_lineage(c, top)
            ]
            if backed:
                c, s = backed[-1]
                note = f"model={c} ({s:.2f}) corroborated by fuzzy top {top}"
                if s >= policy.threshold("model"):
                    note += f"; weak rater model: score {s:.3f} >= {policy.threshold('model'):.2f}"
                code_out[i], source_out[i], own[i], reason[i] = c, "model", note, "weak"
    status_of = {c: _status_of("", c) for c in set(code_out[plain].tolist())}
    status_out = np.array(
        [status_of[c] if ok else "" for c, ok in zip(code_out.tolist(), plain.tolist())], dtype=object
    )
    status_out[blank] = np.where(code_out[blank] == "", "unknown", status_out[blank])
    coded = np.ones(n_rows, dtype=bool)
    coded[blank] = code_out[blank] != ""
    notes_out, reasons_out = own, reason.copy()
    former_out = np.full(n_rows, "", dtype=object)
    for i, notes in lead.items():
        if plain[i]:  # the lead's notes, then the decision's (none of which holds "; ")
            notes_out[i] = "; ".join(dict.fromkeys([*notes, *(own[i].split("; ") if own[i] else [])]))
            reasons = ["typo"] if i in typo else []
            reasons_out[i] = ";".join(dict.fromkeys([*reasons, *(reason[i].split(";") if reason[i] else [])]))

    # every other label on its own, as the rules of the module docstring say
    statuses = crosswalk["status_parsed"].astype(str).tolist()
    status_rules = crosswalk["status_rule"].astype(str).tolist()
    cores = crosswalk["core_key"].astype(str).tolist()
    conflicts = rule_conflict.tolist()
    n_confident = n_confident.tolist()
    no_evidence = no_evidence.tolist()
    panel_out = {"panel_votes": np.full(n_rows, "", dtype=object), "panel_valid": np.zeros(n_rows, dtype=np.int64)}
    panel_out["panel_agreement"] = np.full(n_rows, math.nan)
    for i in np.flatnonzero(~plain).tolist():
        notes, reasons = list(lead.get(i, ())), ["typo"] if i in typo else []
        ev = _Label(statuses[i], status_rules[i], cores[i], [], notes=notes, reasons=reasons)
        if not no_evidence[i] and not n_confident[i]:  # corroboration is asked only where nothing is confident
            ev.model_chain = chains.chain(i)
            ev.fuzzy_top = _corroborator(candidates[i], policy.corroborate_floor) if corroborate else ""
        for h, (h_codes, h_ids) in human_cols.items():
            c = h_codes[i]
            if c and c in code_set:
                ev.human = _Answer(-1, h, c, math.nan, h_ids[i], True, True, True)
            elif c and c != BUCKET_NOT_EMPLOYED:
                ev.notes.append(f"{h} gave {c!r}, not in {codes.name} (ignored)")
                ev.reasons.append("invalid")
        for n, _, (cs, ss, rids, fls, dets, finals) in single_rows:
            c, s, rid, fl, det, final = cs[i], ss[i], rids[i], fls[i], dets[i], finals[i]
            conflict = n == "rule" and conflicts[i]
            if fl or conflict or det.startswith("ambiguous"):  # else nothing to read
                _read_flags(ev, n, fl, det, rule_hits[i] if n == "rule" else "", conflict)
            if not c or (rid and rid in exclude_rules):
                continue
            if c not in code_set:
                ev.notes.append(f"{n} gave {c!r}, not in {codes.name} (ignored)")
                ev.reasons.append("invalid")
                continue
            rank, strong, threshold = slot_facts[slot_of(n)]
            if no_evidence[i] and not strong:
                continue
            confident = strong or s >= threshold
            ev.answers.append(_Answer(rank, n, c, s, rid, strong, confident, final or slot_of(n) in DEPTH_FINAL))
        if members:
            one: dict[str, list] = {c: [] for c in PANEL_COLUMNS}
            _read_panel(ev, i, members, member_cols, policy, codes, one)
            for c, values in one.items():
                panel_out[c][i] = values[0]
        d = _decide_label(ev, policy, codes)
        if statuses[i] == "former":
            d, former_out[i] = _as_former(d, status_rules[i])
        status_out[i], code_out[i], source_out[i], rid_out[i] = d.status, d.code, d.source, d.rule_id
        notes_out[i], reasons_out[i] = "; ".join(dict.fromkeys(d.notes)), ";".join(dict.fromkeys(d.reasons))
        coded[i] = d.coded

    code_list = code_out.tolist()
    known = {c: (codes.level(c), codes.title(c)) for c in {*code_list, *former_out.tolist()}}
    no_job = (code_out == "") & coded & pd.Series(status_out).isin(["not_employed", "job_seeker"]).to_numpy()
    out = {
        "status": status_out.tolist(),
        "ksco_code": code_list,
        "ksco_level": [known[c][0] for c in code_list],
        "ksco_major": [BUCKET_NOT_EMPLOYED if nj else codes.major(c) for c, nj in zip(code_list, no_job.tolist())],
        "ksco_title": [known[c][1] for c in code_list],
        "code_source": source_out.tolist(),
        "rule_id": rid_out.tolist(),
        "needs_review": (reasons_out != "").tolist(),
        "review_reasons": reasons_out.tolist(),
        "code_note": notes_out.tolist(),
        "former_code": former_out.tolist(),
        "former_title": [known[c][1] for c in former_out.tolist()],
    }

    frame = crosswalk.drop(columns=[c for c in (*FINAL_COLUMNS, *PANEL_COLUMNS) if c in crosswalk.columns])
    head = [*LABEL_COLUMNS, *STATUS_COLUMNS]
    rest = [c for c in frame.columns if c not in head]
    final = pd.DataFrame(out, index=frame.index)
    final["ksco_level"] = final["ksco_level"].astype("int64")
    final["needs_review"] = final["needs_review"].astype(bool)
    parts = [frame[head], final]
    if members:
        panel = pd.DataFrame({c: v.tolist() for c, v in panel_out.items()}, index=frame.index)
        panel["panel_valid"] = panel["panel_valid"].astype("int64")
        panel["panel_agreement"] = panel["panel_agreement"].astype(float)
        parts.append(panel)
    parts.append(frame[rest])
    return pd.concat(parts, axis=1)


def _read_flags(ev: _Label, n: str, fl: str, det: str, hits: str, conflict: bool) -> None:
    """Ambiguity and conflict a rater flagged send the label to review."""
    flags = fl.split(";") if fl else []
    if "ambiguous" in flags or det.startswith("ambiguous"):
        ev.notes.append(f"{n} {det}" if det else f"{n} ambiguous")
        ev.reasons.append("ambiguous")
    if "conflict" in flags or conflict:
        why = hits or (det if n != "rule" else "")
        ev.notes.append(f"{n} conflict: {why}" if why else f"{n} conflict")
        ev.reasons.append("conflict")


def _read_panel(
    ev: _Label,
    i: int,
    members: Sequence[str],
    member_cols: Mapping[str, tuple[list[str], list[bool]]],
    policy: DecisionPolicy,
    codes: CodeList,
    panel_out: dict[str, list],
) -> None:
    """The panel's votes on label ``i``: a deciding majority, an advisory code, or a reason for review."""
    votes = [(m[len("panel_") :], member_cols[m][0][i]) for m in members]
    flagged = [m[len("panel_") :] for m in members if member_cols[m][0][i] and not member_cols[m][1][i]]
    counted = [(m, c) for m, c in votes if m not in flagged]
    p_code, p_valid, p_agree, p_invalid = panel_vote(counted, codes)
    shown = " ".join(f"{m}={c}" for m, c in votes if c)
    panel_out["panel_votes"].append(shown)
    panel_out["panel_valid"].append(p_valid)
    panel_out["panel_agreement"].append(p_agree)
    invalid = flagged + p_invalid
    if invalid:
        ev.notes.append(f"invalid panel vote(s) from {', '.join(invalid)} (not counted)")
        ev.reasons.append("invalid")
    if not p_valid:
        return
    backing = round(p_agree * p_valid) if p_code else 0
    if p_code == BUCKET_NOT_EMPLOYED:
        # the panel does not change a label's status on its own: a person decides (review "0")
        ev.notes.append(f"panel majority says not in employment ({shown}): left to review")
        ev.reasons.append("panel_not_employed")
        return
    if not p_code:
        ev.notes.append(f"panel split ({shown})")
        ev.reasons.append("panel_split")
        return
    answer = _Answer(_rank(policy, "panel"), "panel", p_code, p_agree, "", True, True)
    contradicts = [f"{a.rater}={a.code}" for a in ev.answers if a.strong and codes.major(a.code) != codes.major(p_code)]
    if backing < MIN_PANEL_VOTES:
        ev.notes.append(f"a single panel vote ({shown}) is advisory")
        ev.advisory = answer
    elif contradicts:
        ev.notes.append(f"panel {p_code} contradicts {', '.join(contradicts)} at the major level: advisory")
        ev.advisory = answer
    elif "panel" not in policy.strong:
        ev.notes.append(f"panel {p_code}: the panel is not strong under this policy, advisory")
        ev.advisory = answer
    elif "panel" in policy.precedence:
        ev.panel = answer


def _corroborator(cell: object, floor: float) -> str:
    """The fuzzy top candidate's code when its score reaches ``floor`` (a real match), else ''."""
    m = _CANDIDATES_RE.fullmatch(cell) if type(cell) is str else None
    if m is not None:  # the cell as encode_candidates writes it: its first pair read without json
        code, score = m.group(1), (math.nan if m.group(2) == "null" else _number(m.group(2)))
    else:
        code, score = next(iter(decode_candidates(cell)), ("", math.nan))
    return code if score >= floor else ""


_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?"  # JSON's number
_PAIR = rf'\["[0-9A-Za-z]+",{_NUMBER}\]'
_CANDIDATES_RE = re.compile(
    rf'\[\["([^"\\\x00-\x1f]*)",({_NUMBER}|null)\](?:,\["[^"\\\x00-\x1f]*",(?:{_NUMBER}|null)\])*\]'
)
"""A candidates cell of ``[code, score]`` pairs in JSON without whitespace or escapes (what
:func:`~coder.raters.base.encode_candidates` writes): the first pair's code and score as text."""
_LEVELS_RE = re.compile(
    rf'\{{"levels":\[((?:{_PAIR}(?:,{_PAIR})*)?)\](?:,"(?!levels")[a-z_]+":(?:\[(?:{_PAIR}(?:,{_PAIR})*)?\]|{_NUMBER}))*\}}'
)
"""A model detail as the model rater writes it (``{"levels":[[code,p],…],"top":[…],"evidence":p}``, JSON
without whitespace or escapes, no second ``levels``): the levels' text."""
_FAST_LEVELS = (
    rf'^\{{"levels":\[(?:\["[0-9A-Za-z]+",[01](?:\.[0-9]+)?\](?:,\["[0-9A-Za-z]+",[01](?:\.[0-9]+)?\])*)?\]'
    rf'(?:,"(?:top|evidence)":(?:\[(?:{_PAIR}(?:,{_PAIR})*)?\]|{_NUMBER}))*\}}$'
)
"""A model detail as :data:`_LEVELS_RE` reads it, narrowed for Arrow's RE2 (no lookahead): the levels'
probabilities without sign or exponent (``[01]`` then decimals, which Arrow and ``float`` read alike) and
only the keys the model rater writes after them."""
_PAIR_RE = re.compile(rf'\["([0-9A-Za-z]+)",({_NUMBER})\]')


def _number(text: str) -> float:
    """A JSON number's text as ``float(json.loads(text))`` (an integer is read as an int first: ``-0`` is 0.0)."""
    return float(text) if "." in text or "e" in text or "E" in text else float(int(text))


def _model_levels(detail: str) -> list[tuple[str, float]]:
    """The model's per-level chain ``[(code, p), ...]`` (major → unit group) from its stored detail JSON."""
    if not detail.startswith("{"):
        return []
    m = _LEVELS_RE.fullmatch(detail)
    if m is not None:  # the detail as the model rater writes it: the levels read without json
        return [(c, float(p) if "." in p else _number(p)) for c, p in _PAIR_RE.findall(m.group(1))]
    try:
        chain = json.loads(detail).get("levels", [])
        return [(str(c), float(s)) for c, s in chain]
    except (ValueError, TypeError, AttributeError):
        return []


class _ModelLevels:
    """Every label's model levels ``[(code, p), …]`` (major → unit group), read from the detail cells at once.

    The cells as the model rater writes them (levels' probabilities written ``0.9656``, keys
    ``top`` and ``evidence``: :data:`_FAST_LEVELS`) are read by Arrow over the whole batch, one
    regular expression and three splits (0.78 → 0.12 s for 100,000 labels); any other cell
    (json with spaces, exponents, other keys, junk) by :func:`_model_levels` on its own.  Both
    give the levels :func:`_model_levels` gives: the fast pattern accepts a subset of the cells
    :data:`_LEVELS_RE` reads without json, and reads the same pairs out of them.
    """

    def __init__(self, details: Sequence[str]) -> None:
        try:
            cells = pa.array(details, type=pa.large_string())
        except UnicodeEncodeError:  # a lone surrogate (no UTF-8): every cell read on its own
            cells = pa.nulls(len(details), type=pa.large_string())
        fast = pc.fill_null(pc.match_substring_regex(cells, _FAST_LEVELS), False)
        # such a cell's levels end at its first ']]' (no pair holds a ']'): '{"levels":[["3",0.9],["39",0.8'
        body = pc.list_element(pc.split_pattern(cells, "]]", max_splits=1), 0)
        some = pc.and_(fast, pc.invert(pc.starts_with(cells, '{"levels":[]')))
        body = pc.if_else(some, pc.utf8_slice_codeunits(body, 13), pa.scalar(None, pa.large_string()))
        pairs = pc.split_pattern(body, '],["')  # '3",0.9' and '39",0.8'
        self.lengths = pc.fill_null(pc.list_value_length(pairs), 0).to_numpy().astype(np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)
        pair = pc.split_pattern(pc.list_flatten(pairs), '",', max_splits=1)
        codes = pc.dictionary_encode(pc.list_element(pair, 0))  # a few thousand codes: each made a str once
        self.codes = np.array(codes.dictionary.to_pylist(), dtype=object)[codes.indices.to_numpy()]
        self.probs = pc.cast(pc.list_element(pair, 1), pa.float64()).to_numpy(zero_copy_only=False).astype(float)
        self._codes, self._probs, self._starts = self.codes.tolist(), self.probs.tolist(), self.starts.tolist()
        other = np.flatnonzero(~fast.to_numpy(zero_copy_only=False))
        self.other = {i: _model_levels(details[i]) for i in other.tolist() if details[i].startswith("{")}
        self.present = self.lengths > 0
        self.present[[i for i, chain in self.other.items() if chain]] = True

    def chain(self, i: int) -> list[tuple[str, float]]:
        """Label ``i``'s levels."""
        if i in self.other:
            return self.other[i]
        a, b = self._starts[i], self._starts[i + 1]
        return list(zip(self._codes[a:b], self._probs[a:b]))

    def answer(self, t: float, deep: float, no_evidence: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The model's code and score on every label with levels: its deepest level whose probability reaches
        ``t`` (the major group) or ``deep`` (below it), ``("", p of the major group)`` where none does or
        the label has no evidence.  Returns ``(labels, codes, scores)``."""
        rows = np.flatnonzero(self.lengths > 0)
        first = self.starts[rows]
        n = len(self.probs)
        level = np.arange(n) - np.repeat(self.starts[:-1], self.lengths)
        at = np.where(self.probs >= np.where(level == 0, t, deep), np.arange(n), -1)
        last = np.maximum.reduceat(at, first) if len(rows) else np.empty(0, dtype=np.int64)
        last[no_evidence[rows]] = -1
        codes = np.where(last >= 0, self.codes[last], "")
        scores = np.where(last >= 0, self.probs[last], self.probs[first])
        extra = [(i, chain) for i, chain in self.other.items() if chain]
        if not extra:
            return rows, codes, scores
        picks = []
        for i, chain in extra:
            ok = [(c, s) for lv, (c, s) in enumerate(chain) if s >= (deep if lv else t)] if not no_evidence[i] else []
            picks.append(ok[-1] if ok else ("", chain[0][1]))
        return (
            np.concatenate([rows, [i for i, _ in extra]]).astype(np.int64),
            np.concatenate([codes, np.array([c for c, _ in picks], dtype=object)]),
            np.concatenate([scores, [s for _, s in picks]]),
        )


def _truthy(v: object) -> bool:
    if isinstance(v, bool | np.bool_):
        return bool(v)
    return str(v).strip().lower() in ("true", "1")
