"""The rules every decision obeys (coder/crosswalk/decide.py, its module docstring) as properties.

Crosswalks are generated the way the pipeline builds them (``tabulate_labels`` → ``parse_status``
→ ``assemble_crosswalk``; the reviewer added by label key as ``import_review`` does, with its
status changes) from a handful of labels.  Each label's core key has an *anchor*, a real code;
the raters answer with the anchor, one of its ancestors, a relative (a code below one of its
ancestors), an unrelated code, an invalid string or nothing, so that lineage agreements and
disagreements both happen.  Every property holds for every generated :class:`DecisionPolicy`.

:func:`_evidence` restates, from the stored columns alone, what counts as evidence: a rater
counts when the policy neither excludes it nor leaves its slot out of the precedence, its code
is in the code list and its rule is not excluded; the model's code is re-derived from its
``levels`` chain at the policy's threshold; a panel member's vote counts when it is flagged
valid.
"""

from __future__ import annotations

import functools
import json
import math
import random
from dataclasses import dataclass, field

import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from coder.codes import load_codes
from coder.crosswalk.assemble import add_raters, assemble_crosswalk
from coder.crosswalk.decide import FINAL_COLUMNS, PANEL_COLUMNS, PRECEDENCE, DecisionPolicy, decide, panel_vote
from coder.labels import LabelTable, tabulate_labels
from coder.raters.base import RaterResult, slot_of
from coder.status import LabelStatus, parse_status

NAN = math.nan
CODES = load_codes()
ALL_CODES = tuple(sorted(CODES.codes))
ANCHORS = tuple(c for c in ALL_CODES if CODES.level(c) >= 4)
_below: dict[str, list[str]] = {}
for _c in ALL_CODES:
    for _a in CODES.ancestors(_c):
        _below.setdefault(_a, []).append(_c)
BELOW = {a: tuple(v) for a, v in _below.items()}  # a code and every code under it
UNITS_BELOW = {a: tuple(c for c in v if CODES.level(c) == 4) for a, v in BELOW.items()}
INVALID = ("9999x", "99998", "A9999", "1x", "0", "")
"""Answers that are not codes of the list ("0" is a valid panel vote, but no code)."""
NOT_VOTES = ("9999x", "99998", "A9999", "1x", "")
"""Panel answers that are neither a code of the list nor "0"."""

JOBS = (
    "경비원",
    "승무원",
    "헤어디자이너",
    "구청 공무원",
    "택시 기사",
    "건물 청소원",
    "요양보호사",
    "목수",
    "교사",
    "간호사",
    "요리사",
    "용접공",
)
STATUS_WORDS = ("무직", "전직 경비원, 현재 구직중", "전직 간호사 (구직중)", "구직중", "모름", "자영업")
MOSTLY_TRUE = (True, True, True, False)
SINGLES = ("consistency", "title", "rule", "index", "model", "fuzzy")
RULE_IDS = ("R0001", "R0002", "R0003")
MEMBERS = ("a", "b", "c", "d")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_invalid_strings_are_not_codes():
    assert not any(c in CODES for c in INVALID)
    assert "42" in CODES  # a two-digit sub-major group is a code, not a malformed answer


# ---------------------------------------------------------------- building crosswalks


@functools.cache
def _indices(n: int) -> st.SearchStrategy[int]:
    return st.integers(0, n - 1)


def _pick(draw, seq):
    """One element of a sequence (an index drawn from a cached strategy: cheaper than a new ``sampled_from``)."""
    return seq[draw(_indices(len(seq)))]


@st.composite
def _near(draw, anchor: str, *, invalid: bool = True, zero: bool = False) -> str:
    """A code related to ``anchor`` (itself, an ancestor, a relative), an unrelated one, or an invalid string."""
    kinds = ("lineage", "lineage", "lineage", "lineage", "relative", "other")
    kind = _pick(draw, kinds + ("invalid",) * invalid + ("zero",) * zero)
    lineage = CODES.ancestors(anchor)
    if kind == "lineage":
        return _pick(draw, lineage)
    if kind == "relative":
        return _pick(draw, BELOW[_pick(draw, lineage)])
    if kind == "other":
        return _pick(draw, ALL_CODES)
    return _pick(draw, INVALID) if kind == "invalid" else "0"


def _chain(unit: str, probs: list[float]) -> list[list]:
    """The model's levels chain major → unit group, probabilities non-increasing."""
    lineage = list(reversed(CODES.ancestors(unit)))
    return [[c, p] for c, p in zip(lineage, sorted(probs, reverse=True), strict=True)]


def _model_detail(chain: list[list]) -> str:
    return json.dumps({"levels": chain, "top": [chain[-1]]}, ensure_ascii=False, separators=(",", ":"))


def _model_from_chain(chain: list[list], threshold: float = 0.75) -> tuple[str, float]:
    """What the model rater stores: the deepest chain code at or above the threshold."""
    ok = [(c, p) for c, p in chain if p >= threshold]
    return ok[-1] if ok else ("", chain[0][1])


@st.composite
def _single(draw, name: str, cores: list[str], anchors: dict[str, str]) -> RaterResult:
    """One offline rater's answers per core key, shaped as that rater stores them (model chain, fuzzy shortlist, …)."""
    codes, scores, details, rule_ids, cands, final, conflict = [], [], [], [], [], [], []
    for core in cores:
        anchor = anchors[core]
        code, score, detail, rid, cand, depth_final = "", NAN, "", "", (), False
        answers = _pick(draw, MOSTLY_TRUE)
        if answers and name == "model":
            if draw(st.booleans()):  # a chain, as the model rater stores it
                near = draw(_near(anchor, invalid=False))
                units = UNITS_BELOW[near] or UNITS_BELOW[CODES.ancestors(near)[-1]]
                unit = CODES.truncate(near, 4) if CODES.level(near) >= 4 else _pick(draw, units)
                probs = draw(st.lists(st.floats(0, 1), min_size=4, max_size=4))
                chain = _chain(unit, [round(p, 4) for p in probs])
                code, score = _model_from_chain(chain)
                detail, cand = _model_detail(chain), ((unit, chain[-1][1]),)
            else:  # an older crosswalk: a code and a score, no chain
                code, score = draw(_near(anchor)), draw(st.floats(0, 1))
        elif answers and name == "fuzzy":
            shortlist = draw(st.lists(_near(anchor, invalid=False), min_size=1, max_size=3, unique=True))
            sc = sorted(draw(st.lists(st.floats(0, 1), min_size=len(shortlist), max_size=len(shortlist))), reverse=True)
            cand = tuple(zip(shortlist, sc, strict=True))
            code, score = cand[0]
        elif answers:
            code = draw(_near(anchor))
            score = 1.0 if name in ("title", "index") else NAN
            if name == "rule":
                rid, depth_final = draw(st.sampled_from(RULE_IDS)), draw(st.booleans())
            elif name == "consistency":
                rid = "C0001"
        elif name == "title" and draw(st.booleans()):
            detail = f"ambiguous: {anchor}|{_pick(draw, ALL_CODES)}"
        codes.append(code)
        scores.append(score)
        details.append(detail)
        rule_ids.append(rid)
        cands.append(cand)
        final.append(depth_final)
        conflict.append(name == "rule" and bool(code) and draw(st.integers(0, 9)) == 0)
    extra = {}
    if name == "rule":
        extra = {"hits": tuple("R0001=1 R0002=2" if c else "" for c in conflict), "conflict": tuple(conflict)}
        extra["depth_final"] = tuple(final)
    return RaterResult(
        name, tuple(cores), tuple(codes), tuple(scores), tuple(details), extra,
        rule_ids=tuple(rule_ids), candidates=tuple(cands),
    )  # fmt: skip


@st.composite
def _member(draw, member: str, cores: list[str], anchors: dict[str, str]) -> RaterResult:
    """A panel member ``panel_<member>`` as coder/panel/run.py stores it (extras confidence, valid, reason)."""
    codes, valid = [], []
    for core in cores:
        codes.append(draw(_near(anchors[core], zero=True)))
        valid.append(_pick(draw, MOSTLY_TRUE))
    n = len(cores)
    return RaterResult(
        f"panel_{member}", tuple(cores), tuple(codes), (NAN,) * n, ("",) * n,
        extra={"confidence": (0.9,) * n, "valid": tuple(valid), "reason": ("",) * n},
        flags=tuple(() if v else ("invalid",) for v in valid),
    )  # fmt: skip


def _with_review(stored: pd.DataFrame, decisions: dict[str, str]) -> pd.DataFrame:
    """The crosswalk with the reviewer's decisions (label key → code, "0" = not employed), as import_review adds them."""
    frame = stored.copy()
    keys = frame["label_key"].astype(str).tolist()
    parsed, rule = frame["status_parsed"].astype(str).tolist(), frame["status_rule"].astype(str).tolist()
    codes = []
    for i, key in enumerate(keys):
        code = decisions.get(key, "")
        if code == "0":
            parsed[i], rule[i] = "not_employed", "review"
        elif code and parsed[i] in ("not_employed", "unknown", "employed_unstated"):
            parsed[i], rule[i] = "", "review"
        codes.append("" if code == "0" else code)
    frame["status_parsed"], frame["status_rule"] = parsed, rule
    n = len(keys)
    batch = tuple("B1" if c else "" for c in codes)
    review = RaterResult(
        "review", tuple(keys), tuple(codes), (NAN,) * n, tuple(f"{b}: 김" if b else "" for b in batch),
        extra={"reviewer": tuple("김" if b else "" for b in batch), "note": ("",) * n, "batch": batch},
        rule_ids=batch,
    )  # fmt: skip
    return add_raters(frame, [review])


def _stored(labels, results, review=None) -> pd.DataFrame:
    table = tabulate_labels(pd.Series(list(labels), dtype=object))
    stored = assemble_crosswalk(table, parse_status(table.keys), results)
    return _with_review(stored, review) if review is not None else stored


@functools.cache
def _table(labels: tuple[str, ...]) -> tuple[LabelTable, list[LabelStatus]]:
    """The label table and parsed statuses of some labels (cached: both are pure, and slow next to decide)."""
    table = tabulate_labels(pd.Series(list(labels), dtype=object))
    return table, parse_status(table.keys)


@st.composite
def crosswalks(draw, *, review: bool | None = None, members: tuple[int, int] = (0, 4)) -> pd.DataFrame:
    """A stored crosswalk (no final columns) over a handful of labels."""
    labels = draw(st.lists(st.sampled_from(JOBS + STATUS_WORDS), min_size=1, max_size=8, unique=True))
    table, statuses = _table(tuple(labels))
    cores = sorted({s.core_key for s in statuses if s.core_key})
    anchors = {core: _pick(draw, ANCHORS) for core in cores}
    names = draw(st.sets(st.sampled_from(SINGLES)))
    results = [draw(_single(name, cores, anchors)) for name in sorted(names)]
    n_members = draw(st.integers(*members))
    results += [draw(_member(m, cores, anchors)) for m in MEMBERS[:n_members]]
    stored = assemble_crosswalk(table, statuses, results)
    if review is None:
        review = draw(st.booleans())
    if review:
        decisions = {}
        for key, status in zip(table.keys, statuses, strict=True):
            anchor = anchors.get(status.core_key) or _pick(draw, ANCHORS)
            decisions[key] = draw(st.one_of(st.just(""), st.just("0"), _near(anchor, invalid=False), st.just("9999x")))
        stored = _with_review(stored, decisions)
    return stored


@st.composite
def policies(draw) -> DecisionPolicy:
    """Any policy: precedence permuted (a slot or two sometimes left out), thresholds, refinement, exclusions."""
    if draw(st.integers(0, 5)) == 0:
        return DecisionPolicy()
    order = draw(st.permutations(PRECEDENCE))
    left_out = draw(st.sets(st.sampled_from(PRECEDENCE), max_size=2)) if draw(st.integers(0, 3)) == 0 else set()
    excludable = (*PRECEDENCE, *(f"panel_{m}" for m in MEMBERS))
    return DecisionPolicy(
        precedence=tuple(s for s in order if s not in left_out),
        thresholds={"model": draw(st.floats(0, 1.2)), "fuzzy": draw(st.floats(0, 1.2))},
        refine=draw(st.booleans()),
        corroborate_threshold=draw(st.floats(0, 1.2)),
        exclude_raters=draw(st.sets(st.sampled_from(excludable), max_size=2)),
        exclude_rules=draw(st.sets(st.sampled_from((*RULE_IDS, "C0001")), max_size=1)),
    )


# ---------------------------------------------------------------- what counts as evidence


@dataclass
class _Single:
    rank: int
    rater: str
    code: str
    score: float
    strong: bool
    confident: bool
    depth_final: bool


@dataclass
class _Evidence:
    """A label's usable answers under a policy, restated from its stored columns."""

    human: str = ""
    singles: list[_Single] = field(default_factory=list)
    chain: list[tuple[str, float]] = field(default_factory=list)
    votes: list[str] = field(default_factory=list)  # the counted (flagged valid) members' votes
    panel_code: str = ""  # the majority code of the counted votes ("" none, "0" not employed)

    def backing(self, code: str) -> int:
        """How many counted valid votes lie at or under ``code``."""
        return sum(1 for v in self.votes if v in CODES and code in CODES.ancestors(v))

    def panel_decides(self) -> bool:
        return (
            self.panel_code not in ("", "0")
            and self.backing(self.panel_code) >= 2
            and not any(s.strong and s.code[0] != self.panel_code[0] for s in self.singles)
        )

    def first_confident(self, policy: DecisionPolicy) -> tuple[int, str] | None:
        """The (rank, code) of the first confident answer in precedence: the one that decides outright."""
        found = [(s.rank, s.code) for s in self.singles if s.confident]
        if self.panel_decides():
            found.append((policy.precedence.index("panel"), self.panel_code))
        return min(found, default=None)

    def codes(self) -> set[str]:
        """Every code a rater here answered itself (the human's, the singles', the panel's majority, the chain's)."""
        return {self.human, *(s.code for s in self.singles), self.panel_code, *(c for c, _ in self.chain)} - {""}


def _flagged(valid: object) -> bool:
    """A member's answer flagged invalid (an empty cell is not a flag)."""
    return valid not in ("", None) and not bool(valid)


def _active(name: str, policy: DecisionPolicy) -> bool:
    return (
        name not in policy.exclude_raters
        and slot_of(name) not in policy.exclude_raters
        and slot_of(name) in policy.precedence
    )


def _evidence(row: dict, policy: DecisionPolicy) -> _Evidence:
    ev = _Evidence()
    names = [c[: -len("_code")] for c in row if c.endswith("_code") and c not in ("ksco_code",)]
    if "review" in names and "review" not in policy.exclude_raters and row["review_code"] in CODES:
        ev.human = row["review_code"]
    for name in SINGLES:
        if name not in names or not _active(name, policy):
            continue
        code, score = row[f"{name}_code"], row[f"{name}_score"]
        if name == "model" and row["model_detail"].startswith("{"):
            ev.chain = [(str(c), float(p)) for c, p in json.loads(row["model_detail"])["levels"]]
            code, score = _model_from_chain(ev.chain, policy.threshold("model"))
        if not code or code not in CODES or row[f"{name}_rule_id"] in policy.exclude_rules:
            continue
        strong = name in policy.strong
        ev.singles.append(
            _Single(
                policy.precedence.index(name), name, code, score, strong,
                strong or score >= policy.threshold(name),
                name == "title" or (name == "rule" and str(row.get("rule_depth_final")) == "True"),
            )
        )  # fmt: skip
    members = [n for n in names if n.startswith("panel_") and _active(n, policy)]
    ev.votes = [row[f"{m}_code"] for m in members if row[f"{m}_code"] and not _flagged(row[f"{m}_valid"])]
    ev.panel_code = panel_vote([(str(i), v) for i, v in enumerate(ev.votes)], CODES)[0]
    return ev


def _records(frame: pd.DataFrame) -> list[dict]:
    """The rows as dicts (``to_dict("records")``, ten times faster on these wide frames)."""
    cols = list(frame.columns)
    return [dict(zip(cols, values, strict=True)) for values in frame.to_numpy(dtype=object).tolist()]


def _rows(stored: pd.DataFrame, policy: DecisionPolicy):
    """(stored row, decided row, evidence) per label."""
    for row, out in zip(_records(stored), _records(decide(stored, policy)), strict=True):
        yield row, out, _evidence(row, policy)


def _coded(row: dict) -> bool:
    """The label carries an occupation (its status does not decide it without a code)."""
    st_ = row["status_parsed"]
    return st_ not in ("not_employed", "unknown", "employed_unstated") and not (
        st_ == "job_seeker" and not row["core_key"]
    )


def _reasons(out: dict) -> set[str]:
    return set(filter(None, out["review_reasons"].split(";")))


# ---------------------------------------------------------------- examples (cases users hit)


def _model_chain(key: str, chain: list[list]) -> RaterResult:
    """A model rater for one key from its chain ``[[code, p], ...]`` (major → unit group)."""
    code, score = _model_from_chain(chain)
    return RaterResult("model", (key,), (code,), (score,), (_model_detail(chain),))


def _answer(name: str, answers: dict[str, str], **extra) -> RaterResult:
    n = len(answers)
    rule_ids = tuple("R0001" if c else "" for c in answers.values()) if name == "rule" else None
    return RaterResult(
        name, tuple(answers), tuple(answers.values()), (NAN,) * n, ("",) * n,
        {k: tuple(v) for k, v in extra.items()}, rule_ids=rule_ids,
    )  # fmt: skip


def _panel_member(member: str, answers: dict[str, tuple[str, bool]]) -> RaterResult:
    n = len(answers)
    valid = tuple(v for _, v in answers.values())
    return RaterResult(
        f"panel_{member}", tuple(answers), tuple(c for c, _ in answers.values()), (NAN,) * n, ("",) * n,
        extra={"confidence": (0.9,) * n, "valid": valid, "reason": ("",) * n},
        flags=tuple(() if v else ("invalid",) for v in valid),
    )  # fmt: skip


REVIEW_SHALLOWER_THAN_MODEL = _stored(
    ["승무원"], [_model_chain("승무원", [["4", 0.97], ["43", 0.93], ["431", 0.9], ["4312", 0.85]])], {"승무원": "431"}
)
REVIEW_SHALLOWER_THAN_RULE = _stored(
    ["헤어디자이너"], [_answer("rule", {"헤어디자이너": "42220"})], {"헤어디자이너": "422"}
)
LONE_PANEL_VOTE = _stored(
    ["공무원"],
    [_panel_member("a", {"공무원": ("4311", True)}), _model_chain("공무원", [["3", 0.8], ["31", 0.5], ["312", 0.4], ["3121", 0.3]])],
)  # fmt: skip
JOB_SEEKER_REVIEWED = _stored(["구직중"], [], {"구직중": "3"})
"""A label whose words say job-seeking with no former occupation, given a code by the reviewer."""
CAP_BELOW_THE_CHOSEN_CODE = _stored(
    ["목수"],
    [
        _answer("consistency", {"목수": "9"}),
        _answer("rule", {"목수": "94"}, depth_final=[True]),
        _model_chain("목수", [["9", 0.99], ["94", 0.95], ["941", 0.9], ["9411", 0.85]]),
    ],
)
"""A depth-final rule (94) under the code that decides (consistency 9), and a confident model deeper (9411)."""
FLAGGED_MEMBER = _stored(
    ["택시 기사", "경비원"],
    [
        _panel_member("a", {"택시기사": ("87310", False), "경비원": ("94212", False)}),
        _panel_member("b", {"택시기사": ("", True), "경비원": ("94212", True)}),
    ],
)


def test_reviewer_shallower_than_a_confident_model_is_final():
    """Rule 1: a reviewer's 431 for 승무원 is not deepened by the model's 4312 at 0.85."""
    row = decide(REVIEW_SHALLOWER_THAN_MODEL).iloc[0]
    assert (row.ksco_code, row.code_source, row.needs_review, row.review_reasons) == ("431", "review", False, "")


def test_reviewer_shallower_than_a_rule_is_final():
    """Rule 1: a reviewer's 422 for 헤어디자이너 is not deepened by the rule's 42220."""
    row = decide(REVIEW_SHALLOWER_THAN_RULE).iloc[0]
    assert (row.ksco_code, row.code_source, row.needs_review) == ("422", "review", False)
    assert row.code_note == ""  # 422 and 42220 share a lineage: nothing to say against the reviewer


def test_a_lone_panel_vote_against_the_model_does_not_decide():
    """Rule 3: one member's 4311 for 공무원 against the model's major 3 is advisory; a person looks."""
    row = decide(LONE_PANEL_VOTE).iloc[0]
    assert (row.ksco_code, row.code_source) == ("3", "model")
    assert row.needs_review
    assert {"panel_advisory", "weak"} <= set(row.review_reasons.split(";"))
    assert row.panel_valid == 1


def test_a_member_flagged_invalid_decides_nothing():
    """Rule 2: a member whose every answer is flagged invalid neither decides alone nor makes a majority."""
    xw = decide(FLAGGED_MEMBER).set_index("label_key")
    alone = xw.loc["택시기사"]
    assert (alone.ksco_code, alone.code_source, alone.panel_valid) == ("", "", 0)
    assert alone.needs_review and {"invalid", "no_code"} <= set(alone.review_reasons.split(";"))
    pair = xw.loc["경비원"]  # a's 94212 does not join b's: b alone is advisory
    assert (pair.ksco_code, pair.code_source, pair.panel_valid) == ("94212", "panel", 1)
    assert pair.needs_review and {"invalid", "panel_advisory", "weak"} <= set(pair.review_reasons.split(";"))


# ---------------------------------------------------------------- the properties


@SETTINGS
@given(stored=crosswalks(review=True), policy=policies())
@example(stored=REVIEW_SHALLOWER_THAN_MODEL, policy=DecisionPolicy())
@example(stored=REVIEW_SHALLOWER_THAN_RULE, policy=DecisionPolicy(precedence=("rule", "review")))
@example(stored=JOB_SEEKER_REVIEWED, policy=DecisionPolicy())
def test_a_review_decision_is_final(stored, policy):
    """Rule 1 — a review decision is final.

    A reviewer's valid code is the final code (not deeper, not shallower), ``code_source`` is
    ``review`` and nothing is left to review, whatever the policy (unless it excludes ``review``);
    a reviewer's ``0`` (status ``not_employed`` set by ``review``) gives no code and no review.
    """
    policy = policy.with_(exclude_raters=policy.exclude_raters - {"review"})
    for row, out, ev in _rows(stored, policy):
        if ev.human:
            assert (out["ksco_code"], out["code_source"]) == (ev.human, "review"), out["code_note"]
            assert (out["needs_review"], out["review_reasons"]) == (False, "")
            assert out["ksco_level"] == CODES.level(ev.human)
        elif (row["status_parsed"], row["status_rule"]) == ("not_employed", "review"):
            assert (out["status"], out["ksco_code"], out["ksco_major"]) == ("not_employed", "", "0")
            assert (out["code_source"], out["needs_review"], out["review_reasons"]) == ("review", False, "")


@SETTINGS
@given(stored=crosswalks(), policy=policies(), seed=st.integers(0, 2**32 - 1))
@example(stored=FLAGGED_MEMBER, policy=DecisionPolicy(), seed=0)
def test_an_invalid_vote_never_counts(stored, policy, seed):
    """Rule 2 — an invalid vote never counts.

    Changing what a member flagged invalid said (to anything: another code, ``0``, nothing), or
    replacing a code that is not in the code list by another non-code, never changes any label's
    final code, source or status.
    """
    rnd = random.Random(seed)
    flipped = stored.copy()
    for name in [c[: -len("_code")] for c in stored.columns if c.endswith("_code")]:
        member = name.startswith("panel_")
        codes, valid = stored[f"{name}_code"].tolist(), stored[f"{name}_valid"].tolist() if member else []
        for i, code in enumerate(codes):
            if code and member and _flagged(valid[i]):
                codes[i] = rnd.choice(
                    (*INVALID, rnd.choice(ALL_CODES), rnd.choice(CODES.ancestors(rnd.choice(ANCHORS))))
                )
            elif code and code not in CODES and not (member and code == "0"):
                codes[i] = rnd.choice(NOT_VOTES if member else INVALID)
        flipped[f"{name}_code"] = codes
    before, after = decide(stored, policy), decide(flipped, policy)
    cols = ["label_key", "status", "ksco_code", "code_source", "rule_id"]
    assert _records(before[cols]) == _records(after[cols])


@SETTINGS
@given(stored=crosswalks(members=(1, 4)), policy=policies())
@example(stored=LONE_PANEL_VOTE, policy=DecisionPolicy())
@example(stored=FLAGGED_MEMBER, policy=DecisionPolicy())
def test_a_panel_decides_only_where_two_valid_votes_agree(stored, policy):
    """Rule 3 — a panel decides only when at least two valid votes agree.

    A code from the panel is backed by at least two counted (valid) votes at or under it, or it
    is advisory: it filled a blank as a weak code and the label goes to review (``weak``,
    ``panel_advisory``) — always so when a single vote is valid.  A panel majority that
    contradicts a strong rater at the major level never decides.
    """
    for _row, out, ev in _rows(stored, policy):
        if out["code_source"] != "panel":
            continue
        reasons = _reasons(out)
        if ev.backing(out["ksco_code"]) < 2:  # always so when a single vote is valid
            assert {"panel_advisory", "weak"} <= reasons and out["needs_review"], out["code_note"]
        if "panel_advisory" not in reasons:
            assert ev.backing(out["ksco_code"]) >= 2, out["code_note"]
        against = [s for s in ev.singles if s.strong and s.code[0] != ev.panel_code[:1]]
        assert not against, f"panel {ev.panel_code} decided over {against}"


@SETTINGS
@given(stored=crosswalks(), policy=policies())
@example(stored=CAP_BELOW_THE_CHOSEN_CODE, policy=DecisionPolicy())
def test_a_depth_final_code_is_never_deepened(stored, policy):
    """Rule 4 — a depth-final code (a rule with ``depth = final``, an exact title) is never deepened.

    When such a code is a strict ancestor of the final code, nothing deepened it: either the
    reviewer decided, or a rater ahead of it in the precedence decided outright with its own
    code (the first confident answer, taken as is).  Refinement never passes it.
    """
    for _row, out, ev in _rows(stored, policy):
        code = out["ksco_code"]
        if not code or out["code_source"] == "review":
            continue
        for cap in (s for s in ev.singles if s.depth_final):
            if cap.code == code or cap.code not in CODES.ancestors(code):
                continue
            first = ev.first_confident(policy)
            # the model's own answer is the code of its chain that the depth rule allows: its stored code or
            # an ancestor of it (model_depth_threshold)
            own = first is not None and (
                first[1] == code
                or (
                    policy.precedence[first[0]] == "model"
                    and code in {c for c, _ in ev.chain}
                    and code in CODES.ancestors(first[1])
                )
            )
            assert first is not None and own and first[0] < cap.rank, (
                f"{cap.rater}={cap.code} is final in depth, but {out['code_source']}={code}: {out['code_note']}"
            )


@SETTINGS
@given(stored=crosswalks(), policy=policies())
def test_a_code_is_never_deeper_than_its_evidence(stored, policy):
    """Rule 5 — a code is never deeper than the evidence.

    The final code is one rater's own answer (counted: not excluded, valid), the panel's
    majority code, or a code of the model's chain — never a composite.
    """
    for row, out, ev in _rows(stored, policy):
        if out["ksco_code"]:
            assert _coded(row) or ev.human
            assert out["ksco_code"] in ev.codes(), (out["code_source"], out["code_note"])


@SETTINGS
@given(stored=crosswalks(), policy=policies())
def test_a_code_not_in_the_list_is_never_final(stored, policy):
    """Rule 6 — a code not in the code list is never final; level, major and title agree with the code."""
    for out in _records(decide(stored, policy)):
        code = out["ksco_code"]
        assert code == "" or code in CODES
        assert out["ksco_level"] == CODES.level(code)
        assert out["ksco_title"] == CODES.title(code)
        if code:
            assert out["ksco_major"] == code[0]
            assert out["status"] in ("job_seeker", "military" if code.startswith("A") else "employed")
        else:
            assert out["ksco_major"] in ("", "0")
            assert out["ksco_major"] != "0" or out["status"] in ("not_employed", "job_seeker")
        assert out["needs_review"] == bool(out["review_reasons"])


@settings(SETTINGS, max_examples=50)
@given(stored=crosswalks(), policy=policies(), order=st.randoms(use_true_random=False))
def test_decide_is_pure_and_idempotent(stored, policy, order):
    """Decide is a pure function of the stored columns.

    Deciding twice gives identical frames and leaves the input alone; deciding its own output
    again changes nothing; a shuffled crosswalk gets the same result per label.
    """
    copy = stored.copy()
    once = decide(stored, policy)
    pd.testing.assert_frame_equal(stored, copy)
    pd.testing.assert_frame_equal(decide(stored, policy), once)
    pd.testing.assert_frame_equal(decide(once, policy), once)
    rows = list(range(len(stored)))
    order.shuffle(rows)
    shuffled = decide(stored.iloc[rows].reset_index(drop=True), policy)
    cols = [c for c in (*FINAL_COLUMNS, *PANEL_COLUMNS) if c in once.columns]
    a = once.set_index("label_key")[cols].sort_index()
    b = shuffled.set_index("label_key")[cols].sort_index()
    pd.testing.assert_frame_equal(a, b)
