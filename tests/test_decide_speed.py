"""``decide`` gives, frame for frame, what the former per-label ``decide`` gave (issue 22: decision speed).

The former ``decide`` built every label's evidence (:class:`_Label`, one :class:`_Answer` per rater)
and ran the whole rule book on it; the new one reads each rater's answers into arrays once per
batch, decides the plain labels (an employed status, no reviewer, panel, flag or invalid code, at
most one confident answer) all at once, reads the model's levels with Arrow, and keeps the
per-label rules for the rest.  The former code, from ``panel_vote`` to ``_truthy``, is kept below
verbatim but for the name ``old_decide``, as the reference.  Crosswalks: the NPK labels and 20,000
of ``bench/bench_scale.py``'s synthetic labels coded end to end; the same with a reviewer, a
consistency rater and a panel of three added; read back from CSV; odd model details; no labels;
under the default policy and stricter and looser ones.
"""

from __future__ import annotations

import importlib.util
import io
import json
import math
import random
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coder import pipeline
from coder.codes import BUCKET_MILITARY, BUCKET_NOT_EMPLOYED, CodeList, load_codes
from coder.crosswalk import decide as decide_module
from coder.crosswalk.assemble import (
    LABEL_COLUMNS,
    STATUS_COLUMNS,
    Assembler,
    RatedColumns,
    _column,
    add_raters,
    order_raters,
)
from coder.crosswalk.decide import (
    DEPTH_FINAL,
    FINAL_COLUMNS,
    HUMAN,
    MIN_PANEL_VOTES,
    PANEL_COLUMNS,
    DecisionPolicy,
    rater_names,
)
from coder.labels import LabelTable, tabulate_labels
from coder.pipeline import code_labels
from coder.raters.base import RaterResult, decode_candidates, slot_of
from coder.status import LabelStatus

_NO_CODE_STATUSES = decide_module._NO_CODE_STATUSES

# --------------------------------------------------------------------------- the former decide, verbatim


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


def old_decide(
    crosswalk: pd.DataFrame, policy: DecisionPolicy | None = None, *, codes: CodeList | None = None
) -> pd.DataFrame:
    """Return the crosswalk with its final columns computed from the stored rater columns.

    Pure: the same stored columns, code list and policy give the same result.  The rules every
    decision obeys are in the module docstring.
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

    def col(name: str, field_: str, default: object) -> list:
        c = f"{name}_{field_}"
        return crosswalk[c].tolist() if c in crosswalk.columns else [default] * n_rows

    def texts(name: str, field_: str) -> list[str]:
        return [v if type(v) is str else str(v or "") for v in col(name, field_, "")]

    def scores(name: str) -> list[float]:
        return [float(v) if v not in ("", None) else math.nan for v in col(name, "score", math.nan)]

    model_chain: list[list[tuple[str, float]]] = (
        [_model_levels(d) for d in texts("model", "detail")] if "model" in singles else [[]] * n_rows
    )
    # no evidence, no code: a label the model's detector says names no occupation gets nothing from a weak rater
    evidence = [float(v) if v not in ("", None) else math.nan for v in col("model", "evidence", math.nan)]
    no_evidence = ["model" in singles and not math.isnan(e) and e < policy.evidence_threshold for e in evidence]
    fuzzy_top = (
        [_corroborator(v, policy.corroborate_floor) for v in col("fuzzy", "candidates", "")]
        if "fuzzy" in singles and "model" in singles and policy.corroborate_threshold < 1
        else [""] * n_rows
    )
    single_cols = {
        n: (
            texts(n, "code"),
            scores(n),
            texts(n, "rule_id"),
            texts(n, "flags"),
            texts(n, "detail"),
            [v if type(v) is bool else _truthy(v) for v in col(n, "depth_final", False)],
        )
        for n in singles
    }
    if "model" in single_cols:  # the model's answer at this policy's threshold (rate once, decide many times)
        m_codes, m_scores = single_cols["model"][0], single_cols["model"][1]
        t = policy.threshold("model")
        deep = max(t, policy.model_depth_threshold)
        for i, chain in enumerate(model_chain):
            if chain:
                ok = (
                    [(c, s) for lv, (c, s) in enumerate(chain) if s >= (deep if lv else t)]
                    if not no_evidence[i]
                    else []
                )
                m_codes[i], m_scores[i] = ok[-1] if ok else ("", chain[0][1])
    member_cols = {
        m: (texts(m, "code"), [_truthy(v) if v not in ("", None) else True for v in col(m, "valid", True)])
        for m in members
    }
    human_cols = {h: (texts(h, "code"), texts(h, "rule_id")) for h in humans}
    rule_hits = texts("rule", "hits")
    rule_conflict = [v if type(v) is bool else _truthy(v) for v in col("rule", "conflict", False)]
    statuses = crosswalk["status_parsed"].astype(str).tolist()
    status_rules = crosswalk["status_rule"].astype(str).tolist()
    cores = crosswalk["core_key"].astype(str).tolist()
    core_notes = _core_notes(crosswalk)
    out: dict[str, list] = {c: [] for c in FINAL_COLUMNS}
    panel_out: dict[str, list] = {c: [] for c in PANEL_COLUMNS}
    code_set = codes.codes
    # each single rater's cells row by row, and what the policy says of its slot
    single_rows = [(n, list(zip(*single_cols[n])), slot_of(n), n == "rule") for n in singles]
    slot_facts = {
        slot: (_rank(policy, slot), slot in policy.strong, policy.threshold(slot))
        for slot in {slot_of(n) for n in singles}
    }
    exclude_rules = policy.exclude_rules

    for i in range(n_rows):
        ev = _Label(statuses[i], status_rules[i], cores[i], [], model_chain=model_chain[i], fuzzy_top=fuzzy_top[i])
        if no_evidence[i]:
            ev.model_chain, ev.fuzzy_top = [], ""
            ev.notes.append(
                f"no evidence of an occupation (model evidence {evidence[i]:.2f} < {policy.evidence_threshold:.2f}): "
                "weak raters abstain"
            )
        if core_notes[i]:
            ev.notes.append(core_notes[i])
            if core_notes[i].startswith("typo"):
                ev.reasons.append("typo")
        for h, (h_codes, h_ids) in human_cols.items():
            c = h_codes[i]
            if c and c in code_set:
                ev.human = _Answer(-1, h, c, math.nan, h_ids[i], True, True, True)
            elif c and c != BUCKET_NOT_EMPLOYED:
                ev.notes.append(f"{h} gave {c!r}, not in {codes.name} (ignored)")
                ev.reasons.append("invalid")
        for n, rows, slot, is_rule in single_rows:
            c, s, rid, fl, det, final = rows[i]
            conflict = is_rule and rule_conflict[i]
            if fl or conflict or det.startswith("ambiguous"):  # else nothing to read
                _read_flags(ev, n, fl, det, rule_hits[i] if is_rule else "", conflict)
            if not c or (rid and rid in exclude_rules):
                continue
            if c not in code_set:
                ev.notes.append(f"{n} gave {c!r}, not in {codes.name} (ignored)")
                ev.reasons.append("invalid")
                continue
            rank, strong, threshold = slot_facts[slot]
            if no_evidence[i] and not strong:
                continue
            confident = strong or s >= threshold
            ev.answers.append(_Answer(rank, n, c, s, rid, strong, confident, final or slot in DEPTH_FINAL))
        if members:
            _read_panel(ev, i, members, member_cols, policy, codes, panel_out)
        d = _decide_label(ev, policy, codes)
        former = ""
        if statuses[i] == "former":
            d, former = _as_former(d, status_rules[i])
        out["former_code"].append(former)
        out["former_title"].append(codes.title(former))
        out["status"].append(d.status)
        out["ksco_code"].append(d.code)
        out["ksco_level"].append(codes.level(d.code))
        no_job = not d.code and d.coded and d.status in ("not_employed", "job_seeker")
        out["ksco_major"].append(BUCKET_NOT_EMPLOYED if no_job else codes.major(d.code))
        out["ksco_title"].append(codes.title(d.code))
        out["code_source"].append(d.source)
        out["rule_id"].append(d.rule_id)
        out["needs_review"].append(bool(d.reasons))
        out["review_reasons"].append(";".join(dict.fromkeys(d.reasons)))
        out["code_note"].append("; ".join(dict.fromkeys(d.notes)))

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


def _truthy(v: object) -> bool:
    if isinstance(v, bool | np.bool_):
        return bool(v)
    return str(v).strip().lower() in ("true", "1")


# --------------------------------------------------------------------------- the former assembly, verbatim


class OldAssembler:
    """The stored crosswalk of a label table, built for any run of labels (see :func:`assemble_crosswalk`).

    Each rater's columns are typed once (:func:`_column`) and each label's position in each rater's
    keys found once, so :meth:`frame` ``(a, b)`` builds labels ``a:b`` alone: a caller can assemble
    and decide a million labels a batch at a time, the batches together being the whole frame.
    """

    def __init__(
        self, labels: LabelTable, statuses: Sequence[LabelStatus], results: Sequence[RaterResult | RatedColumns]
    ) -> None:
        n = len(labels.frame)
        if len(statuses) != n:
            raise ValueError(f"{len(statuses)} statuses for {n} labels")
        rated = [r if isinstance(r, RatedColumns) else RatedColumns.of(r) for r in results]
        names = order_raters([r.rater for r in rated])
        if len(set(names)) != len(names):
            raise ValueError(f"rater names repeat: {names}")
        by_name = {r.rater: r for r in rated}
        self.labels = labels.frame
        core = [s.core_key for s in statuses]
        self.status = {
            "status_parsed": [s.status for s in statuses],
            "status_rule": [s.status_id for s in statuses],
            "core_key": core,
            "core_note": [s.note for s in statuses],
        }
        self.columns: dict[str, tuple[np.ndarray, np.ndarray, object]] = {}
        for name in names:
            r = by_name[name]
            lookup = dict(zip(r.keys, range(len(r.keys))))
            pos = np.array([lookup.get(k, -1) for k in core], dtype=np.int64)
            del lookup
            for col, values in r.columns.items():
                arr, dtype = old_column(values, col)
                self.columns[col] = (arr, pos, dtype)

    def __len__(self) -> int:
        return len(self.labels)

    def frame(self, a: int = 0, b: int | None = None) -> pd.DataFrame:
        """The stored crosswalk of labels ``a:b`` (index ``a…b-1``, as in the label table)."""
        b = len(self) if b is None else b
        frame = self.labels.iloc[a:b].copy()
        for col, values in self.status.items():
            frame[col] = values[a:b]
        columns = {col: pd.Series(arr[pos[a:b]], dtype=dtype) for col, (arr, pos, dtype) in self.columns.items()}
        if columns:
            frame = pd.concat([frame, pd.DataFrame(columns).set_axis(frame.index)], axis=1)
        return frame


def old_column(values: Sequence, col: str) -> tuple[np.ndarray, object]:
    """A rater column as an array with one trailing value for labels not rated, and its dtype (by the column's kind)."""
    n = len(values)
    if col.endswith("_score"):
        arr = np.empty(n + 1, dtype=float)
        arr[:n] = values
        arr[n] = math.nan
        return arr, float  # pos -1 picks the trailing NaN
    sample = next((v for v in values if v is not None), "")
    if isinstance(sample, bool | np.bool_):
        arr, fill, dtype = np.empty(n + 1, dtype=bool), False, bool
    elif isinstance(sample, int | np.integer):
        arr, fill, dtype = np.empty(n + 1, dtype=np.int64), 0, "int64"
    elif isinstance(sample, float | np.floating):
        arr, fill, dtype = np.empty(n + 1, dtype=float), math.nan, float
    else:
        arr = np.empty(n + 1, dtype=object)
        arr[:n] = ["" if v is None else v if isinstance(v, str) else str(v) for v in values]
        arr[n] = ""
        return arr, object
    arr[:n] = [fill if v is None else v for v in values]
    arr[n] = fill
    return arr, dtype


# --------------------------------------------------------------------------- crosswalks


def _synthetic(n: int) -> list[str]:
    spec = importlib.util.spec_from_file_location("bench_scale", Path(__file__).parents[1] / "bench" / "bench_scale.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench.synthetic_labels(n)


@pytest.fixture(scope="module")
def npk(npk_labels) -> pd.DataFrame:
    return code_labels(tabulate_labels(pd.Series(npk_labels["occupation"].tolist(), dtype=object)))


@pytest.fixture(scope="module")
def synthetic_run() -> tuple[pd.DataFrame, tuple]:
    """20,000 synthetic labels coded, and what the pipeline gave the assembler (labels, statuses, rated columns)."""
    given = []

    class Keep(Assembler):
        def __init__(self, *args):
            given.append(args)
            super().__init__(*args)

    # the last 20,000 of 40,000: varied names (prefixes, suffixes, typos) more than the job dictionary's own
    texts = _synthetic(40_000)[-20_000:]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "Assembler", Keep)
        coded = code_labels(tabulate_labels(pd.Series(texts, dtype=object)))
    return coded, given[0]


@pytest.fixture(scope="module")
def synthetic(synthetic_run) -> pd.DataFrame:
    return synthetic_run[0]


def _with_people(coded: pd.DataFrame, seed: int = 22) -> pd.DataFrame:
    """The crosswalk with a reviewer, a consistency rater and a panel of three on some labels.

    Codes near the decided one (its own, a parent, a sibling, another major), ``0``, a code not in
    the list; panel votes flagged invalid now and then; a reviewer's ``0`` sets the status as
    :func:`coder.review.import_review` does.
    """
    rng = random.Random(seed)
    codes = load_codes()
    all_codes = sorted(codes.codes)
    frame = coded.copy()
    keys = frame["label_key"].astype(str).tolist()
    decided = frame["ksco_code"].astype(str).tolist()
    n = len(keys)

    def near(code: str) -> str:
        r = rng.random()
        if r < 0.35 and code:
            return code
        if r < 0.5 and code:
            return codes.parent(code) or code
        if r < 0.6:
            return "0"
        if r < 0.65:
            return "99x"
        return rng.choice(all_codes)

    def some(share: float) -> list[str]:
        return [near(c) if rng.random() < share else "" for c in decided]

    parsed, rule = frame["status_parsed"].astype(str).tolist(), frame["status_rule"].astype(str).tolist()
    review = some(0.03)
    for i, code in enumerate(review):
        if code == "0":
            parsed[i], rule[i] = "not_employed", "review"
        elif code and parsed[i] in ("not_employed", "unknown", "employed_unstated"):
            parsed[i], rule[i] = "", "review"
    review = ["" if c == "0" else c for c in review]
    frame["status_parsed"], frame["status_rule"] = parsed, rule
    batch = tuple("B1" if c else "" for c in review)
    results = [
        RaterResult(
            "review", tuple(keys), tuple(review), (math.nan,) * n, tuple(f"{b}: 김" if b else "" for b in batch),
            extra={"reviewer": tuple("김" if b else "" for b in batch), "note": ("",) * n, "batch": batch},
            rule_ids=batch,
        ),
        RaterResult(
            "consistency", tuple(keys), tuple(cons := some(0.05)), (math.nan,) * n, ("",) * n,
            rule_ids=tuple("C0001" if c else "" for c in cons),
        ),
    ]  # fmt: skip
    for member in ("a", "b", "c"):
        votes = some(0.3)
        valid = [rng.random() < 0.9 for _ in votes]
        results.append(
            RaterResult(
                f"panel_{member}", tuple(keys), tuple(votes), (math.nan,) * n, ("",) * n,
                extra={"confidence": (0.9,) * n, "valid": tuple(valid), "reason": ("",) * n},
                flags=tuple(() if v else ("invalid",) for v in valid),
            )
        )  # fmt: skip
    return add_raters(frame, results)


POLICIES = [
    DecisionPolicy(),
    DecisionPolicy(thresholds={"model": 0.99}, corroborate_threshold=1.0),  # the strict policy of test_stages
    DecisionPolicy(thresholds={"model": 0.99}),
    DecisionPolicy(model_depth_threshold=0),
    DecisionPolicy(thresholds={"model": 0.3, "fuzzy": 0.5}, corroborate_threshold=0.3, corroborate_floor=0.5),
    DecisionPolicy(thresholds={"fuzzy": 0.8}, refine=False, evidence_threshold=0.95),
    DecisionPolicy(
        exclude_rules={"R0226", "R0242", "C0001"}, exclude_raters={"index", "panel_b"}, evidence_threshold=0
    ),
    DecisionPolicy(
        strong={"title", "rule", "index", "model"}, precedence=("model", "review", "rule", "title", "index", "fuzzy")
    ),
    DecisionPolicy(strong={"title", "rule", "index", "review"}, thresholds={"fuzzy": 2.0}),
]


def _same(frame: pd.DataFrame, policy: DecisionPolicy) -> None:
    codes = load_codes()
    new, old = decide_module.decide(frame, policy, codes=codes), old_decide(frame, policy, codes=codes)
    pd.testing.assert_frame_equal(new, old, check_exact=True)


@pytest.mark.parametrize("p", range(len(POLICIES)))
def test_npk(npk, p):
    assert len(npk) > 2_000
    _same(npk, POLICIES[p])


@pytest.mark.parametrize("p", range(len(POLICIES)))
def test_synthetic(synthetic, p):
    assert len(synthetic) == 20_000
    _same(synthetic, POLICIES[p])


@pytest.mark.parametrize("p", range(len(POLICIES)))
def test_with_reviewer_consistency_and_panel(npk, synthetic, p):
    frame = _with_people(pd.concat([npk, synthetic.head(8_000)], ignore_index=True))
    assert {"review_code", "consistency_code", "panel_a_code", "panel_c_valid"} <= set(frame.columns)
    _same(frame, POLICIES[p])


def test_read_back_from_csv(npk, synthetic):
    text = _with_people(pd.concat([npk, synthetic.head(3_000)], ignore_index=True)).to_csv(index=False)
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    for policy in POLICIES[:5]:
        _same(frame, policy)
    frame = pd.read_csv(io.StringIO(text))  # numbers, NaN and booleans as pandas reads them
    for policy in POLICIES[:2]:
        _same(frame, policy)


ODD_DETAILS = [
    "",
    "{}",
    "[]",
    '{"levels":[]}',
    '{"levels":[],"top":[],"evidence":0.5}',
    '{"levels": [["2", 0.9]]}',
    '{"levels":[["2",0.9],["21",-0]],"top":[],"evidence":0.9}',
    '{"levels":[["2",-0.0],["21",0.8]],"evidence":0.8}',
    '{"levels":[["2",1],["21",1e-05]],"top":[["2101",0.5]],"evidence":1}',
    '{"levels":[["2",1],["21",0]],"top":[["2101",0.5]],"evidence":1}',
    '{"levels":[["2",0.9]],"levels":[["3",0.9]]}',
    '{"levels":[["2",0.9]],"top":[["levels",0.9]],"evidence":0.9}',
    '{"levels":[["levels",0.9],["21",0.8]],"evidence":0.9}',
    '{"levels":[["2",0.9],["21",0.8]],"other":[],"evidence":0.9}',
    '{"levels":[["2",0.9],["21",0.8]],"evidence":1e-3}',
    '{"levels":[["2",2.5],["21",0.8]],"evidence":0.9}',
    '{"levels":[["2",0.95],["21",0.9],["215",0.88],["2151",0.87]],"top":[["2151",0.8]],"evidence":0.99}',
    '{"levels":[["2",0.95],["21",0.9],["215",0.88],["2151",0.87]],"top":[["2151",0.8]],"evidence":0.99}\n',
    '{"levels":[["A",0.9],["A0",0.8],["A09",0.7],["A090",0.9]],"top":[["A090",0.7]],"evidence":0.8}',
    '{"levels":[["2",0.90000000000000000000001],["21",0.59999999999999997779553950749686919152736663818359375]]}',
    '{"levels":[["2\\u0031",0.9]],"evidence":0.5}',
    '{"levels":[["2",0.9],["21",08]],"evidence":0.8}',
    '{"levels":[["가",0.9]],"evidence":0.8}',
    '{"levels":[["2",0.9]],"top":[["2",0.9]],"evidence":0.8}',
]


def test_odd_model_details(synthetic):
    frame = synthetic.head(3_000).copy()
    frame["model_detail"] = [
        ODD_DETAILS[i % len(ODD_DETAILS)] if i % 2 else d for i, d in enumerate(frame["model_detail"])
    ]
    for policy in POLICIES:
        _same(frame, policy)
    for details in (ODD_DETAILS, [*ODD_DETAILS, '{"levels":[["2",0.9]]}\ud800']):  # no UTF-8: all read by json
        levels = decide_module._ModelLevels(details)
        for i, d in enumerate(details):
            got, want = levels.chain(i), _model_levels(d)
            assert got == want and [math.copysign(1, s) for _, s in got] == [math.copysign(1, s) for _, s in want], d
        rows, codes, scores = levels.answer(0.6, 0.85, np.arange(len(details)) % 4 == 1)
        want = {}  # the former decide's model answer at thresholds 0.6 and 0.85 (no evidence on every fourth)
        for i, chain in enumerate(_model_levels(d) for d in details):
            ok = [(c, s) for lv, (c, s) in enumerate(chain) if s >= (0.85 if lv else 0.6)] if i % 4 != 1 else []
            if chain:
                want[i] = ok[-1] if ok else ("", chain[0][1])
        assert dict(zip(rows.tolist(), zip(codes.tolist(), scores.tolist()))) == want


def test_rules_final_in_depth(npk, synthetic):
    """A rule final in depth holds a deeper answer back (few such rules fire on these labels: more here)."""
    frame = pd.concat([npk, synthetic.head(6_000)], ignore_index=True)
    frame["rule_depth_final"] = [i % 3 != 0 and bool(c) for i, c in enumerate(frame["rule_code"])]
    for policy in POLICIES:
        _same(frame, policy)


def test_no_labels(synthetic):
    for frame in (synthetic.head(0), _with_people(synthetic.head(50)).head(0)):
        _same(frame, DecisionPolicy())


# --------------------------------------------------------------------------- assembly


def test_assembly_is_the_former_assembly(synthetic_run):
    labels, statuses, results = synthetic_run[1]
    assert len({tuple(r.keys) for r in results}) == 1  # the raters rated the same keys: one lookup now
    new, old = Assembler(labels, statuses, results), OldAssembler(labels, statuses, results)
    for a, b in [(0, None), (0, 7_000), (7_000, 20_000), (19_990, 25_000), (5, 5)]:
        pd.testing.assert_frame_equal(new.frame(a, b), old.frame(a, b), check_exact=True)
    halves = [RatedColumns(r.rater, r.keys[::-1], {c: v[::-1] for c, v in r.columns.items()}) for r in results[:2]]
    mixed = [*halves, *results[2:]]  # keys in another order for two raters: looked up on their own
    pd.testing.assert_frame_equal(
        Assembler(labels, statuses, mixed).frame(), OldAssembler(labels, statuses, mixed).frame(), check_exact=True
    )


ODD_COLUMNS = [
    ("x_code", ["a", "b", ""]),
    ("x_code", ("a", None, "b")),
    ("x_code", ("a", 1, 2.5, None, True)),
    ("x_code", [None, None]),
    ("x_code", []),
    ("x_code", np.array(["a", "bc"])),
    ("x_code", pd.Series(["a", None], index=[None, 3])),
    ("x_flags", (("a", "b"), ("c",))),
    ("x_conflict", (True, False)),
    ("x_conflict", (None, True, False)),
    ("x_conflict", [np.bool_(True), False]),
    ("x_n", (1, 2, 3)),
    ("x_n", (None, 2)),
    ("x_n", (np.int64(4), 5)),
    ("x_v", (0.5, math.nan)),
    ("x_v", (0.5, None, -0.0)),
    ("x_score", (0.1, math.nan)),
    ("x_score", np.array([0.25, -0.0])),
    ("x_n", pd.Series([1, 2], index=[None, 0])),
]


@pytest.mark.parametrize("case", range(len(ODD_COLUMNS)))
def test_column_is_the_former_column(case):
    col, values = ODD_COLUMNS[case]
    (got, got_type), (want, want_type) = _column(values, col), old_column(values, col)
    assert got_type == want_type and got.dtype == want.dtype and len(got) == len(want)
    for x, y in zip(got.tolist(), want.tolist()):
        assert type(x) is type(y) and (x == y or (x != x and y != y)), (x, y)
        if isinstance(x, float):
            assert math.copysign(1, x) == math.copysign(1, y)
