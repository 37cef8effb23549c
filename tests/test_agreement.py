"""Agreement statistics: published reference values, properties, and the crosswalk matrices."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coder.agreement import agree_file, cohen_kappa, fleiss_kappa, krippendorff_alpha, measure_agreement
from coder.errors import InputError


def _two_by_two(yy: int, yn: int, ny: int, nn: int) -> tuple[list[str], list[str]]:
    a = ["yes"] * (yy + yn) + ["no"] * (ny + nn)
    b = ["yes"] * yy + ["no"] * yn + ["yes"] * ny + ["no"] * nn
    return a, b


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        # Wikipedia "Cohen's kappa", worked example: 50 grant proposals, p_o = 0.7, p_e = 0.5
        ((20, 5, 10, 15), 0.4),
        # Wikipedia, "same percentages but different numbers": κ = 0.1304 and 0.2593
        ((45, 15, 25, 15), 0.1304),
        ((25, 35, 5, 35), 0.2593),
    ],
)
def test_cohen_kappa_published_examples(cells, expected):
    a, b = _two_by_two(*cells)
    assert cohen_kappa(a, b) == pytest.approx(expected, abs=5e-5)


def test_cohen_kappa_item_weights_equal_repetition():
    a, b = _two_by_two(20, 5, 10, 15)
    # the same table as 4 weighted items
    assert cohen_kappa(["yes", "yes", "no", "no"], ["yes", "no", "yes", "no"], weights=[20, 5, 10, 15]) == (
        pytest.approx(cohen_kappa(a, b))
    )


def test_cohen_kappa_missing_and_labels():
    a = ["1", "2", "", None, "3", "1"]
    b = ["1", "2", "2", "3", math.nan, "2"]
    # only items 1, 2, 6 are complete: p_o = 2/3, marginals a = (2/3, 1/3), b = (1/3, 2/3)
    assert cohen_kappa(a, b) == pytest.approx((2 / 3 - 4 / 9) / (1 - 4 / 9))
    assert cohen_kappa(a, b, labels=["1"]) != cohen_kappa(a, b)
    assert math.isnan(cohen_kappa(["x", "x"], ["x", "x"]))  # a single shared category: undefined


def test_cohen_kappa_errors():
    with pytest.raises(InputError) as err:
        cohen_kappa(["1"], ["1", "2"])
    assert str(err.value) == "cohen_kappa: a has 1 items and b has 2 — give both raters' labels per item."
    with pytest.raises(InputError) as err:
        cohen_kappa(["1", "2"], ["1", "2"], weights=[1, -1])
    assert str(err.value) == "cohen_kappa: weights must be finite numbers ≥ 0 — fix the negative or missing ones."


FLEISS_WIKIPEDIA = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def test_fleiss_kappa_published_example():
    """Wikipedia's Fleiss' kappa worked example (10 subjects, 14 raters, 5 categories): κ = 0.210."""
    assert fleiss_kappa(FLEISS_WIKIPEDIA) == pytest.approx(0.210, abs=5e-4)


def test_fleiss_kappa_weights_equal_repeated_subjects():
    weights = np.arange(1, 11)
    repeated = np.repeat(np.array(FLEISS_WIKIPEDIA), weights, axis=0)
    assert fleiss_kappa(FLEISS_WIKIPEDIA, weights=weights) == pytest.approx(fleiss_kappa(repeated))


def test_fleiss_kappa_errors():
    with pytest.raises(InputError) as err:
        fleiss_kappa([[2, 0], [1, 0]])
    assert str(err.value) == (
        "fleiss_kappa: every subject needs the same number of ratings, at least 2 (subject 2 has 1, subject 1 "
        "has 2) — keep the subjects all raters rated, or use krippendorff_alpha, which allows missing ratings."
    )
    with pytest.raises(InputError) as err:
        fleiss_kappa([[1.5, 0.5]])
    assert str(err.value) == "fleiss_kappa: counts must be whole numbers ≥ 0 (raters per subject and category)."


N = None
KRIPPENDORFF_2011 = [  # 4 coders × 12 units, Krippendorff (2011) "Computing Krippendorff's Alpha-Reliability"
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]


@pytest.mark.parametrize(("level", "expected"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_krippendorff_alpha_published_example(level, expected):
    assert krippendorff_alpha(KRIPPENDORFF_2011, level=level) == pytest.approx(expected, abs=5e-4)


def test_krippendorff_alpha_codes_as_strings_and_own_weighted_formula():
    from coder.agreement import _alpha_nominal_rows

    as_codes = [["" if v is None else f"9{v}" for v in row] for row in KRIPPENDORFF_2011]
    assert krippendorff_alpha(as_codes) == pytest.approx(0.743, abs=5e-4)
    m = np.array([[-1 if v is None else v for v in row] for row in KRIPPENDORFF_2011]).T
    assert _alpha_nominal_rows(m, np.ones((1, 12)))[0] == pytest.approx(krippendorff_alpha(KRIPPENDORFF_2011))
    # a unit weight of 2 equals listing the unit twice
    twice = np.vstack([m, m[:1]])
    w = np.ones((1, 12))
    w[0, 0] = 2
    assert _alpha_nominal_rows(m, w)[0] == pytest.approx(_alpha_nominal_rows(twice, np.ones((1, 13)))[0], abs=1e-3)


def test_krippendorff_alpha_errors():
    with pytest.raises(InputError) as err:
        krippendorff_alpha(KRIPPENDORFF_2011, level="interval_ratio")
    assert str(err.value) == (
        "krippendorff_alpha: level 'interval_ratio' is not one of nominal, ordinal, interval, ratio."
    )
    with pytest.raises(InputError) as err:
        krippendorff_alpha([["9", "8"], ["9", "x"]], level="interval")
    assert str(err.value) == "krippendorff_alpha: level 'interval' needs numbers; use level='nominal' for codes."


codes_st = st.lists(st.sampled_from(["1", "2", "3", "94", "A"]), min_size=4, max_size=40)


@settings(max_examples=60, deadline=None)
@given(codes_st, st.randoms(use_true_random=False))
def test_kappa_properties(a, rnd):
    b = list(a)
    rnd.shuffle(b)
    # symmetry
    k_ab, k_ba = cohen_kappa(a, b), cohen_kappa(b, a)
    assert (math.isnan(k_ab) and math.isnan(k_ba)) or k_ab == pytest.approx(k_ba)
    # identical raters agree perfectly whenever κ is defined (at least two categories)
    if len(set(a)) >= 2:
        assert cohen_kappa(a, a) == pytest.approx(1.0)
        assert krippendorff_alpha([a, a, a]) == pytest.approx(1.0)
    # invariance to relabelling the categories (a bijection)
    rename = {"1": "x", "2": "y", "3": "z", "94": "w", "A": "v"}
    k_renamed = cohen_kappa([rename[x] for x in a], [rename[x] for x in b])
    assert (math.isnan(k_ab) and math.isnan(k_renamed)) or k_renamed == pytest.approx(k_ab)
    alpha = krippendorff_alpha([a, b])
    alpha_renamed = krippendorff_alpha([[rename[x] for x in a], [rename[x] for x in b]])
    assert (math.isnan(alpha) and math.isnan(alpha_renamed)) or alpha_renamed == pytest.approx(alpha)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(0, 3), min_size=3, max_size=3), min_size=2, max_size=15))
def test_fleiss_property_raters_identical_is_one_and_column_order_free(ratings):
    counts = np.zeros((len(ratings), 4))
    for i, row in enumerate(ratings):
        for c in row:
            counts[i, c] += 1
    k = fleiss_kappa(counts)
    permuted = fleiss_kappa(counts[:, [2, 0, 3, 1]])
    assert (math.isnan(k) and math.isnan(permuted)) or permuted == pytest.approx(k)
    unanimous = np.zeros((len(ratings), 4))
    unanimous[np.arange(len(ratings)), [r[0] for r in ratings]] = 3
    if len({r[0] for r in ratings}) >= 2:
        assert fleiss_kappa(unanimous) == pytest.approx(1.0)


def _crosswalk() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "label_key": ["a", "b", "c", "d", "e", "f"],
            "weight": [100.0, 10.0, 10.0, 1.0, 1.0, 50.0],
            "n_rows": [1] * 6,
            "title_code": ["94212", "", "31", "24111", "9", "A0110"],
            "rule_code": ["94212", "7", "3", "24112", "", "A0110"],
            "model_code": ["9421", "8", "31", "24111", "9", "A011"],
            "mine_code": ["9", "7", "3", "2", "9", "A"],
            "fuzzy_code": [""] * 6,
        }
    )


def test_measure_agreement_matrices_per_level():
    result = measure_agreement(_crosswalk(), n_bootstrap=50)
    assert result.raters == ("title", "rule", "model", "mine")
    assert result.notes == ("rater(s) fuzzy gave no code for any label and are left out",)
    m1 = result.matrix(1, stat="agreement")
    # title vs rule at level 1: labels a, c, d, f all agree
    assert m1.loc["title", "rule"] == 1.0 and m1.loc["rule", "title"] == 1.0
    # rule vs model at level 1: b disagrees (7 vs 8); 4 of 5 shared labels agree
    assert m1.loc["rule", "model"] == pytest.approx(4 / 5)
    assert result.matrix(1, stat="agreement", weighting="persons").loc["rule", "model"] == pytest.approx(161 / 171)
    # a majors-only rater is compared at level 1 only
    cov = result.coverage.set_index(["level", "rater"])
    assert cov.loc[(1, "mine"), "labels"] == 6 and cov.loc[(2, "mine"), "labels"] == 0
    assert math.isnan(result.matrix(2).loc["mine", "title"])
    # level 5: title vs rule share a and d (and f) — d differs
    row = result.pairs.query("level == 5 and rater_a == 'title' and rater_b == 'rule'").iloc[0]
    assert row["labels"] == 3 and row["agreement_labels"] == pytest.approx(2 / 3)
    assert row["agreement_persons"] == pytest.approx(150 / 151)
    assert row["agreement_labels_lo"] <= row["agreement_labels"] <= row["agreement_labels_hi"]
    lv1 = result.levels.set_index("level").loc[1]
    assert lv1["fleiss_raters"] == "title rule model mine"
    # complete at level 1: a, c, d, f; unanimous: all four
    assert lv1["fleiss_labels"] == 4 and lv1["unanimous_labels"] == 4 and lv1["no_majority_labels"] == 0
    assert lv1["fleiss_kappa_labels"] == pytest.approx(1.0)
    json.dumps(result.to_dict(), allow_nan=False)


def test_measure_agreement_errors():
    with pytest.raises(InputError) as err:
        measure_agreement(_crosswalk(), raters=["title", "panel_x"])
    assert str(err.value) == (
        "rater(s) panel_x have no <rater>_code column in the crosswalk (raters: title, rule, model, mine, fuzzy) "
        "— pick raters from that list."
    )
    with pytest.raises(InputError) as err:
        measure_agreement(_crosswalk(), levels=(0, 1))
    assert str(err.value) == "levels [0, 1]: KSCO levels are 1–5 — e.g. levels=(1, 2, 3, 4, 5)."


@pytest.fixture(scope="module")
def demo_crosswalk(tmp_path_factory):
    from coder.demo import run_demo

    out = tmp_path_factory.mktemp("agree-demo")
    run_demo(out)
    return out / "crosswalk.csv"


def test_agree_file_writes_tables_with_sidecars(demo_crosswalk, tmp_path):
    out = tmp_path / "agreement"
    result = agree_file(demo_crosswalk, out, n_bootstrap=20)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [f"agreement_{n}" for n in ("pairs.csv", "levels.csv", "coverage.csv", "matrices.csv")]
        + ["agreement.json"]
        + [f"agreement_{n}.meta.json" for n in ("pairs.csv", "levels.csv", "coverage.csv", "matrices.csv")]
        + ["agreement.json.meta.json"]
    )
    doc = json.loads((out / "agreement.json").read_text(encoding="utf-8"))
    assert doc["raters"] == list(result.raters) and "title" in doc["raters"]
    assert doc["provenance"]["inputs"]["crosswalk"]["path"] == str(demo_crosswalk)
    pairs = pd.read_csv(out / "agreement_pairs.csv")
    assert set(pairs["level"]) == {1, 2, 3, 4, 5}
    assert len(pairs) == len(result.pairs)


def test_agree_file_failed_run_keeps_earlier_outputs(demo_crosswalk, tmp_path):
    out = tmp_path / "agreement"
    agree_file(demo_crosswalk, out, n_bootstrap=5, levels=(1,))
    before = (out / "agreement.json").read_bytes()
    with pytest.raises(InputError) as err:
        agree_file(demo_crosswalk, out, raters=["nope"])
    assert str(err.value).startswith("rater(s) nope have no <rater>_code column in the crosswalk (raters: title,")
    assert (out / "agreement.json").read_bytes() == before
