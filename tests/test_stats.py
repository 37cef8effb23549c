"""Statistics pinned to published values and hand-worked examples, plus properties."""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coder.stats import (
    cramers_v,
    draw_fixed_margin_tables,
    draw_multinomial_tables,
    exact_permutation_pvalue,
    jensen_shannon,
    permutation_pvalue,
    total_variation,
)


def test_uncorrected_v_matches_scipy_documented_example():
    # scipy.stats.contingency.association docs: obs4x2 -> method="cramer" 0.18617813077483678
    obs = np.array([[100, 150], [203, 322], [420, 700], [320, 210]])
    assert cramers_v(obs, bias_correction=False) == pytest.approx(0.18617813077483678, rel=1e-12)


def test_bergsma_correction_worked_example():
    # Bergsma (2013) eq.: phi2+ = max(0, phi2 - (k-1)(r-1)/(n-1)); k~ = k - (k-1)^2/(n-1); V~ = sqrt(phi2+/min(k~-1, r~-1))
    # [[20, 10], [10, 20]]: n = 60, phi = 1/3, phi2 = 1/9
    # phi2+ = 1/9 - 1/59 = 50/531 ; k~ - 1 = r~ - 1 = 1 - 1/59 = 58/59 ; V~^2 = (50/531) / (58/59) = 2950/30798
    expected = math.sqrt(Fraction(50, 531) / Fraction(58, 59))
    table = np.array([[20, 10], [10, 20]])
    assert cramers_v(table, bias_correction=False) == pytest.approx(1 / 3, rel=1e-12)
    assert cramers_v(table) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.309493, abs=1e-6)


def test_bergsma_keeps_perfect_association_and_clamps_independence():
    # [[10, 0], [0, 10]]: phi2+ = 1 - 1/19 = 18/19, k~ - 1 = 18/19  ->  V~ = 1 exactly
    assert cramers_v(np.array([[10, 0], [0, 10]])) == pytest.approx(1.0, rel=1e-12)
    # an exactly independent table: phi2 = 0, so phi2+ = max(0, -1/(n-1)) = 0
    assert cramers_v(np.array([[10, 20], [30, 60]])) == 0.0


def test_v_without_sample_size_correction_for_share_tables():
    shares = np.array([[0.2, 0.1], [0.1, 0.6]])
    assert cramers_v(shares, n=math.inf) == pytest.approx(cramers_v(shares, bias_correction=False))


def test_exact_permutation_pvalue_lady_tasting_tea():
    # Fisher (1935): 8 cups, 4 milk-first, 3 of 4 identified. Two-sided p = (1 + 16 + 16 + 1) / 70 = 34/70.
    assert exact_permutation_pvalue(np.array([[3, 1], [1, 3]])) == pytest.approx(34 / 70, rel=1e-12)
    # all correct: only the two extreme tables -> 2/70
    assert exact_permutation_pvalue(np.array([[4, 0], [0, 4]])) == pytest.approx(2 / 70, rel=1e-12)


def test_exact_pvalue_equals_enumeration_over_persons():
    # 3 x 2 table, 7 persons: enumerate every assignment of the column labels to persons
    table = np.array([[3, 0], [1, 1], [0, 2]])
    rows = np.repeat(np.arange(3), table.sum(axis=1))
    n_first = int(table[:, 0].sum())
    observed = cramers_v(table, bias_correction=False)
    hits = total = 0
    for chosen in itertools.combinations(range(len(rows)), n_first):
        col0 = np.bincount(rows[list(chosen)], minlength=3)
        candidate = np.stack([col0, table.sum(axis=1) - col0], axis=1)
        total += 1
        hits += cramers_v(candidate, bias_correction=False) >= observed - 1e-12
    assert total == math.comb(7, 3)
    assert exact_permutation_pvalue(table) == pytest.approx(hits / total, rel=1e-12)


def test_monte_carlo_pvalue_converges_to_exact():
    table = np.array([[3, 0], [1, 1], [0, 2]])
    exact = exact_permutation_pvalue(table)
    null = cramers_v(draw_fixed_margin_tables(table, 20000, rng=np.random.default_rng(3)), bias_correction=False)
    p = permutation_pvalue(cramers_v(table, bias_correction=False), null)
    assert abs(p - exact) < 4 * math.sqrt(exact * (1 - exact) / 20000)


def test_plus_one_formula():
    # Phipson & Smyth (2010): p = (b + 1) / (m + 1)
    assert permutation_pvalue(5.0, np.array([1.0, 2.0, 3.0])) == pytest.approx(1 / 4)
    assert permutation_pvalue(5.0, np.array([5.0, 6.0, 1.0])) == pytest.approx(3 / 4)
    assert permutation_pvalue(0.0, np.zeros(9)) == 1.0


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.integers(0, 50), min_size=3, max_size=3), min_size=2, max_size=6))
def test_v_is_symmetric_in_transposition(rows):
    t = np.array(rows)
    # V is a square root: a round-off of 1e-16 in φ² shows as ~1e-8 in V (e.g. two equal rows)
    assert cramers_v(t) == pytest.approx(cramers_v(t.T), abs=1e-7)
    assert cramers_v(t, bias_correction=False) == pytest.approx(cramers_v(t.T, bias_correction=False), abs=1e-7)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=2, max_size=9), st.integers(0, 2**32 - 1))
def test_hypergeometric_draws_keep_both_margins(rows, seed):
    t = np.array(rows)
    draws = draw_fixed_margin_tables(t, 50, rng=np.random.default_rng(seed))
    assert (draws >= 0).all()
    assert (draws.sum(axis=2) == t.sum(axis=1)).all()
    assert (draws.sum(axis=1) == t.sum(axis=0)).all()


def test_multinomial_draws_keep_total():
    t = np.array([[5, 3], [2, 10]])
    draws = draw_multinomial_tables(t, 100, rng=np.random.default_rng(0))
    assert draws.shape == (100, 2, 2)
    assert (draws.sum(axis=(1, 2)) == 20).all()


def test_stacked_v_matches_single():
    tables = np.array([[[10, 5], [3, 12]], [[7, 7], [7, 7]]])
    assert np.allclose(cramers_v(tables), [cramers_v(tables[0]), cramers_v(tables[1])])


def test_distances_reference_values():
    assert total_variation([1, 0], [0, 1]) == 1.0
    assert jensen_shannon([1, 0], [0, 1]) == pytest.approx(math.log(2))
    assert jensen_shannon([1, 0], [0, 1], normalised=True) == pytest.approx(1.0)
    assert total_variation([3, 1], [3, 1]) == 0.0
    # p = (1/2, 1/2), q = (1, 0), m = (3/4, 1/4):
    # JSD = 1/2 [1/2 ln(2/3) + 1/2 ln 2] + 1/2 ln(4/3) = 0.2157615543388357
    expected = 0.5 * (0.5 * math.log(2 / 3) + 0.5 * math.log(2)) + 0.5 * math.log(4 / 3)
    assert jensen_shannon([1, 1], [2, 0]) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.2157615543388357)
    assert total_variation([1, 1], [2, 0]) == pytest.approx(0.5)
