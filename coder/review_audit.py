"""The residual-error sample: labels the machine coded without review, drawn at random, reviewed blind.

A statistics office states the quality of automatic coding as the share of persons whose code is
wrong.  :func:`draw_audit` draws ``n`` labels **with probability proportional to persons**
(weighted persons when the crosswalk carries weights) **with replacement** from the eligible
labels: those the machine coded — a KSCO code (``ksco_code`` not empty), or ``0`` where it read the
label as not in employment (status ``not_employed``: 학생, 주부, 은퇴 …) — that no reviewer has
decided and that are not already on the review sheet.  The "not employed" reading is a machine
decision like a code, and a wrong one (``전기공사`` read as 전(former) + 기공사) takes an employed
person out of the comparison, so it is audited too (:func:`machine_codes`).  Labels with no
occupation stated (``employed_unstated``: 자영업, 알바) or left uncoded have no machine answer to
audit (uncoded labels go to the ordinary review).  A label drawn twice is shown once and counts twice.

**Why this design.**  Under PPS sampling with replacement each draw picks label ``j`` with
probability ``p_j = x_j / X`` (``x_j`` its persons, ``X`` the eligible persons), so the
Hansen–Hurwitz estimator of the persons whose code is wrong, ``(1/n) Σ y_i / p_i`` with
``y_i = x_i · wrong_i``, is ``X`` times the **mean of the wrong/right indicators over the
draws**, and the share of persons is that mean.  Each draw's indicator is exactly a
Bernoulli trial with success probability θ = the share of persons wrong, independent between
draws, so the number of wrong draws is Binomial(n, θ): the **Wilson score interval** is the
interval for a binomial proportion with good coverage at small n and at 0 or n wrong draws
(where the Wald / t interval collapses to a point) — :func:`wilson_interval`.

**Wrong at level L** (:func:`wrong_at`): the machine's code is compared with the reviewer's
(``0`` = not employed, ``A…`` = military count as codes) on their first L characters.

- the reviewer's code reaches L and the machine's first L characters differ: **wrong** — this
  includes a machine code that stops above L (``94`` against ``9411`` is wrong at 3 and 4: it
  does not give the level-L code; such draws are also counted as ``shallow``);
- the reviewer's code stops above L (a ``94``, or ``0``): the reviewer did not decide level L,
  so the draw is **not counted at L** (it leaves the level's denominator); the share at level L
  is then the share among persons whose true code reaches L (draws are i.i.d., so the Wilson
  interval holds conditionally on the number of draws counted);
- a draw the reviewer left without a code (blank, or only a note) is **not judged** and counted
  as such at every level; the estimate assumes those are missing at random (say so in the report).

The reviewer's answer on an audit label is a decision like any other (final, applied by
``coder review import``); in the estimate it is compared with what the machine said (the code
of the crosswalk the sheet is imported into).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "AUDIT_DESIGN",
    "AuditDraw",
    "ResidualError",
    "audit_eligible",
    "draw_audit",
    "estimate_residual_error",
    "machine_codes",
    "residual_error",
    "summary_sentence",
    "wilson_interval",
    "wrong_at",
]

AUDIT_DESIGN = (
    "PPS with replacement (probability proportional to persons) from the labels with a machine answer (a code, "
    "or 0 for not employed) and no review; share of persons wrong = Hansen-Hurwitz mean of the wrong indicators over the draws; "
    "95% Wilson score interval (the wrong draws are Binomial(n, share))"
)
LEVELS = (1, 2, 3, 4, 5)
_Z95 = 1.959963984540054


def wilson_interval(wrong: int, n: int, *, z: float = _Z95) -> tuple[float, float] | None:
    """Wilson score interval for a binomial share ``wrong / n`` (None when ``n`` is 0).

    >>> [round(v, 4) for v in wilson_interval(3, 30)]
    [0.0346, 0.2562]
    >>> [round(v, 4) for v in wilson_interval(0, 30)]
    [0.0, 0.1135]
    """
    if n <= 0:
        return None
    p = wrong / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))


def wrong_at(machine: str, reviewer: str, level: int) -> bool | None:
    """Whether ``machine`` is wrong at ``level`` against ``reviewer`` (None: the reviewer's code stops above it).

    >>> wrong_at("9411", "9412", 3), wrong_at("9411", "9412", 4), wrong_at("94", "9411", 3), wrong_at("9411", "94", 3)
    (False, True, True, None)
    >>> wrong_at("9411", "0", 1), wrong_at("9411", "0", 2)
    (True, None)
    """
    if len(reviewer) < level:
        return None
    return machine[:level] != reviewer[:level]


def _persons(frame: pd.DataFrame) -> pd.Series:
    col = "weight" if "weight" in frame.columns else "n_rows"
    return pd.to_numeric(frame[col], errors="coerce").fillna(0.0).astype(float)


def _text(s: pd.Series) -> pd.Series:
    return s.fillna("").astype(str).str.strip()


def machine_codes(crosswalk: pd.DataFrame) -> pd.Series:
    """The machine's answer per label as the reviewer writes it: ``ksco_code``, or ``0`` for a label read
    as not in employment (``status`` ``not_employed``; ``ksco_major`` ``0`` in a crosswalk without a
    status column); '' where the machine gave none."""
    n = len(crosswalk)
    code = _text(crosswalk["ksco_code"]) if "ksco_code" in crosswalk else pd.Series([""] * n, index=crosswalk.index)
    if "status" in crosswalk:
        idle = _text(crosswalk["status"]) == "not_employed"
    elif "ksco_major" in crosswalk:
        idle = _text(crosswalk["ksco_major"]) == "0"
    else:
        return code
    return code.mask(idle & (code == ""), "0")


def audit_eligible(crosswalk: pd.DataFrame, *, exclude: Iterable[str] = ()) -> pd.DataFrame:
    """The labels an audit draws from: a machine answer (:func:`machine_codes`), no reviewer decision,
    not in ``exclude``, persons > 0.

    Columns ``label_key``, ``persons``, ``machine_code``; sorted by label key (so the draw does
    not depend on the crosswalk's row order).
    """
    code = machine_codes(crosswalk)
    reviewed = _text(crosswalk["review_code"]) if "review_code" in crosswalk else pd.Series([""] * len(crosswalk))
    keys = crosswalk["label_key"].astype(str)
    persons = _persons(crosswalk)
    keep = (code.to_numpy() != "") & (reviewed.to_numpy() == "") & (persons.to_numpy() > 0)
    keep &= ~keys.isin(set(exclude)).to_numpy()
    out = pd.DataFrame({"label_key": keys[keep], "persons": persons[keep], "machine_code": code[keep]})
    return out.sort_values("label_key", kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class AuditDraw:
    """An audit sample: the labels drawn (label key → number of draws, in first-drawn order) and its frame."""

    draws: dict[str, int]
    n: int
    seed: int
    eligible_labels: int
    eligible_persons: float

    def to_dict(self) -> dict:
        return {
            "n_draws": self.n,
            "labels": len(self.draws),
            "seed": self.seed,
            "eligible_labels": self.eligible_labels,
            "eligible_persons": self.eligible_persons,
            "design": AUDIT_DESIGN,
        }


def draw_audit(eligible: pd.DataFrame, n: int, *, seed: int) -> AuditDraw:
    """Draw ``n`` labels PPS with replacement from :func:`audit_eligible`'s frame, seeded.

    The same eligible labels, ``n`` and ``seed`` give the same draw.  No eligible label: no draw.
    """
    if n < 0:
        raise ValueError(f"an audit draws n >= 0 labels, not {n}")
    persons = eligible["persons"].to_numpy(float)
    total = float(persons.sum())
    if n == 0 or total <= 0:
        return AuditDraw({}, 0, seed, len(eligible), total)
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(eligible), size=n, replace=True, p=persons / total)
    draws: dict[str, int] = {}
    keys = eligible["label_key"].tolist()
    for i in picks:
        draws[keys[i]] = draws.get(keys[i], 0) + 1
    return AuditDraw(draws, n, seed, len(eligible), total)


@dataclass(frozen=True)
class ResidualError:
    """The estimated share of persons whose machine code is wrong, per KSCO level, with 95 % Wilson intervals.

    ``levels``: one dict per level — ``draws`` counted at the level, ``wrong``, ``shallow`` (wrong
    because the machine code stops above the level), ``share``, ``ci``, and ``persons_wrong`` /
    ``persons_wrong_ci`` (the share times ``eligible_persons``).  ``wrong_labels``: each label
    judged wrong at level 1..5 (machine and reviewer codes, draws).  Lower is better.
    """

    batch: str
    n_draws: int
    judged_draws: int
    labels: int
    eligible_labels: int
    eligible_persons: float
    levels: tuple[dict, ...]
    wrong_labels: tuple[dict, ...] = ()
    seed: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return {
            "batch": self.batch,
            "n_draws": self.n_draws,
            "judged_draws": self.judged_draws,
            "unjudged_draws": self.n_draws - self.judged_draws,
            "labels": self.labels,
            "eligible_labels": self.eligible_labels,
            "eligible_persons": self.eligible_persons,
            "seed": self.seed,
            "design": AUDIT_DESIGN,
            "levels": [dict(lv) for lv in self.levels],
            "wrong_labels": [dict(w) for w in self.wrong_labels],
            "notes": list(self.notes),
        }


def estimate_residual_error(
    judged: Sequence[tuple[str, str, str, int]],
    *,
    eligible_labels: int,
    eligible_persons: float,
    batch: str = "",
    unjudged_draws: int = 0,
    seed: int | None = None,
    levels: Sequence[int] = LEVELS,
) -> ResidualError:
    """The residual error from the judged audit draws: ``(label_key, machine code, reviewer code, draws)``.

    See the module docstring for the estimator, the interval and how shallow codes count.
    """
    n_judged = sum(d for *_, d in judged)
    rows = []
    for lv in levels:
        n = wrong = shallow = 0
        for _, m, r, d in judged:
            w = wrong_at(m, r, lv)
            if w is None:
                continue
            n += d
            if w:
                wrong += d
                shallow += d * (len(m) < lv and r[: len(m)] == m)
        ci = wilson_interval(wrong, n)
        share = wrong / n if n else None
        rows.append(
            {
                "level": lv,
                "draws": n,
                "wrong": wrong,
                "shallow": shallow,
                "share": share,
                "ci": list(ci) if ci else None,
                "persons_wrong": share * eligible_persons if share is not None else None,
                "persons_wrong_ci": [ci[0] * eligible_persons, ci[1] * eligible_persons] if ci else None,
            }
        )
    wrong_labels = tuple(
        {"label_key": k, "machine_code": m, "reviewer_code": r, "draws": d, "wrong_from_level": first}
        for k, m, r, d in judged
        if (first := next((lv for lv in levels if wrong_at(m, r, lv)), None)) is not None
    )
    notes = []
    if unjudged_draws:
        notes.append(
            f"{unjudged_draws} of {n_judged + unjudged_draws} audit draws came back without a code and are left out "
            "(the estimate assumes they are missing at random)"
        )
    return ResidualError(
        batch=batch,
        n_draws=n_judged + unjudged_draws,
        judged_draws=n_judged,
        labels=len(judged),
        eligible_labels=eligible_labels,
        eligible_persons=float(eligible_persons),
        levels=tuple(rows),
        wrong_labels=wrong_labels,
        seed=seed,
        notes=tuple(notes),
    )


def summary_sentence(record: Mapping[str, object]) -> str:
    """One sentence for a stored estimate (the ``audit`` record of a crosswalk), e.g. for the report."""
    levels = {int(lv["level"]): lv for lv in record.get("levels", [])}  # type: ignore[union-attr]
    parts = []
    for lv in (1, 2, 3, 4, 5):
        r = levels.get(lv)
        if r and r.get("share") is not None:
            lo, hi = r["ci"]
            parts.append(f"level {lv} {100 * r['share']:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]")
    return (
        f"residual coding error from a blind audit of {record.get('judged_draws', 0):,} draws "
        f"(batch {record.get('batch', '')}; PPS by persons from {record.get('eligible_labels', 0):,} machine-coded "
        f"labels, {float(record.get('eligible_persons', 0)):,.0f} persons): share of persons whose code is wrong, "
        "95% Wilson interval: " + ("; ".join(parts) if parts else "no draw was judged")
    )


def residual_error(
    crosswalk: pd.DataFrame,
    audit: Mapping[str, int],
    decisions: Mapping[str, tuple[str, str]],
    regular: Iterable[str],
    *,
    seed: int | None = None,
) -> ResidualError:
    """The residual error of a sheet's audit rows (label key → draws) against the crosswalk's codes (before the sheet).

    ``decisions``: label key → (reviewer's code, batch); ``regular``: the sheet's other labels (not eligible).
    """
    machine = dict(zip(crosswalk["label_key"].astype(str), machine_codes(crosswalk)))
    judged = [(k, machine[k], decisions[k][0], d) for k, d in audit.items() if k in decisions]
    eligible = audit_eligible(crosswalk, exclude=regular)
    return estimate_residual_error(
        judged,
        eligible_labels=len(eligible),
        eligible_persons=float(eligible["persons"].sum()),
        batch=",".join(sorted({decisions[k][1] for k in audit if k in decisions})),
        unjudged_draws=sum(d for k, d in audit.items() if k not in decisions),
        seed=seed,
    )
