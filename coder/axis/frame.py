"""The audit frame: one description of who is compared, used by every command that measures the axis.

:func:`build_frame` turns *units* — labels (a label × sex table, from coded rows or from a
crosswalk and its rows) or buckets (an aggregated bucket × sex table) — into an
:class:`AuditFrame`: per unit and sex the **respondents** (input rows), their **weight sum**
(persons) and **sum of squared weights**; each unit's decided bucket; optionally each unit's
**coding distribution** over the buckets (see :mod:`coder.axis.coding`). From it follow the
comparison frame's respondents, weighted persons, Kish's effective sample size
n_eff = (Σw)² / Σw², and the buckets in and out of the comparison (and why).

:func:`measure_rho` measures ρ = V_data / V_ref on the frame with three intervals:

- ``rho_ci`` — **sampling**: a bootstrap of respondents with their weights, on aggregated
  counts (see :func:`resample_cells`);
- ``rho_ci_coding`` — **coding**: multiple imputation of the mapping, each draw a whole mapping
  with every label's bucket drawn from its coding distribution, the table re-aggregated;
- ``rho_ci_total`` — both: each coding draw paired with its own respondent bootstrap.

The verdict (:func:`coder.axis.bands.axis_verdict`) uses ``rho_ci_total`` when the coding is
known, else ``rho_ci`` (and says so). Cramér's V is bias-corrected (Bergsma 2013) with the
effective sample size of each table (n_eff, which is the respondent count on unweighted data).
Sampling and coding draws use separate random streams (``seed`` spawns both), so the sampling
interval does not depend on whether the coding is known.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..stats import cramers_v
from .bands import MIN_PERSONS, axis_verdict, quantile_interval
from .references import KSCO_MAJORS

__all__ = [
    "DEFAULT_BOOTSTRAP",
    "DEFAULT_DRAWS",
    "EXCLUSION_REASONS",
    "MIN_BUCKET_RESPONDENTS",
    "AuditFrame",
    "RhoMeasure",
    "axis_object",
    "build_frame",
    "draw_mappings",
    "kish_n_eff",
    "measure_rho",
    "resample_cells",
    "tabulate_draws",
]

MIN_BUCKET_RESPONDENTS = 10
"""A comparison bucket with fewer respondents than this gets no interval and no flag, only a note:
with under 10 respondents a female share has a standard error of at least ~0.16 and a percentile
bootstrap of it is a handful of distinct values (one respondent gives a degenerate interval)."""
DEFAULT_BOOTSTRAP = 2000
"""Respondent bootstrap replicates behind ``rho_ci`` (and the per-bucket intervals)."""
DEFAULT_DRAWS = 1000
"""Coding draws (whole mappings) behind ``rho_ci_coding`` and ``rho_ci_total``."""
EXCLUSION_REASONS = {
    "0": "not in employment (students, homemakers, retired, 무직): outside the employed-persons frame of KOSIS",
    "A": "military: outside the KOSIS labour-force frame",
    "unknown": "no code",
    "employed_unstated": "employed, occupation not stated (자영업, 알바, 프리랜서, 직장인)",
}
_TOP_UNCERTAIN = 20


def kish_n_eff(weight_sum: np.ndarray | float, weight_sq_sum: np.ndarray | float) -> np.ndarray | float:
    """Kish's effective sample size (Σw)² / Σw² (equals the count when every weight is 1; higher = more information)."""
    w = np.asarray(weight_sum, dtype=float)
    q = np.asarray(weight_sq_sum, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(q > 0, w * w / np.where(q > 0, q, 1.0), 0.0)
    return float(out) if out.ndim == 0 else out


@dataclass(frozen=True, eq=False)
class AuditFrame:
    """Units (labels or buckets) × sex with respondents, weight sums and squared-weight sums.

    Arrays are ``(U, 2)`` with columns women, men; units are sorted by key so every command
    builds the same frame from the same rows. ``unit_bucket`` is each unit's decided bucket
    (``1``–``9``, ``0``, ``A``, ``unknown``, ``employed_unstated`` …); ``buckets`` the comparison
    buckets (the nine KSCO majors — one excluded with ``--exclude`` stays listed, empty — then any
    other bucket seen and not excluded). ``coding``, when
    known, is ``(U, K + 1)``: the probability of each comparison bucket and, last, of leaving the
    frame; ``coding_note`` says where it came from.
    """

    units: tuple[str, ...]
    unit_kind: str
    unit_bucket: tuple[str, ...]
    respondents: np.ndarray
    weights: np.ndarray
    weights_sq: np.ndarray
    buckets: tuple[str, ...]
    exclude: tuple[str, ...]
    weighted: bool
    coding: np.ndarray | None = None
    coding_note: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def bucket_index(self) -> np.ndarray:
        """Each unit's comparison-bucket index, ``K`` (= ``len(buckets)``) when it is out of the frame."""
        k = len(self.buckets)
        pos = {b: i for i, b in enumerate(self.buckets) if b not in self.exclude}
        return np.array([pos.get(b, k) for b in self.unit_bucket], dtype=np.int64)

    @property
    def in_frame(self) -> np.ndarray:
        return self.bucket_index < len(self.buckets)

    def table(self) -> np.ndarray:
        """The weighted bucket × sex table ``(K, 2)`` (women, men) of the decided mapping."""
        return _aggregate(self.weights, self.bucket_index, len(self.buckets))

    def bucket_respondents(self) -> np.ndarray:
        """Respondents per comparison bucket ``(K,)``."""
        return _aggregate(self.respondents, self.bucket_index, len(self.buckets)).sum(axis=1)

    @property
    def n_respondents(self) -> int:
        return round(float(self.respondents[self.in_frame].sum()))

    @property
    def persons_weighted(self) -> float:
        return float(self.weights[self.in_frame].sum())

    @property
    def n_effective(self) -> float:
        keep = self.in_frame
        return kish_n_eff(self.weights[keep].sum(), self.weights_sq[keep].sum())

    def excluded(self) -> dict[str, dict[str, float]]:
        """Per excluded bucket: respondents and weighted persons (sorted by bucket)."""
        out: dict[str, dict[str, float]] = {}
        keep = self.in_frame
        names = np.array(self.unit_bucket, dtype=object)
        for b in sorted(set(self.exclude) | {str(x) for x in names[~keep]}):
            rows = ~keep & (names == b)
            out[b] = {
                "respondents": round(float(self.respondents[rows].sum())),
                "persons": float(self.weights[rows].sum()),
            }
        return out


def _aggregate(values: np.ndarray, index: np.ndarray, k: int) -> np.ndarray:
    ok = index < k
    out = np.zeros((k, 2))
    np.add.at(out, index[ok], values[ok])
    return out


def build_frame(
    units: Sequence[str],
    unit_bucket: Sequence[str],
    respondents: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    weights_sq: np.ndarray | None = None,
    exclude: Iterable[str] = ("0", "A", "unknown"),
    unit_kind: str = "label",
    coding: np.ndarray | None = None,
    coding_buckets: Sequence[str] | None = None,
    coding_note: str = "",
    notes: Sequence[str] = (),
) -> AuditFrame:
    """The audit frame of ``units`` (see the module docstring); every axis command builds it here.

    ``respondents``: ``(U, 2)`` input rows per unit and sex (women, men). ``weights`` /
    ``weights_sq``: their weight sums and sums of squared weights; omitted, every respondent
    weighs 1 (``weights = weights_sq = respondents``). ``coding``: ``(U, len(coding_buckets) + 1)``
    probabilities (last column: out of the frame), re-indexed here onto the frame's buckets.
    """
    n_units = len(units)
    resp = np.asarray(respondents, dtype=float).reshape(n_units, 2)
    weighted = weights is not None
    w = resp.copy() if weights is None else np.asarray(weights, dtype=float).reshape(n_units, 2)
    q = (resp.copy() if weights is None else w * w / np.maximum(resp, 1)) if weights_sq is None else weights_sq
    q = np.asarray(q, dtype=float).reshape(n_units, 2)
    if len(unit_bucket) != n_units:
        raise InputError(f"{len(unit_bucket)} buckets for {n_units} units — give one bucket per unit.")
    for name, arr in (("respondents", resp), ("weights", w), ("squared weights", q)):
        if (~np.isfinite(arr) | (arr < 0)).any():
            raise InputError(f"the frame's {name} must be finite numbers ≥ 0 — fix the weight or count column.")
    excluded = tuple(sorted({str(e).strip() or "unknown" for e in exclude}))
    order = np.argsort(np.asarray([str(u) for u in units], dtype=object), kind="stable")
    units_s = tuple(str(units[i]) for i in order)
    bucket_s = tuple(str(unit_bucket[i]) or "unknown" for i in order)
    seen = {b for b, r in zip(bucket_s, resp[order].sum(axis=1), strict=True) if r > 0 and b not in excluded}
    buckets = tuple(KSCO_MAJORS) + tuple(sorted(seen - set(KSCO_MAJORS)))
    cod = None
    if coding is not None:
        cod = _reindex_coding(
            np.asarray(coding, dtype=float)[order], tuple(coding_buckets or buckets), buckets, excluded
        )
    return AuditFrame(
        units=units_s,
        unit_kind=unit_kind,
        unit_bucket=bucket_s,
        respondents=resp[order],
        weights=w[order],
        weights_sq=q[order],
        buckets=buckets,
        exclude=excluded,
        weighted=weighted,
        coding=cod,
        coding_note=coding_note,
        notes=tuple(notes),
    )


def _reindex_coding(
    coding: np.ndarray, source: tuple[str, ...], target: tuple[str, ...], exclude: tuple[str, ...]
) -> np.ndarray:
    if coding.shape[1] != len(source) + 1:
        raise InputError(f"coding probabilities have {coding.shape[1]} columns for {len(source)} buckets + out.")
    out = np.zeros((coding.shape[0], len(target) + 1))
    pos = {b: i for i, b in enumerate(target) if b not in exclude}
    for j, b in enumerate(source):
        out[:, pos.get(b, len(target))] += coding[:, j]
    out[:, -1] += coding[:, -1]
    total = out.sum(axis=1, keepdims=True)
    return np.where(total > 0, out / np.where(total > 0, total, 1.0), 0.0)


# --- draws -----------------------------------------------------------------------------------------


def resample_cells(frame: AuditFrame, size: int, *, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``size`` respondent bootstraps on aggregated cells: resampled weight sums and squared-weight sums.

    The scheme: all N respondents of the frame's units (in and out of the comparison, so a
    coding draw can move a label across the frame's edge) are drawn with replacement — on the
    cells this is one multinomial draw of N over the cells with shares n_c / N, giving k_c
    respondents in cell c. Their weight sum is then drawn from a gamma distribution with the
    mean k_c·m_c and variance k_c·v_c of a sum of k_c weights drawn from the cell's own weights
    (m_c = W_c / n_c, v_c = Q_c / n_c − m_c²); when every weight of the cell is equal (v_c = 0,
    always so for unweighted data) the sum is exactly k_c·m_c. So unweighted data get exactly the
    multinomial bootstrap of persons, and weighted data the respondent bootstrap with the first
    two moments of each cell's resampled weight sum exact (the gamma keeps sums positive and is
    exact when weights are exponential), at a cost that does not grow with the number of rows.
    Returns ``(T, S)``, each ``(size, U, 2)``: resampled weight sums and their expected squared-weight sums.
    """
    resp = frame.respondents
    counts = np.rint(resp).astype(np.int64)
    total = int(counts.sum())
    if total <= 0:
        raise InputError("no respondents in the frame — check the sex, code and weight columns.")
    k = rng.multinomial(total, (counts / total).ravel(), size=size).reshape(size, *resp.shape).astype(float)
    n = np.maximum(counts, 1).astype(float)
    m = frame.weights / n
    v = np.maximum(frame.weights_sq / n - m * m, 0.0)
    varying = v > 1e-12 * np.maximum(m * m, 1e-300)
    t = k * m
    if varying.any():
        shape = k[:, varying] * (m[varying] ** 2 / v[varying])
        scale = v[varying] / m[varying]
        t[:, varying] = rng.gamma(shape, np.broadcast_to(scale, shape.shape))
    s = k * (frame.weights_sq / n)
    return t, s


def draw_mappings(frame: AuditFrame, size: int, *, rng: np.random.Generator) -> np.ndarray:
    """``size`` whole mappings ``(size, U)``: each unit's bucket index (``K`` = out) drawn from its coding distribution."""
    base = frame.bucket_index
    out = np.broadcast_to(base, (size, len(base))).copy()
    if frame.coding is None:
        return out
    uncertain = np.flatnonzero(frame.coding.max(axis=1) < 1.0 - 1e-12)
    if uncertain.size:
        cum = np.cumsum(frame.coding[uncertain], axis=1)
        cum[:, -1] = 1.0
        u = rng.random((size, uncertain.size))
        out[:, uncertain] = (u[:, :, None] > cum[None, :, :]).sum(axis=2)
    return out


def tabulate_draws(t: np.ndarray, s: np.ndarray, mapping: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Bucket × sex tables ``(D, K, 2)`` and their n_eff ``(D,)`` from cell sums ``(D|1, U, 2)`` and mappings ``(D, U)``."""
    d, u = mapping.shape
    t = np.broadcast_to(t, (d, u, 2))
    s = np.broadcast_to(s, (d, u, 2))
    flat = (np.arange(d)[:, None] * (k + 1) + mapping).ravel()
    tables = np.empty((d, k + 1, 2))
    for j in range(2):
        tables[:, :, j] = np.bincount(flat, weights=t[:, :, j].ravel(), minlength=d * (k + 1)).reshape(d, k + 1)
    sq = np.bincount(flat, weights=s.sum(axis=2).ravel(), minlength=d * (k + 1)).reshape(d, k + 1)
    tab = tables[:, :k]
    return tab, kish_n_eff(tab.sum(axis=(1, 2)), sq[:, :k].sum(axis=1))


# --- measurement -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RhoMeasure:
    """ρ with its sampling, coding and total intervals, the sampling bootstrap tables, and the verdict."""

    rho: float | None
    rho_ci: tuple[float, float] | None
    rho_ci_coding: tuple[float, float] | None
    rho_ci_total: tuple[float, float] | None
    verdict: str
    v_data: float
    v_boot: np.ndarray
    boot_tables: np.ndarray
    n_bootstrap: int
    n_draws: int
    uncertain_labels: tuple[dict, ...]
    notes: tuple[str, ...]


def measure_rho(
    frame: AuditFrame,
    ref_table: np.ndarray,
    *,
    ref_n: float = math.inf,
    tau: float = 0.7,
    n_bootstrap: int = DEFAULT_BOOTSTRAP,
    n_draws: int = DEFAULT_DRAWS,
    alpha: float = 0.05,
    seed: int = 20260101,
    progress: bool = False,
) -> RhoMeasure:
    """ρ = V_data / V_ref on ``frame`` against ``ref_table`` (``(K, 2)``, the frame's buckets) with three intervals.

    ρ closer to 1 is better (the data keeps the reference's sex × occupation association). See the
    module docstring for the intervals; ``progress`` shows a tqdm bar on stderr (when it is a terminal).
    """
    from tqdm.auto import tqdm

    if n_bootstrap < 1 or n_draws < 1:
        raise InputError("--bootstrap and --draws must be at least 1.")
    k = len(frame.buckets)
    sampling_rng, coding_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    v_ref = float(cramers_v(ref_table, n=ref_n))
    data = frame.table()
    n_eff = frame.n_effective
    v_data = float(cramers_v(data, n=max(n_eff, 1.0)))
    rho = v_data / v_ref if v_ref > 0 else None
    probs = (alpha / 2, 1 - alpha / 2)
    notes: list[str] = []

    base = frame.bucket_index[None, :]
    chunks = _chunks(n_bootstrap)
    boot_parts, v_parts = [], []
    for size in tqdm(chunks, desc="bootstrap", unit="chunk", disable=None if progress else True, leave=False):
        t, s = resample_cells(frame, size, rng=sampling_rng)
        tab, ne = tabulate_draws(t, s, np.broadcast_to(base, (size, base.shape[1])), k)
        boot_parts.append(tab)
        v_parts.append(cramers_v(tab, n=np.maximum(ne, 1.0)))
    boot = np.concatenate(boot_parts)
    v_boot = np.concatenate(v_parts)
    rho_ci = quantile_interval(v_boot / v_ref, probs) if v_ref > 0 else None

    rho_ci_coding = rho_ci_total = None
    uncertain: tuple[dict, ...] = ()
    if frame.coding is not None:
        v_cod, v_tot = [], []
        for size in tqdm(
            _chunks(n_draws), desc="coding draws", unit="chunk", disable=None if progress else True, leave=False
        ):
            mapping = draw_mappings(frame, size, rng=coding_rng)
            tab, ne = tabulate_draws(frame.weights[None], frame.weights_sq[None], mapping, k)
            v_cod.append(cramers_v(tab, n=np.maximum(ne, 1.0)))
            t, s = resample_cells(frame, size, rng=coding_rng)
            tab, ne = tabulate_draws(t, s, mapping, k)
            v_tot.append(cramers_v(tab, n=np.maximum(ne, 1.0)))
        if v_ref > 0:
            rho_ci_coding = quantile_interval(np.concatenate(v_cod) / v_ref, probs)
            rho_ci_total = quantile_interval(np.concatenate(v_tot) / v_ref, probs)
        uncertain = _uncertain_labels(frame)
        verdict = axis_verdict(rho, rho_ci_total, tau, round(n_eff))
    else:
        notes.append(
            "coding uncertainty not measured (no crosswalk with the labels' raters): rho_ci_coding and "
            "rho_ci_total are empty and the verdict uses the sampling interval rho_ci alone"
        )
        verdict = axis_verdict(rho, rho_ci, tau, round(n_eff))
    if n_eff < MIN_PERSONS:
        notes.append(
            f"the frame's effective sample size n_eff = {n_eff:,.1f} is below {MIN_PERSONS}: the verdict is inconclusive"
        )
    return RhoMeasure(
        rho=rho,
        rho_ci=rho_ci,
        rho_ci_coding=rho_ci_coding,
        rho_ci_total=rho_ci_total,
        verdict=verdict,
        v_data=v_data,
        v_boot=v_boot,
        boot_tables=boot,
        n_bootstrap=n_bootstrap,
        n_draws=n_draws if frame.coding is not None else 0,
        uncertain_labels=uncertain,
        notes=tuple(notes),
    )


def _chunks(total: int, size: int = 250) -> list[int]:
    return [min(size, total - i) for i in range(0, total, size)]


def _uncertain_labels(frame: AuditFrame) -> tuple[dict, ...]:
    """Labels carrying most of the coding uncertainty: persons × probability that the bucket changes (top 20)."""
    cod = frame.coding
    persons = frame.weights.sum(axis=1)
    p_change = 1.0 - cod[np.arange(len(frame.units)), frame.bucket_index]
    moved = persons * p_change
    order = np.lexsort((np.array(frame.units, dtype=object), -moved))
    out = []
    for i in order[:_TOP_UNCERTAIN]:
        if moved[i] <= 0:
            break
        out.append(
            {
                "label": frame.units[i],
                "bucket": frame.unit_bucket[i],
                "persons": float(persons[i]),
                "p_change": float(p_change[i]),
                "expected_persons_moved": float(moved[i]),
            }
        )
    return tuple(out)


def axis_object(frame: AuditFrame, measure: RhoMeasure, *, tau: float, notes: Sequence[str] = ()) -> dict:
    """The ``axis`` object every JSON carrying the axis has (``/tmp``-independent contract; NaN → ``None``)."""
    counts = frame.bucket_respondents()
    out = [
        {
            "bucket": b,
            "respondents": int(v["respondents"]),
            "persons": v["persons"],
            "reason": EXCLUSION_REASONS.get(b, "excluded (--exclude)"),
        }
        for b, v in frame.excluded().items()
    ]
    small = [b for b, c in zip(frame.buckets, counts, strict=True) if 0 < c < MIN_BUCKET_RESPONDENTS]
    all_notes = list(frame.notes) + list(measure.notes) + list(notes)
    if small:
        all_notes.append(
            f"bucket(s) {', '.join(small)} have fewer than {MIN_BUCKET_RESPONDENTS} respondents: they stay in ρ but "
            "get no interval and no flag"
        )
    if frame.coding is not None and frame.coding_note:
        all_notes.append(frame.coding_note)

    def ci(x):
        return None if x is None else [_num(x[0]), _num(x[1])]

    return {
        "n_respondents": frame.n_respondents,
        "persons_weighted": frame.persons_weighted,
        "n_effective": _num(frame.n_effective),
        "weighted": frame.weighted,
        "rho": _num(measure.rho),
        "rho_ci": ci(measure.rho_ci),
        "rho_ci_coding": ci(measure.rho_ci_coding),
        "rho_ci_total": ci(measure.rho_ci_total),
        "verdict": measure.verdict,
        "verdict_interval": "rho_ci_total" if measure.rho_ci_total is not None else "rho_ci",
        "tau": float(tau),
        "n_draws": int(measure.n_draws),
        "n_bootstrap": int(measure.n_bootstrap),
        "buckets_in": [b for b in frame.buckets if b not in frame.exclude],
        "bucket_respondents": {b: int(c) for b, c in zip(frame.buckets, counts, strict=True) if b not in frame.exclude},
        "buckets_out": out,
        "min_bucket_respondents": MIN_BUCKET_RESPONDENTS,
        "uncertain_labels": [dict(x) for x in measure.uncertain_labels],
        "notes": all_notes,
    }


def _num(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None
