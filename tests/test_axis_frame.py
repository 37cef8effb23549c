"""The audit frame (coder.axis.frame) and the labels' coding distributions (coder.axis.coding)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from coder.axis.coding import CODING_BUCKETS, RATER_PRECISION, coding_probabilities, label_frame
from coder.axis.frame import (
    MIN_BUCKET_RESPONDENTS,
    build_frame,
    draw_mappings,
    kish_n_eff,
    measure_rho,
    resample_cells,
)
from coder.axis.metrics import measure_axis, table_of_frame
from coder.axis.references import load_reference
from coder.sensitivity import axis_point, verdicts

OUT = len(CODING_BUCKETS)  # the "out of the frame" column of a coding distribution


def test_kish_n_eff():
    assert kish_n_eff(5.0, 5.0) == 5.0  # five respondents of weight 1
    w = np.array([1.0, 1.0, 2.0, 4.0])
    assert kish_n_eff(w.sum(), (w * w).sum()) == pytest.approx(64 / 22)
    assert kish_n_eff(0.0, 0.0) == 0.0


def _frame(weighted: bool = True, coding=None):
    # label × sex respondents (women, men), their weight sums and squared-weight sums
    resp = np.array([[30, 10], [5, 25], [12, 12], [20, 0], [1, 0]], dtype=float)
    w = resp * np.array([[1000.0, 3000.0]])
    q = resp * np.array([[1000.0**2 * 1.5, 3000.0**2 * 1.2]])
    return build_frame(
        ["b 간호사", "a 택시기사", "c 회사원", "d 학생", "e 어부"],
        ["2", "8", "3", "0", "6"],
        resp,
        weights=w if weighted else None,
        weights_sq=q if weighted else None,
        coding=coding,
        coding_buckets=CODING_BUCKETS if coding is not None else None,
    )


def test_build_frame_counts_and_order():
    f = _frame()
    assert f.units[0] == "a 택시기사"  # sorted by key, whatever the input order
    assert f.n_respondents == 30 + 10 + 5 + 25 + 12 + 12 + 1  # 학생 (bucket 0) is out
    assert f.persons_weighted == pytest.approx(30_000 + 30_000 + 5_000 + 75_000 + 12_000 + 36_000 + 1_000)
    keep = f.in_frame
    assert f.n_effective == pytest.approx(f.weights[keep].sum() ** 2 / f.weights_sq[keep].sum())
    assert f.excluded()["0"] == {"respondents": 20, "persons": 20_000.0}
    assert f.bucket_respondents()[f.buckets.index("6")] == 1
    unweighted = _frame(weighted=False)
    assert unweighted.persons_weighted == unweighted.n_respondents == unweighted.n_effective


def test_resample_cells_unweighted_is_a_multinomial_of_respondents():
    f = _frame(weighted=False)
    t, s = resample_cells(f, 200, rng=np.random.default_rng(1))
    assert np.allclose(t, np.rint(t))  # whole respondents
    assert np.allclose(t.sum(axis=(1, 2)), f.respondents.sum())
    assert np.allclose(s, t)


def test_resample_cells_weighted_keeps_each_cells_mean():
    f = _frame()
    t, _ = resample_cells(f, 4000, rng=np.random.default_rng(2))
    assert np.allclose(t.mean(axis=0), f.weights, rtol=0.05, atol=600)
    # respondents, not weights, are resampled: the spread of a cell follows its respondents
    sd = t[:, 1, 1].std()  # 25 respondents of mean weight 3,000
    assert 0.1 * 75_000 < sd < 0.35 * 75_000


def test_draw_mappings_follow_the_coding_distribution():
    coding = np.zeros((5, OUT + 1))
    for i, b in enumerate(["2", "8", "3", "0", "6"]):
        coding[i, CODING_BUCKETS.index(b)] = 1.0
    coding[0] = 0.0
    coding[0, CODING_BUCKETS.index("2")] = 0.6  # 간호사 (input row 0): 60 % major 2, 40 % major 3
    coding[0, CODING_BUCKETS.index("3")] = 0.4
    f = _frame(coding=coding)
    m = draw_mappings(f, 5000, rng=np.random.default_rng(3))
    row = f.units.index("b 간호사")
    share = np.mean(m[:, row] == f.buckets.index("3"))
    assert share == pytest.approx(0.4, abs=0.03)
    others = [i for i in range(5) if i != row]
    assert (m[:, others] == f.bucket_index[others]).all()


def _ref(buckets):
    return load_reference("kosis-res:2025H2").subset(buckets)


def test_certain_coding_gives_a_point_coding_interval_and_no_coding_gives_none():
    coding = np.zeros((5, OUT + 1))
    for i, b in enumerate(["2", "8", "3", "0", "6"]):
        coding[i, CODING_BUCKETS.index(b)] = 1.0
    f = _frame(coding=coding)
    m = measure_rho(f, _ref(f.buckets), n_bootstrap=200, n_draws=100)
    assert m.rho_ci_coding == pytest.approx((m.rho, m.rho))
    assert m.rho_ci_total == pytest.approx(m.rho_ci, abs=0.15)
    bare = measure_rho(_frame(), _ref(f.buckets), n_bootstrap=200, n_draws=100)
    assert bare.rho_ci_coding is None and bare.rho_ci_total is None and bare.n_draws == 0
    assert bare.rho_ci == pytest.approx(m.rho_ci)  # the sampling stream does not depend on the coding
    assert any("coding uncertainty not measured" in n for n in bare.notes)


def _crosswalk():
    detail = json.dumps({"levels": [["2", 0.7], ["24", 0.6]], "top": [["2430", 0.5], ["3411", 0.2], ["4211", 0.1]]})
    return pd.DataFrame(
        {
            "label_key": ["간호사", "택시기사", "회사원", "학생", "상담사", "미상"],
            "ksco_major": ["2", "8", "3", "0", "4", ""],
            "status": ["employed", "employed", "employed", "not_employed", "employed", "unknown"],
            "code_source": ["model", "review", "rule", "status", "panel_a", ""],
            "rule_id": ["", "", "R0001", "", "", ""],
            "model_detail": [detail, "", "", "", "", ""],
            "panel_a_code": ["", "", "", "", "4211", ""],
            "panel_b_code": ["", "", "", "", "2471", ""],
            "panel_c_code": ["", "", "", "", "4220", ""],
            "panel_a_valid": ["True"] * 6,
            "panel_b_valid": ["True"] * 6,
            "panel_c_valid": ["True"] * 6,
        }
    )


def test_coding_probabilities_per_rater():
    probs, record = coding_probabilities(_crosswalk(), rule_precision={"R0001": 0.9})
    col = CODING_BUCKETS.index
    assert np.allclose(probs.sum(axis=1), 1.0)
    # model: its calibrated major probability, the rest by its top unit groups per major (3: 0.2, 4: 0.1)
    assert probs[0, col("2")] == pytest.approx(0.7)
    assert probs[0, col("3")] == pytest.approx(0.3 * 2 / 3)
    assert probs[0, col("4")] == pytest.approx(0.3 / 3)
    assert probs[1, col("8")] == 1.0  # a reviewer's decision is certain
    assert probs[2, col("3")] == pytest.approx(0.9)  # the rule's own measured precision
    assert probs[2, col("5")] == pytest.approx(0.1 / 8)  # the rest uniformly over the other majors
    assert probs[3, col("0")] == 1.0  # status decisions are certain
    assert probs[4, col("4")] == pytest.approx(2 / 3) and probs[4, col("2")] == pytest.approx(1 / 3)  # votes
    assert probs[5, OUT] == 1.0  # no code: out of the frame for sure
    assert record["labels_by_distribution"] == {
        "certain": 3,
        "model probability": 1,
        "panel votes": 1,
        "rule precision": 1,
    }
    default, _ = coding_probabilities(_crosswalk())
    assert default[2, col("3")] == pytest.approx(RATER_PRECISION["rule"][0])


def test_uncertain_labels_rank_persons_times_change_probability():
    xw = _crosswalk()
    counts = np.array([[900.0, 100.0], [10.0, 990.0], [2000.0, 2000.0], [50.0, 50.0], [300.0, 100.0], [5, 5]])
    frame = label_frame(xw, xw["label_key"].tolist(), counts)
    m = measure_rho(frame, _ref(frame.buckets), n_bootstrap=100, n_draws=100)
    top = [u["label"] for u in m.uncertain_labels]
    # 회사원 4,000 × 0.062, 간호사 1,000 × 0.3, 상담사 400 × 1/3; reviewed and status labels never
    assert top == ["간호사", "회사원", "상담사"]
    assert m.uncertain_labels[0]["expected_persons_moved"] == pytest.approx(300.0)
    assert m.rho_ci_coding[0] < m.rho_ci_coding[1]  # uncertain coding: a coding interval of some width


def test_a_bucket_below_the_minimum_gets_no_interval_and_no_flag():
    f = _frame()
    res = measure_axis(table_of_frame(f), load_reference("kosis-res:2025H2"), n_bootstrap=300, n_permutations=200)
    six = next(b for b in res.buckets if b.bucket == "6")
    assert six.r_ci is None and six.r_bucket_ci is None
    assert not six.out_of_band and not six.parity_flag and six.out_of_band_point is None
    assert f"fewer than {MIN_BUCKET_RESPONDENTS}" in six.note
    assert any("bucket(s) 6" in n for n in res.axis["notes"])
    two = next(b for b in res.buckets if b.bucket == "2")
    assert two.r_ci is not None  # 40 respondents: an interval
    assert res.axis["n_respondents"] == f.n_respondents
    assert res.axis["n_effective"] == pytest.approx(f.n_effective)


def test_sweep_points_and_verdicts_are_three_way_and_skip_tiny_buckets():
    ref = load_reference("kosis-res:2025H2")
    table = np.array(
        [[50, 10], [400, 380], [300, 290], [200, 80], [150, 120], [0, 2000], [20, 300], [30, 400], [150, 140]]
    )
    resp = table.sum(axis=1).astype(float)
    flagged = axis_point(table, ref)["parity"]
    assert flagged[5]  # 2,000 men and no woman: a parity flag when every person is a respondent …
    resp[5] = 1
    assert not axis_point(table, ref, respondents=resp)["parity"][5]  # … none when one respondent weighs 2,000
    v = verdicts(np.array([0.5, 0.69, 0.9, np.nan]), 0.6, (0.55, 0.65), 0.7, 500.0)
    assert v.tolist() == ["attenuated", "inconclusive", "not_attenuated", "inconclusive"]
    assert verdicts(0.5, 0.5, None, 0.7, 50.0) == "inconclusive"  # n_eff below the minimum


def test_tiny_bucket_has_no_age_standardised_interval_either():
    from coder.axis.metrics import tabulate_axis

    rng = np.random.default_rng(5)
    majors = rng.choice(list("23456789"), 300)
    rows = pd.DataFrame(
        {
            "ksco_major": [*majors, "1"],
            "sex": [*rng.choice(["여자", "남자"], 300), "남자"],
            "age": [str(a) for a in rng.integers(20, 70, 301)],
            "weight": [f"{w:.1f}" for w in rng.lognormal(7.4, 0.5, 301)],
        }
    )
    table = tabulate_axis(rows, sex_col="sex", code_col="ksco_major", weight_col="weight", age_col="age")
    res = measure_axis(table, load_reference("kosis-res:2025H2"), n_bootstrap=200, n_permutations=100)
    one = next(b for b in res.age_standardisation.buckets if b.bucket == "1")
    assert one.r_standardised_ci is None and one.out_of_band is None
    assert next(b for b in res.buckets if b.bucket == "1").r_ci is None
    assert res.axis["bucket_respondents"]["1"] == 1 and res.axis["weighted"]
    two = next(b for b in res.age_standardisation.buckets if b.bucket == "2")
    assert two.r_standardised_ci is not None
