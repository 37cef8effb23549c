"""Agreement between the raters of a crosswalk, per KSCO level.

Statistics (all on nominal codes; higher is better: 1 = perfect agreement, 0 = the agreement
expected by chance, below 0 = worse than chance; percent agreement is a share in [0, 1]):

- :func:`cohen_kappa` — Cohen's (1960) κ of two raters, optional item weights.
- :func:`fleiss_kappa` — Fleiss' (1971) κ of a subjects × categories count table with the same
  number of ratings per subject, optional subject weights.
- :func:`krippendorff_alpha` — Krippendorff's α of raters × units reliability data with missing
  values, computed by the ``krippendorff`` package with ``level_of_measurement`` always passed
  explicitly (``"nominal"`` for codes; the package's own default, interval, is wrong for codes).

:func:`measure_agreement` compares every rater stored in a crosswalk (each ``<rater>_code``
column: title, rule, index, model, fuzzy, every ``panel_<id>``, consistency, review and any
mapping a user adds as a column) at KSCO levels 1–5. At level L a code is truncated to its
first L characters (KSCO-7 and military codes are prefix codes); a code shallower than L is
missing at that level, so a rater that only answers majors is compared at level 1 only.
Pairwise: percent agreement and Cohen's κ over the labels both raters answered. Over all
raters: Fleiss' κ over the raters with (near-)complete data and the labels all of them
answered, with unanimity and majority counts (the kinds of figure the published NPK audit
gives for its four mappings), and Krippendorff's α with missing values allowed. Every figure
is given weighted by labels (each label counts once) and by persons (each label counts its
``weight``), with percentile bootstrap 95 % intervals from resampling labels.
:func:`agree_file` is the file twin (``coder agree``).

References: J. Cohen (1960), "A coefficient of agreement for nominal scales", Educ. Psychol.
Meas. 20:37–46. J. L. Fleiss (1971), "Measuring nominal scale agreement among many raters",
Psychol. Bull. 76:378–382. K. Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability".
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .crosswalk.decide import rater_names
from .crosswalk.model import Crosswalk
from .crosswalk.stage import Output, StageResult, run_stage
from .errors import InputError
from .io import frame_records

__all__ = [
    "LEVELS",
    "AgreementResult",
    "agree_file",
    "cohen_kappa",
    "fleiss_kappa",
    "krippendorff_alpha",
    "measure_agreement",
]

LEVELS = (1, 2, 3, 4, 5)
_ALPHA_LEVELS = ("nominal", "ordinal", "interval", "ratio")


# --- the three statistics ------------------------------------------------------------------------


def _missing(v: object) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and v == "")


def _item_weights(weights: object, n: int, what: str) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=float)
    if w.shape != (n,):
        raise InputError(f"{what}: {w.size} weights for {n} items — give one weight per item.")
    if (~np.isfinite(w) | (w < 0)).any():
        raise InputError(f"{what}: weights must be finite numbers ≥ 0 — fix the negative or missing ones.")
    return w


def _bincount_rows(idx: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """``out[b, c] = Σ_i weights[b, i] · [idx[i] == c]`` for a stack of weight rows (B, n)."""
    b = weights.shape[0]
    flat = (np.arange(b)[:, None] * k + idx[None, :]).ravel()
    return np.bincount(flat, weights=weights.ravel(), minlength=b * k).reshape(b, k)


def _kappa_rows(ia: np.ndarray, ib: np.ndarray, w: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Percent agreement and Cohen's κ for each weight row of ``w`` (B, n) over codes ``ia``, ``ib``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        total = w.sum(axis=1)
        po = (w * (ia == ib)).sum(axis=1) / total
        pa = _bincount_rows(ia, w, k) / total[:, None]
        pb = _bincount_rows(ib, w, k) / total[:, None]
        pe = (pa * pb).sum(axis=1)
        kappa = np.where(pe < 1 - 1e-12, (po - pe) / (1 - pe), np.nan)
    return po, kappa


def cohen_kappa(
    a: Sequence[object], b: Sequence[object], *, labels: Sequence[object] | None = None, weights=None
) -> float:
    """Cohen's κ between two raters' labels ``a`` and ``b`` (nominal). Higher is better; 1 = perfect.

    κ = (p_o − p_e) / (1 − p_e), p_o the share of items on which they agree and p_e the
    agreement expected from their marginal shares. Items where either label is missing
    (``None``, NaN, ``""``) are left out. ``labels`` restricts the comparison to items whose
    two labels are both in the list. ``weights`` are per-item weights (for example persons
    per label) — not scikit-learn's disagreement scheme: codes are nominal, every
    disagreement counts the same. NaN when p_e = 1 (both raters use a single, identical
    category: κ is undefined) or no item is left.
    """
    a, b = list(a), list(b)
    if len(a) != len(b):
        raise InputError(f"cohen_kappa: a has {len(a)} items and b has {len(b)} — give both raters' labels per item.")
    w = _item_weights(weights, len(a), "cohen_kappa")
    keep = np.array([not (_missing(x) or _missing(y)) for x, y in zip(a, b, strict=True)], dtype=bool)
    if labels is not None:
        allowed = set(labels)
        keep &= np.array([x in allowed and y in allowed for x, y in zip(a, b, strict=True)], dtype=bool)
    keep &= w > 0
    if not keep.any():
        return math.nan
    xa = [x for x, k in zip(a, keep, strict=True) if k]
    xb = [y for y, k in zip(b, keep, strict=True) if k]
    ids, uniques = pd.factorize(pd.Series(xa + xb, dtype=object))
    n = len(xa)
    _, kappa = _kappa_rows(ids[:n], ids[n:], w[keep][None, :], len(uniques))
    return float(kappa[0])


def _fleiss_rows(counts: np.ndarray, w: np.ndarray) -> np.ndarray:
    n = counts[0].sum()
    p_i = ((counts * counts).sum(axis=1) - n) / (n * (n - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        total = w.sum(axis=1)
        p_bar = (w @ p_i) / total
        p_j = (w @ counts) / (n * total[:, None])
        p_e = (p_j * p_j).sum(axis=1)
        return np.where(p_e < 1 - 1e-12, (p_bar - p_e) / (1 - p_e), np.nan)


def fleiss_kappa(counts, *, weights=None) -> float:
    """Fleiss' κ of a subjects × categories table of rating counts. Higher is better; 1 = perfect.

    ``counts[i, j]`` = how many raters put subject ``i`` in category ``j``; every subject
    must have the same number of ratings (at least 2). ``weights`` weight the subjects
    (for example persons per label). NaN when every rating falls in one category.
    """
    t = np.asarray(counts, dtype=float)
    if t.ndim != 2 or t.shape[0] == 0 or t.shape[1] == 0:
        raise InputError(f"fleiss_kappa: counts must be a non-empty subjects × categories table, got shape {t.shape}.")
    if (~np.isfinite(t) | (t < 0) | (t != np.round(t))).any():
        raise InputError("fleiss_kappa: counts must be whole numbers ≥ 0 (raters per subject and category).")
    per = t.sum(axis=1)
    if (per != per[0]).any() or per[0] < 2:
        bad = np.flatnonzero(per != per[0])
        where = f" (subject {bad[0] + 1} has {per[bad[0]]:g}, subject 1 has {per[0]:g})" if bad.size else ""
        raise InputError(
            "fleiss_kappa: every subject needs the same number of ratings, at least 2"
            + where
            + " — keep the subjects all raters rated, or use krippendorff_alpha, which allows missing ratings."
        )
    w = _item_weights(weights, t.shape[0], "fleiss_kappa")
    return float(_fleiss_rows(t, w[None, :])[0])


def krippendorff_alpha(reliability_data, *, level: str = "nominal") -> float:
    """Krippendorff's α of raters × units reliability data; missing values allowed. Higher is better.

    ``reliability_data`` has one row per rater and one column per unit; ``None``, NaN and
    ``""`` are missing. ``level`` is the level of measurement (``"nominal"`` for codes,
    ``"ordinal"``, ``"interval"``, ``"ratio"`` for numbers) and is passed explicitly to the
    ``krippendorff`` package. Nominal values may be any labels (codes as strings); the other
    levels need numbers. NaN when fewer than two distinct values occur (α is undefined).
    """
    import krippendorff

    if level not in _ALPHA_LEVELS:
        raise InputError(f"krippendorff_alpha: level {level!r} is not one of {', '.join(_ALPHA_LEVELS)}.")
    rows = [list(r) for r in reliability_data]
    if not rows or len({len(r) for r in rows}) != 1:
        raise InputError("krippendorff_alpha: reliability_data must be raters × units with the same units per rater.")
    flat = [v for r in rows for v in r]
    present = [not _missing(v) for v in flat]
    if level == "nominal":
        ids, uniques = pd.factorize(pd.Series([v if p else None for v, p in zip(flat, present, strict=True)]))
        values = np.where(ids < 0, np.nan, ids.astype(float))
        domain = np.arange(len(uniques), dtype=float)
    else:
        try:
            values = np.array([float(v) if p else np.nan for v, p in zip(flat, present, strict=True)])
        except (TypeError, ValueError):
            raise InputError(
                f"krippendorff_alpha: level {level!r} needs numbers; use level='nominal' for codes."
            ) from None
        domain = np.unique(values[np.isfinite(values)])
    if domain.size < 2:
        return math.nan
    data = values.reshape(len(rows), -1)
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement=level, value_domain=domain))


def _alpha_nominal_rows(m: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Nominal α for each unit-weight row of ``w`` (B, units); ``m`` is units × raters of code ids (-1 missing).

    α = 1 − (n − 1) · Σ_u w_u (m_u² − Σ_c n_uc²)/(m_u − 1) / (n² − Σ_c n_c²), with n_c and n the
    weighted value counts over pairable units (m_u ≥ 2). Unit weights of 1 give Krippendorff's α.
    """
    present = m >= 0
    m_u = present.sum(axis=1).astype(float)
    same = np.zeros(len(m))
    for r, s in itertools.product(range(m.shape[1]), repeat=2):
        same += present[:, r] & (m[:, r] == m[:, s])
    pairable = m_u >= 2
    d_u = np.where(pairable, (m_u * m_u - same) / np.where(pairable, m_u - 1, 1), 0.0)
    k = int(m.max()) + 1 if m.size and m.max() >= 0 else 1
    n_c = np.zeros((w.shape[0], k))
    for r in range(m.shape[1]):
        ok = present[:, r] & pairable
        n_c += _bincount_rows(m[ok, r], w[:, ok], k)
    n = n_c.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = n * n - (n_c * n_c).sum(axis=1)
        return np.where(expected > 0, 1 - (n - 1) * (w @ d_u) / expected, np.nan)


# --- a crosswalk's raters ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class AgreementResult:
    """Agreement between a crosswalk's raters per KSCO level (see :func:`measure_agreement`).

    ``pairs``: one row per level and rater pair (``rater_a`` before ``rater_b`` in rater
    order). ``levels``: one row per level with Fleiss' κ, unanimity/majority counts and
    Krippendorff's α. ``coverage``: labels and persons each rater answered per level.
    Interval columns end in ``_lo``/``_hi``.
    """

    raters: tuple[str, ...]
    pairs: pd.DataFrame
    levels: pd.DataFrame
    coverage: pd.DataFrame
    settings: dict[str, object]
    notes: tuple[str, ...] = field(default=())

    def matrix(self, level: int, *, stat: str = "kappa", weighting: str = "labels") -> pd.DataFrame:
        """Square rater × rater matrix of ``stat`` (``kappa`` or ``agreement``) at ``level``.

        ``weighting`` is ``labels`` or ``persons``. The diagonal is 1 for raters that answer
        at that level; pairs with no shared label are NaN.
        """
        if stat not in ("kappa", "agreement") or weighting not in ("labels", "persons"):
            raise InputError("matrix: stat must be kappa or agreement and weighting labels or persons.")
        col = f"{stat}_{weighting}"
        out = pd.DataFrame(np.nan, index=list(self.raters), columns=list(self.raters))
        rows = self.pairs[self.pairs["level"] == level]
        for r in rows.itertuples():
            out.loc[r.rater_a, r.rater_b] = out.loc[r.rater_b, r.rater_a] = getattr(r, col)
        answered = self.coverage[(self.coverage["level"] == level) & (self.coverage["labels"] > 0)]["rater"]
        for name in answered:
            out.loc[name, name] = 1.0
        return out

    def to_dict(self) -> dict:
        """JSON-ready dict: every table as records, NaN as ``None``, plus the matrices."""
        matrices = {
            f"{stat}_{weighting}": {
                str(level): frame_records(self.matrix(level, stat=stat, weighting=weighting).reset_index(names="rater"))
                for level in self.settings["levels"]
            }
            for stat in ("kappa", "agreement")
            for weighting in ("labels", "persons")
        }
        return {
            "raters": list(self.raters),
            "settings": dict(self.settings),
            "pairs": frame_records(self.pairs),
            "levels": frame_records(self.levels),
            "coverage": frame_records(self.coverage),
            "matrices": matrices,
            "notes": list(self.notes),
        }


def _ci(x: np.ndarray, alpha: float) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return math.nan, math.nan
    lo, hi = np.quantile(x, (alpha / 2, 1 - alpha / 2))
    return float(lo), float(hi)


def _level_codes(codes: np.ndarray, level: int) -> np.ndarray:
    text = codes.astype(str)
    lengths = np.char.str_len(text)
    cut = np.array([t[:level] for t in text], dtype=object)
    return np.where(lengths >= level, cut, "")


def measure_agreement(
    crosswalk: Crosswalk | pd.DataFrame,
    *,
    raters: Sequence[str] | None = None,
    levels: Sequence[int] = LEVELS,
    weight_col: str = "weight",
    n_bootstrap: int = 500,
    alpha: float = 0.05,
    seed: int = 20260101,
    fleiss_min_coverage: float = 0.5,
    progress: bool = False,
) -> AgreementResult:
    """Agreement between the crosswalk's raters at each level (see the module docstring).

    ``raters``: names of ``<name>_code`` columns (default: every rater the crosswalk stores,
    :func:`coder.crosswalk.decide.rater_names`); raters with no answer at all are listed in
    the notes and left out. ``weight_col``: persons per label (``n_rows`` when the column is
    absent). Fleiss' κ uses the raters that answered at least ``fleiss_min_coverage`` of the
    labels any rater answered at that level, over the labels all of them answered.
    The crosswalk's codes are taken as decided (nothing is decided again).
    """
    if isinstance(crosswalk, Crosswalk):
        crosswalk = crosswalk.frame
    names = list(raters) if raters is not None else rater_names(crosswalk)
    missing = [n for n in names if f"{n}_code" not in crosswalk.columns]
    if missing:
        raise InputError(
            f"rater(s) {', '.join(missing)} have no <rater>_code column in the crosswalk (raters: "
            f"{', '.join(rater_names(crosswalk)) or 'none'}) — pick raters from that list."
        )
    bad_levels = [lv for lv in levels if lv not in LEVELS]
    if bad_levels or not levels:
        raise InputError(f"levels {list(levels)}: KSCO levels are 1–5 — e.g. levels=(1, 2, 3, 4, 5).")
    if n_bootstrap < 1:
        raise InputError("n_bootstrap must be at least 1.")
    weight = (
        crosswalk[weight_col].to_numpy(float)
        if weight_col in crosswalk.columns
        else crosswalk["n_rows"].to_numpy(float)
        if "n_rows" in crosswalk.columns
        else np.ones(len(crosswalk))
    )
    codes = {
        n: crosswalk[f"{n}_code"].astype(object).where(crosswalk[f"{n}_code"].notna(), "").astype(str).to_numpy()
        for n in names
    }
    notes = []
    silent = [n for n in names if not (codes[n] != "").any()]
    if silent:
        notes.append(f"rater(s) {', '.join(silent)} gave no code for any label and are left out")
    names = [n for n in names if n not in silent]
    rng = np.random.default_rng(seed)
    n_items = len(crosswalk)
    draws = (
        rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=n_bootstrap).astype(float)
        if n_items
        else np.zeros((n_bootstrap, 0))
    )
    boot = {"labels": draws, "persons": draws * weight[None, :]}
    point = {"labels": np.ones((1, n_items)), "persons": weight[None, :]}
    pair_rows, level_rows, coverage_rows = [], [], []
    from tqdm.auto import tqdm

    for level in tqdm(list(levels), desc="agreement", unit="level", disable=None if progress else True):
        cut = {n: _level_codes(codes[n], level) for n in names}
        answered = {n: cut[n] != "" for n in names}
        for n in names:
            coverage_rows.append(
                {
                    "level": level,
                    "rater": n,
                    "labels": int(answered[n].sum()),
                    "persons": float(weight[answered[n]].sum()),
                    "share_labels": float(answered[n].mean()) if n_items else math.nan,
                    "share_persons": float(weight[answered[n]].sum() / weight.sum()) if weight.sum() else math.nan,
                }
            )
        for a, b in itertools.combinations(names, 2):
            both = answered[a] & answered[b]
            row = {
                "level": level,
                "rater_a": a,
                "rater_b": b,
                "labels": int(both.sum()),
                "persons": float(weight[both].sum()),
            }
            ids, uniques = pd.factorize(np.concatenate([cut[a][both], cut[b][both]]))
            ia, ib = ids[: both.sum()], ids[both.sum() :]
            for wname in ("labels", "persons"):
                if both.any():
                    po, ka = _kappa_rows(ia, ib, point[wname][:, both], len(uniques))
                    bpo, bka = _kappa_rows(ia, ib, boot[wname][:, both], len(uniques))
                else:
                    po = ka = np.array([math.nan])
                    bpo = bka = np.array([math.nan])
                row[f"agreement_{wname}"] = float(po[0])
                row[f"agreement_{wname}_lo"], row[f"agreement_{wname}_hi"] = _ci(bpo, alpha)
                row[f"kappa_{wname}"] = float(ka[0])
                row[f"kappa_{wname}_lo"], row[f"kappa_{wname}_hi"] = _ci(bka, alpha)
            pair_rows.append(row)
        level_rows.append(_overall(level, names, cut, answered, weight, point, boot, alpha, fleiss_min_coverage))
    pairs = pd.DataFrame(pair_rows, columns=_PAIR_COLUMNS)
    settings = {
        "levels": [int(x) for x in levels],
        "weight_col": weight_col
        if weight_col in crosswalk.columns
        else ("n_rows" if "n_rows" in crosswalk.columns else None),
        "n_bootstrap": n_bootstrap,
        "alpha": alpha,
        "seed": seed,
        "fleiss_min_coverage": fleiss_min_coverage,
        "truncation": "codes cut to the first L characters; codes shallower than L are missing at level L",
        "bootstrap": "percentile intervals; labels resampled with replacement (multinomial), persons weighted by label",
        "labels": n_items,
        "persons": float(weight.sum()),
    }
    return AgreementResult(
        raters=tuple(names),
        pairs=pairs,
        levels=pd.DataFrame(level_rows),
        coverage=pd.DataFrame(
            coverage_rows, columns=["level", "rater", "labels", "persons", "share_labels", "share_persons"]
        ),
        settings=settings,
        notes=tuple(notes),
    )


_PAIR_COLUMNS = [
    "level",
    "rater_a",
    "rater_b",
    "labels",
    "persons",
    *[
        f"{stat}_{w}{suffix}"
        for w in ("labels", "persons")
        for stat in ("agreement", "kappa")
        for suffix in ("", "_lo", "_hi")
    ],
]


def _overall(level, names, cut, answered, weight, point, boot, alpha, min_coverage) -> dict:
    any_answer = np.zeros(len(weight), dtype=bool)
    for n in names:
        any_answer |= answered[n]
    base = max(1, int(any_answer.sum()))
    chosen = [n for n in names if answered[n].sum() >= min_coverage * base]
    row: dict[str, object] = {"level": level, "fleiss_raters": " ".join(chosen)}
    complete = np.ones(len(weight), dtype=bool)
    for n in chosen:
        complete &= answered[n]
    if len(chosen) < 2 or not complete.any():
        complete = np.zeros(len(weight), dtype=bool)
    row["fleiss_labels"] = int(complete.sum())
    row["fleiss_persons"] = float(weight[complete].sum())
    if complete.any():
        stacked = np.stack([cut[n][complete] for n in chosen], axis=1)
        ids, uniques = pd.factorize(stacked.ravel())
        ids = ids.reshape(stacked.shape)
        counts = np.zeros((len(ids), len(uniques)))
        for r in range(ids.shape[1]):
            counts[np.arange(len(ids)), ids[:, r]] += 1
        top = counts.max(axis=1)
        unanimous = top == len(chosen)
        majority = top * 2 > len(chosen)
    for wname in ("labels", "persons"):
        if complete.any():
            k = _fleiss_rows(counts, point[wname][:, complete])[0]
            bk = _fleiss_rows(counts, boot[wname][:, complete])
            w = point[wname][0, complete]
            row[f"fleiss_kappa_{wname}"] = float(k)
            row[f"fleiss_kappa_{wname}_lo"], row[f"fleiss_kappa_{wname}_hi"] = _ci(bk, alpha)
            row[f"unanimous_{wname}"] = float(w[unanimous].sum())
            row[f"majority_{wname}"] = float(w[majority].sum())
            row[f"no_majority_{wname}"] = float(w[~majority].sum())
        else:
            for key in ("fleiss_kappa", "unanimous", "majority", "no_majority"):
                row[f"{key}_{wname}"] = math.nan
            row[f"fleiss_kappa_{wname}_lo"] = row[f"fleiss_kappa_{wname}_hi"] = math.nan
    # Krippendorff's α over every rater, missing allowed
    stacked = np.stack([cut[n] for n in names], axis=1) if names else np.zeros((len(weight), 0), dtype=object)
    ids, uniques = pd.factorize(pd.Series(stacked.ravel()).replace("", None))
    m = ids.reshape(stacked.shape)
    pairable = (m >= 0).sum(axis=1) >= 2 if names else np.zeros(len(weight), dtype=bool)
    row["alpha_raters"] = " ".join(names)
    row["alpha_labels_pairable"] = int(pairable.sum())
    row["alpha_persons_pairable"] = float(weight[pairable].sum())
    for wname in ("labels", "persons"):
        if pairable.any() and len(uniques) >= 2:
            a = _alpha_nominal_rows(m[pairable], point[wname][:, pairable])[0]
            ba = _alpha_nominal_rows(m[pairable], boot[wname][:, pairable])
        else:
            a, ba = math.nan, np.array([math.nan])
        row[f"alpha_{wname}"] = float(a)
        row[f"alpha_{wname}_lo"], row[f"alpha_{wname}_hi"] = _ci(ba, alpha)
    return row


def agree_file(
    crosswalk_path: str | Path,
    out_dir: str | Path,
    *,
    raters: Sequence[str] | None = None,
    levels: Sequence[int] = LEVELS,
    n_bootstrap: int = 500,
    seed: int = 20260101,
    progress: bool = False,
    command: str = "coder agree",
) -> AgreementResult:
    """Read a stored crosswalk, measure agreement, write the tables into ``out_dir``.

    Writes ``agreement_pairs.csv``, ``agreement_levels.csv``, ``agreement_coverage.csv``,
    ``agreement_matrices.csv`` (square κ and percent-agreement matrices per level, by labels
    and by persons, stacked) and ``agreement.json`` (every number), each with a
    ``.meta.json`` sidecar that records the policy the crosswalk was decided with. Nothing is
    written unless the measurement succeeded; each file is written atomically.
    """
    out = Path(out_dir)
    targets = {name: out / name for name in _AGREE_FILES}

    def stage(crosswalk: Crosswalk) -> StageResult:
        result = measure_agreement(
            crosswalk, raters=raters, levels=levels, n_bootstrap=n_bootstrap, seed=seed, progress=progress
        )
        tables = {
            "agreement_pairs.csv": result.pairs,
            "agreement_levels.csv": result.levels,
            "agreement_coverage.csv": result.coverage,
            "agreement_matrices.csv": _matrices_frame(result),
        }
        outputs = [Output(targets[name], frame, kind="table") for name, frame in tables.items()]
        outputs.append(Output(targets["agreement.json"], lambda meta: {**result.to_dict(), "provenance": meta}, "json"))
        return StageResult(
            result,
            outputs,
            params={k: v for k, v in result.settings.items() if k not in ("labels", "persons")},
            summary={"raters": list(result.raters), "notes": list(result.notes)},
        )

    return run_stage(  # type: ignore[return-value]
        stage, crosswalk_path, {f"-o {k}": v for k, v in targets.items()}, command=command
    )


_AGREE_FILES = (
    "agreement_pairs.csv",
    "agreement_levels.csv",
    "agreement_coverage.csv",
    "agreement_matrices.csv",
    "agreement.json",
)


def _matrices_frame(result: AgreementResult) -> pd.DataFrame:
    parts = []
    for level in result.settings["levels"]:
        for stat in ("kappa", "agreement"):
            for weighting in ("labels", "persons"):
                m = result.matrix(level, stat=stat, weighting=weighting).reset_index(names="rater")
                m.insert(0, "weighting", weighting)
                m.insert(0, "stat", stat)
                m.insert(0, "level", level)
                parts.append(m)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
