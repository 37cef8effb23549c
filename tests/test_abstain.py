"""Issue 23 item 1: no evidence, no code; and the codable blanks of item 3 (rules R0500–R0505)."""

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from coder.crosswalk.assemble import assemble_crosswalk
from coder.crosswalk.decide import DecisionPolicy, decide
from coder.labels import tabulate_labels
from coder.normalize import label_key
from coder.pipeline import code_labels
from coder.raters.base import RaterResult
from coder.raters.model import load_model, training_data_matches
from coder.raters.model_fit import (
    EVIDENCE_THRESHOLD,
    NEGATIVES_FILE,
    generated_junk,
    read_text_lines,
    training_data,
)
from coder.resources import file_sha256
from coder.status import parse_status

HELD_OUT = Path(__file__).parent / "data" / "non_occupations.txt"
ISSUE_EXAMPLES = [
    "asdf",
    "qwer",
    "test",
    "0001",
    "TRUE",
    "#VALUE!",
    "무",
    "네",
    "아니오",
    "housewife",
    "그냥 집에 있어요",
]


@pytest.fixture(scope="module")
def held_out() -> list[str]:
    return read_text_lines(HELD_OUT)


@pytest.fixture(scope="module")
def coded_held_out(held_out) -> pd.DataFrame:
    return code_labels(tabulate_labels(pd.Series(held_out, dtype=object)))


def test_the_held_out_list_is_large_and_holds_the_issue_examples(held_out):
    assert len(held_out) >= 200
    assert set(ISSUE_EXAMPLES) <= set(held_out)


def test_train_and_test_non_occupation_text_are_disjoint(held_out):
    """No held-out key is among the detector's training text: the hand-written file, the generated junk
    (as the shipped model generated it) or the job names."""
    model = load_model()
    info = model.metadata["evidence"]
    assert info["negatives_sha256"] == file_sha256(NEGATIVES_FILE)  # the shipped detector saw this file
    junk = generated_junk(int(info["params"]["generated"]), int(model.metadata["seed"]))
    assert info["generated_sha256"] == hashlib.sha256("\n".join(junk).encode()).hexdigest()  # same generator
    trained = {label_key(t) for t in read_text_lines(NEGATIVES_FILE)} | {label_key(t) for t in junk}
    trained |= set(training_data().keys)
    test = {label_key(t) for t in held_out} - {""}  # '' (#N/A, NULL, nan…) is a missing answer, never trained on
    assert len(test) >= 200
    assert sorted(test & trained) == []


def test_at_least_97_percent_of_the_held_out_list_get_no_code(held_out, coded_held_out):
    by_key = dict(zip(coded_held_out["label_key"], coded_held_out["ksco_code"], strict=True))
    coded = [t for t in held_out if by_key[label_key(t)]]
    rate = 1 - len(coded) / len(held_out)
    assert rate >= 0.97, f"{rate:.3f} of {len(held_out)} get no code; coded: {coded}"
    assert not any(by_key[label_key(t)] for t in ISSUE_EXAMPLES)


def test_few_held_out_strings_land_in_the_professional_group(coded_held_out):
    """The invented codes used to land in major 2, the group the sex × KSCO audit measures (4 in 10 coded)."""
    assert (coded_held_out["ksco_code"].str.startswith("2")).mean() <= 0.01


def test_the_model_abstains_below_the_evidence_threshold():
    from coder.raters.model import model_rater

    r = model_rater(["asdf", "그냥집에있어요", "택시운전원", "간호사"])
    ev = r.extra["evidence"]
    assert ev[0] < EVIDENCE_THRESHOLD and ev[1] < EVIDENCE_THRESHOLD
    assert r.codes[:2] == ("", "") and r.candidates[:2] == ((), ())
    assert ev[2] >= EVIDENCE_THRESHOLD and ev[3] >= EVIDENCE_THRESHOLD
    assert r.codes[2].startswith("87") and r.codes[3].startswith("24")


def test_shipped_model_detector_is_trained_on_the_shipped_data():
    model = load_model()
    assert training_data_matches(model)
    cv = model.metadata["evidence"]["cv"]
    assert cv["job_names_kept"] >= 0.97 and cv["negatives_rejected"] >= 0.95
    # the threshold is the one with the highest out-of-fold balanced accuracy (jobs kept, negatives rejected)
    assert model.metadata["evidence"]["threshold"] == EVIDENCE_THRESHOLD
    best = max(cv["balanced"].items(), key=lambda kv: (kv[1], -float(kv[0])))
    assert float(best[0]) == EVIDENCE_THRESHOLD


def _stored(evidence: float, fuzzy_score: float = 0.95) -> pd.DataFrame:
    table = tabulate_labels(pd.Series(["가나"], dtype=object))
    detail = '{"levels":[["2",0.9],["24",0.85],["243",0.8],["2430",0.78]],"top":[]}'
    model = RaterResult("model", ("가나",), ("2430",), (0.78,), (detail,), {"evidence": (evidence,)})
    fuzzy = RaterResult("fuzzy", ("가나",), ("2430",), (fuzzy_score,), ("",), candidates=((("2430", fuzzy_score),),))
    return assemble_crosswalk(table, parse_status(table.keys), [model, fuzzy])


def test_decide_gives_no_weak_code_without_evidence():
    row = decide(_stored(0.2)).iloc[0]
    assert (row.ksco_code, row.status) == ("", "unknown")
    assert "no evidence of an occupation" in row.code_note and row.needs_review
    assert decide(_stored(0.9)).iloc[0].ksco_code == "2430"
    assert decide(_stored(0.2), DecisionPolicy(evidence_threshold=0.0)).iloc[0].ksco_code == "2430"  # gate off
    with pytest.raises(ValueError, match="evidence_threshold"):
        DecisionPolicy(evidence_threshold=1.5)


# ------------------------------------------------------------------ codable blanks (issue 23 item 3)

BLANKS = [
    ("식당 운영", "1522", "R0500"),
    ("치킨집 사장", "1522", "R0500"),
    ("카페 운영", "1522", "R0500"),
    ("여행 가이드", "4321", "R0501"),
    ("관광 가이드", "4321", "R0501"),
    ("아파트 관리소장", "13903", "R0502"),
    ("농사짓습니다", "611", "R0503"),
    ("농사", "611", "R0503"),
    ("소 키움", "613", "R0504"),
    ("돼지 키워요", "613", "R0504"),
    ("반도체 공장 오퍼레이터", "8", "R0505"),
]


@pytest.fixture(scope="module")
def coded_blanks() -> pd.DataFrame:
    labels = [b[0] for b in BLANKS] + ["식당 알바", "소기름", "가이드", "콜센터 오퍼레이터", "한우 사육", "흑염소 사육"]
    return code_labels(tabulate_labels(pd.Series(labels, dtype=object))).set_index("label")


@pytest.mark.parametrize(("label", "code", "rule_id"), BLANKS)
def test_codable_blanks_get_their_code(coded_blanks, label, code, rule_id):
    row = coded_blanks.loc[label]
    assert (row.ksco_code, row.code_source, row.rule_id, row.status) == (code, "rule", rule_id, "employed")


def test_the_new_rules_leave_their_counterexamples_alone(coded_blanks):
    assert coded_blanks.loc["식당 알바", "rule_id"] != "R0500"
    assert coded_blanks.loc["가이드", "rule_id"] != "R0501"
    assert coded_blanks.loc["콜센터 오퍼레이터", "rule_id"] != "R0505"
    assert coded_blanks.loc["소기름", "ksco_code"] == ""  # beef tallow, not 소 키움
    assert coded_blanks.loc["한우 사육", ["ksco_code", "rule_id"]].tolist() == ["61321", "R0068"]
    goat = coded_blanks.loc["흑염소 사육"]  # R0259's 6, which the model may refine
    assert goat.rule_id == "R0259" and goat.ksco_code.startswith("6")
