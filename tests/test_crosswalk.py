import math

import pandas as pd
import pytest

from coder.crosswalk.decide import FINAL_COLUMNS, build_crosswalk
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
    )


def _build(labels, raters, thresholds=None):
    table = tabulate_labels(pd.Series(labels, dtype=object))
    statuses = parse_status(table.keys)
    return build_crosswalk(table, statuses, raters, thresholds=thresholds).set_index("label_key")


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
    assert list(xw.columns[6:14]) == list(FINAL_COLUMNS)


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
