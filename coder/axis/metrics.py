"""Sex × KSCO axis metrics: does a dataset keep the sex–occupation association of KOSIS?

Two steps, both on aggregated counts:

1. :func:`tabulate_axis` turns coded rows (sex, code or major, optional weight and
   age), a long bucket × sex count table, or a wide bucket table (persons and female
   share) into a :class:`SexBucketTable` over the comparison frame — the nine KSCO
   majors. Buckets ``0`` (not employed), ``A`` (military, outside the KOSIS labour-force
   frame) and unknown codes are excluded and counted (configurable).
2. :func:`measure_axis` compares it with a :class:`~coder.axis.references.ReferenceTable`
   and returns an :class:`AxisResult`: per bucket the female shares, the gap, the
   reference ratio with bootstrap and Bonferroni intervals and flags, the 4/5 parity
   flags; overall Bergsma's bias-corrected Cramér's V of both tables, ρ = V_data / V_ref
   with its interval and the ρ < τ screen, a fixed-margin permutation null, distances;
   and the robustness checks of :mod:`coder.axis.robust` (τ × q grid, vintage drift, age
   standardisation, reference design effect), whose result classes are re-exported here.

Two "reference ratios" are reported per bucket, because "data share / reference share"
reads two ways: ``r`` = female share in the data / female share in the reference (the
association: is the bucket's sex mix kept?), and ``r_bucket`` = the bucket's share of all
persons in the data / in the reference (the occupation margin). ``out_of_band`` flags
use ``r``; ``bucket_out_of_band`` uses ``r_bucket``. A bucket is out of band when its 95 %
bootstrap interval lies wholly outside [q, 1/q]; the point and Bonferroni versions are
given beside it. Ratios closer to 1 are better; ρ closer to 1 is better (ρ < τ fails
the screen); lower distances are better.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from ..errors import InputError
from ..stats import (
    cramers_v,
    draw_fixed_margin_tables,
    jensen_shannon,
    permutation_pvalue,
    total_variation,
)
from .bands import MIN_PERSONS, VERDICTS, axis_verdict, outside_band, parity_ratio, quantile_interval, safe_ratio  # noqa: F401 (re-exported)
from .frame import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_DRAWS,
    MIN_BUCKET_RESPONDENTS,
    AuditFrame,
    axis_object,
    build_frame,
    measure_rho,
)
from .references import AGE_BANDS, ReferenceTable
from .robust import (
    AgeStandardisation,
    DeffCheck,
    GridCell,
    VintageCheck,
    VintagePeriod,
    check_deff,
    check_grid,
    check_vintages,
    standardise_age,
)

__all__ = [
    "BUCKET_TITLES",
    "DEFAULT_EXCLUDE",
    "AgeStandardisation",
    "AxisResult",
    "BucketResult",
    "DeffCheck",
    "GridCell",
    "SexBucketTable",
    "VintageCheck",
    "VintagePeriod",
    "measure_axis",
    "parse_sex",
    "tabulate_axis",
]

BUCKET_TITLES = {
    "1": "관리자",
    "2": "전문가 및 관련 종사자",
    "3": "사무 종사자",
    "4": "서비스 종사자",
    "5": "판매 종사자",
    "6": "농림어업 숙련 종사자",
    "7": "기능원 및 관련 기능 종사자",
    "8": "장치·기계 조작 및 조립 종사자",
    "9": "단순노무 종사자",
    "0": "무직 (not employed)",
    "A": "군인 (military)",
    "unknown": "unknown",
}
DEFAULT_EXCLUDE = ("0", "A", "unknown")
_FEMALE = ("여자", "여", "여성", "f", "female", "woman", "w", "2")
_MALE = ("남자", "남", "남성", "m", "male", "man", "1")
_VALID_FIRST = set("0123456789A")
TAU_NOTE = (
    "τ is a fixed screening heuristic (default 0.7), not a calibrated test: "
    "ρ < τ means the data keeps less than τ of the reference's sex × occupation association."
)


STATUS_COL = "code_status"
EMPLOYED_UNSTATED = "employed_unstated"  # code_status of rows "employed, occupation not stated"


@dataclass(frozen=True)
class SexBucketTable:
    """A bucket × sex table over the comparison frame (columns: women, men).

    ``counts`` may be weighted; ``n_persons`` is the unweighted number of persons
    in the frame (the multinomial size of the bootstrap). ``age_counts`` (buckets ×
    age bands × sex) is present when ages were given.
    """

    buckets: tuple[str, ...]
    counts: np.ndarray
    n_persons: int
    excluded: dict[str, int]
    weighted: bool = False
    age_counts: np.ndarray | None = None
    age_missing: int = 0
    notes: tuple[str, ...] = ()
    frame: AuditFrame | None = None


@dataclass(frozen=True)
class BucketResult:
    """Per-bucket figures. Ratios are data / reference (1 = same; closer to 1 is better)."""

    bucket: str
    title: str
    persons: float
    women: float
    men: float
    female_share: float | None
    ref_female_share: float
    gap_pp: float | None
    r: float | None
    r_ci: tuple[float, float] | None
    r_ci_bonferroni: tuple[float, float] | None
    out_of_band: bool | None
    out_of_band_bonferroni: bool | None
    out_of_band_point: bool | None
    parity_ratio: float | None
    parity_flag: bool | None
    ref_parity_ratio: float
    ref_parity_flag: bool
    bucket_share: float
    ref_bucket_share: float
    r_bucket: float
    r_bucket_ci: tuple[float, float]
    r_bucket_ci_bonferroni: tuple[float, float]
    bucket_out_of_band: bool
    bucket_out_of_band_bonferroni: bool
    bucket_out_of_band_point: bool
    note: str = ""


@dataclass(frozen=True)
class AxisResult:
    """Everything :func:`measure_axis` computes; ``to_dict()`` gives the JSON form."""

    reference: dict[str, object]
    settings: dict[str, object]
    n_persons: int
    persons_weighted: float
    excluded: dict[str, int]
    buckets: tuple[BucketResult, ...]
    v_data: float
    v_data_uncorrected: float
    v_ref: float
    v_ref_uncorrected: float
    rho: float | None
    rho_ci: tuple[float, float] | None
    verdict_attenuated: bool | None  # point estimate only: ρ < τ
    verdict: str  # one of VERDICTS, see axis_verdict
    tau_note: str
    permutation: dict[str, float]
    distances: dict[str, dict[str, float]]
    n_out_of_band: int
    n_out_of_band_point: int
    n_out_of_band_bonferroni: int
    n_bucket_out_of_band: int
    n_bucket_out_of_band_point: int
    n_parity_flagged: int
    n_ref_parity_flagged: int
    grid: tuple[GridCell, ...]
    vintages: VintageCheck | None
    age_standardisation: AgeStandardisation | None
    deff: tuple[DeffCheck, ...]
    notes: tuple[str, ...] = field(default=())
    n_respondents: int = 0
    n_effective: float = math.nan
    rho_ci_coding: tuple[float, float] | None = None
    rho_ci_total: tuple[float, float] | None = None
    axis: dict = field(default_factory=dict)  # the audit-frame object every JSON carrying the axis has

    def to_dict(self) -> dict:
        """JSON-ready dict: tuples become lists, NaN becomes ``None``."""
        return _jsonable(asdict(self))


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return None if not math.isfinite(float(obj)) else float(obj)
    return obj


# --- input -------------------------------------------------------------------------------------


def parse_sex(values: Iterable[object], *, sex_map: Mapping[str, str] | None = None, column: str = "sex") -> np.ndarray:
    """Map sex values to 0 (female) / 1 (male); raise :class:`InputError` listing every value seen if any is unknown.

    Recognised (case-insensitive): 여자/여/여성, 남자/남/남성, F/M, female/male, 2/1
    (the Korean statistical convention: 1 = male, 2 = female). ``sex_map`` adds or
    overrides ``{value: "female" | "male"}``.
    """
    lookup = {v: 0 for v in _FEMALE} | {v: 1 for v in _MALE}
    for key, target in (sex_map or {}).items():
        t = str(target).strip().lower()
        if t not in ("female", "male"):
            raise InputError(
                f"--sex-map {key}={target}: the target must be female or male — e.g. --sex-map {key}=female."
            )
        lookup[str(key).strip().lower()] = 0 if t == "female" else 1
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    codes_idx, uniques = pd.factorize(series, use_na_sentinel=False)
    text = [_text(v) for v in uniques]
    mapped = np.array([lookup.get(t.strip().lower(), -1) for t in text], dtype=np.int64)
    if (mapped < 0).any():
        counts = np.bincount(codes_idx, minlength=len(uniques))
        seen: dict[str, int] = {}
        for t, c in zip(text, counts, strict=True):
            seen[t] = seen.get(t, 0) + int(c)
        bad = sorted({t for t, m in zip(text, mapped, strict=True) if m < 0})
        listing = ", ".join(f"{v!r} ({n})" for v, n in sorted(seen.items()))
        raise InputError(
            f"column {column!r}: unrecognised sex value(s) "
            + ", ".join(repr(v) for v in bad)
            + f" — values seen (rows): {listing}. Recognised: 여자/남자, 여/남, 여성/남성, F/M, female/male, "
            "2/1 (2 = female). Map other values with --sex-map VALUE=female|male.",
            column=column,
        )
    codes = mapped[codes_idx]
    return codes


def _text(v: object) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _buckets_of(values: pd.Series, column: str) -> np.ndarray:
    codes_idx, uniques = pd.factorize(values, use_na_sentinel=False)
    text = [_text(v) for v in uniques]
    first = [t.strip()[:1].upper() for t in text]
    bad = sorted({t for t, f in zip(text, first, strict=True) if f and f not in _VALID_FIRST})
    if bad:
        shown = ", ".join(repr(v) for v in bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
        raise InputError(
            f"column {column!r}: value(s) {shown} are not KSCO codes or major buckets (first character 0-9 or A) — "
            "fix them or blank them (blank = unknown).",
            column=column,
        )
    return np.array([f or "unknown" for f in first], dtype=object)[codes_idx]


def tabulate_axis(
    frame: pd.DataFrame,
    *,
    sex_col: str = "sex",
    code_col: str = "ksco_major",
    weight_col: str | None = None,
    age_col: str | None = None,
    count_col: str | None = None,
    n_col: str | None = None,
    female_share_col: str | None = None,
    sex_map: Mapping[str, str] | None = None,
    exclude: Iterable[str] = DEFAULT_EXCLUDE,
    status_col: str | None = None,
    label_col: str | None = None,
    coding: tuple[Mapping[str, np.ndarray], tuple[str, ...]] | None = None,
    coding_note: str = "",
) -> SexBucketTable:
    """Build the bucket × sex table from rows or an aggregated table, over the audit frame.

    The table carries its :class:`~coder.axis.frame.AuditFrame` (``.frame``): with
    ``label_col`` (coded rows) its units are the labels (:func:`coder.normalize.label_key` of the
    column), else the buckets. ``coding``: ``({label_key: probabilities}, buckets)`` from
    :func:`coder.axis.coding.coding_probabilities`, the coding distribution of each label
    (``coding_note`` says where it came from).

    Three input shapes: coded rows (one person per row; ``weight_col`` and ``age_col``
    optional); a long table with ``count_col`` (bucket, sex, count); or a wide bucket
    table with ``n_col`` and ``female_share_col`` (women = round(n × share)).
    ``code_col`` may hold majors or full codes (the first character is the bucket).

    ``status_col`` (default ``code_status`` when the input has that column; coded
    rows and long tables only): rows with no code whose status is
    ``employed_unstated`` (employed, occupation not stated: 자영업, 알바, …) are
    always excluded and counted as ``excluded["employed_unstated"]``, apart from
    ``unknown``.
    """
    exclude = {str(e).strip() or "unknown" for e in exclude}
    if status_col is None and n_col is None and STATUS_COL in frame.columns:
        status_col = STATUS_COL
    if status_col is not None and n_col is not None:
        raise InputError(f"status column {status_col!r} applies to coded rows, not to a wide bucket table — drop it.")
    notes: list[str] = []
    needed = [code_col] + ([sex_col] if n_col is None else [n_col, female_share_col])
    needed += [c for c in (weight_col, age_col, count_col, status_col, label_col) if c]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InputError(
            f"column(s) {', '.join(repr(c) for c in missing)} not in the input (columns: "
            f"{', '.join(map(str, frame.columns))}) — name the right ones with --sex-col/--code-col/…",
        )
    buckets = _buckets_of(frame[code_col], code_col)
    label_keys = None
    if label_col is not None and n_col is None and count_col is None:
        from ..labels import tabulate_labels

        labels = tabulate_labels(frame[label_col])
        label_keys = np.asarray(labels.frame["label_key"].to_numpy(dtype=object))[labels.row_label]
    if status_col is not None:
        unstated = (frame[status_col].map(_text).str.strip() == EMPLOYED_UNSTATED).to_numpy() & (buckets == "unknown")
        buckets = np.where(unstated, EMPLOYED_UNSTATED, buckets).astype(object)
        exclude.add(EMPLOYED_UNSTATED)  # never compared: employed, but the occupation is not stated
    if n_col is not None:
        if female_share_col is None:
            raise InputError("--n-col needs --female-share-col (the female share per bucket) — add it.")
        n = pd.to_numeric(frame[n_col], errors="coerce")
        share = pd.to_numeric(frame[female_share_col], errors="coerce")
        if n.isna().any() or share.isna().any() or (share < 0).any() or (share > 1).any() or (n < 0).any():
            raise InputError(
                f"columns {n_col!r}/{female_share_col!r}: every row needs persons ≥ 0 and a share in "
                "[0, 1] — fix the non-numeric or out-of-range cells."
            )
        women = (n * share).round()
        sexes = np.r_[np.zeros(len(frame), np.int64), np.ones(len(frame), np.int64)]
        weights = np.r_[women.to_numpy(float), (n - women).to_numpy(float)]
        bucket_arr = np.r_[buckets, buckets]
        ages = None
        persons = weights
        notes.append(f"women reconstructed as round({n_col} × {female_share_col}) from a wide bucket table")
    else:
        sexes = parse_sex(frame[sex_col], sex_map=sex_map, column=sex_col)
        bucket_arr = buckets
        ages = pd.to_numeric(frame[age_col], errors="coerce").to_numpy(float) if age_col else None
        if count_col is not None:
            weights = pd.to_numeric(frame[count_col], errors="coerce").to_numpy(float)
            persons = weights
        elif weight_col is not None:
            weights = pd.to_numeric(frame[weight_col], errors="coerce").to_numpy(float)
            persons = np.ones(len(frame))
        else:
            weights = persons = np.ones(len(frame))
        label = count_col or weight_col
        if label and (~np.isfinite(weights) | (weights < 0)).any():
            raise InputError(
                f"column {label!r}: {int((~np.isfinite(weights) | (weights < 0)).sum())} row(s) are "
                "not a number ≥ 0 — fix or drop them."
            )
    if label_keys is not None and n_col is None and count_col is None:
        unit_of_row = np.array([f"{k}" for k in label_keys], dtype=object)
        kind = "label"
    else:
        unit_of_row, kind = bucket_arr, "bucket"
    # a unit is one label (or bucket) with one bucket; a label whose rows carry two buckets is split
    pair_ids, pairs = pd.factorize(pd.Series(list(zip(unit_of_row, bucket_arr, strict=True)), dtype=object))
    keys = [str(u) for u, _ in pairs]
    dup = pd.Series(keys).duplicated(keep=False).to_numpy()
    unit_keys = [f"{u} [{b}]" if d else str(u) for (u, b), d in zip(pairs, dup, strict=True)]
    unit_buckets = [str(b) for _, b in pairs]
    nu = len(pairs)
    cell = pair_ids * 2 + sexes
    resp = np.bincount(cell, weights=persons, minlength=nu * 2).reshape(nu, 2)
    wsum = np.bincount(cell, weights=weights, minlength=nu * 2).reshape(nu, 2)
    wsq = np.bincount(cell, weights=weights * weights, minlength=nu * 2).reshape(nu, 2)
    cod = None
    if coding is not None and kind == "label":
        probs_of, coding_buckets = coding
        k1 = len(coding_buckets) + 1
        cod = np.zeros((nu, k1))
        missing = 0
        for i, (u, b) in enumerate(pairs):
            row = probs_of.get(str(u))
            if row is None or not _mode_is(row, b, coding_buckets):
                missing += 1
                cod[i, coding_buckets.index(b) if b in coding_buckets else k1 - 1] = 1.0
            else:
                cod[i] = row
        if missing:
            notes.append(
                f"{missing} label(s) of the rows are missing from the crosswalk or carry another bucket there: "
                "their coding is taken as certain"
            )
    weighted = weight_col is not None
    frame_ = build_frame(
        unit_keys,
        unit_buckets,
        resp,
        weights=wsum if weighted else None,
        weights_sq=wsq if weighted else None,
        exclude=exclude,
        unit_kind=kind,
        coding=cod,
        coding_buckets=coding[1] if coding is not None else None,
        coding_note=coding_note,
        notes=notes,
    )
    frame_buckets = frame_.buckets
    index = {b: i for i, b in enumerate(frame_buckets) if b not in frame_.exclude}
    bi = np.array([index.get(b, -1) for b in bucket_arr], dtype=np.int64)
    keep = bi >= 0
    age_counts, age_missing = None, 0
    nb = len(frame_buckets)
    if ages is not None:
        band = np.select(
            [ages < 15, ages < 30, ages < 40, ages < 50, ages < 60, ages >= 60], [-1, 0, 1, 2, 3, 4], default=-1
        )
        ok = keep & (band >= 0)
        age_missing = round(persons[keep & (band < 0)].sum())
        na = len(AGE_BANDS)
        age_counts = np.bincount(
            (bi[ok] * na + band[ok]) * 2 + sexes[ok], weights=weights[ok], minlength=nb * na * 2
        ).reshape(nb, na, 2)
        if age_missing:
            notes.append(
                f"{age_missing} persons without a usable age (missing or under 15) left out of the age standardisation"
            )
    return table_of_frame(frame_, age_counts=age_counts, age_missing=age_missing, notes=notes)


def _mode_is(row: np.ndarray, bucket: str, coding_buckets: tuple[str, ...]) -> bool:
    j = coding_buckets.index(bucket) if bucket in coding_buckets else len(coding_buckets)
    return bool(row[j] >= row.max() - 1e-12) or bucket not in coding_buckets


def table_of_frame(
    frame: AuditFrame, *, age_counts: np.ndarray | None = None, age_missing: int = 0, notes: Iterable[str] = ()
) -> SexBucketTable:
    """The bucket × sex table of an :class:`~coder.axis.frame.AuditFrame`, ready for :func:`measure_axis`."""
    return SexBucketTable(
        buckets=frame.buckets,
        counts=frame.table(),
        n_persons=frame.n_respondents,
        excluded={b: round(v["respondents"]) for b, v in frame.excluded().items()},
        weighted=frame.weighted,
        age_counts=age_counts,
        age_missing=age_missing,
        notes=tuple(notes) if notes else frame.notes,
        frame=frame,
    )


# --- measurement -------------------------------------------------------------------------------


def _align(table: SexBucketTable, reference: ReferenceTable) -> tuple[SexBucketTable, np.ndarray]:
    """Drop empty data buckets the reference lacks; check the rest exist in the reference with women in them."""
    persons = table.counts.sum(axis=1)
    fix = ",".join(
        [
            *table.excluded,
            *[b for b, n in zip(table.buckets, persons, strict=True) if n > 0 and b not in reference.buckets],
        ]
    )
    missing = [b for b, n in zip(table.buckets, persons, strict=True) if n > 0 and b not in reference.buckets]
    if missing:
        raise InputError(
            f"bucket(s) {', '.join(missing)} are in the data but missing from reference {reference.name} "
            f"(it has {', '.join(reference.buckets)}) — exclude them (--exclude {fix}) "
            "or use a reference that has them.",
        )
    keep = [j for j, b in enumerate(table.buckets) if b in reference.buckets]
    if len(keep) < len(table.buckets):
        table = replace(
            table,
            buckets=tuple(table.buckets[j] for j in keep),
            counts=table.counts[keep],
            age_counts=None if table.age_counts is None else table.age_counts[keep],
        )
    ref = reference.subset(table.buckets)
    bad = [b for b, row in zip(table.buckets, ref, strict=True) if row[0] <= 0]
    if bad:
        fix = ",".join([*table.excluded, *bad])
        raise InputError(
            f"reference {reference.name}: bucket(s) {', '.join(bad)} have 0 women, so the reference ratio "
            "r = data female share / reference female share is undefined (division by zero) — "
            f"exclude the bucket(s) (--exclude {fix}) or use a reference with women in every bucket.",
        )
    return table, ref


def _frame_of(table: SexBucketTable) -> AuditFrame:
    """The table's audit frame (restricted to the aligned buckets), or a bucket-unit frame for a bare table."""
    frame = table.frame
    if frame is None:
        counts = np.asarray(table.counts, dtype=float)
        total = counts.sum()
        resp = counts * (table.n_persons / total) if table.weighted and total > 0 else counts
        return build_frame(
            table.buckets,
            table.buckets,
            np.rint(resp),
            weights=counts if table.weighted else None,
            weights_sq=counts * counts / np.maximum(np.rint(resp), 1) if table.weighted else None,
            exclude=(),
            unit_kind="bucket",
        )
    if frame.buckets != table.buckets:
        coding = None
        if frame.coding is not None:
            from .frame import _reindex_coding

            coding = _reindex_coding(frame.coding, frame.buckets, table.buckets, frame.exclude)
        frame = replace(frame, buckets=table.buckets, coding=coding)
    return frame


def measure_axis(
    table: SexBucketTable,
    reference: ReferenceTable,
    *,
    q: float = 0.8,
    tau: float = 0.7,
    n_bootstrap: int = DEFAULT_BOOTSTRAP,
    n_permutations: int = 10000,
    alpha: float = 0.05,
    seed: int = 20260101,
    taus: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9),
    qs: tuple[float, ...] = (0.75, 0.8, 0.85, 0.9),
    deffs: tuple[float, ...] = (1.0, 1.5, 2.0),
    ref_sample_size: int | None = None,
    vintages: bool = True,
    n_draws: int = DEFAULT_DRAWS,
    progress: bool = False,
) -> AxisResult:
    """Compare ``table`` with ``reference`` bucket by bucket and overall (see the module docstring).

    ρ and its intervals come from the table's audit frame (:func:`coder.axis.frame.measure_rho`):
    ``rho_ci`` sampling (``n_bootstrap`` respondent bootstraps), ``rho_ci_coding`` and
    ``rho_ci_total`` from ``n_draws`` coding draws when the frame knows its labels' coding; the
    verdict uses ``rho_ci_total`` when there is one. ``progress``: tqdm bars on stderr.
    """
    if not 0 < q < 1:
        raise InputError(f"q = {q}: the band [q, 1/q] needs 0 < q < 1 — e.g. q = 0.8.")
    if n_bootstrap < 1 or n_permutations < 1:
        raise InputError("--bootstrap and --permutations must be at least 1.")
    table, ref = _align(table, reference)
    data = table.counts
    if data.sum() <= 0:
        raise InputError("no persons left in the comparison frame after exclusions — check --code-col and --exclude.")
    rng = np.random.default_rng(seed)
    n = table.n_persons
    notes = list(table.notes) + list(reference.flags)
    frame = _frame_of(table)
    n_eff = frame.n_effective
    ref_n = reference.n if reference.n is not None else math.inf
    rm = measure_rho(
        frame,
        ref,
        ref_n=ref_n,
        tau=tau,
        n_bootstrap=n_bootstrap,
        n_draws=n_draws,
        alpha=alpha,
        seed=seed,
        progress=progress,
    )
    boot = rm.boot_tables
    boot_persons = boot.sum(axis=2)
    boot_fs = safe_ratio(boot[:, :, 0], boot_persons)
    boot_bs = safe_ratio(boot_persons, boot_persons.sum(axis=1, keepdims=True))
    v_data, v_boot = rm.v_data, rm.v_boot
    v_ref = cramers_v(ref, n=ref_n)
    rho, rho_ci = rm.rho, rm.rho_ci
    verdict_ci = rm.rho_ci_total if rm.rho_ci_total is not None else rm.rho_ci

    # permutation null of V_data with both margins fixed (weighted data: rescaled to the Kish effective size)
    n_perm = max(2, round(n_eff))
    integer = (
        np.rint(data * (n_perm / data.sum())).astype(np.int64) if table.weighted else np.rint(data).astype(np.int64)
    )
    null = cramers_v(draw_fixed_margin_tables(integer, n_permutations, rng=rng), n=n_perm)
    v_obs_int = cramers_v(integer, n=n_perm)
    permutation = {
        "v_observed": float(v_obs_int),
        "p_value": permutation_pvalue(v_obs_int, null),
        "draws": n_permutations,
        "null_mean": float(null.mean()),
        "null_q95": float(np.quantile(null, 0.95)),
        "null_q99": float(np.quantile(null, 0.99)),
    }
    if table.weighted:
        notes.append(
            f"weighted data: {n:,} respondents carry {data.sum():,.0f} persons; Kish's effective sample size "
            f"n_eff = {n_eff:,.1f} sizes the bias correction of V and the permutation null (the weighted table "
            "rescaled to n_eff and rounded); the bootstrap resamples respondents with their weights"
        )
    small = frame.bucket_respondents() < MIN_BUCKET_RESPONDENTS

    persons = data.sum(axis=1)
    fs = safe_ratio(data[:, 0], persons)
    ref_fs = ref[:, 0] / ref.sum(axis=1)
    bs, ref_bs = persons / data.sum(), ref.sum(axis=1) / ref.sum()
    r = fs / ref_fs
    r_bucket = bs / ref_bs
    boot_r = boot_fs / ref_fs
    boot_rb = boot_bs / ref_bs
    defined = np.isfinite(r)
    kb = max(1, int(defined.sum()))
    probs = (alpha / 2, 1 - alpha / 2)
    probs_b = (alpha / (2 * kb), 1 - alpha / (2 * kb))
    results = []
    for j, b in enumerate(table.buckets):
        tiny = bool(small[j]) and defined[j]
        ci = quantile_interval(boot_r[:, j], probs) if defined[j] and not tiny else None
        ci_b = quantile_interval(boot_r[:, j], probs_b) if defined[j] and not tiny else None
        rb_ci = None if tiny else quantile_interval(boot_rb[:, j], probs)
        rb_ci_b = None if tiny else quantile_interval(boot_rb[:, j], probs_b)
        share = float(fs[j]) if defined[j] else None
        pr, pf = parity_ratio(share) if not tiny else (parity_ratio(share)[0], None)
        rpr, rpf = parity_ratio(float(ref_fs[j]))
        note = ""
        if not defined[j]:
            note = "no persons in the data: female share and r undefined"
        elif tiny:
            note = (
                f"{int(frame.bucket_respondents()[j])} respondent(s), fewer than {MIN_BUCKET_RESPONDENTS}: "
                "no interval and no flag"
            )
        elif data[j, 0] == 0:
            note = "0 women in the data: r = 0 and its interval is degenerate"
        results.append(
            BucketResult(
                bucket=b,
                title=BUCKET_TITLES.get(b, b),
                persons=float(persons[j]),
                women=float(data[j, 0]),
                men=float(data[j, 1]),
                female_share=share,
                ref_female_share=float(ref_fs[j]),
                gap_pp=100 * (share - float(ref_fs[j])) if share is not None else None,
                r=float(r[j]) if defined[j] else None,
                r_ci=ci,
                r_ci_bonferroni=ci_b,
                out_of_band=outside_band(ci, q),
                out_of_band_bonferroni=outside_band(ci_b, q),
                out_of_band_point=bool(r[j] < q or r[j] > 1 / q) if defined[j] and not tiny else None,
                parity_ratio=pr,
                parity_flag=pf,
                ref_parity_ratio=float(rpr),
                ref_parity_flag=bool(rpf),
                bucket_share=float(bs[j]),
                ref_bucket_share=float(ref_bs[j]),
                r_bucket=float(r_bucket[j]),
                r_bucket_ci=rb_ci,
                r_bucket_ci_bonferroni=rb_ci_b,
                bucket_out_of_band=outside_band(rb_ci, q),
                bucket_out_of_band_bonferroni=outside_band(rb_ci_b, q),
                bucket_out_of_band_point=None if tiny else bool(r_bucket[j] < q or r_bucket[j] > 1 / q),
                note=note,
            )
        )

    distances = {
        "overall": _distances(persons, ref.sum(axis=1)),
        "female": _distances(data[:, 0], ref[:, 0]),
        "male": _distances(data[:, 1], ref[:, 1]),
    }
    verdict = None if rho is None else bool(rho < tau)

    grid = check_grid(rho, verdict_ci, results, taus=taus, qs=qs, n_persons=round(n_eff))
    fs_flag = np.where(small, np.nan, fs)  # tiny buckets get no interval in the robustness checks either
    vint = (
        check_vintages(
            reference,
            table.buckets,
            boot_fs,
            boot_bs,
            v_boot,
            fs_flag,
            v_data,
            results,
            q=q,
            tau=tau,
            alpha=alpha,
            base_verdict=verdict,
        )
        if vintages
        else None
    )
    age = (
        standardise_age(
            table, reference, ref_fs, v_ref, results, rng=rng, n_bootstrap=n_bootstrap, q=q, tau=tau, alpha=alpha
        )
        if table.age_counts is not None
        else None
    )
    if age is not None and small.any():  # tiny buckets: no interval and no flag here either
        kept = tuple(
            replace(a, r_standardised_ci=None, out_of_band=None) if small[j] else a for j, a in enumerate(age.buckets)
        )
        age = replace(
            age,
            buckets=kept,
            n_out_of_band=sum(bool(a.out_of_band) for a in kept),
            flags_changed=tuple(b.bucket for b, a in zip(results, kept, strict=True) if b.out_of_band != a.out_of_band),
        )
    deff = (
        tuple(
            check_deff(
                ref,
                ref_sample_size,
                d,
                boot_fs,
                v_boot,
                fs_flag,
                table.buckets,
                results,
                rng=rng,
                q=q,
                tau=tau,
                alpha=alpha,
            )
            for d in deffs
        )
        if ref_sample_size
        else ()
    )
    if not ref_sample_size:
        notes.append(
            "reference sampling uncertainty (DEFF 1/1.5/2) skipped: no reference sample size given, and "
            "the KOSIS tables do not publish one — pass ref_sample_size (--ref-sample-size)"
        )
    return AxisResult(
        reference={
            "name": reference.name,
            "source": reference.source,
            "survey": reference.survey,
            "period": reference.period,
            "unit": reference.unit,
            "sha256": reference.sha256,
            "n": reference.n,
        },
        settings={
            "q": q,
            "tau": tau,
            "alpha": alpha,
            "n_bootstrap": n_bootstrap,
            "n_permutations": n_permutations,
            "seed": seed,
            "taus": list(taus),
            "qs": list(qs),
            "deffs": list(deffs),
            "ref_sample_size": ref_sample_size,
            "weighted": table.weighted,
            "n_draws": n_draws,
            "min_bucket_respondents": MIN_BUCKET_RESPONDENTS,
            "out_of_band_rule": "95% percentile bootstrap interval of r wholly outside [q, 1/q]",
            "parity_rule": "min(share, 1-share) / max(share, 1-share) < 0.8",
        },
        n_persons=n,
        persons_weighted=float(data.sum()),
        excluded=dict(table.excluded),
        buckets=tuple(results),
        v_data=float(v_data),
        v_data_uncorrected=float(cramers_v(data, bias_correction=False)),
        v_ref=float(v_ref),
        v_ref_uncorrected=float(cramers_v(ref, bias_correction=False)),
        rho=rho,
        rho_ci=rho_ci,
        verdict_attenuated=verdict,
        verdict=rm.verdict,
        n_respondents=frame.n_respondents,
        n_effective=float(n_eff),
        rho_ci_coding=rm.rho_ci_coding,
        rho_ci_total=rm.rho_ci_total,
        axis=axis_object(frame, rm, tau=tau),
        tau_note=TAU_NOTE,
        permutation=permutation,
        distances=distances,
        n_out_of_band=sum(bool(b.out_of_band) for b in results),
        n_out_of_band_point=sum(bool(b.out_of_band_point) for b in results),
        n_out_of_band_bonferroni=sum(bool(b.out_of_band_bonferroni) for b in results),
        n_bucket_out_of_band=sum(bool(b.bucket_out_of_band) for b in results),
        n_bucket_out_of_band_point=sum(bool(b.bucket_out_of_band_point) for b in results),
        n_parity_flagged=sum(bool(b.parity_flag) for b in results),
        n_ref_parity_flagged=sum(b.ref_parity_flag for b in results),
        grid=grid,
        vintages=vint,
        age_standardisation=age,
        deff=deff,
        notes=tuple(notes),
    )


def _distances(p: np.ndarray, q: np.ndarray) -> dict[str, float]:
    if p.sum() <= 0:
        return {
            "total_variation": float("nan"),
            "jensen_shannon": float("nan"),
            "jensen_shannon_normalised": float("nan"),
        }
    return {
        "total_variation": float(total_variation(p, q)),
        "jensen_shannon": float(jensen_shannon(p, q)),
        "jensen_shannon_normalised": float(jensen_shannon(p, q, normalised=True)),
    }


# --- re-exports ----------------------------------------------------------------------------------
