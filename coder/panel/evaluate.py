"""What is the panel worth? ``coder panel evaluate``: the panel on job names no offline rater saw.

The names are the 한국직업사전 job names that ``coder model evaluate`` holds out (the same
seeded 20 % of *jobs*, :func:`coder.raters.model_fit.split_groups`): the model never saw those
jobs.  A stratified sample of ``n`` of them (by the true major group, proportional allocation
with largest remainders, seeded) is coded offline the way ``bench/bench_unseen.py`` does — a
model trained without the held-out jobs, the job index without them — and the resulting
crosswalk (its candidates in the prompts) goes through the panel with ``--only all``.

Scores (higher is better): accuracy at level L = share of names whose code, truncated to L,
equals the true code truncated to L (a code shallower than L, an invalid vote or no vote
count as wrong); validity = valid answers / answers.  Rows: each member, the panel majority
(:func:`coder.crosswalk.decide.panel_vote`), the offline final code (title, rules, index,
model, fuzzy → decide) and the model's own code, all on the same names.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..codes import CodeList, load_codes
from ..crosswalk.decide import panel_vote
from ..errors import InputError
from ..labels import tabulate_labels
from ..pipeline import code_labels
from ..raters.index import build_index, load_index
from ..raters.model import train_model
from ..raters.model_fit import PARAMS, SEED, split_groups, training_data
from .cache import ResponseCache
from .config import Member, PriceTable
from .prompt import Prompts
from .run import PanelPlan, PanelRun, panel_votes, plan_panel, run_panel

__all__ = ["LEVELS", "PanelEvaluation", "evaluate_panel", "heldout_names", "stratified_sample"]

LEVELS = (1, 2, 3, 4)


@dataclass(frozen=True)
class PanelEvaluation:
    """Per row (member ids, ``majority``, ``offline``, ``model``): n, accuracy per level, mean level, validity, calls, cost."""

    n: int
    seed: int
    heldout: int
    rows: Mapping[str, Mapping[str, object]]
    plan: PanelPlan | None
    run: PanelRun | None

    def as_dict(self) -> dict:
        return {
            "n": self.n,
            "seed": self.seed,
            "heldout": self.heldout,
            "rows": {k: dict(v) for k, v in self.rows.items()},
        }

    def to_text(self) -> str:
        lines = [
            f"panel on {self.n} held-out job names (stratified by major group, seed {self.seed}; {self.heldout} held out)",
            "rater                     acc1   acc2   acc3   acc4  mean level  validity  calls  cache hits  cost USD",
        ]
        for name, r in self.rows.items():
            acc = "  ".join(f"{r['accuracy'][lv]:.3f}" for lv in LEVELS)
            val = "" if r.get("validity") is None else f"{r['validity']:.3f}"
            cost = "" if "cost" not in r else ("unknown" if r["cost"] is None else f"{r['cost']:.4f}")
            lines.append(
                f"{name:<24} {acc}  {r['mean_level']:>10.2f}  {val:>8}  {r.get('calls', ''):>5}  {r.get('hits', ''):>10}  {cost:>8}"
            )
        return "\n".join(lines)


def heldout_names(*, seed: int | None = None) -> tuple[list[str], list[str], object, object]:
    """Held-out job names with their true codes, the training data and the held-out mask."""

    data = training_data()
    is_dict = np.array([s == "jobdict" for s in data.sources])
    test = is_dict & split_groups(data.groups, seed=SEED if seed is None else seed, share=float(PARAMS["test_share"]))
    truth: dict[str, set[str]] = {}
    for i in np.flatnonzero(test):
        truth.setdefault(data.keys[i], set()).add(data.codes[i])
    names = sorted(k for k, v in truth.items() if len(v) == 1)  # a name with two true codes cannot be scored
    return names, [next(iter(truth[k])) for k in names], data, test


def stratified_sample(truth: Sequence[str], n: int, *, seed: int = 0) -> list[int]:
    """Positions of a stratified sample of ``n`` by major group (first character), proportional, seeded; sorted."""
    if n <= 0:
        raise InputError(f"--n {n}: give a positive number of names.")
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(truth):
        groups.setdefault(c[0], []).append(i)
    total = len(truth)
    n = min(n, total)
    quota = {g: n * len(ix) / total for g, ix in groups.items()}
    take = {g: math.floor(q) for g, q in quota.items()}
    for g in sorted(groups, key=lambda g: (-(quota[g] - take[g]), g))[: n - sum(take.values())]:
        take[g] += 1
    rng = np.random.default_rng(seed)
    out = []
    for g in sorted(groups):
        ix = groups[g]
        out.extend(int(x) for x in rng.choice(ix, size=take[g], replace=False))
    return sorted(out)


def _score(pred: Sequence[str], truth: Sequence[str], codes: CodeList) -> dict:
    acc = {}
    for lv in LEVELS:
        ok = [bool(p) and codes.level(p) >= lv and p[:lv] == t[:lv] for p, t in zip(pred, truth, strict=True)]
        acc[lv] = round(float(np.mean(ok)), 4) if ok else math.nan
    levels = [codes.level(p) if p in codes else 0 for p in pred]
    return {"n": len(pred), "accuracy": acc, "mean_level": round(float(np.mean(levels)), 3) if levels else math.nan}


def evaluate_panel(
    members: Sequence[Member],
    *,
    n: int = 300,
    seed: int = 0,
    codes: CodeList | None = None,
    prompts: Prompts,
    cache: ResponseCache,
    prices: PriceTable,
    plan_only: bool = False,
    offline: bool = False,
    max_calls: int | None = None,
    max_cost: float | None = None,
    allow_unknown_price: bool = False,
    progress: bool = False,
    model: object = None,
    index: object = None,
    env: Mapping[str, str] | None = None,
    notify: Callable[[str], None] | None = None,
) -> PanelEvaluation:
    """Run the panel on a stratified sample of held-out job names and score it (see the module docstring).

    ``model`` / ``index``: the offline model and job index to code the names with (default: trained
    and built without the held-out jobs, about a minute).
    """
    import pandas as pd

    codes = codes if codes is not None else load_codes()
    names, truth, data, test = heldout_names()
    pick = stratified_sample(truth, n, seed=seed)
    names = [names[i] for i in pick]
    truth = [truth[i] for i in pick]
    if model is None:
        model = train_model(data=data.subset(~test), evaluate=False)
    if index is None:
        held = {data.groups[i] for i in np.flatnonzero(test)}
        index = build_index([e for e in load_index().entries if not (e.source == "jobdict" and e.ref in held)])
    xw = code_labels(tabulate_labels(pd.Series(names, dtype=object)), model=model, index=index, codes=codes)
    xw = xw.set_index("label_key").loc[names].reset_index()
    plan = plan_panel(xw, members, codes=codes, prompts=prompts, cache=cache, prices=prices, only="all", env=env)
    rows: dict[str, dict] = {}
    run = None
    if not plan_only:
        run = run_panel(
            plan,
            codes=codes,
            cache=cache,
            prices=prices,
            offline=offline,
            max_calls=max_calls,
            max_cost=max_cost,
            allow_unknown_price=allow_unknown_price,
            progress=progress,
            env=env,
            notify=notify,
        )
        cores = xw["core_key"].astype(str).tolist()
        votes = {}
        for r in panel_votes(run, codes):
            mid = r.rater[len("panel_") :]
            by_core = dict(zip(r.keys, r.codes, strict=True))
            votes[mid] = [by_core.get(c, "") for c in cores]
            st = run.stats[mid]
            rows[mid] = {
                **_score(votes[mid], truth, codes),
                "validity": None if math.isnan(st.validity) else round(st.validity, 4),
                "calls": st.calls,
                "hits": st.hits,
                "cost": round(st.cost, 6) if st.cost_known else None,
            }
        majority = [panel_vote([(m, v[i]) for m, v in votes.items()], codes)[0] for i in range(len(names))]
        rows["majority"] = _score(majority, truth, codes)
    rows["offline"] = _score(xw["ksco_code"].astype(str).tolist(), truth, codes)
    rows["model"] = _score(
        xw["model_code"].astype(str).tolist() if "model_code" in xw else [""] * len(names), truth, codes
    )
    return PanelEvaluation(len(names), seed, int(test.sum()), rows, plan, run)
