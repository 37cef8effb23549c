"""The rule mapper's text lookups give what the former per-rule matching gave (issue 22).

``match_rules`` looks the ``full`` and ``suffix`` rules whose patterns match a finite set of texts
up by text (:func:`coder.raters.rules.finite_texts`), ``apply_rules``, the index and fuzzy raters
skip ``label_key`` on a text that is its own key (:func:`coder.raters.rules.key_again`), and the
status pass's occupation oracle asks ``match_rules`` once per key for both of its questions.  The
former code is kept here, verbatim but for names, as the reference; every rule is also tried one by
one by its own matcher (the plainest reading of the rules file).  Keys: the NPK labels, the held-out
non-occupations, the job-dictionary names and titles, ``bench/bench_scale.py``'s synthetic labels,
the same with a final newline (``$`` matches before one), junk, and a user file of odd patterns.

``decide`` reads each rater's cells row by row, asks the policy about each slot once, skips the flag
reading when a rater flagged nothing, and reads the model's levels and the fuzzy top candidate
without json when the cells are as the raters write them: the former ``decide`` and its two JSON
readers are kept here too.  Crosswalks: those labels coded end to end under several policies; the
same read back from CSV (booleans and numbers as text); one with odd detail and candidates cells
(spaces, escapes, -0, NaN, null, a second "levels", letters in codes, junk).
"""

from __future__ import annotations

import importlib.util
import io
import json
import math
import random
from pathlib import Path

import pandas as pd
import pytest

from coder.codes import BUCKET_NOT_EMPLOYED, CodeList, load_codes
from coder.crosswalk import decide as decide_module
from coder.crosswalk.assemble import LABEL_COLUMNS, STATUS_COLUMNS, order_raters
from coder.crosswalk.decide import (
    DEPTH_FINAL,
    FINAL_COLUMNS,
    HUMAN,
    PANEL_COLUMNS,
    DecisionPolicy,
    _Answer,
    _as_former,
    _core_notes,
    _decide_label,
    _Label,
    _rank,
    _read_flags,
    _read_panel,
    _truthy,
    decide,
    rater_names,
)
from coder.normalize import label_key
from coder.patterns import MAX_MATCH_CHARS
from coder.raters import rules as rules_module
from coder.raters.base import decode_candidates, slot_of
from coder.raters.index import load_index
from coder.raters.rules import RuleHit, apply_rules, finite_texts, key_again, load_rules, match_rules

HELD_OUT = Path(__file__).parent / "data" / "non_occupations.txt"
HEADER = "rule_id,status,priority,pattern,match,code,code_title,example,counterexample,note\n"


# --------------------------------------------------------------------------- the former code


def old_match_rules(key, rules):
    if len(key) > MAX_MATCH_CHARS:
        return []
    if not key:
        return old_brute(key, rules)
    hits = []
    rank = rules._rank if len(rules.files) > 1 else None
    by_first, by_last, by_char, always = rules._buckets
    chars = set(key)
    head, tail = key[0], key[-1]
    if tail == "\n":  # "$" also matches before a final newline: no last-character index for such a key
        candidates = list(
            {id(i): i for i in (*by_first.get(head, ()), *(i for b in by_last.values() for i in b))}.values()
        )
    else:
        candidates = [*by_first.get(head, ()), *by_last.get(tail, ())]
    candidates += [item for ch in chars if ch in by_char for item in by_char[ch]]
    for rule, matcher, req, first, last in (*candidates, *always):
        if req and not req <= chars:
            continue
        if (first is not None and head not in first) or (last is not None and tail != "\n" and tail not in last):
            continue
        n = matcher(key)
        if n is not None:
            r = rank[rule.rule_id] if rank is not None else 0
            hits.append(RuleHit(rule.rule_id, rule.code, rule.priority, rule.level, n, r))
    hits.sort(key=RuleHit.sort_key)
    return hits


def old_brute(key, rules):
    rank = rules._rank if len(rules.files) > 1 else None
    hits = [
        RuleHit(rule.rule_id, rule.code, rule.priority, rule.level, n, rank[rule.rule_id] if rank is not None else 0)
        for rule in rules.active
        for n in (rule._matcher(key),)
        if n is not None
    ]
    hits.sort(key=RuleHit.sort_key)
    return hits


def old_apply_rules(keys, rules=None, *, codes=None):
    if codes is None:
        codes = load_codes()
    if rules is None:
        rules = load_rules(codes=codes)
    out_codes, details, hits_col, conflicts, cands, final, flags = [], [], [], [], [], [], []
    by_id = {r.rule_id: r for r in rules.active}
    for key in keys:
        k = label_key(key) if key else ""
        hits = old_match_rules(k, rules) if k else []
        long = len(k) > MAX_MATCH_CHARS
        flags.append(("too_long",) if long else ())
        if not hits:
            out_codes.append("")
            details.append(rules_module._TOO_LONG if long else "")
            hits_col.append("")
            conflicts.append(False)
            cands.append(())
            final.append(False)
            continue
        best = hits[0]
        top = [h for h in hits if (h.rank, h.priority) == (best.rank, best.priority)]
        out_codes.append(best.code)
        details.append(best.rule_id)
        hits_col.append(" ".join(f"{h.rule_id}={h.code}" for h in hits))
        conflicts.append(any(not codes.same_lineage(best.code, h.code) for h in top[1:]))
        cands.append(tuple((h.code, h.priority / 100) for h in hits))
        final.append(by_id[best.rule_id].depth_final)
    n = len(keys)
    return rules_module.RaterResult(
        rater="rule",
        keys=tuple(keys),
        codes=tuple(out_codes),
        scores=(math.nan,) * n,
        details=tuple(details),
        extra={"hits": tuple(hits_col), "conflict": tuple(conflicts), "depth_final": tuple(final)},
        rule_ids=tuple("" if d == rules_module._TOO_LONG else d for d in details),
        flags=tuple(("conflict",) if c else f for c, f in zip(conflicts, flags)),
        candidates=tuple(cands),
    )


def old_occupation(codes, rule_set, job_index):
    mode_of = {r.rule_id: r.match for r in rule_set.active}

    def occupation(key, exact=False, anchored=False):
        found = job_index.by_key.get(key, ())
        named = max((e.code for e in found), key=lambda c: (codes.level(c), c)) if found else ""
        if exact:
            return named
        hits = old_match_rules(key, rule_set)
        if anchored:
            hits = [h for h in hits if mode_of[h.rule_id] in ("full", "prefix")]
        best = hits[0].code if hits else ""
        return named if codes.level(named) > codes.level(best) else best

    return occupation


def each_rule(key, rules):
    """Every active rule tried by its own matcher: the plainest reading of the file."""
    return old_brute(key, rules) if len(key) <= MAX_MATCH_CHARS else []


# --------------------------------------------------------------------------- keys


def _synthetic(n: int) -> list[str]:
    spec = importlib.util.spec_from_file_location("bench_scale", Path(__file__).parents[1] / "bench" / "bench_scale.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench.synthetic_labels(n)


JUNK = [
    "",
    "\n",
    "a\n\n",
    "간호사\n",
    "택시기사\n",
    "x" * MAX_MATCH_CHARS,
    "x" * (MAX_MATCH_CHARS + 1),
    "간호사" * 70,
    "nan",
    "na",
    "NA",
    "n/a",
    "-",
    "모름",
    "(주)간호사",
    "간호사(정규직)",
    "Σ교사",
    "İ교사",
    "ｎａ교사",
    "콘크리트조립원",
    "조립원",
    "독수리",
    "수리",
    "자동차수리",
    "덤프트럭운전기사",
    "트럭운전기사",
    "한식요리사",
    "요리사",
    "테니스공",
    "공",
    "a\ud800b",
]


@pytest.fixture(scope="module")
def texts(npk_labels) -> list[str]:
    out = [*npk_labels["occupation"].tolist(), *HELD_OUT.read_text(encoding="utf-8").splitlines()]
    out += [e.text for e in load_index().entries]
    out += _synthetic(20_000)[9_000::3]  # the varied ones: the first ~9,000 are the NPK labels and index names
    return [t for t in out if isinstance(t, str) and not t.startswith("#")] + JUNK


@pytest.fixture(scope="module")
def keys(texts) -> list[str]:
    ks = sorted({label_key(t) for t in texts} | set(JUNK))
    return ks + [k + "\n" for k in ks[::7]]


def _rows(hits):
    return [(h.rule_id, h.code, h.priority, h.level, h.length, h.rank) for h in hits]


# --------------------------------------------------------------------------- bundled rules


def test_most_bundled_rules_are_looked_up_by_text():
    rules = load_rules()
    look = rules._fast
    assert look.n_rest <= 5 < len(rules.active)
    assert look.full and look.suffix and all(ls == tuple(sorted(ls, reverse=True)) for ls in look.lengths.values())


def test_enough_keys_and_hits(keys):
    rules = load_rules()
    assert len(keys) > 12_000
    assert sum(bool(match_rules(k, rules)) for k in keys[::5]) > 500


def _same_matching(key, rules):
    new = _rows(match_rules(key, rules))
    assert new == _rows(old_match_rules(key, rules)), key
    assert new == _rows(each_rule(key, rules)), key
    anchored = [h for h in old_match_rules(key, rules) if rules._modes[h.rule_id] in ("full", "prefix")]
    assert _rows(match_rules(key, rules, anchored=True)) == _rows(anchored), key


def test_match_rules_is_the_former_matching_and_each_rule_alone(keys):
    rules = load_rules()
    for key in keys:
        _same_matching(key, rules)


def test_apply_rules_is_the_former_rater(texts, keys):
    rules = load_rules()
    for batch in (keys, [*texts[::3], *JUNK]):
        assert apply_rules(batch, rules) == old_apply_rules(batch, rules)


def test_the_oracle_is_the_former_one(keys):
    from coder.status import occupation_oracle

    codes, rules, index = load_codes(), load_rules(), load_index()
    new, old = occupation_oracle(codes, rules=rules, index=index), old_occupation(codes, rules, index)
    for key in keys:
        for exact, anchored in ((False, False), (False, True), (True, False)):
            assert new(key, exact=exact, anchored=anchored) == old(key, exact=exact, anchored=anchored), key
        assert new(key) == old(key)


def test_status_and_crosswalk_are_the_former_ones(texts, monkeypatch):
    """The whole pass on the test's labels, with the former matching swapped in: the same crosswalk."""
    import coder.pipeline as pipeline
    import coder.status as status
    from coder.labels import tabulate_labels

    sample = [t for t in texts[::2] if t.encode("utf-8", "surrogatepass").decode("utf-8", "replace") == t]
    labels = tabulate_labels(pd.Series(sample, dtype=object))
    new = pipeline.code_labels(labels)
    status._ORACLES.clear()
    monkeypatch.setattr(status, "_make_oracle", old_occupation)
    monkeypatch.setattr(pipeline, "apply_rules", old_apply_rules)
    monkeypatch.setattr(rules_module, "key_again", label_key)
    import coder.raters.fuzzy as fuzzy
    import coder.raters.index as index

    monkeypatch.setattr(fuzzy, "key_again", label_key)
    monkeypatch.setattr(index, "key_again", label_key)
    try:
        old = pipeline.code_labels(labels)
    finally:
        status._ORACLES.clear()
    assert len(new) > 4_000
    pd.testing.assert_frame_equal(new, old)


# --------------------------------------------------------------------------- odd user patterns

ODD = [
    ("R9001", "가나|가다", "full"),
    ("R9002", "(가|나)?다{1,3}", "suffix"),  # a nullable part and a bounded repeat
    ("R9003", "(?<!가)나다", "suffix"),  # look-behind: 가나다 is no match at 나다, but 나나다 is
    ("R9004", "다|(?<!나)가다|라(?<!가라)", "suffix"),  # a look-behind after a text: not expanded
    ("R9005", "(다)?", "suffix"),  # matches the empty text: fires on every key, length 0 or 1
    ("R9006", "[가-갛]{2}", "full"),  # a class of a range: 28 * 28 texts
    ("R9007", "가.다", "full"),  # any character: not expanded
    ("R9008", "(?i)ab", "full"),  # case-insensitive: not expanded
    ("R9009", "(?i:a)b|cd", "suffix"),  # a flagged group
    ("R9010", "가나", "prefix"),
    ("R9011", "나|나다", "contains"),
    ("R9012", "[가-힣]{3}", "suffix"),  # 11,172^3 texts: too many, matched by its regex
    ("R9013", "(?<=가)다", "suffix"),  # positive look-behind: not expanded
    ("R9014", "다(?!라)", "suffix"),  # look-ahead: not expanded
    ("R9015", "\\d{1,2}다", "suffix"),  # a category
    ("R9016", "ab*?c{0,2}", "full"),  # lazy and unbounded repeats
    ("R9017", "다$", "suffix"),  # an anchor
    ("R9018", "(가나|나)다", "suffix"),  # the longest text wins: 가나다 → 3
    ("R9019", "a[b-d]{0,2}", "suffix"),
    ("R9020", "(?<!가|나)라", "suffix"),
    ("R9021", "(?<!가)(?<!나다)(라|다라)", "suffix"),
    ("R9022", "다|(?<!나)가다|(?<!라)라", "suffix"),  # look-behinds inside alternatives
    ("R9023", "[가-나]다", "full"),  # a class of 1,177 characters: not expanded
    ("R9024", "가(?<!x)", "full"),  # a look-behind after a text (always holds here): not expanded
]


@pytest.fixture
def odd_rules(tmp_path):
    body = "".join(
        f'{rid},active,{50 + i % 3},"{pattern}",{match},{"2" if i % 2 else "21"},'
        f"{'전문가 및 관련 종사자' if i % 2 else '과학 전문가 및 관련직'},,,odd\n"
        for i, (rid, pattern, match) in enumerate(ODD)
    )
    path = tmp_path / "mapper.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def _odd_keys() -> list[str]:
    rng = random.Random(22)
    alphabet = "가나다라갛abcdx1"
    keys = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 7))) for _ in range(6_000)]
    keys += [
        "각갂",
        "가갛",
        "갛",
        "가나다라" * 3,
        "가나",
        "가다",
        "나다",
        "가나다",
        "나나다",
        "가다",
        "가라",
        "라",
        "다라",
        "가다라",
        "나다라",
        "abc",
        "Ab",
        "ab",
    ]
    keys = sorted(set(keys))
    return keys + [k + "\n" for k in keys[::3]] + [k + "\n\n" for k in keys[::11]] + ["\n가다", "가다\n라"]


def test_odd_user_patterns_are_the_former_matching(odd_rules):
    alone = load_rules(odd_rules, bundled=False)
    merged = load_rules(odd_rules)
    look = alone._fast
    assert look.n_rest == len(ODD) - 10
    expanded = {r.rule_id for rr in look.full.values() for r in rr}
    expanded |= {r.rule_id for rr in look.suffix.values() for r, _ in rr}
    assert expanded == {"R9001", "R9002", "R9003", "R9005", "R9006", "R9018", "R9019", "R9020", "R9021", "R9022"}
    for rules in (alone, merged):
        for key in _odd_keys():
            _same_matching(key, rules)
    assert [h.rule_id for h in match_rules("가나다", alone)].count("R9003") == 0
    assert [h.length for h in match_rules("가나다", alone) if h.rule_id == "R9018"] == [3]


def test_finite_texts():
    assert finite_texts("가나") == {("가나", frozenset())}
    assert finite_texts("(가|나)다?") == {(t, frozenset()) for t in ("가", "나", "가다", "나다")}
    assert finite_texts("(?<!x|y)가") == {("가", frozenset({"x", "y"}))}
    assert finite_texts("가(?<!x)나") is None  # a look-behind after text
    for pattern in ("가.", "(?i)a", "a+", "a{0,5000}", "[^a]", "\\w", "^a", "(?=a)a", "(a)\\1", "(?>a)", "a*+"):
        assert finite_texts(pattern) is None, pattern
    assert finite_texts("[가-힣]") is None  # a class of 11,172 characters


# --------------------------------------------------------------------------- keys of keys


def test_key_again_is_label_key(texts, keys):
    chars = (
        "".join(chr(c) for c in range(0x20, 0x250)) + "가힣ㄱㅏ\u1100\u1161\u11a8·ㆍ（）()[]【】,，、 \t\u200b\u3000"
    )
    single = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    rng = random.Random(7)
    mixed = ["".join(rng.choice(chars) for _ in range(rng.randint(1, 6))) for _ in range(20_000)]
    plain = ["".join(rng.choice("nauld가힣()0z") for _ in range(rng.randint(1, 5))) for _ in range(20_000)]
    missing = ["nan", "na", "none", "null", "nil", "nat", "undefined", "n(a)", "(na)", "nan0"]
    for t in [*single, *mixed, *plain, *missing, *texts, *keys, None, math.nan, 3.0]:
        assert key_again(t) == label_key(t), repr(t)


# --------------------------------------------------------------------------- decide: the former code


def old_corroborator(cell, floor):
    code, score = next(iter(decode_candidates(cell)), ("", math.nan))
    return code if score >= floor else ""


def old_model_levels(detail):
    if not detail.startswith("{"):
        return []
    try:
        chain = json.loads(detail).get("levels", [])
        return [(str(c), float(s)) for c, s in chain]
    except (ValueError, TypeError, AttributeError):
        return []


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
        return [str(v or "") for v in col(name, field_, "")]

    def scores(name: str) -> list[float]:
        return [float(v) if v not in ("", None) else math.nan for v in col(name, "score", math.nan)]

    model_chain: list[list[tuple[str, float]]] = (
        [old_model_levels(d) for d in texts("model", "detail")] if "model" in singles else [[]] * n_rows
    )
    # no evidence, no code: a label the model's detector says names no occupation gets nothing from a weak rater
    evidence = [float(v) if v not in ("", None) else math.nan for v in col("model", "evidence", math.nan)]
    no_evidence = ["model" in singles and not math.isnan(e) and e < policy.evidence_threshold for e in evidence]
    fuzzy_top = (
        [old_corroborator(v, policy.corroborate_floor) for v in col("fuzzy", "candidates", "")]
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
            [_truthy(v) for v in col(n, "depth_final", False)],
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
    rule_conflict = [_truthy(v) for v in col("rule", "conflict", False)]
    statuses = crosswalk["status_parsed"].astype(str).tolist()
    status_rules = crosswalk["status_rule"].astype(str).tolist()
    cores = crosswalk["core_key"].astype(str).tolist()
    core_notes = _core_notes(crosswalk)
    out: dict[str, list] = {c: [] for c in FINAL_COLUMNS}
    panel_out: dict[str, list] = {c: [] for c in PANEL_COLUMNS}
    code_set = codes.codes

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
        for n in singles:
            c, s, rid, fl, det, final = (v[i] for v in single_cols[n])
            _read_flags(ev, n, fl, det, rule_hits[i] if n == "rule" else "", n == "rule" and rule_conflict[i])
            if not c or (rid and rid in policy.exclude_rules):
                continue
            if c not in code_set:
                ev.notes.append(f"{n} gave {c!r}, not in {codes.name} (ignored)")
                ev.reasons.append("invalid")
                continue
            slot = slot_of(n)
            strong = slot in policy.strong
            if no_evidence[i] and not strong:
                continue
            confident = strong or s >= policy.threshold(slot)
            ev.answers.append(
                _Answer(_rank(policy, slot), n, c, s, rid, strong, confident, final or slot in DEPTH_FINAL)
            )
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


# --------------------------------------------------------------------------- decide: crosswalks


@pytest.fixture(scope="module")
def stored(npk_labels) -> pd.DataFrame:
    from coder.labels import tabulate_labels
    from coder.pipeline import code_labels

    texts = [*npk_labels["occupation"].tolist(), *HELD_OUT.read_text(encoding="utf-8").splitlines()]
    texts += _synthetic(20_000)[9_000::4]
    texts = [t for t in texts if isinstance(t, str) and not t.startswith("#")]
    return code_labels(tabulate_labels(pd.Series(texts, dtype=object)))


POLICIES = [
    DecisionPolicy(),
    DecisionPolicy(thresholds={"model": 0.3, "fuzzy": 0.5}, model_depth_threshold=0),
    DecisionPolicy(refine=False, corroborate_threshold=0.2, corroborate_floor=0.6),
    DecisionPolicy(exclude_rules={"R0001", "R0257", "R0261"}, evidence_threshold=0.9),
    DecisionPolicy(exclude_raters={"model"}),
    DecisionPolicy(strong={"title", "rule", "index", "model"}, corroborate_threshold=1),
]


def _same(frame: pd.DataFrame, policy: DecisionPolicy) -> None:
    codes = load_codes()
    pd.testing.assert_frame_equal(decide(frame, policy, codes=codes), old_decide(frame, policy, codes=codes))


@pytest.mark.parametrize("p", range(len(POLICIES)))
def test_decide_is_the_former_decide(stored, p):
    assert len(stored) > 4_000
    _same(stored, POLICIES[p])


def test_decide_on_a_crosswalk_read_back_from_csv(stored):
    text = stored.to_csv(index=False)
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    for policy in POLICIES[:3]:
        _same(frame, policy)
    frame = pd.read_csv(io.StringIO(text))  # numbers, NaN and booleans as pandas reads them
    _same(frame, POLICIES[0])


ODD_DETAILS = [
    "",
    "{}",
    "{",
    "[]",
    '{"levels":[]}',
    '{"levels": [["2", 0.9]]}',
    '{"levels":[["2",0.9],["21",-0]],"top":[],"evidence":0.9}',
    '{"levels":[["2",1],["21",1e-05]],"top":[["2101",0.5]],"evidence":1}',
    '{"levels":[["2",0.9]],"levels":[["3",0.9]]}',
    '{"levels":[["2",0.9]],"top":[["2",0.9]],"evidence":NaN}',
    '{"levels":[["2",NaN]],"evidence":0.5}',
    '{"levels":[["2\\u0031",0.9]],"evidence":0.5}',
    '{"levels":[["A",0.9],["A0",0.8],["A09",0.7],["A090",0.9]],"top":[["A090",0.7]],"evidence":0.8}',
    '{"levels":[["2",0.9],["21",0.8]],"evidence":0.8} ',
    '{"levels":[["2",0.9],["21",0.8]],"evidence":0.8}x',
    '{"levels":[["2",0.9],["21",0.8,1]],"evidence":0.8}',
    '{"levels":[[2,0.9],["21",0.8]],"evidence":0.8}',
    '{"levels":[["2",0.9],["21",08]],"evidence":0.8}',
    '{"levels":[["2",-0.0],["21",0.8]],"evidence":0.8}',
    '{"levels":[["2",0.95],["21",0.9],["215",0.88],["2151",0.87]],"top":[["2151",0.8]],"evidence":0.99,"x_y":[]}',
]
ODD_CANDIDATES = [
    "",
    "[]",
    '[["2151",0.9]]',
    '[["2151",null],["2",0.9]]',
    '[["2151",-0],["2",0.9]]',
    '[["2151",1]]',
    '[["2151",0.5e1]]',
    '[["21\\u0035",0.9]]',
    '[["2151", 0.9]]',
    '[["2151",0.9],["2",NaN]]',
    '[["A090",0.9],["2",0.8]]',
    '[["",0.9]]',
    '[["2151",0.9],["2",0.8]] ',
]


def test_decide_on_odd_cells(stored):
    frame = stored.head(2_000).copy()
    rows = range(len(frame))
    frame["model_detail"] = [
        ODD_DETAILS[i % len(ODD_DETAILS)] if i % 3 else d for i, d in zip(rows, frame["model_detail"])
    ]
    frame["fuzzy_candidates"] = [
        ODD_CANDIDATES[i % len(ODD_CANDIDATES)] if i % 2 else c for i, c in zip(rows, frame["fuzzy_candidates"])
    ]
    # flags read from the detail or the conflict column alone (a hand-edited crosswalk)
    frame["index_detail"] = ["ambiguous:2=x;3=y" if i % 5 == 1 else d for i, d in zip(rows, frame["index_detail"])]
    frame["index_flags"] = ["" if i % 5 == 1 else f for i, f in zip(rows, frame["index_flags"])]
    frame["rule_conflict"] = [i % 7 == 3 or bool(c) for i, c in zip(rows, frame["rule_conflict"])]
    for policy in POLICIES:
        _same(frame, policy)


def test_fast_readers_are_the_json_readers():
    for d in ODD_DETAILS:
        got, want = decide_module._model_levels(d), old_model_levels(d)
        assert got == want and [math.copysign(1, s) for _, s in got] == [math.copysign(1, s) for _, s in want], d
    for c in ODD_CANDIDATES:
        for floor in (0.0, 0.5, 0.95):
            assert decide_module._corroborator(c, floor) == old_corroborator(c, floor), c
    with pytest.raises(json.JSONDecodeError):
        decide_module._corroborator('[["2151",0.9],["2",NaN]', 0.5)
