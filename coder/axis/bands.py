"""Interval and band helpers shared by the axis metrics and their robustness checks.

Ratios closer to 1 are better; a ratio is *out of band* when its interval lies wholly
outside ``[q, 1/q]``; a female share is parity-flagged when min/max of the two sexes'
shares is below 4/5.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["outside_band", "parity_ratio", "quantile_interval", "safe_ratio"]


def quantile_interval(x: np.ndarray, probs: tuple[float, float]) -> tuple[float, float] | None:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return None
    lo, hi = np.quantile(x, probs)
    return float(lo), float(hi)


def outside_band(ci: tuple[float, float] | None, q: float) -> bool | None:
    if ci is None:
        return None
    return bool(ci[1] < q or ci[0] > 1.0 / q)


def safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def parity_ratio(share: float | None) -> tuple[float | None, bool | None]:
    if share is None or not math.isfinite(share):
        return None, None
    hi = max(share, 1.0 - share)
    ratio = min(share, 1.0 - share) / hi
    return ratio, bool(ratio < 0.8)


MIN_PERSONS = 100
"""Below this many persons in the comparison frame the ρ verdict is ``inconclusive``."""

VERDICTS = ("attenuated", "not_attenuated", "inconclusive")


def axis_verdict(rho: float | None, rho_ci: tuple[float, float] | None, tau: float, n_persons: int) -> str:
    """``attenuated`` (ρ < τ), ``not_attenuated`` (ρ ≥ τ) or ``inconclusive``.

    Inconclusive when ρ is undefined, the frame has fewer than :data:`MIN_PERSONS`
    persons, or ρ's bootstrap interval contains τ (the data cannot tell the two apart).
    """
    if rho is None or n_persons < MIN_PERSONS:
        return "inconclusive"
    if rho_ci is not None and rho_ci[0] <= tau <= rho_ci[1]:
        return "inconclusive"
    return "attenuated" if rho < tau else "not_attenuated"
