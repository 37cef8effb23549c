"""The report's first section: what it found, in sentences (verdict, intervals, frame, coverage, residual
error, what changes the verdict), and the words the tables use for their columns and buckets.

Every sentence is built from numbers that are also in the report's JSON; nothing here computes a
statistic.  The axis numbers are read from the ``axis`` object every axis result carries (keys in
the module docstring of :mod:`coder.axis`; an older result without ``rho_ci_coding`` /
``rho_ci_total`` / ``n_effective`` gets "not computed" for them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from ..axis.metrics import BUCKET_TITLES

__all__ = [
    "BUCKET_NAMES",
    "COLUMN_NAMES",
    "axis_numbers",
    "coverage_sentence",
    "findings",
    "residual_sentence",
    "verdict_changes",
]

BUCKET_NAMES = {
    **BUCKET_TITLES,
    "0": "not employed (무직·학생·주부·은퇴)",
    "A": "군인 (military)",
}
"""Bucket names for people: bucket 0 holds everyone not in employment — 무직, students, homemakers and
the retired — not only those who answered 무직."""

COLUMN_NAMES = {
    "persons_code_changed": "persons whose code changed",
    "persons_bucket_changed": "persons who changed bucket",
    "persons_in_frame": "persons in the frame",
    "persons_out_of_frame": "persons outside the frame",
    "labels_changed": "labels whose code changed",
    "labels_answered": "labels the rater answered",
    "labels_hit": "labels the rule hit",
    "delta_rho": "Δρ",
    "rho": "ρ",
    "rho_base": "ρ without noise",
    "rho_lo": "ρ 2.5%",
    "rho_hi": "ρ 97.5%",
    "rho_median": "ρ median",
    "rho_sampling_lo": "ρ sampling 2.5%",
    "rho_sampling_hi": "ρ sampling 97.5%",
    "rho_coding_lo": "ρ coding 2.5%",
    "rho_coding_hi": "ρ coding 97.5%",
    "rho_total_lo": "ρ total 2.5%",
    "rho_total_hi": "ρ total 97.5%",
    "effective n": "Kish effective n",
    "verdict_base": "verdict without noise",
    "verdict_unchanged": "share of replicates with the verdict unchanged",
    "verdict_most": "most frequent verdict under noise",
    "verdict_changed": "verdict changed",
    "parity_flags": "parity flags",
    "parity_flags_changed": "buckets whose parity flag changed",
    "out_of_band_changed": "buckets whose band flag changed",
    "rule_id": "rule",
    "model_threshold": "model threshold",
    "fuzzy_threshold": "fuzzy threshold",
    "n_labels": "labels",
    "n_persons": "persons",
    "p": "noise share p",
}

_VERDICT_WORDS = {
    "attenuated": "attenuated",
    "not_attenuated": "not attenuated",
    "inconclusive": "inconclusive",
}


def _num(v: object) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _ci(v: object) -> tuple[float, float] | None:
    if not isinstance(v, Sequence) or isinstance(v, str) or len(v) != 2:
        return None
    lo, hi = _num(v[0]), _num(v[1])
    return (lo, hi) if lo is not None and hi is not None else None


def axis_numbers(result: object) -> dict[str, object]:
    """The contract's axis numbers of one axis result (an object with ``to_dict()`` or a mapping).

    Reads the ``axis`` object when there is one, else the result's own keys; keys it lacks are
    None (``n_respondents`` falls back on ``n_persons``, ``persons_weighted`` on ``n_persons``).
    """
    d = result.to_dict() if hasattr(result, "to_dict") else dict(result)  # type: ignore[call-overload]
    ax = d.get("axis") if isinstance(d.get("axis"), Mapping) else d
    settings = d.get("settings") if isinstance(d.get("settings"), Mapping) else {}
    tau = _num(ax.get("tau"))
    if tau is None:
        tau = _num(settings.get("tau"))
    n_persons = _num(d.get("n_persons"))
    return {
        "n_respondents": _num(ax.get("n_respondents", n_persons)),
        "persons_weighted": _num(ax.get("persons_weighted", n_persons)),
        "n_effective": _num(ax.get("n_effective")),
        "weighted": bool(ax.get("weighted", False)),
        "rho": _num(ax.get("rho")),
        "rho_ci": _ci(ax.get("rho_ci")),
        "rho_ci_coding": _ci(ax.get("rho_ci_coding")),
        "rho_ci_total": _ci(ax.get("rho_ci_total")),
        "verdict": str(ax.get("verdict") or d.get("verdict") or "inconclusive"),
        "tau": tau if tau is not None else 0.7,
        "reference": (d.get("reference") or {}).get("name", "") if isinstance(d.get("reference"), Mapping) else "",
    }


def _interval(ci: tuple[float, float] | None) -> str:
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "not computed"


_IMPUTED_NOTE = (
    " This mapping is measured on an IMPUTED label × sex table (see the caveats): it shows how the measurement"
    " works and is not a finding about the data."
)


def _verdict_sentence(name: str, ax: Mapping[str, object]) -> str:
    rho, tau, verdict = ax["rho"], float(ax["tau"]), str(ax["verdict"])  # type: ignore[arg-type]
    which = "coding and sampling" if ax["rho_ci_total"] else "sampling only"
    ref = f" ({ax['reference']})" if ax["reference"] else ""
    if rho is None:
        head = f"Mapping {name}: ρ cannot be computed, so the verdict is inconclusive."
    elif verdict == "attenuated":
        head = (
            f"Mapping {name}: the data keeps ρ = {rho:.3f} of the reference's sex × occupation association{ref} — "
            f"attenuated: the 95% interval ({which}) lies wholly below τ = {tau:g}."
        )
    elif verdict == "not_attenuated":
        head = (
            f"Mapping {name}: the data keeps ρ = {rho:.3f} of the reference's sex × occupation association{ref} — "
            f"not attenuated: the 95% interval ({which}) lies wholly at or above τ = {tau:g}."
        )
    else:
        head = (
            f"Mapping {name}: the data keeps ρ = {rho:.3f} of the reference's sex × occupation association{ref} — "
            f"inconclusive: the 95% interval ({which}) contains τ = {tau:g}, or the frame is too small to tell."
        )
    return (
        f"{head} 95% intervals of ρ: sampling {_interval(ax['rho_ci'])} (rho_ci), coding "  # type: ignore[arg-type]
        f"{_interval(ax['rho_ci_coding'])} (rho_ci_coding), coding and sampling "  # type: ignore[arg-type]
        f"{_interval(ax['rho_ci_total'])} (rho_ci_total; the verdict uses it when computed)."  # type: ignore[arg-type]
        + _IMPUTED_NOTE
        * name.endswith("_imputed")
    )


def _frame_sentence(ax: Mapping[str, object]) -> str:
    persons, resp = ax["persons_weighted"], ax["n_respondents"]
    if persons is None:
        return ""
    if ax["weighted"]:
        neff = ax["n_effective"]
        eff = f", Kish effective sample size {neff:,.0f}" if neff is not None else ""  # type: ignore[str-format]
        return f"The comparison frame holds {resp:,.0f} respondents standing for {persons:,.0f} weighted persons{eff}."  # type: ignore[str-format]
    return f"The comparison frame holds {persons:,.0f} persons (unweighted: each row is one respondent)."  # type: ignore[str-format]


def coverage_sentence(crosswalk: pd.DataFrame) -> str:
    """Labels and persons, how many have a code, at level 5, not employed, without code."""
    w = pd.to_numeric(crosswalk["weight" if "weight" in crosswalk else "n_rows"], errors="coerce").fillna(0.0)
    code = crosswalk["ksco_code"].fillna("").astype(str) if "ksco_code" in crosswalk else pd.Series("", index=w.index)
    level = pd.to_numeric(crosswalk.get("ksco_level", pd.Series(0, index=w.index)), errors="coerce").fillna(0)
    major = crosswalk.get("ksco_major", pd.Series("", index=w.index)).fillna("").astype(str)
    total = float(w.sum()) or 1.0
    coded = float(w[code != ""].sum())
    deep = float(w[(code != "") & (level >= 5)].sum())
    not_employed = float(w[(code == "") & (major == "0")].sum())
    none = total - coded - not_employed
    return (
        f"Coverage: {len(crosswalk):,} distinct labels, {total:,.0f} persons; {coded:,.0f} ({100 * coded / total:.1f}%) "
        f"have a KSCO code, {deep:,.0f} ({100 * deep / total:.1f}%) at level 5; {not_employed:,.0f} "
        f"({100 * not_employed / total:.1f}%) are not employed (bucket 0: 무직, students, homemakers, retired); "
        f"{none:,.0f} ({100 * none / total:.1f}%) have no code."
    )


def residual_sentence(audit: Sequence[Mapping[str, object]]) -> str:
    """The latest audit estimate in a sentence, or how to get one."""
    if not audit:
        return (
            "Residual coding error: not measured — no blind audit sample has been reviewed for this crosswalk "
            "(coder review export --audit N, then coder review import)."
        )
    rec = audit[-1]
    levels = {int(lv["level"]): lv for lv in rec.get("levels", [])}  # type: ignore[union-attr]
    parts = []
    for lv in (1, 2, 3, 4, 5):
        r = levels.get(lv)
        if r and r.get("share") is not None:
            lo, hi = r["ci"]
            parts.append(f"level {lv}: {100 * r['share']:.1f}% [{100 * lo:.1f}%, {100 * hi:.1f}%]")
    judged = int(rec.get("judged_draws", 0))  # type: ignore[call-overload]
    wrong = int(levels.get(1, {}).get("wrong", 0)) if levels else 0
    more = f" ({len(audit)} audit batches; the latest shown)" if len(audit) > 1 else ""
    return (
        f"Residual coding error{more}: a blind audit of {judged:,} draws (batch {rec.get('batch', '')}, PPS by persons "
        f"from {int(rec.get('eligible_labels', 0)):,} machine-coded labels, "  # type: ignore[call-overload]
        f"{float(rec.get('eligible_persons', 0)):,.0f} persons) found {wrong:,} wrong at level 1; "  # type: ignore[arg-type]
        "estimated share of persons whose code is wrong, 95% Wilson interval — " + "; ".join(parts) + "."
    )


def verdict_changes(sensitivity: object) -> list[dict[str, object]]:
    """What flips the sweeps' verdict: the sensitivity result's ``verdict_changes`` when it has one, else
    the rows of the leave-one-rule-out, leave-one-rater-out and threshold sweeps whose
    ``verdict_changed`` is true, and the mappings (each rater's own codes, given bucket tables) whose
    verdict differs from the baseline's (``{"sweep", "what", "verdict", "rho"}``)."""
    if sensitivity is None:
        return []
    d = sensitivity.to_dict() if hasattr(sensitivity, "to_dict") else dict(sensitivity)  # type: ignore[call-overload]
    if isinstance(d.get("verdict_changes"), list):
        return [dict(c) for c in d["verdict_changes"]]
    out: list[dict[str, object]] = []
    base = str((getattr(sensitivity, "baseline", {}) or {}).get("verdict", ""))
    sweeps = (
        ("leave one rule out", "rules", lambda r: str(r.get("rule_id", ""))),
        ("leave one rater out", "raters", lambda r: str(r.get("rater", ""))),
        (
            "threshold grid",
            "thresholds",
            lambda r: f"model {float(r['model_threshold']):g}, fuzzy {float(r['fuzzy_threshold']):g}",
        ),
        ("mapping", "mappings", lambda r: f"{r.get('mapping', '')} ({r.get('kind', '')})"),
    )
    for sweep, attr, what in sweeps:
        table = getattr(sensitivity, attr, None)
        if not isinstance(table, pd.DataFrame) or "verdict" not in table:
            continue
        if sweep == "mapping":
            changed = table["verdict"].astype(str) != base
        elif "verdict_changed" in table:
            changed = table["verdict_changed"].fillna(False).astype(bool)
        else:
            continue
        for r in table[changed.to_numpy()].to_dict("records"):
            out.append({"sweep": sweep, "what": what(r), "verdict": r.get("verdict"), "rho": _num(r.get("rho"))})
    return out


def _changes_sentence(sensitivity: object, changes: list[dict[str, object]]) -> str:
    settings = getattr(sensitivity, "settings", {}) or {}
    base = getattr(sensitivity, "baseline", {}) or {}
    rules = getattr(sensitivity, "rules", None)
    raters = getattr(sensitivity, "raters", None)
    grid = getattr(sensitivity, "thresholds", None)
    n_rules = len(rules) if isinstance(rules, pd.DataFrame) else 0
    n_raters = len(raters) if isinstance(raters, pd.DataFrame) else 0
    n_grid = len(grid) if isinstance(grid, pd.DataFrame) else 0
    imputed = " on the IMPUTED label × sex table" if settings.get("label_sex_imputed") else ""
    rho = _num(base.get("rho"))
    verdict = _VERDICT_WORDS.get(str(base.get("verdict", "")), str(base.get("verdict", "")))
    head = f"The sweeps re-decide the crosswalk{imputed} (baseline ρ = {rho:.3f}, {verdict})" if rho is not None else ""
    mappings = getattr(sensitivity, "mappings", None)
    n_maps = max(len(mappings) - 1, 0) if isinstance(mappings, pd.DataFrame) else 0
    swept = (
        f"{n_rules:,} rules left out one at a time, {n_raters:,} raters left out, {n_grid:,} threshold pairs "
        f"and {n_maps:,} other mappings"
    )
    if not changes:
        return f"{head}: nothing changes the verdict — not one of the {swept}."
    shown = [
        f"{c['sweep']} {c['what']} → {_VERDICT_WORDS.get(str(c['verdict']), c['verdict'])}"
        + (f" (ρ = {float(c['rho']):.3f})" if c.get("rho") is not None else "")  # type: ignore[arg-type]
        for c in changes[:8]
    ]
    more = f", and {len(changes) - 8:,} more (see the tables)" if len(changes) > 8 else ""
    return f"{head}; of the {swept}, these change the verdict: " + "; ".join(shown) + more + "."


def _noise_sentence(sensitivity: object) -> str:
    noise = getattr(sensitivity, "noise", None)
    if not isinstance(noise, pd.DataFrame) or not len(noise) or "verdict_unchanged" not in noise:
        return ""
    flips = noise[noise["verdict_unchanged"] < 0.5]
    if not len(flips):
        top = float(noise["p"].max())
        return f"Stress test: moving up to {100 * top:g}% of persons to random buckets leaves every verdict unchanged in most replicates."
    parts = []
    for mapping, g in flips.groupby("mapping", sort=False):
        parts.append(f"{mapping} from p = {float(g['p'].min()):g}")
    return (
        "Stress test (uniform label noise, not an estimate of the coding error): the verdict flips in most replicates for "
        + "; ".join(parts)
        + "."
    )


def findings(
    crosswalk: pd.DataFrame,
    *,
    axis: Mapping[str, object],
    sensitivity: object = None,
    audit: Sequence[Mapping[str, object]] = (),
) -> list[str]:
    """The first section's sentences, in order: verdicts, frame, coverage, residual error, what changes the verdict."""
    out = []
    if axis:
        for name, res in axis.items():
            ax = axis_numbers(res)
            out.append(_verdict_sentence(name, ax))
            frame = _frame_sentence(ax)
            if frame:
                out.append(frame)
    else:
        out.append("The sex × KSCO axis was not measured: no rows with sex were given.")
    out.append(coverage_sentence(crosswalk))
    out.append(residual_sentence(audit))
    if sensitivity is not None:
        # the noise sweep is a stress test, said in its own sentence below, not a rule, rater or threshold
        real = [c for c in verdict_changes(sensitivity) if "noise" not in str(c.get("sweep", ""))]
        out.append(_changes_sentence(sensitivity, real))
        noise = _noise_sentence(sensitivity)
        if noise:
            out.append(noise)
    else:
        out.append("What changes the verdict was not measured: no sweeps were run (they need rows with sex).")
    return out
