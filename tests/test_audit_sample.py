"""The residual-error sample (issue 20 item 3): PPS draw, blind rows, estimate, provenance round trip."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from coder.cli import cli
from coder.crosswalk.model import Crosswalk
from coder.crosswalk.store import read_crosswalk, write_crosswalk
from coder.errors import ReviewError
from coder.io import read_table
from coder.labels import tabulate_labels
from coder.pipeline import code_labels
from coder.review import export_review, import_review
from coder.review_audit import (
    audit_eligible,
    draw_audit,
    estimate_residual_error,
    machine_codes,
    summary_sentence,
    wilson_interval,
    wrong_at,
)

LABELS = (
    ["건물 청소원"] * 40
    + ["택시 기사"] * 25
    + ["간호사"] * 20
    + ["초등학교 교사"] * 10
    + ["아파트 경비원"] * 3
    + ["편의점 판매원", "요양보호사", "한식 조리사", "무직", "무직"]
)


@pytest.fixture(scope="module")
def xwalk() -> Crosswalk:
    return Crosswalk.of(code_labels(tabulate_labels(pd.Series(LABELS, dtype=object)), model=False))


def _machine_coded(xw: Crosswalk) -> dict[str, float]:
    f = xw.frame
    answered = (f["ksco_code"].astype(str) != "") | (f["status"] == "not_employed")
    coded = answered & (f.get("review_code", pd.Series("", index=f.index)) == "")
    return dict(zip(f.loc[coded, "label_key"], f.loc[coded, "n_rows"].astype(float)))


def test_eligible_labels_are_the_machine_coded_ones(xwalk):
    eligible = audit_eligible(xwalk.frame)
    machine = _machine_coded(xwalk)
    assert dict(zip(eligible["label_key"], eligible["persons"])) == machine
    # a label read as not employed is the machine's answer 0; a label with no occupation stated has none
    assert dict(zip(eligible["label_key"], eligible["machine_code"]))["무직"] == "0"
    unstated = Crosswalk.of(code_labels(tabulate_labels(pd.Series(["자영업", "간호사"], dtype=object)), model=False))
    assert list(audit_eligible(unstated.frame)["label_key"]) == ["간호사"]
    assert list(eligible["label_key"]) == sorted(eligible["label_key"])
    assert "건물청소원" not in set(audit_eligible(xwalk.frame, exclude={"건물청소원"})["label_key"])


def test_pps_draw_is_seeded_reproducible_and_proportional_to_persons():
    eligible = pd.DataFrame({"label_key": ["a", "b", "c"], "persons": [700.0, 200.0, 100.0], "machine_code": "9"})
    one, two = draw_audit(eligible, 30, seed=5), draw_audit(eligible, 30, seed=5)
    assert one.draws == two.draws and sum(one.draws.values()) == 30
    assert draw_audit(eligible, 30, seed=6).draws != one.draws
    big = draw_audit(eligible, 20_000, seed=1)
    shares = {k: v / 20_000 for k, v in big.draws.items()}
    assert shares == pytest.approx({"a": 0.7, "b": 0.2, "c": 0.1}, abs=0.015)
    assert big.eligible_persons == 1000.0 and big.eligible_labels == 3


def test_more_draws_than_labels_zero_draws_and_nothing_eligible():
    eligible = pd.DataFrame({"label_key": ["a", "b"], "persons": [3.0, 1.0], "machine_code": "9"})
    many = draw_audit(eligible, 50, seed=2)
    assert set(many.draws) == {"a", "b"} and sum(many.draws.values()) == 50  # with replacement: counted twice
    assert draw_audit(eligible, 0, seed=2).draws == {}
    empty = draw_audit(eligible.iloc[:0], 10, seed=2)
    assert empty.draws == {} and empty.n == 0 and empty.eligible_labels == 0


def test_export_adds_blind_audit_rows_among_the_others(xwalk):
    plain = export_review(xwalk, batch="b1")
    ex = export_review(xwalk, batch="b1", audit=12, seed=3)
    assert ex.audit is not None and sum(ex.audit.draws.values()) == 12
    regular = set(plain.frame["label_key"])
    audit_keys = set(ex.audit.draws)
    assert not audit_keys & regular  # the audit draws only from labels not already on the sheet
    assert set(ex.frame["label_key"]) == regular | audit_keys
    rows = ex.frame.set_index("label_key")
    shown = [c for c in ex.frame.columns if c.endswith(("_code", "_title")) and not c.startswith("decision")]
    for key in audit_keys:  # no machine code, candidate, title or reason for an audit row
        assert (rows.loc[key, shown] == "").all() and rows.loc[key, "why"] == ""
        assert rows.loc[key, "persons"] != "" and rows.loc[key, "label"] != ""
    assert ex.frame.columns.tolist() == plain.frame.columns.tolist()
    again = export_review(xwalk, batch="b1", audit=12, seed=3)
    assert again.frame.equals(ex.frame)  # seeded: the same sheet


def test_audit_only_sheet_and_no_eligible_label(xwalk):
    ex = export_review(xwalk, batch="a", limit=0, audit=5, seed=1)
    assert set(ex.frame["label_key"]) == set(ex.audit.draws) and (ex.frame["why"] == "").all()
    reviewed = xwalk.frame.copy()
    reviewed["review_code"] = np.where(reviewed["ksco_code"] != "", reviewed["ksco_code"], "0")  # all reviewed
    none = export_review(Crosswalk.of(reviewed), batch="a", limit=0, audit=5, seed=1)
    assert none.audit.draws == {} and len(none.frame) == 0


def test_wilson_and_hansen_hurwitz_against_hand_computed_values():
    # Wilson 95%, 3 wrong of 30: centre (3 + z²/2)/(30 + z²) = 4.920730/33.841459 = 0.145406,
    # half z/(30 + z²)·sqrt(3·27/30 + z²/4) = 0.057916·1.913207 = 0.110806
    lo, hi = wilson_interval(3, 30)
    assert (lo, hi) == pytest.approx((0.034600, 0.256212), abs=2e-6)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(0, 0) is None
    # labels a (x=600, wrong from level 1), b (x=250, right), c (x=100, wrong at level 5 only),
    # d (x=50, the reviewer stopped at level 3); X = 1000; draws a×2, b×5, c×2, d×1 (10).
    # Hansen-Hurwitz total wrong at level 1 = (1/10)·Σ y_i/p_i, y_i/p_i = x_i·wrong_i/(x_i/X) = 1000 per wrong draw
    # → (1/10)·2·1000 = 200 persons, share 0.2; level 4: d leaves the denominator, 2/9; level 5: 4/9.
    judged = [
        ("a", "94111", "41111", 2),
        ("b", "31111", "31111", 5),
        ("c", "23111", "23112", 2),
        ("d", "52111", "521", 1),
    ]
    est = estimate_residual_error(judged, eligible_labels=4, eligible_persons=1000.0, batch="a1")
    lv = {r["level"]: r for r in est.levels}
    hh = sum(600 / (600 / 1000) for _ in range(2)) / 10
    assert lv[1]["share"] == 0.2 and lv[1]["persons_wrong"] == pytest.approx(hh) == pytest.approx(200.0)
    assert lv[1]["ci"] == pytest.approx(list(wilson_interval(2, 10)))
    assert (lv[3]["draws"], lv[3]["wrong"]) == (10, 2)
    assert (lv[4]["draws"], lv[4]["wrong"], lv[5]["wrong"]) == (9, 2, 4)
    assert lv[5]["share"] == pytest.approx(4 / 9) and lv[5]["shallow"] == 0
    assert [(w["label_key"], w["wrong_from_level"]) for w in est.wrong_labels] == [("a", 1), ("c", 5)]
    assert est.judged_draws == 10 and est.to_dict()["unjudged_draws"] == 0


def test_a_wrong_not_employed_reading_is_found_by_the_audit():
    """전기공사 read as 전(former) + 기공사 would take an employed person out of the frame: the audit sees it."""
    xw = Crosswalk.of(code_labels(tabulate_labels(pd.Series(["무직"] * 3 + ["간호사"], dtype=object)), model=False))
    judged = [("무직", "0", "76200", 2), ("무직", "0", "0", 1)]
    est = estimate_residual_error(judged, eligible_labels=2, eligible_persons=4.0)
    lv1, lv2 = est.levels[0], est.levels[1]
    assert (lv1["draws"], lv1["wrong"], lv1["shallow"]) == (3, 2, 0)
    assert (lv2["draws"], lv2["wrong"], lv2["shallow"]) == (2, 2, 0)  # the reviewer's 0 stops above level 2
    assert est.wrong_labels[0]["machine_code"] == "0" and est.wrong_labels[0]["wrong_from_level"] == 1
    sheet = export_review(xw, batch="a1", limit=0, audit=6, seed=5)
    assert set(sheet.audit.draws) <= {"무직", "간호사"} and sum(sheet.audit.draws.values()) == 6


def test_wrong_at_levels_and_shallow_codes():
    assert [wrong_at("94", "9411", lv) for lv in (1, 2, 3, 4, 5)] == [False, False, True, True, None]
    assert [wrong_at("9411", "0", lv) for lv in (1, 2)] == [True, None]
    assert wrong_at("A011", "A0110", 5) is True and wrong_at("A0110", "A0110", 5) is False
    est = estimate_residual_error([("x", "94", "9411", 3)], eligible_labels=1, eligible_persons=5.0)
    lv3 = est.levels[2]
    assert lv3["wrong"] == 3 and lv3["shallow"] == 3


def _decide_audit(sheet: pd.DataFrame, answers: dict[str, str]) -> pd.DataFrame:
    sheet = sheet.copy()
    for i, key in enumerate(sheet["label_key"]):
        if key in answers:
            sheet.loc[i, "decision_code"] = answers[key]
            sheet.loc[i, "reviewer"] = "tester"
    return sheet


def test_import_estimates_and_the_estimate_reads_back(tmp_path, xwalk):
    into = tmp_path / "x.csv"
    write_crosswalk(xwalk, into)
    sheet = tmp_path / "a1" / "audit.csv"
    runner = CliRunner()
    r = runner.invoke(cli, ["review", "export", str(into), "-o", str(sheet), "--limit", "0", "--audit", "20"])
    assert r.exit_code == 0, r.output
    assert "audit: 20 draws (seed 20260101)" in r.stderr
    side = json.loads((tmp_path / "a1" / "audit.csv.meta.json").read_text(encoding="utf-8"))
    assert side["params"]["seed"] == 20260101 and side["summary"]["audit"]["n_draws"] == 20
    frame = read_table(sheet)
    machine = dict(zip(xwalk.frame["label_key"], machine_codes(xwalk.frame)))
    keys = frame["label_key"].tolist()
    wrong = keys[0]
    answers = {k: machine[k] for k in keys} | {wrong: "0"}  # the reviewer says the first is not employed
    _decide_audit(frame, answers).to_csv(sheet, index=False, encoding="utf-8-sig")
    out = tmp_path / "reviewed.csv"
    r = runner.invoke(cli, ["review", "import", str(sheet), "--into", str(into), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "residual coding error from a blind audit of 20 draws" in r.stderr
    back = read_crosswalk(out)
    (record,) = back.audit
    draws = read_crosswalk(into)  # the same draw again, to know the first label's draws
    n_wrong = export_review(draws, batch="a1", limit=0, audit=20, seed=20260101).audit.draws[wrong]
    lv1 = record["levels"][0]
    assert lv1["wrong"] == n_wrong and lv1["draws"] == 20 and record["seed"] == 20260101
    assert math.isclose(lv1["share"], n_wrong / 20)
    assert record["eligible_persons"] == sum(_machine_coded(xwalk).values())
    assert back.frame.set_index("label_key").loc[wrong, "review_code"] == "0"  # a decision like any other
    # a later stage carries the record forward
    decided = tmp_path / "decided.csv"
    assert runner.invoke(cli, ["decide", str(out), "-o", str(decided)]).exit_code == 0
    assert read_crosswalk(decided).audit == back.audit
    assert "level 1" in summary_sentence(record)


def test_an_edited_audit_row_is_refused_and_unjudged_draws_are_noted(xwalk):
    ex = export_review(xwalk, batch="a", limit=0, audit=10, seed=4)
    sheet = ex.frame.copy()
    sheet.loc[0, "suggested_code"] = "9999"
    with pytest.raises(ReviewError, match="protected cell suggested_code was '', is now '9999'"):
        import_review(sheet, xwalk)
    machine = dict(zip(xwalk.frame["label_key"], xwalk.frame["ksco_code"]))
    half = {k: machine[k] for k in ex.frame["label_key"].tolist()[1:]}
    res = import_review(_decide_audit(ex.frame, half), xwalk)
    first = ex.audit.draws[ex.frame["label_key"].iloc[0]]
    assert res.residual.judged_draws == 10 - first and res.residual.n_draws == 10
    assert res.residual.levels[0]["wrong"] == 0 and "missing at random" in res.residual.notes[0]
    plain = import_review(export_review(xwalk, batch="b").frame, xwalk)
    assert plain.residual is None and plain.crosswalk.audit == ()
