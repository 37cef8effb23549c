"""Sensitivity sweeps: how much do the sex × KSCO axis conclusions depend on the coding?

Every sweep works on aggregated counts — a label × sex table (persons per label and sex, see
:func:`label_sex_table`) and bucket × sex tables — never on persons, and every change of coding
is "decide again with X changed" (:func:`coder.crosswalk.decide.decide` is row-wise pure, so
only the labels X can touch are re-decided and spliced into the baseline):

- **label noise** (:func:`noise_test`): a share p of the persons in each bucket × sex cell is
  moved, uniformly, to one of the other comparison buckets (binomial then multinomial draws
  on the table, R seeded replicates per p); per p the share of replicates whose screen verdict
  (ρ < τ) and whose parity-flag count are unchanged, and the distribution of ρ;
- **leave one rule out**: for every rule id stored in a ``<rater>_rule_id`` column (mapper
  rules, consistency rules), the labels whose rule columns hold it are decided again with
  ``DecisionPolicy(exclude_rules={id})``: labels and persons whose code or bucket changes, ρ and
  Δρ, the parity-flag count and which bucket flags change;
- **leave one rater out**: the same for every rater (each panel member ``panel_<id>`` and the
  whole panel, too), with ``exclude_raters``;
- **threshold grid**: model × fuzzy thresholds through ``decide`` (only labels whose weak score
  lies between the baseline and the new threshold can change);
- **mapping comparison**: the axis metrics under each rater's own mapping (the major of its
  code; labels it did not answer drop out of the frame), beside the decided mapping and any
  given bucket tables (for NPK, the two published mappings): persons in the frame, ρ, the
  screen verdict, the flags, the buckets whose parity flag differs from the decided mapping's,
  and the share of buckets whose gap (data − reference female share) has the same sign.

Figures in the sweeps are point values on the comparison frame (the nine KSCO majors):
ρ = bias-corrected V_data / V_ref (closer to 1 is better), the screen verdict ρ < τ
(attenuated), the 4/5 parity flag per bucket, and the point out-of-band flag of
r = data / reference female share outside [q, 1/q]. The full axis measurement with intervals
is :func:`coder.axis.metrics.measure_axis`. :func:`sensitivity_file` is the file twin
(``coder sensitivity``).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .axis.bands import MIN_PERSONS
from .axis.coding import label_frame
from .axis.frame import DEFAULT_BOOTSTRAP, DEFAULT_DRAWS, MIN_BUCKET_RESPONDENTS, kish_n_eff
from .axis.metrics import AxisResult, measure_axis, parse_sex, table_of_frame
from .axis.references import KSCO_MAJORS, ReferenceTable, load_reference
from .codes import CodeList
from .consistency import ConsistencyRules, check_crosswalk, load_consistency_rules
from .crosswalk.decide import DecisionPolicy, decide, rater_names
from .crosswalk.model import Crosswalk
from .crosswalk.stage import Output, StageResult, run_stage
from .errors import InputError
from .io import frame_records, json_ready, read_table
from .labels import tabulate_labels
from .provenance import meta_path
from .raters.base import REGISTRY, slot_of
from .resources import file_sha256
from .stats import cramers_v

__all__ = [
    "DEFAULT_FUZZY_THRESHOLDS",
    "DEFAULT_MODEL_THRESHOLDS",
    "DEFAULT_NOISE",
    "LabelSexTable",
    "SensitivityResult",
    "apply_rule_set",
    "axis_point",
    "impute_label_sex",
    "label_sex_table",
    "measure_crosswalk_axis",
    "noise_test",
    "rule_masks",
    "run_sensitivity",
    "sensitivity_file",
    "verdicts",
]

DEFAULT_NOISE = (0.01, 0.05, 0.10)
DEFAULT_MODEL_THRESHOLDS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 0.95)
DEFAULT_FUZZY_THRESHOLDS = (0.85, 0.9, 0.95, 0.99)
_BUCKET_INDEX = {b: i for i, b in enumerate(KSCO_MAJORS)}
_RULE_SPLIT = re.compile(r"[;,\s]+")


# --- the label × sex table ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LabelSexTable:
    """Persons per label and sex: ``counts[i] = (women, men)`` of label ``label_keys[i]``.

    ``imputed`` is True when the sex split is not observed (``note`` says how it was made);
    every figure computed from an imputed table is labelled imputed.
    """

    label_keys: tuple[str, ...]
    counts: np.ndarray
    imputed: bool = False
    note: str = ""
    respondents: np.ndarray | None = None  # input rows per label × sex (None: every count is a respondent)
    weights_sq: np.ndarray | None = None  # sum of squared weights per label × sex (weighted rows only)
    weighted: bool = False

    @property
    def persons(self) -> float:
        return float(self.counts.sum())


def label_sex_table(
    frame: pd.DataFrame,
    *,
    text_col: str,
    sex_col: str,
    weight_col: str | None = None,
    count_col: str | None = None,
    sex_map: Mapping[str, str] | None = None,
) -> LabelSexTable:
    """Persons per label × sex from person rows (optional ``weight_col``) or an aggregated table (``count_col``).

    Labels are normalised exactly as the coder does (:func:`coder.labels.tabulate_labels`), so
    they join the crosswalk by ``label_key``. Sex values are read by
    :func:`coder.axis.metrics.parse_sex` (unknown values are an error listing every value).
    """

    if weight_col and count_col:
        raise InputError("weight and count columns are mutually exclusive — give --weight-col or --count-col.")
    cols = [c for c in (text_col, sex_col, weight_col, count_col) if c]
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise InputError(
            f"column(s) {', '.join(repr(c) for c in missing)} not in the rows (columns: "
            f"{', '.join(map(str, frame.columns))}) — name the right ones with --text-col/--sex-col/…"
        )
    weights = frame[count_col or weight_col] if (count_col or weight_col) else None
    table = tabulate_labels(frame[text_col], weights, weight_name=count_col or weight_col or "")
    sexes = parse_sex(frame[sex_col], sex_map=sex_map, column=sex_col)
    keys = table.frame["label_key"].tolist()
    nl = len(keys)
    cell = table.row_label * 2 + sexes
    w = (
        pd.to_numeric(weights, errors="coerce").to_numpy(float)
        if weights is not None
        else np.ones(len(frame), dtype=float)
    )
    counts = np.bincount(cell, weights=w, minlength=nl * 2).reshape(nl, 2)
    if weight_col:
        respondents = np.bincount(cell, minlength=nl * 2).reshape(nl, 2).astype(float)
        weights_sq = np.bincount(cell, weights=w * w, minlength=nl * 2).reshape(nl, 2)
        return LabelSexTable(
            label_keys=tuple(keys), counts=counts, respondents=respondents, weights_sq=weights_sq, weighted=True
        )
    return LabelSexTable(label_keys=tuple(keys), counts=counts)


def impute_label_sex(
    labels: pd.DataFrame, known: pd.DataFrame, *, rest_female_share: float, note: str = ""
) -> LabelSexTable:
    """An **imputed** label × sex table: observed splits where ``known`` has them, a flat share elsewhere.

    ``labels``: ``label_key`` and ``persons``; ``known``: ``label_key``, ``women``, ``men`` for the
    labels whose sex split is published. Every other label gets women = round(persons ×
    ``rest_female_share``). The result has ``imputed=True``.
    """
    if not 0 <= rest_female_share <= 1:
        raise InputError(f"rest_female_share = {rest_female_share}: a share must lie in [0, 1].")
    keys = labels["label_key"].astype(str).tolist()
    persons = labels["persons"].to_numpy(float)
    women = np.round(persons * rest_female_share)
    counts = np.stack([women, persons - women], axis=1)
    pos = {k: i for i, k in enumerate(keys)}
    for r in known.itertuples():
        i = pos.get(str(r.label_key))
        if i is not None:
            counts[i] = (float(r.women), float(r.men))
    return LabelSexTable(label_keys=tuple(keys), counts=counts, imputed=True, note=note)


# --- point metrics on stacks of bucket × sex tables -------------------------------------------------


def axis_point(
    tables: np.ndarray,
    reference: ReferenceTable,
    *,
    q: float = 0.8,
    tau: float = 0.7,
    n: float | np.ndarray | None = None,
    respondents: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Point axis metrics of a stack of (…, 9, 2) bucket × sex tables (women, men) against ``reference``.

    Returns arrays: ``rho``, ``attenuated`` (ρ < τ), ``parity`` (…, 9) 4/5 flags,
    ``out_of_band`` (…, 9) point flags of r outside [q, 1/q], ``gap_sign`` (…, 9), ``female_share``,
    ``persons``. Buckets with nobody have no flags and gap sign 0. ``n``: the sample size of
    V's bias correction (default each table's total; on weighted rows the Kish effective size,
    as the axis measurement uses). ``respondents``: (…, 9) respondents per bucket; a bucket with
    fewer than :data:`~coder.axis.frame.MIN_BUCKET_RESPONDENTS` gets no parity or band flag, as in
    the axis measurement (default: the table's persons are its respondents).
    """

    t = np.asarray(tables, dtype=float)
    ref = reference.subset(KSCO_MAJORS)
    v_ref = cramers_v(ref, n=reference.n if reference.n is not None else math.inf)
    v = cramers_v(t, n=n)
    rho = np.asarray(v) / v_ref if v_ref > 0 else np.full(np.shape(v), np.nan)
    persons = t.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        fs = np.where(persons > 0, t[..., 0] / np.where(persons > 0, persons, 1), np.nan)
        ratio = np.minimum(fs, 1 - fs) / np.maximum(fs, 1 - fs)
        ref_fs = ref[:, 0] / ref.sum(axis=1)
        r = fs / ref_fs
    defined = np.isfinite(fs)
    resp = persons if respondents is None else np.asarray(respondents, dtype=float)
    flaggable = defined & ~((resp > 0) & (resp < MIN_BUCKET_RESPONDENTS))
    return {
        "rho": rho,
        "attenuated": rho < tau,
        "parity": flaggable & (ratio < 0.8),
        "out_of_band": flaggable & ((r < q) | (r > 1 / q)),
        "gap_sign": np.where(defined, np.sign(np.where(defined, fs, 0) - ref_fs), 0),
        "female_share": fs,
        "persons": persons.sum(axis=-1),
    }


def verdicts(
    rho: np.ndarray | float, base_rho: float, interval: tuple[float, float] | None, tau: float, n_eff: float
) -> np.ndarray:
    """Three-way verdicts of sweep values of ρ (see :func:`coder.axis.bands.axis_verdict`).

    A sweep has no interval of its own: the baseline's interval (``rho_ci_total``, else ``rho_ci``)
    is shifted by the sweep's Δρ = ρ − ``base_rho``. ``inconclusive`` when ρ is undefined, the
    frame's n_eff is below :data:`~coder.axis.bands.MIN_PERSONS`, or the shifted interval holds τ.
    """
    rho = np.asarray(rho, dtype=float)
    out = np.where(rho < tau, "attenuated", "not_attenuated").astype(object)
    if interval is not None:
        delta = rho - base_rho
        inside = (interval[0] + delta <= tau) & (tau <= interval[1] + delta)
        out = np.where(inside, "inconclusive", out)
    out = np.where(~np.isfinite(rho) | (n_eff < MIN_PERSONS), "inconclusive", out)
    return out if out.ndim else out.item()


def _flag_list(flags: np.ndarray) -> str:
    return " ".join(b for b, f in zip(KSCO_MAJORS, flags, strict=True) if f)


def noise_test(
    table: np.ndarray,
    reference: ReferenceTable,
    *,
    levels: Sequence[float] = DEFAULT_NOISE,
    replicates: int = 100,
    seed: int = 20260101,
    q: float = 0.8,
    tau: float = 0.7,
    n: float | None = None,
    interval: tuple[float, float] | None = None,
    respondents: np.ndarray | None = None,
) -> tuple[pd.DataFrame, dict[float, np.ndarray]]:
    """Label-noise **stress test** of one (9, 2) bucket × sex table (see the module docstring).

    Not an estimate of the coding error (that is ``rho_ci_coding``, from each label's own coding
    distribution): every person is equally likely to move, to any other major. ``n``: V's
    bias-correction size (the frame's n_eff); ``interval``: the baseline's ρ interval, shifted
    by each replicate's Δρ for its three-way verdict (:func:`verdicts`); ``respondents``: the
    baseline's respondents per bucket (buckets below the minimum get no flag, see :func:`axis_point`).
    Returns one row per noise level and the replicate ρ values per level.
    """
    if replicates < 1:
        raise InputError("replicates must be at least 1.")
    bad = [p for p in levels if not 0 <= p <= 1]
    if bad:
        raise InputError(f"noise level(s) {', '.join(map(str, bad))}: a share of persons must lie in [0, 1].")
    base_table = np.rint(np.asarray(table, dtype=float)).astype(np.int64)
    k = base_table.shape[0]
    base = axis_point(base_table, reference, q=q, tau=tau, n=n, respondents=respondents)
    base_flags = int(base["parity"].sum())
    n_eff = float(base_table.sum()) if n is None else float(n)
    base_verdict = str(verdicts(base["rho"], float(base["rho"]), interval, tau, n_eff))
    target = np.array([[s if s < i else s + 1 for s in range(k - 1)] for i in range(k)])
    rng = np.random.default_rng(seed)
    rows, rhos = [], {}
    for p in levels:
        moved = rng.binomial(np.broadcast_to(base_table, (replicates, k, 2)), p)
        dest = rng.multinomial(moved, np.full(k - 1, 1.0 / (k - 1)))  # (R, k, 2, k-1)
        arrivals = np.zeros((replicates, k, 2))
        for i in range(k):
            np.add.at(arrivals, (slice(None), target[i], slice(None)), dest[:, i].transpose(0, 2, 1))
        noisy = base_table[None] - moved + arrivals
        m = axis_point(noisy, reference, q=q, tau=tau, n=n, respondents=respondents)
        flags = m["parity"].sum(axis=-1)
        rho = m["rho"]
        rhos[float(p)] = rho
        vs = np.atleast_1d(verdicts(rho, float(base["rho"]), interval, tau, n_eff)).astype(str)
        names, counts = np.unique(vs, return_counts=True)
        rows.append(
            {
                "p": float(p),
                "replicates": replicates,
                "rho_base": float(base["rho"]),
                "rho_mean": float(np.mean(rho)),
                "rho_lo": float(np.quantile(rho, 0.025)),
                "rho_median": float(np.median(rho)),
                "rho_hi": float(np.quantile(rho, 0.975)),
                "rho_min": float(rho.min()),
                "rho_max": float(rho.max()),
                "verdict_base": base_verdict,
                "verdict_unchanged": float(np.mean(vs == base_verdict)),
                "verdict_most": str(names[np.argmax(counts)]),
                "parity_flags_base": base_flags,
                "parity_count_unchanged": float(np.mean(flags == base_flags)),
                "parity_flags_mean": float(flags.mean()),
            }
        )
    return pd.DataFrame(rows), rhos


# --- re-deciding ----------------------------------------------------------------------------------


def rule_masks(crosswalk: pd.DataFrame) -> dict[str, np.ndarray]:
    """Every rule id in the ``<rater>_rule_id`` columns → the rows whose rule columns hold it (sorted by id).

    Cells may list several ids (``C01;C02``). The final ``rule_id`` column is not a rater's.
    """
    out: dict[str, np.ndarray] = {}
    for col in crosswalk.columns:
        if not col.endswith("_rule_id") or col == "rule_id":
            continue
        values = crosswalk[col].astype(object).where(crosswalk[col].notna(), "").astype(str).to_numpy()
        for cell in pd.unique(values):
            if not cell.strip():
                continue
            rows = values == cell
            for rid in _RULE_SPLIT.split(cell.strip()):
                if rid:
                    out[rid] = out[rid] | rows if rid in out else rows.copy()
    return dict(sorted(out.items()))


def _cells_with(crosswalk: pd.DataFrame, rid: str) -> set[str]:
    cells = set()
    for col in crosswalk.columns:
        if col.endswith("_rule_id") and col != "rule_id":
            for cell in pd.unique(crosswalk[col].astype(str)):
                if rid in _RULE_SPLIT.split(cell.strip()):
                    cells.add(cell)
    return cells


def _bucket_index(majors: Sequence[object]) -> np.ndarray:
    return np.array([_BUCKET_INDEX.get(str(m), -1) for m in majors], dtype=np.int64)


class _Sweeper:
    """The baseline decision and the label × sex counts aligned to the crosswalk's rows."""

    def __init__(self, crosswalk, label_sex, reference, policy, codes, q, tau):
        self.crosswalk = crosswalk.reset_index(drop=True)
        self.reference, self.policy, self.codes, self.q, self.tau = reference, policy, codes, q, tau
        self.base = decide(self.crosswalk, policy, codes=codes)
        pos = {k: i for i, k in enumerate(self.crosswalk["label_key"].astype(str))}
        rows = np.array([pos.get(k, -1) for k in label_sex.label_keys], dtype=np.int64)
        self.unmatched = float(label_sex.counts[rows < 0].sum())
        self.counts = np.zeros((len(self.crosswalk), 2))
        np.add.at(self.counts, rows[rows >= 0], label_sex.counts[rows >= 0])
        resp = label_sex.respondents if label_sex.respondents is not None else label_sex.counts
        self.resp = np.zeros(len(self.crosswalk))
        np.add.at(self.resp, rows[rows >= 0], resp[rows >= 0].sum(axis=1))
        squares = label_sex.weights_sq if label_sex.weighted else label_sex.counts
        self.squares = np.zeros(len(self.crosswalk))
        np.add.at(self.squares, rows[rows >= 0], squares[rows >= 0].sum(axis=1))
        self.persons = self.counts.sum(axis=1)
        self.bucket = _bucket_index(self.base["ksco_major"])
        self.code = self.base["ksco_code"].astype(str).to_numpy()
        self.table = self.tabulate(self.bucket)
        self.n_eff = self.effective(self.bucket)
        self.point = axis_point(
            self.table, reference, q=q, tau=tau, n=self.n_eff, respondents=self.respondents_of(self.bucket)
        )
        self.interval: tuple[float, float] | None = None  # the baseline's ρ interval, set from the axis
        self.verdict = str(verdicts(self.point["rho"], float(self.point["rho"]), None, tau, self.n_eff))

    def tabulate(self, bucket: np.ndarray) -> np.ndarray:
        ok = bucket >= 0
        out = np.zeros((len(KSCO_MAJORS), 2))
        np.add.at(out, bucket[ok], self.counts[ok])
        return out

    def respondents_of(self, bucket: np.ndarray) -> np.ndarray:
        """Respondents per major bucket under ``bucket``."""
        ok = bucket >= 0
        return np.bincount(bucket[ok], weights=self.resp[ok], minlength=len(KSCO_MAJORS))

    def effective(self, bucket: np.ndarray) -> float:
        """Kish n_eff of the persons in the frame under ``bucket`` (their count on unweighted rows)."""
        ok = bucket >= 0
        return float(kish_n_eff(self.persons[ok].sum(), self.squares[ok].sum()))

    def verdict_of(self, rho: float, n_eff: float) -> str:
        return str(verdicts(rho, float(self.point["rho"]), self.interval, self.tau, n_eff))

    def redecide(self, mask: np.ndarray, policy) -> tuple[np.ndarray, np.ndarray]:
        """Buckets and codes of every row when ``mask`` rows are decided again under ``policy``."""
        bucket, code = self.bucket.copy(), self.code.copy()
        if mask.any():
            sub = decide(self.crosswalk.loc[mask], policy, codes=self.codes)
            bucket[mask] = _bucket_index(sub["ksco_major"])
            code[mask] = sub["ksco_code"].astype(str).to_numpy()
        return bucket, code

    def compare(self, bucket: np.ndarray, code: np.ndarray) -> dict[str, object]:
        table = self.tabulate(bucket)
        n_eff = self.effective(bucket)
        m = axis_point(table, self.reference, q=self.q, tau=self.tau, n=n_eff, respondents=self.respondents_of(bucket))
        verdict = self.verdict_of(float(m["rho"]), n_eff)
        code_changed = code != self.code
        bucket_changed = bucket != self.bucket
        return {
            "labels_changed": int(code_changed.sum()),
            "persons_code_changed": float(self.persons[code_changed].sum()),
            "persons_bucket_changed": float(self.persons[bucket_changed].sum()),
            "persons_in_frame": float(table.sum()),
            "rho": float(m["rho"]),
            "delta_rho": float(m["rho"] - self.point["rho"]),
            "verdict": verdict,
            "verdict_changed": verdict != self.verdict,
            "parity_flags": int(m["parity"].sum()),
            "parity_flags_changed": _flag_list(m["parity"] != self.point["parity"]),
            "out_of_band_changed": _flag_list(m["out_of_band"] != self.point["out_of_band"]),
        }


# --- the result -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SensitivityResult:
    """The sweeps of :func:`run_sensitivity`; ``to_dict()`` gives every number as JSON."""

    settings: dict[str, object]
    baseline: dict[str, object]
    noise: pd.DataFrame
    noise_rho: dict[str, dict[float, list[float]]]
    rules: pd.DataFrame
    raters: pd.DataFrame
    thresholds: pd.DataFrame
    mappings: pd.DataFrame
    imputed: bool = False
    notes: tuple[str, ...] = field(default=())
    axis: AxisResult | None = None
    verdict_changes: tuple[dict[str, object], ...] = field(default=())

    def summary(self) -> dict[str, object]:
        """The headline of each sweep (largest |Δρ|, rules that change a verdict or a flag)."""
        rules = self.rules
        out: dict[str, object] = {"imputed": self.imputed, "rho_base": self.baseline["rho"]}
        if len(rules):
            worst = rules.iloc[rules["delta_rho"].abs().argmax()]
            out |= {
                "rules": len(rules),
                "rules_max_abs_delta_rho": float(abs(worst["delta_rho"])),
                "rules_max_abs_delta_rho_id": str(worst["rule_id"]),
                "rules_changing_verdict": int(rules["verdict_changed"].sum()),
                "rules_changing_parity_flags": int((rules["parity_flags_changed"] != "").sum()),
            }
        for row in self.noise.itertuples():
            out[f"noise_{row.mapping}_{row.p:g}_verdict_unchanged"] = row.verdict_unchanged
        return out

    def to_dict(self) -> dict:
        return {
            "settings": dict(self.settings),
            "imputed": self.imputed,
            "baseline": json_ready(self.baseline),
            "summary": json_ready(self.summary()),
            "noise": frame_records(self.noise),
            "noise_rho": {
                m: {f"{p:g}": [float(x) for x in v] for p, v in d.items()} for m, d in self.noise_rho.items()
            },
            "rules": frame_records(self.rules),
            "raters": frame_records(self.raters),
            "thresholds": frame_records(self.thresholds),
            "mappings": frame_records(self.mappings),
            "notes": list(self.notes),
            "axis": json_ready(self.axis.axis) if self.axis is not None else None,
            "verdict_changes": json_ready(list(self.verdict_changes)),
        }


def run_sensitivity(
    crosswalk: Crosswalk | pd.DataFrame,
    label_sex: LabelSexTable,
    reference: ReferenceTable,
    *,
    policy: DecisionPolicy | None = None,
    codes: CodeList | None = None,
    bucket_tables: Mapping[str, np.ndarray] | None = None,
    noise_levels: Sequence[float] = DEFAULT_NOISE,
    replicates: int = 100,
    seed: int = 20260101,
    q: float = 0.8,
    tau: float = 0.7,
    model_thresholds: Sequence[float] = DEFAULT_MODEL_THRESHOLDS,
    fuzzy_thresholds: Sequence[float] = DEFAULT_FUZZY_THRESHOLDS,
    progress: bool = False,
    n_bootstrap: int = DEFAULT_BOOTSTRAP,
    n_draws: int = DEFAULT_DRAWS,
) -> SensitivityResult:
    """Run every sweep (see the module docstring) on a crosswalk and its label × sex counts.

    First the axis itself (:func:`measure_crosswalk_axis`: the audit frame, ρ with its sampling,
    coding and total intervals, the three-way verdict; ``n_bootstrap`` and ``n_draws``); each
    sweep's verdict is then three-way too, the baseline's interval shifted by the sweep's Δρ
    (:func:`verdicts`), and ``verdict_changes`` lists every sweep that changes the verdict.

    ``bucket_tables``: extra (9, 2) bucket × sex tables (women, men) to stress-test and compare
    beside the crosswalk's mappings — for NPK the published tables of its two mappings, which
    are exact where the label × sex table is imputed.  Every sweep decides again from
    ``policy``, default the crosswalk's own (a bare frame has the default policy); the
    crosswalk's notes are the first of the result's notes.
    """
    from tqdm.auto import tqdm

    if not 0 < q < 1:
        raise InputError(f"q = {q}: the band [q, 1/q] needs 0 < q < 1 — e.g. q = 0.8.")
    xwalk = Crosswalk.of(crosswalk, codes=codes)
    codes = codes if codes is not None else xwalk.codes
    policy = policy if policy is not None else xwalk.policy
    crosswalk = xwalk.frame
    disable = None if progress else True
    sweep = _Sweeper(crosswalk, label_sex, reference, policy, codes, q, tau)
    imputed = label_sex.imputed
    tag = " (imputed label × sex)" if imputed else ""
    notes = list(xwalk.notes)
    if imputed:
        notes.append(f"label × sex counts are IMPUTED: {label_sex.note}")
    if sweep.unmatched:
        notes.append(f"{sweep.unmatched:,.0f} persons have labels missing from the crosswalk and are left out")
    axis = measure_crosswalk_axis(
        sweep.base,
        label_sex,
        reference,
        q=q,
        tau=tau,
        seed=seed,
        n_bootstrap=n_bootstrap,
        n_draws=n_draws,
        progress=progress,
    )
    sweep.interval = axis.rho_ci_total if axis.rho_ci_total is not None else axis.rho_ci
    sweep.verdict = sweep.verdict_of(float(sweep.point["rho"]), sweep.n_eff)
    baseline = {
        "rho": float(sweep.point["rho"]),
        "rho_interval": list(sweep.interval) if sweep.interval is not None else None,
        "n_effective": sweep.n_eff,
        "verdict": sweep.verdict,
        "parity_flags": int(sweep.point["parity"].sum()),
        "parity_flagged": _flag_list(sweep.point["parity"]),
        "out_of_band": _flag_list(sweep.point["out_of_band"]),
        "persons_in_frame": float(sweep.table.sum()),
        "persons": float(sweep.persons.sum()),
        "table": sweep.table.tolist(),
        "imputed": imputed,
    }

    # 1. noise, on the decided table and on every given bucket table
    tables = {"decided" + ("_imputed" if imputed else ""): sweep.table, **dict(bucket_tables or {})}
    noise_parts, noise_rho = [], {}
    for name, table in tqdm(tables.items(), desc="noise", unit="table", disable=disable):
        own = name.startswith("decided")
        frame, rhos = noise_test(
            table,
            reference,
            levels=noise_levels,
            replicates=replicates,
            seed=seed,
            q=q,
            tau=tau,
            n=sweep.n_eff if own else None,
            interval=sweep.interval if own else None,
            respondents=sweep.respondents_of(sweep.bucket) if own else None,
        )
        frame.insert(0, "mapping", name)
        noise_parts.append(frame)
        noise_rho[name] = {p: v.tolist() for p, v in rhos.items()}
    noise = pd.concat(noise_parts, ignore_index=True)

    # 2. leave one rule out
    rule_rows = []
    masks = rule_masks(sweep.crosswalk)
    for rid, mask in tqdm(masks.items(), desc="leave one rule out" + tag, unit="rule", disable=disable):
        excluded = policy.exclude_rules | {rid} | _cells_with(sweep.crosswalk, rid)
        bucket, code = sweep.redecide(mask, policy.with_(exclude_rules=frozenset(excluded)))
        rule_rows.append({"rule_id": rid, "labels_with_rule": int(mask.sum()), **sweep.compare(bucket, code)})
    rules = pd.DataFrame(rule_rows, columns=_SWEEP_COLUMNS("rule_id", "labels_with_rule"))
    if len(rules):
        rules = rules.sort_values(["delta_rho", "rule_id"], key=lambda s: -s.abs() if s.name == "delta_rho" else s)
        rules = rules.reset_index(drop=True)
    else:
        notes.append("no rule ids in the crosswalk's <rater>_rule_id columns: leave-one-rule-out has nothing to remove")

    # 3. leave one rater out (each panel member, the whole panel, every other rater)
    names = rater_names(sweep.crosswalk)
    members = [n for n in names if slot_of(n) == "panel"]
    rater_rows = []
    targets = [(n, frozenset({n})) for n in names] + (
        [("panel (all members)", frozenset({"panel"}))] if members else []
    )
    for name, excl in tqdm(targets, desc="leave one rater out" + tag, unit="rater", disable=disable):
        cols = [f"{n}_code" for n in (members if name.startswith("panel (") else [name])]
        mask = np.zeros(len(sweep.crosswalk), dtype=bool)
        for c in cols:
            mask |= sweep.crosswalk[c].astype(str).to_numpy() != ""
        bucket, code = sweep.redecide(mask, policy.with_(exclude_raters=policy.exclude_raters | excl))
        role = (
            "panel member"
            if slot_of(name) == "panel" and name in members
            else ("panel" if excl == {"panel"} else "rater")
        )
        rater_rows.append(
            {"rater": name, "role": role, "labels_answered": int(mask.sum()), **sweep.compare(bucket, code)}
        )
    raters = pd.DataFrame(rater_rows, columns=_SWEEP_COLUMNS("rater", "role", "labels_answered"))
    if not members:
        notes.append(
            "no panel members (panel_<id> columns) in the crosswalk: leave-one-rater-out covers the other raters"
        )

    # 4. threshold grid: every weak rater of the registry, each over its own values
    values = {"model": model_thresholds, "fuzzy": fuzzy_thresholds}
    slots = [s.name for s in REGISTRY if not s.strong and s.name in values]
    t0 = {s: policy.threshold(s) for s in slots}
    weak = {s: [n for n in names if slot_of(n) == s] for s in slots}
    grid_rows = []
    grid = list(itertools.product(*(values[s] for s in slots)))
    for cell in tqdm(grid, desc="threshold grid" + tag, unit="cell", disable=disable):
        mask = np.zeros(len(sweep.crosswalk), dtype=bool)
        for slot, t in zip(slots, cell):
            lo, hi = min(t, t0[slot]), max(t, t0[slot])
            for n in weak[slot]:
                col = f"{n}_score"
                score = (
                    pd.to_numeric(sweep.crosswalk[col], errors="coerce").to_numpy(float)
                    if col in sweep.crosswalk.columns
                    else np.full(len(mask), np.nan)
                )
                has = sweep.crosswalk[f"{n}_code"].astype(str).to_numpy() != ""
                mask |= has & (score >= lo) & (score < hi)
        bucket, code = sweep.redecide(mask, policy.with_(thresholds=dict(zip(slots, cell))))
        grid_rows.append(
            {
                **{f"{s}_threshold": t for s, t in zip(slots, cell)},
                "labels_redecided": int(mask.sum()),
                **sweep.compare(bucket, code),
            }
        )
    thresholds = pd.DataFrame(grid_rows, columns=_SWEEP_COLUMNS(*(f"{s}_threshold" for s in slots), "labels_redecided"))

    # 5. mapping comparison
    map_rows = [
        _mapping_row(
            "decided" + ("_imputed" if imputed else ""),
            "decided by the policy",
            sweep.table,
            sweep,
            sweep.n_eff,
            sweep.respondents_of(sweep.bucket),
        )
    ]
    for n in names:
        codes_n = sweep.crosswalk[f"{n}_code"].astype(str).to_numpy()
        bucket = _bucket_index([c[:1] for c in codes_n])
        map_rows.append(
            _mapping_row(
                n + ("_imputed" if imputed else ""),
                "rater's own codes",
                sweep.tabulate(bucket),
                sweep,
                sweep.effective(bucket),
                sweep.respondents_of(bucket),
            )
        )
    for name, table in (bucket_tables or {}).items():
        map_rows.append(_mapping_row(name, "given bucket table", np.asarray(table, dtype=float), sweep))
    mappings = pd.DataFrame(map_rows)

    settings = {
        "reference": reference.name,
        "reference_sha256": reference.sha256,
        "q": q,
        "tau": tau,
        "noise_levels": [float(p) for p in noise_levels],
        "replicates": replicates,
        "seed": seed,
        "model_thresholds": [float(x) for x in model_thresholds],
        "fuzzy_thresholds": [float(x) for x in fuzzy_thresholds],
        "policy": policy.as_dict(),
        "frame": list(KSCO_MAJORS),
        "verdict_rule": "three-way (attenuated / not_attenuated / inconclusive); a sweep's interval is the "
        "baseline's (rho_ci_total, else rho_ci) shifted by the sweep's Δρ; a given bucket table has no interval "
        "(ρ < τ, inconclusive below n = 100)",
        "noise_rule": "STRESS TEST, not the coding error: per bucket × sex cell, Binomial(n, p) persons moved, "
        "each to one of the 8 other majors uniformly",
        "n_bootstrap": n_bootstrap,
        "n_draws": n_draws,
        "label_sex_imputed": imputed,
        "label_sex_note": label_sex.note,
    }
    return SensitivityResult(
        settings=settings,
        baseline=baseline,
        noise=noise,
        noise_rho=noise_rho,
        rules=rules,
        raters=raters,
        thresholds=thresholds,
        mappings=mappings,
        imputed=imputed,
        notes=tuple(notes),
        axis=axis,
        verdict_changes=tuple(_verdict_changes(noise, rules, raters, thresholds, slots)),
    )


def _verdict_changes(noise, rules, raters, thresholds, slots) -> list[dict[str, object]]:
    """Every sweep whose three-way verdict differs from the baseline's (noise: most replicates differ)."""
    out: list[dict[str, object]] = []
    for frame, sweep, what in (
        (rules, "leave one rule out", lambda r: f"rule {r['rule_id']}"),
        (raters, "leave one rater out", lambda r: f"rater {r['rater']}"),
        (
            thresholds,
            "threshold grid",
            lambda r: ", ".join(f"{s} threshold {r[f'{s}_threshold']:g}" for s in slots),
        ),
    ):
        for r in frame_records(frame[frame["verdict_changed"]]) if len(frame) else []:
            out.append({"sweep": sweep, "what": what(r), "verdict": r["verdict"], "rho": r["rho"]})
    for r in frame_records(noise):
        if r["verdict_unchanged"] < 0.5:
            out.append(
                {
                    "sweep": "label noise (stress test)",
                    "what": f"{r['mapping']} p = {r['p']:g} ({100 * (1 - r['verdict_unchanged']):.0f}% of replicates)",
                    "verdict": r["verdict_most"],
                    "rho": r["rho_median"],
                }
            )
    return out


def measure_crosswalk_axis(
    crosswalk: Crosswalk | pd.DataFrame,
    label_sex: LabelSexTable,
    reference: ReferenceTable,
    *,
    q: float = 0.8,
    tau: float = 0.7,
    seed: int = 20260101,
    n_bootstrap: int = DEFAULT_BOOTSTRAP,
    n_draws: int = DEFAULT_DRAWS,
    coding: bool = True,
    progress: bool = False,
) -> AxisResult:
    """The axis of the persons in ``label_sex`` coded by the decided ``crosswalk``, over the one audit frame.

    The same frame as ``coder axis`` on the coded rows with their crosswalk
    (:func:`coder.axis.coding.label_frame`): respondents, weights and squared weights per label
    × sex, each label's decided bucket and coding distribution; then
    :func:`coder.axis.metrics.measure_axis` (ρ with sampling, coding and total intervals).
    ``coder sensitivity``, ``coder report`` and ``coder demo --input`` all measure the axis here.
    """
    decided = crosswalk.frame if isinstance(crosswalk, Crosswalk) else crosswalk
    frame = label_frame(
        decided,
        label_sex.label_keys,
        label_sex.counts,
        respondents=label_sex.respondents,
        weights_sq=label_sex.weights_sq,
        weighted=label_sex.weighted,
        coding=coding,
        notes=[f"label × sex counts are IMPUTED: {label_sex.note}"] if label_sex.imputed else [],
    )
    return measure_axis(
        table_of_frame(frame),
        reference,
        q=q,
        tau=tau,
        seed=seed,
        n_bootstrap=n_bootstrap,
        n_draws=n_draws,
        progress=progress,
    )


def _SWEEP_COLUMNS(*head: str) -> list[str]:
    return [
        *head,
        "labels_changed",
        "persons_code_changed",
        "persons_bucket_changed",
        "persons_in_frame",
        "rho",
        "delta_rho",
        "verdict",
        "verdict_changed",
        "parity_flags",
        "parity_flags_changed",
        "out_of_band_changed",
    ]


def _mapping_row(
    name: str,
    kind: str,
    table: np.ndarray,
    sweep: _Sweeper,
    n_eff: float | None = None,
    respondents: np.ndarray | None = None,
) -> dict[str, object]:
    m = axis_point(table, sweep.reference, q=sweep.q, tau=sweep.tau, n=n_eff, respondents=respondents)
    base = sweep.point
    verdict = (
        sweep.verdict_of(float(m["rho"]), n_eff)
        if n_eff is not None
        else str(verdicts(m["rho"], float(m["rho"]), None, sweep.tau, float(table.sum())))
    )
    defined = (m["gap_sign"] != 0) & (base["gap_sign"] != 0)
    return {
        "mapping": name,
        "kind": kind,
        "persons_in_frame": float(table.sum()),
        "rho": float(m["rho"]),
        "verdict": verdict,
        "parity_flags": int(m["parity"].sum()),
        "parity_flagged": _flag_list(m["parity"]),
        "out_of_band": _flag_list(m["out_of_band"]),
        "parity_flags_differ_from_decided": _flag_list(m["parity"] != base["parity"]),
        "gap_sign_agreement": float(np.mean(m["gap_sign"][defined] == base["gap_sign"][defined]))
        if defined.any()
        else math.nan,
        **{f"female_share_{b}": float(x) for b, x in zip(KSCO_MAJORS, m["female_share"], strict=True)},
    }


# --- the file twin --------------------------------------------------------------------------------

_SENS_FILES = ("noise.csv", "rules.csv", "raters.csv", "thresholds.csv", "mappings.csv", "sensitivity.json")


def read_label_sex(
    rows_path: str | Path,
    *,
    sex_col: str,
    text_col: str | None = None,
    weight_col: str | None = None,
    count_col: str | None = None,
    sex_map: Mapping[str, str] | None = None,
) -> tuple[LabelSexTable, dict[str, object]]:
    """Read person rows (or an aggregated label × sex table) and tabulate persons per label × sex.

    ``text_col`` defaults to the one recorded in the rows' ``.meta.json`` sidecar (``coder code``
    writes it). Returns the table and the input's provenance.
    """
    import json

    if text_col is None:
        side = meta_path(rows_path)
        if side.is_file():
            try:
                text_col = json.loads(side.read_text(encoding="utf-8")).get("params", {}).get("text_col")
            except (OSError, json.JSONDecodeError):
                text_col = None
        if not text_col:
            raise InputError(
                f"{rows_path}: which column holds the occupation text? No sidecar {side.name} records it — "
                "pass --text-col."
            )
    frame = read_table(rows_path)
    for option, col in (
        ("--text-col", text_col),
        ("--sex-col", sex_col),
        ("--weight-col", weight_col),
        ("--count-col", count_col),
    ):
        if col and col not in frame.columns:
            raise InputError(
                f"{rows_path}: no column {col!r} for {option} — the columns are: "
                f"{', '.join(map(str, frame.columns))}. Pass {option} with one of them.",
                path=rows_path,
            )
    table = label_sex_table(
        frame, text_col=text_col, sex_col=sex_col, weight_col=weight_col, count_col=count_col, sex_map=sex_map
    )
    info = {"path": str(rows_path), "rows": len(frame), "text_col": text_col, "sex_col": sex_col}
    if str(rows_path) != "-":
        info["sha256"] = file_sha256(rows_path)
    return table, info


def apply_rule_set(
    crosswalk: Crosswalk | pd.DataFrame,
    rules: str | Path,
    *,
    codes: CodeList | None = None,
    policy: DecisionPolicy | None = None,
) -> tuple[Crosswalk, ConsistencyRules]:
    """The crosswalk with the consistency rules ``rules`` applied (:func:`coder.consistency.check_crosswalk`).

    ``rules``: a bundled rule set name (:data:`coder.consistency.RULE_SETS`) or a TOML path.
    Returns ``(checked crosswalk, loaded rules)``; the rules' ids then sit in ``consistency_rule_id``
    and leave-one-rule-out covers them.  Decided with ``policy``, default the crosswalk's own.
    """
    loaded = load_consistency_rules(rules, codes=codes)
    return check_crosswalk(crosswalk, loaded, codes=codes, policy=policy).crosswalk, loaded


def sensitivity_file(
    crosswalk_path: str | Path,
    rows_path: str | Path,
    out_dir: str | Path,
    *,
    sex_col: str,
    text_col: str | None = None,
    weight_col: str | None = None,
    count_col: str | None = None,
    sex_map: Mapping[str, str] | None = None,
    reference: str = "kosis-res:2025H2",
    rules: str | Path | None = None,
    progress: bool = False,
    command: str = "coder sensitivity",
    **options,
) -> SensitivityResult:
    """Read a crosswalk and rows, run :func:`run_sensitivity`, write the tables into ``out_dir``.

    Writes ``noise.csv``, ``rules.csv``, ``raters.csv``, ``thresholds.csv``, ``mappings.csv`` and
    ``sensitivity.json`` (every number, with the provenance), each with a ``.meta.json``
    sidecar, only after every sweep succeeded; each file atomically. ``rules``: a consistency rule
    set (bundled name or TOML path) applied to the crosswalk first, so leave-one-rule-out covers
    its rules too.  The sweeps decide from the crosswalk's own policy unless ``policy=`` is given.
    """
    out = Path(out_dir)
    targets = {name: out / name for name in _SENS_FILES}
    ref = load_reference(reference)

    def stage(crosswalk: Crosswalk) -> StageResult:
        label_sex, rows_info = read_label_sex(
            rows_path, sex_col=sex_col, text_col=text_col, weight_col=weight_col, count_col=count_col, sex_map=sex_map
        )
        files = {f"references/{ref.name}": ref.sha256}
        if rules is not None:
            crosswalk, _ = apply_rule_set(crosswalk, rules, policy=options.get("policy"))
        result = run_sensitivity(crosswalk, label_sex, ref, progress=progress, **options)
        tables = {name: getattr(result, name.removesuffix(".csv")) for name in _SENS_FILES if name.endswith(".csv")}
        outputs = [Output(targets[name], frame, kind="table") for name, frame in tables.items()]
        outputs.append(
            Output(targets["sensitivity.json"], lambda meta: {**result.to_dict(), "provenance": meta}, kind="json")
        )
        return StageResult(
            result,
            outputs,
            crosswalk=crosswalk,
            params={**result.settings, "consistency_rules": str(rules) if rules is not None else None},
            files=files,
            inputs={"rows": rows_info},
            summary=json_ready(result.summary()),  # type: ignore[arg-type]
        )

    return run_stage(  # type: ignore[return-value]
        stage,
        crosswalk_path,
        {f"-o {k}": v for k, v in targets.items()},
        command=command,
        inputs={"the rows": rows_path},
    )
