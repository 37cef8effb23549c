"""Robustness checks for :func:`coder.axis.metrics.measure_axis`: how far do its verdicts move?

Four checks, each run on the data bootstrap that :func:`~coder.axis.metrics.measure_axis` already drew:

- :func:`check_grid` — the ρ < τ screen and the out-of-band counts at every (τ, q) of a
  grid (the intervals do not depend on τ or q, only the flags do);
- :func:`check_vintages` — vintage drift: the per-bucket flags and ρ against every other
  period of the reference's survey, and which flags or verdicts change;
- :func:`standardise_age` — direct age standardisation of the data's female shares to the
  reference occupation × age structure (see :data:`AGE_ASSUMPTION`);
- :func:`check_deff` — reference sampling uncertainty: the reference resampled as
  multinomial(n_ref / DEFF) (Kish effective size) alongside the data bootstrap.

The result dataclasses (:class:`GridCell`, :class:`VintageCheck`, :class:`AgeStandardisation`,
:class:`DeffCheck`, …) are also importable from :mod:`coder.axis.metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..stats import cramers_v, draw_multinomial_tables
from .bands import axis_verdict, outside_band, parity_ratio, quantile_interval, safe_ratio
from .references import AGE_BANDS, list_reference_periods, load_age_structure, load_reference

__all__ = [
    "AGE_ASSUMPTION",
    "AgeBucket",
    "AgeStandardisation",
    "DeffCheck",
    "GridCell",
    "VintageCheck",
    "VintagePeriod",
    "check_deff",
    "check_grid",
    "check_vintages",
    "standardise_age",
]


@dataclass(frozen=True)
class GridCell:
    """Screen verdict and flag counts at one (τ, q)."""

    tau: float
    q: float
    verdict_attenuated: bool | None
    verdict_attenuated_whole_interval: bool | None  # the whole ρ interval lies below τ
    n_out_of_band: int
    n_out_of_band_point: int
    n_bucket_out_of_band: int
    verdict: str  # three-way, as the main verdict: see coder.axis.bands.axis_verdict


@dataclass(frozen=True)
class VintagePeriod:
    """The metrics against another period of the same survey, and what changed against the chosen one."""

    period: str
    v_ref: float
    rho: float | None
    rho_ci: tuple[float, float] | None
    verdict_attenuated: bool | None
    n_out_of_band: int
    n_bucket_out_of_band: int
    n_ref_parity_flagged: int
    max_female_share_change_pp: float
    max_female_share_change_bucket: str
    max_bucket_share_change_pp: float
    max_bucket_share_change_bucket: str
    flags_changed: tuple[str, ...]
    bucket_flags_changed: tuple[str, ...]
    ref_parity_changed: tuple[str, ...]


@dataclass(frozen=True)
class VintageCheck:
    """Vintage drift over every other period of the reference's survey."""

    survey: str
    base_period: str
    periods: tuple[VintagePeriod, ...]
    max_female_share_change_pp: float
    max_female_share_change_at: tuple[str, str]
    max_bucket_share_change_pp: float
    max_bucket_share_change_at: tuple[str, str]
    buckets_with_flag_changes: tuple[str, ...]
    flag_changes: dict[str, tuple[str, ...]]  # bucket -> periods in which its r flag differs
    periods_with_verdict_change: tuple[str, ...]


@dataclass(frozen=True)
class AgeBucket:
    bucket: str
    persons_with_age: float
    female_share_crude: float | None
    female_share_standardised: float | None
    r_standardised: float | None
    r_standardised_ci: tuple[float, float] | None
    out_of_band: bool | None
    bands_missing: tuple[str, ...]


@dataclass(frozen=True)
class AgeStandardisation:
    """Direct age standardisation of the data's female shares to the reference occupation × age structure."""

    age_reference: str
    age_reference_period: str
    assumption: str
    buckets: tuple[AgeBucket, ...]
    v_data: float
    rho: float | None
    rho_ci: tuple[float, float] | None
    verdict_attenuated: bool | None
    n_out_of_band: int
    flags_changed: tuple[str, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class DeffCheck:
    """Intervals when the reference is itself resampled with effective size n_ref / DEFF (Kish)."""

    deff: float
    ref_sample_size: int
    n_effective: int
    rho_ci: tuple[float, float] | None
    verdict_attenuated_whole_interval: bool | None
    r_ci: dict[str, tuple[float, float] | None]
    n_out_of_band: int
    flags_changed: tuple[str, ...]


AGE_ASSUMPTION = (
    "The reference age table (RES occupation × age band) has no sex split, so each bucket's women and men are "
    "assumed to share that bucket's reference age mix: the data's female share in a bucket is re-weighted over age "
    "bands 15-29/30-39/40-49/50-59/60+ to the reference age distribution of the bucket (direct standardisation), "
    "then compared with the unstandardised reference female share. Bands empty in the data are dropped and the "
    "weights renormalised."
)


def _flag_ci(cis, q):
    return [outside_band(ci, q) for ci in cis]


def check_grid(rho, rho_ci, results, *, taus, qs, n_persons) -> tuple[GridCell, ...]:
    """Verdict and flag counts at every (τ, q) of the grid (the intervals do not depend on q or τ)."""
    cells = []
    for tau in taus:
        for q in qs:
            cells.append(
                GridCell(
                    tau=tau,
                    q=q,
                    verdict_attenuated=None if rho is None else bool(rho < tau),
                    verdict_attenuated_whole_interval=None if rho_ci is None else bool(rho_ci[1] < tau),
                    n_out_of_band=sum(bool(outside_band(b.r_ci, q)) for b in results),
                    n_out_of_band_point=sum(b.r is not None and (b.r < q or b.r > 1 / q) for b in results),
                    n_bucket_out_of_band=sum(bool(outside_band(b.r_bucket_ci, q)) for b in results),
                    verdict=axis_verdict(rho, rho_ci, tau, n_persons),
                )
            )
    return tuple(cells)


def check_vintages(
    reference, buckets, boot_fs, boot_bs, v_boot, fs, v_data, results, *, q, tau, alpha, base_verdict
) -> VintageCheck | None:
    """Re-run the per-bucket flags and ρ against every other period of the reference's survey."""
    others = [p for p in list_reference_periods(reference.name) if p != reference.period]
    if not others:
        return None
    probs = (alpha / 2, 1 - alpha / 2)
    base_fs = np.array([b.ref_female_share for b in results])
    base_bs = np.array([b.ref_bucket_share for b in results])
    base_flags = [b.out_of_band for b in results]
    base_bflags = [b.bucket_out_of_band for b in results]
    base_parity = [b.ref_parity_flag for b in results]
    source = reference.name.split(":", 1)[0]
    periods = []
    for p in others:
        other = load_reference(f"{source}:{p}")
        ref = np.array([other.subset((b,))[0] for b in buckets])
        ref_fs = ref[:, 0] / ref.sum(axis=1)
        ref_bs = ref.sum(axis=1) / ref.sum()
        v_ref = float(cramers_v(ref, n=other.n))
        cis = [
            (quantile_interval(boot_fs[:, j] / ref_fs[j], probs) if np.isfinite(fs[j]) else None)
            for j in range(len(buckets))
        ]
        bcis = [quantile_interval(boot_bs[:, j] / ref_bs[j], probs) for j in range(len(buckets))]
        flags, bflags = _flag_ci(cis, q), _flag_ci(bcis, q)
        parity = [bool(parity_ratio(float(s))[1]) for s in ref_fs]
        dfs, dbs = np.abs(ref_fs - base_fs) * 100, np.abs(ref_bs - base_bs) * 100
        rho = v_data / v_ref if v_ref > 0 else None
        periods.append(
            VintagePeriod(
                period=p,
                v_ref=v_ref,
                rho=rho,
                rho_ci=quantile_interval(v_boot / v_ref, probs) if v_ref > 0 else None,
                verdict_attenuated=None if rho is None else bool(rho < tau),
                n_out_of_band=sum(bool(f) for f in flags),
                n_bucket_out_of_band=sum(bool(f) for f in bflags),
                n_ref_parity_flagged=sum(parity),
                max_female_share_change_pp=float(dfs.max()),
                max_female_share_change_bucket=buckets[int(dfs.argmax())],
                max_bucket_share_change_pp=float(dbs.max()),
                max_bucket_share_change_bucket=buckets[int(dbs.argmax())],
                flags_changed=_changed(buckets, base_flags, flags),
                bucket_flags_changed=_changed(buckets, base_bflags, bflags),
                ref_parity_changed=_changed(buckets, base_parity, parity),
            )
        )
    top_f = max(periods, key=lambda x: x.max_female_share_change_pp)
    top_b = max(periods, key=lambda x: x.max_bucket_share_change_pp)
    return VintageCheck(
        survey=reference.survey,
        base_period=reference.period,
        periods=tuple(periods),
        max_female_share_change_pp=top_f.max_female_share_change_pp,
        max_female_share_change_at=(top_f.period, top_f.max_female_share_change_bucket),
        max_bucket_share_change_pp=top_b.max_bucket_share_change_pp,
        max_bucket_share_change_at=(top_b.period, top_b.max_bucket_share_change_bucket),
        buckets_with_flag_changes=tuple(sorted({b for x in periods for b in x.flags_changed})),
        flag_changes={
            b: tuple(x.period for x in periods if b in x.flags_changed)
            for b in sorted({b for x in periods for b in x.flags_changed})
        },
        periods_with_verdict_change=tuple(x.period for x in periods if x.verdict_attenuated != base_verdict),
    )


def _changed(buckets, before, after) -> tuple[str, ...]:
    return tuple(b for b, f0, f1 in zip(buckets, before, after, strict=True) if f0 != f1)


def standardise_age(table, reference, ref_fs, v_ref, results, *, rng, n_bootstrap, q, tau, alpha) -> AgeStandardisation:
    """Direct age standardisation of the data's female shares (see :data:`AGE_ASSUMPTION`)."""
    structure = load_age_structure(reference.period)
    notes = []
    if structure.period != reference.period:
        notes.append(
            f"the age table covers 2014H1-2024H1 only: the age structure of RES {structure.period} is used "
            f"with reference {reference.name}" + (" (a different survey)" if reference.source != "kosis-res" else "")
        )
    index = {b: i for i, b in enumerate(structure.buckets)}
    weights = np.array([structure.counts[index[b]] if b in index else np.zeros(len(AGE_BANDS)) for b in table.buckets])
    ac = table.age_counts
    n_age = round(ac.sum()) if not table.weighted else max(1, table.n_persons - table.age_missing)

    def std_share(counts):  # counts (..., K, A, 2) -> (..., K)
        persons = counts.sum(axis=-1)
        f = safe_ratio(counts[..., 0], persons)
        w = np.where(persons > 0, weights, 0.0)
        wsum = w.sum(axis=-1)
        return safe_ratio(np.nansum(np.where(persons > 0, w * np.nan_to_num(f), 0.0), axis=-1), wsum)

    share = std_share(ac)
    persons = ac.sum(axis=(1, 2))
    crude = safe_ratio(ac[:, :, 0].sum(axis=1), persons)
    std_table = np.stack([persons * np.nan_to_num(share), persons * (1 - np.nan_to_num(share))], axis=1)
    v_std = float(cramers_v(std_table, n=n_age))
    boot = draw_multinomial_tables(ac, n_bootstrap, rng=rng, n=n_age).astype(float)
    boot_share = std_share(boot)
    boot_persons = boot.sum(axis=(2, 3))
    boot_tables = np.stack(
        [boot_persons * np.nan_to_num(boot_share), boot_persons * (1 - np.nan_to_num(boot_share))], axis=-1
    )
    probs = (alpha / 2, 1 - alpha / 2)
    rho = v_std / v_ref if v_ref > 0 else None
    rho_ci = quantile_interval(cramers_v(boot_tables, n=n_age) / v_ref, probs) if v_ref > 0 else None
    out = []
    for j, b in enumerate(table.buckets):
        ok = np.isfinite(share[j])
        ci = quantile_interval(boot_share[:, j] / ref_fs[j], probs) if ok else None
        out.append(
            AgeBucket(
                bucket=b,
                persons_with_age=float(persons[j]),
                female_share_crude=float(crude[j]) if np.isfinite(crude[j]) else None,
                female_share_standardised=float(share[j]) if ok else None,
                r_standardised=float(share[j] / ref_fs[j]) if ok else None,
                r_standardised_ci=ci,
                out_of_band=outside_band(ci, q),
                bands_missing=tuple(a for a, m in zip(AGE_BANDS, ac[j].sum(axis=1) <= 0, strict=True) if m and ok),
            )
        )
    return AgeStandardisation(
        age_reference=f"references/{structure.name}",
        age_reference_period=structure.period,
        assumption=AGE_ASSUMPTION,
        buckets=tuple(out),
        v_data=v_std,
        rho=rho,
        rho_ci=rho_ci,
        verdict_attenuated=None if rho is None else bool(rho < tau),
        n_out_of_band=sum(bool(x.out_of_band) for x in out),
        flags_changed=_changed(table.buckets, [b.out_of_band for b in results], [x.out_of_band for x in out]),
        notes=tuple(notes),
    )


def check_deff(ref, ref_sample_size, deff, boot_fs, v_boot, fs, buckets, results, *, rng, q, tau, alpha) -> DeffCheck:
    """Resample the reference as multinomial(n_ref / DEFF) alongside the data bootstrap (Kish effective size)."""
    n_eff = max(1, round(ref_sample_size / deff))
    ref_boot = draw_multinomial_tables(ref, len(boot_fs), rng=rng, n=n_eff).astype(float)
    ref_fs = safe_ratio(ref_boot[:, :, 0], ref_boot.sum(axis=2))
    v_ref = cramers_v(ref_boot, n=n_eff)
    probs = (alpha / 2, 1 - alpha / 2)
    cis = {
        b: (quantile_interval(safe_ratio(boot_fs[:, j], ref_fs[:, j]), probs) if np.isfinite(fs[j]) else None)
        for j, b in enumerate(buckets)
    }
    flags = [outside_band(cis[b], q) for b in buckets]
    rho_ci = quantile_interval(safe_ratio(v_boot, v_ref), probs)
    return DeffCheck(
        deff=float(deff),
        ref_sample_size=int(ref_sample_size),
        n_effective=n_eff,
        rho_ci=rho_ci,
        verdict_attenuated_whole_interval=None if rho_ci is None else bool(rho_ci[1] < tau),
        r_ci=cis,
        n_out_of_band=sum(bool(f) for f in flags),
        flags_changed=_changed(buckets, [b.out_of_band for b in results], flags),
    )
