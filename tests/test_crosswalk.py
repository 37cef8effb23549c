import math

import pandas as pd
import pytest

from coder.crosswalk.assemble import assemble_crosswalk
from coder.crosswalk.decide import CORROBORATE_FLOOR, FINAL_COLUMNS, STRONG, DecisionPolicy, decide
from coder.labels import tabulate_labels
from coder.raters.base import RaterResult
from coder.status import parse_status

NAN = math.nan


def _rater(name, answers, scores=None, details=None, **extra):
    keys = tuple(answers)
    n = len(keys)
    return RaterResult(
        name,
        keys,
        tuple(answers.values()),
        tuple(scores or [NAN] * n),
        tuple(details or [""] * n),
        {k: tuple(v) for k, v in extra.items()},
        rule_ids=tuple(details) if name == "rule" and details else None,
    )


def _build(labels, raters, thresholds=None, **policy_fields):
    table = tabulate_labels(pd.Series(labels, dtype=object))
    statuses = parse_status(table.keys)
    policy = DecisionPolicy(thresholds=thresholds or {}, **policy_fields)
    return decide(assemble_crosswalk(table, statuses, raters), policy).set_index("label_key")


def test_precedence_title_before_rule_before_model():
    xw = _build(
        ["가", "나", "다"],
        [
            _rater("title", {"가": "94111", "나": "", "다": ""}),
            _rater("rule", {"가": "3", "나": "31320", "다": ""}, details=["R1", "R2", ""]),
            _rater("model", {"가": "9411", "나": "3132", "다": "2411"}, scores=[0.9, 0.9, 0.3]),
        ],
        thresholds={"model": 0.5},
    )
    assert xw.loc["가", ["ksco_code", "code_source"]].tolist() == ["94111", "title"]
    assert xw.loc["가", "code_note"] == "disagrees with rule=3"  # 3 is not in 94111's lineage
    assert xw.loc["가", "needs_review"]
    assert xw.loc["나", ["ksco_code", "code_source", "rule_id"]].tolist() == ["31320", "rule", "R2"]
    assert xw.loc["다", "ksco_code"] == ""  # model below its threshold
    assert xw.loc["다", "status"] == "unknown"
    assert xw.loc["다", "code_note"] == "no rater could code it"
    assert list(xw.columns[6 : 6 + len(FINAL_COLUMNS)]) == list(FINAL_COLUMNS)


def test_weak_rater_above_threshold_is_final_and_marked():
    xw = _build(["가"], [_rater("model", {"가": "8411"}, scores=[0.61])], thresholds={"model": 0.5})
    row = xw.loc["가"]
    assert (row.ksco_code, row.code_source, row.ksco_level, row.ksco_major) == ("8411", "model", 4, "8")
    assert row.needs_review
    assert row.code_note == "weak rater model: score 0.610 >= 0.50"


def test_deeper_agreeing_strong_rater_refines():
    xw = _build(
        ["가"],
        [_rater("rule", {"가": "8"}, details=["R9"]), _rater("index", {"가": "8411"})],
    )
    row = xw.loc["가"]
    assert (row.ksco_code, row.code_source, row.rule_id) == ("8411", "index", "R9")
    assert row.code_note == "index=8411 refines rule=8"
    assert not row.needs_review


def test_invalid_code_is_never_final():
    xw = _build(["가"], [_rater("rule", {"가": "99998"}, details=["R1"]), _rater("index", {"가": "9411"})])
    row = xw.loc["가"]
    assert row.ksco_code == "9411"
    assert "rule gave '99998', not in ksco7 (ignored)" in row.code_note
    assert row.needs_review


def test_ambiguous_title_and_rule_conflict_are_flagged():
    xw = _build(
        ["가"],
        [
            _rater("title", {"가": ""}, details=["ambiguous: 1111|2222"]),
            _rater("rule", {"가": "3"}, details=["R1"], hits=["R1=3 R2=2"], conflict=[True]),
        ],
    )
    row = xw.loc["가"]
    assert row.ksco_code == "3"
    assert "title ambiguous: 1111|2222" in row.code_note
    assert "rule conflict: R1=3 R2=2" in row.code_note
    assert row.needs_review


def test_status_labels_and_military():
    xw = _build(
        ["무직", "전직 육군 장교, 현재 구직중", "육군 장교", "모름", ""],
        [_rater("rule", {"육군장교": "A01"}, details=["R1"])],
    )
    assert xw.loc["무직", ["status", "ksco_major", "code_source"]].tolist() == ["not_employed", "0", "status"]
    js = xw.loc["전직육군장교,현재구직중"]
    assert (js.status, js.ksco_code, js.ksco_major, js.core_key) == ("job_seeker", "A01", "A", "육군장교")
    assert xw.loc["육군장교", "status"] == "military"
    assert xw.loc["모름", ["status", "ksco_major"]].tolist() == ["unknown", ""]
    assert xw.loc["", "status"] == "unknown"


def test_unknown_rater_name_is_refused():
    with pytest.raises(ValueError, match=r"raters \['oracle'\] have no place in the precedence"):
        _build(["가"], [_rater("oracle", {"가": "1"})])


# --- the panel slot votes ------------------------------------------------------------------------


def _panel(votes, extra=()):
    raters = [_rater(f"panel_{m}", {"가": c}) for m, c in votes.items()]
    return _build(["가"], [*extra, *raters]).loc["가"]


def test_panel_majority_beats_member_order():
    row = _panel({"a": "31320", "b": "94111", "c": "94111"})
    assert (row.ksco_code, row.code_source) == ("94111", "panel")
    assert (row.panel_valid, row.panel_agreement) == (2 + 1, 2 / 3)
    assert row.panel_votes == "a=31320 b=94111 c=94111"


def test_panel_truncates_to_the_deepest_majority_level():
    row = _panel({"a": "94111", "b": "94112", "c": "31320"})
    assert (row.ksco_code, row.code_source) == ("9411", "panel")


def test_panel_zero_is_a_valid_vote_that_goes_to_review():
    # "0" (not in employment) is a valid answer for the parser, so for the vote too: never "invalid"
    row = _panel({"a": "0", "b": "0", "c": "94111"})
    assert (row.panel_valid, row.panel_agreement) == (3, 2 / 3)
    assert row.ksco_code == "" and row.status != "not_employed"  # the panel alone changes no status
    assert row.needs_review and "panel_not_employed" in row.review_reasons
    assert "invalid" not in row.review_reasons
    minority = _panel({"a": "0", "b": "94111", "c": "94112"})
    assert (minority.ksco_code, minority.code_source, minority.panel_valid) == ("9411", "panel", 3)


def test_panel_split_gives_no_code_and_review():
    row = _panel({"a": "31320", "b": "94111"})
    assert row.ksco_code == ""
    assert row.needs_review
    assert "panel_split" in row.review_reasons
    assert row.panel_agreement == 0.0


def test_panel_invalid_votes_are_counted_not_used_and_abstention_ignored():
    row = _panel({"a": "94119X", "b": "94111", "c": ""})
    assert (row.ksco_code, row.panel_valid) == ("94111", 1)
    assert "invalid" in row.review_reasons
    assert "invalid panel vote(s) from a" in row.code_note


def test_panel_ranks_below_strong_offline_raters():
    row = _panel({"a": "31320", "b": "31320"}, extra=[_rater("rule", {"가": "94111"}, details=["R1"])])
    assert (row.ksco_code, row.code_source) == ("94111", "rule")
    assert "panel_advisory" in row.review_reasons  # a majority against a strong rater at the major level is advisory


def test_confident_model_refines_a_shallow_rule():
    xw = _build(
        ["가"], [_rater("rule", {"가": "8"}, details=["R1"]), _rater("model", {"가": "8411"}, scores=[0.7])],
        thresholds={"model": 0.5},
    )  # fmt: skip
    row = xw.loc["가"]
    assert (row.ksco_code, row.code_source, row.rule_id) == ("8411", "model", "R1")
    assert row.code_note == "model=8411 refines rule=8"


def test_policy_excludes_raters_and_rules():
    from coder.crosswalk.assemble import assemble_crosswalk

    table = tabulate_labels(pd.Series(["가"], dtype=object))
    stored = assemble_crosswalk(
        table, parse_status(table.keys), [_rater("rule", {"가": "3"}, details=["R1"]), _rater("index", {"가": "9411"})]
    )
    assert decide(stored).loc[0, "ksco_code"] == "3"
    assert decide(stored, DecisionPolicy(exclude_rules=frozenset({"R1"}))).loc[0, "ksco_code"] == "9411"
    assert decide(stored, DecisionPolicy(exclude_raters=frozenset({"rule"}))).loc[0, "ksco_code"] == "9411"


# --- stored crosswalks decide the same after a round trip ------------------------------------------

_POOL = ["건물 청소원", "택시 기사", "무직", "전직 건물 경비원, 현재 구직중", "편의점 알바", "간효사", "회사원", "육군 장교",
         "휠체어 조립원", "모름", "", "NaN", "자영업", "컴퓨터 시스템 엔지니어", "요양보호사", "목수"]  # fmt: skip


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_pipeline_crosswalk_round_trips_and_decides_the_same(tmp_path, suffix):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from coder.crosswalk.decide import FINAL_COLUMNS
    from coder.crosswalk.store import rater_results, read_crosswalk, write_crosswalk
    from coder.pipeline import code_labels

    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.sampled_from(_POOL), min_size=1, max_size=12))
    def check(texts):
        xw = code_labels(tabulate_labels(pd.Series(texts, dtype=object)))
        path = tmp_path / f"xw{suffix}"
        write_crosswalk(xw, path)
        back = read_crosswalk(path).frame
        assert list(back.columns) == list(xw.columns)
        again = decide(back)
        for c in FINAL_COLUMNS:
            assert again[c].tolist() == xw[c].tolist(), c
        assert back["ksco_code"].map(type).eq(str).all()
        results = {r.rater: r for r in rater_results(back)}
        assert set(results) >= {"title", "rule", "index"}
        assert all(isinstance(c, tuple) for r in results.values() for c in r.candidates)

    check()


def test_policy_defaults_are_the_library_thresholds():
    from coder.raters.fuzzy import FUZZY_THRESHOLD
    from coder.raters.model import MODEL_THRESHOLD

    assert DecisionPolicy().thresholds == {"fuzzy": FUZZY_THRESHOLD, "model": MODEL_THRESHOLD}
    assert (DecisionPolicy().threshold("model"), DecisionPolicy().threshold("panel_a")) == (MODEL_THRESHOLD, math.inf)


def test_policy_as_dict_is_the_truth_and_round_trips():
    policy = DecisionPolicy(thresholds={"model": 0.5}, exclude_rules=frozenset({"R0001"}), refine=False)
    data = policy.as_dict()
    assert data["thresholds"] == {"fuzzy": 0.95, "model": 0.5}  # it reported 0.75 before
    assert DecisionPolicy.from_dict(data) == policy
    assert DecisionPolicy.from_dict({"model_threshold": 0.9}).threshold("model") == 0.9  # an older sidecar
    with pytest.raises(ValueError, match="unknown policy key"):
        DecisionPolicy.from_dict({"model_treshold": 0.9})
    with pytest.raises(ValueError, match="only weak raters"):
        DecisionPolicy(thresholds={"rule": 0.5})


def test_confident_fuzzy_refines_a_shallow_model_code():
    xw = _build(
        ["가"], [_rater("model", {"가": "2"}, scores=[0.8]), _rater("fuzzy", {"가": "2430"}, scores=[0.96])],
        thresholds={"model": 0.75, "fuzzy": 0.95},
    )  # fmt: skip
    row = xw.loc["가"]
    assert (row.ksco_code, row.code_source) == ("2430", "fuzzy")
    assert "fuzzy=2430 refines model=2" in row.code_note
    assert row.needs_review  # weak raters decided


def test_employed_unstated_has_no_code_and_no_review():
    row = _build(["자영업"], [_rater("rule", {"자영업": ""})]).loc["자영업"]
    assert (row.status, row.ksco_code, row.ksco_major, row.needs_review) == ("employed_unstated", "", "", False)
    assert row.code_note == "employed, occupation not stated"


def test_add_raters_replaces_a_rater_and_keeps_final_columns():
    from coder.crosswalk.assemble import add_raters

    table = tabulate_labels(pd.Series(["경비원", "간호사"], dtype=object))
    xw = decide(assemble_crosswalk(table, parse_status(table.keys), [_rater("rule", {"경비원": "9", "간호사": ""})]))
    review = RaterResult("review", ("경비원",), ("41231",), (1.0,), ("kim",), extra={"note": ("시설 경비",)})
    out = add_raters(xw, [review])
    assert "review_reasons" in out.columns and "rule_id" in out.columns
    assert out.set_index("label_key")["review_code"].to_dict() == {"경비원": "41231", "간호사": ""}
    assert out.set_index("label_key")["review_note"].to_dict() == {"경비원": "시설 경비", "간호사": ""}
    again = add_raters(out, [RaterResult("review", ("간호사",), ("2",), (1.0,), ("lee",))])
    assert again.set_index("label_key")["review_code"].to_dict() == {"경비원": "", "간호사": "2"}
    assert "review_note" not in again.columns
    assert decide(again).set_index("label_key").loc["간호사", "code_source"] == "review"


def _model_detail(chain):
    import json

    return json.dumps({"levels": chain, "top": []})


def _model_and_fuzzy(label, chain, fuzzy_top, fuzzy_score=0.9):
    from coder.raters.base import RaterResult

    model = RaterResult("model", (label,), ("",), (chain[0][1],), (_model_detail(chain),))
    fuzzy = RaterResult("fuzzy", (label,), ("",), (fuzzy_score,), ("",), candidates=(((fuzzy_top, fuzzy_score),),))
    return [model, fuzzy]


CHAIN = [["8", 0.92], ["84", 0.81], ["841", 0.66], ["8411", 0.41]]


@pytest.mark.parametrize(("threshold", "expected"), [(0.9, "8"), (0.8, "84"), (0.6, "841"), (0.4, "8411"), (0.95, "")])
def test_decide_derives_the_model_code_at_its_own_threshold_from_the_stored_levels(threshold, expected):
    raters = _model_and_fuzzy("가", CHAIN, "")
    xw = _build(["가"], raters[:1], thresholds={"model": threshold}, model_depth_threshold=0.0)
    assert xw.loc["가", "ksco_code"] == expected
    assert xw.loc["가", "code_source"] == ("model" if expected else "")


@pytest.mark.parametrize(("threshold", "depth", "expected"), [(0.6, 0.85, "8"), (0.6, 0.8, "84"), (0.95, 0.0, "")])
def test_a_model_code_below_the_major_group_needs_the_depth_threshold_too(threshold, depth, expected):
    """Issue 23: the major group at the model threshold, a finer code only when it is itself likely right."""
    xw = _build(
        ["가"], _model_and_fuzzy("가", CHAIN, "")[:1], thresholds={"model": threshold}, model_depth_threshold=depth
    )
    assert xw.loc["가", "ksco_code"] == expected


def test_weak_raters_that_agree_corroborate_a_lower_model_level():
    xw = _build(["가"], _model_and_fuzzy("가", CHAIN, "84110"), thresholds={"model": 0.95})
    row = xw.loc["가"]
    # deepest model level with p >= 0.6 that shares the fuzzy top candidate's lineage: 841 (0.66)
    assert (row.ksco_code, row.code_source) == ("841", "model")
    assert "corroborated by fuzzy top 84110" in row.code_note
    assert row.needs_review and "weak" in row.review_reasons


@pytest.mark.parametrize(("score", "expected"), [(0.4, ""), (0.79, ""), (CORROBORATE_FLOOR, "841"), (0.95, "841")])
def test_corroboration_needs_a_real_fuzzy_match(score, expected):
    """A fuzzy top candidate below the floor (0.40 is no match at all) corroborates nothing (issue 23)."""
    table = tabulate_labels(pd.Series(["가"], dtype=object))
    stored = assemble_crosswalk(table, parse_status(table.keys), _model_and_fuzzy("가", CHAIN, "84110", score))
    assert decide(stored, DecisionPolicy(thresholds={"model": 0.95})).loc[0, "ksco_code"] == expected
    no_floor = DecisionPolicy(thresholds={"model": 0.95}, corroborate_floor=0.0)
    assert decide(stored, no_floor).loc[0, "ksco_code"] == "841"


def test_corroboration_needs_the_same_lineage_and_can_be_turned_off():
    other = _build(["가"], _model_and_fuzzy("가", CHAIN, "7411"), thresholds={"model": 0.95})
    assert other.loc["가", "ksco_code"] == ""
    table = tabulate_labels(pd.Series(["가"], dtype=object))
    stored = assemble_crosswalk(table, parse_status(table.keys), _model_and_fuzzy("가", CHAIN, "84110"))
    off = decide(stored, DecisionPolicy(thresholds={"model": 0.95}, corroborate_threshold=1.0))
    assert off["ksco_code"].tolist() == [""]


def test_a_policy_that_makes_the_panel_weak_makes_its_code_advisory():
    table = tabulate_labels(pd.Series(["가"], dtype=object))
    stored = assemble_crosswalk(
        table, parse_status(table.keys), [_rater("panel_a", {"가": "94111"}), _rater("panel_b", {"가": "94111"})]
    )
    strong = decide(stored, DecisionPolicy()).iloc[0]
    assert (strong.ksco_code, strong.code_source, strong.needs_review) == ("94111", "panel", False)
    weak = decide(stored, DecisionPolicy(strong=STRONG - {"panel"})).iloc[0]
    assert (weak.ksco_code, weak.needs_review) == ("94111", True)  # fills the blank, but only for review
    assert "panel_advisory" in weak.review_reasons
