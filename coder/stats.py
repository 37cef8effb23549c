"""Association and distance statistics on small contingency tables, vectorised.

Every function works on aggregated counts (never on persons). Tables are arrays
of shape ``(..., r, c)``: leading axes are replicates, so one call scores
thousands of bootstrap or permutation tables.

- :func:`cramers_v` — Cramér's V, optionally with Bergsma's (2013) bias
  correction. Higher = stronger association (0 = independence, 1 = perfect).
- :func:`draw_fixed_margin_tables` — tables with both margins fixed
  (multivariate hypergeometric), the permutation null of a 2-column table.
- :func:`permutation_pvalue` — the plus-one Monte-Carlo p-value
  (Phipson & Smyth 2010). Lower = stronger evidence against independence.
- :func:`exact_permutation_pvalue` — the same p-value by full enumeration, for small
  2-column tables.
- :func:`draw_multinomial_tables` — multinomial bootstrap of a table.
- :func:`total_variation`, :func:`jensen_shannon` — distances between distributions
  (0 = identical; lower is better).

References: W. Bergsma (2013), "A bias-correction for Cramér's V and Tschuprow's T",
J. Korean Stat. Soc. 42:323–328. B. Phipson & G. K. Smyth (2010), "Permutation
P-values should never be zero", Stat. Appl. Genet. Mol. Biol. 9(1):39.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

__all__ = [
    "chi_square",
    "cramers_v",
    "draw_fixed_margin_tables",
    "draw_multinomial_tables",
    "exact_permutation_pvalue",
    "jensen_shannon",
    "permutation_pvalue",
    "total_variation",
]


def chi_square(table: np.ndarray) -> np.ndarray:
    """Pearson's χ² of independence for each ``(r, c)`` table in ``table`` (rows/cols with zero total ignored)."""
    t = np.asarray(table, dtype=float)
    n = t.sum(axis=(-2, -1))
    rows = t.sum(axis=-1, keepdims=True)
    cols = t.sum(axis=-2, keepdims=True)
    expected = rows * cols
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(expected > 0, t * t / expected, 0.0)
        return n * (ratio.sum(axis=(-2, -1)) - 1.0)


def cramers_v(
    table: np.ndarray, *, bias_correction: bool = True, n: float | np.ndarray | None = None
) -> np.ndarray | float:
    """Cramér's V of an ``(r, c)`` table (or a stack ``(..., r, c)``); higher = stronger association.

    With ``bias_correction=True`` (default) Bergsma's (2013) correction is used::

        φ²₊ = max(0, χ²/n − (k−1)(r−1)/(n−1))
        k̃ = k − (k−1)²/(n−1),  r̃ = r − (r−1)²/(n−1)
        Ṽ = sqrt(φ²₊ / min(k̃−1, r̃−1))

    ``r`` and ``k`` count the rows and columns with a non-zero total. ``n`` overrides the
    sample size used by the correction (``math.inf`` switches it off, e.g. for a table of
    shares; an array gives one size per table of the stack, e.g. each table's Kish effective
    size on weighted data); by default it is the table total. Returns 0 when a margin has a single level.
    """
    t = np.asarray(table, dtype=float)
    total = t.sum(axis=(-2, -1))
    chi2 = chi_square(t)
    r = (t.sum(axis=-1) > 0).sum(axis=-1).astype(float)
    k = (t.sum(axis=-2) > 0).sum(axis=-1).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        phi2 = chi2 / total
        if bias_correction:
            size = total if n is None else np.broadcast_to(np.asarray(n, dtype=float), np.shape(total))
            finite = np.isfinite(size)
            m = np.where(finite, size - 1.0, 1.0)
            phi2 = np.where(finite, np.maximum(0.0, phi2 - (k - 1) * (r - 1) / m), phi2)
            r = np.where(finite, r - (r - 1) ** 2 / m, r)
            k = np.where(finite, k - (k - 1) ** 2 / m, k)
        denom = np.minimum(k - 1, r - 1)
        v = np.where(denom > 0, np.sqrt(np.maximum(phi2, 0.0) / denom), 0.0)
    return float(v) if v.ndim == 0 else v


def draw_fixed_margin_tables(table: np.ndarray, size: int, *, rng: np.random.Generator) -> np.ndarray:
    """``size`` random ``(r, 2)`` tables with the same row and column totals as ``table``.

    This is the permutation null of the table (shuffling the column labels of the
    persons), drawn directly: the first column is a multivariate hypergeometric draw
    of its total from an urn with the row totals as colours. Counts must be integers.
    """
    t = np.asarray(table)
    if t.ndim != 2 or t.shape[1] != 2:
        raise ValueError("draw_fixed_margin_tables expects an (r, 2) table")
    rows = t.sum(axis=1).astype(np.int64)
    first = int(t[:, 0].sum())
    col0 = rng.multivariate_hypergeometric(rows, first, size=size, method="marginals")
    return np.stack([col0, rows[None, :] - col0], axis=-1)


def draw_multinomial_tables(
    table: np.ndarray, size: int, *, rng: np.random.Generator, n: int | None = None
) -> np.ndarray:
    """``size`` bootstrap tables: multinomial draws of ``n`` (default: the table total) over the cell shares."""
    t = np.asarray(table, dtype=float)
    total = round(t.sum()) if n is None else int(n)
    p = (t / t.sum()).ravel()
    draws = rng.multinomial(total, p, size=size)
    return draws.reshape((size, *t.shape))


def permutation_pvalue(observed: float, null: np.ndarray) -> float:
    """Plus-one Monte-Carlo p-value ``(1 + #{null ≥ observed}) / (1 + B)`` (Phipson & Smyth 2010).

    Lower = stronger evidence. Never zero; a relative tolerance of 1e-9 treats
    floating-point ties as ties.
    """
    null = np.asarray(null, dtype=float)
    hits = int(np.count_nonzero(null >= observed - 1e-9 * max(1.0, abs(observed))))
    return (hits + 1) / (null.size + 1)


def exact_permutation_pvalue(table: np.ndarray, *, bias_correction: bool = False) -> float:
    """Exact permutation p-value of Cramér's V for a small ``(r, 2)`` table, by enumeration.

    Sums the multivariate hypergeometric probability of every table with the same
    margins whose V is at least the observed one (ties included). Exponential in the
    number of rows: meant for tests and tiny tables. For a 2×2 table this is the
    two-sided Fisher exact test with χ² ordering.
    """
    t = np.asarray(table, dtype=np.int64)
    rows = [int(x) for x in t.sum(axis=1)]
    first = int(t[:, 0].sum())
    total = sum(rows)
    observed = float(cramers_v(t, bias_correction=bias_correction))
    log_denominator = _log_comb(total, first)
    p = 0.0
    for col0 in itertools.product(*(range(min(nr, first) + 1) for nr in rows[:-1])):
        last = first - sum(col0)
        if last < 0 or last > rows[-1]:
            continue
        cells = (*col0, last)
        candidate = np.array([[c, nr - c] for c, nr in zip(cells, rows, strict=True)])
        v = float(cramers_v(candidate, bias_correction=bias_correction))
        if v >= observed - 1e-9 * max(1.0, observed):
            log_p = sum(_log_comb(nr, c) for c, nr in zip(cells, rows, strict=True)) - log_denominator
            p += math.exp(log_p)
    return min(1.0, p)


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def total_variation(p: np.ndarray, q: np.ndarray) -> np.ndarray | float:
    """Total variation distance ½·Σ|p−q| between distributions (normalised along the last axis). Lower is closer."""
    p, q = _normalise(p), _normalise(q)
    out = 0.5 * np.abs(p - q).sum(axis=-1)
    return float(out) if np.ndim(out) == 0 else out


def jensen_shannon(p: np.ndarray, q: np.ndarray, *, normalised: bool = False) -> np.ndarray | float:
    """Jensen–Shannon divergence in nats (``normalised=True``: divided by ln 2, in [0, 1]). Lower is closer."""
    p, q = _normalise(p), _normalise(q)
    m = 0.5 * (p + q)
    out = 0.5 * _kl(p, m) + 0.5 * _kl(q, m)
    if normalised:
        out = out / math.log(2.0)
    return float(out) if np.ndim(out) == 0 else out


def _kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0) / np.where(q > 0, q, 1.0)), 0.0)
    return terms.sum(axis=-1)


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return x / x.sum(axis=-1, keepdims=True)
