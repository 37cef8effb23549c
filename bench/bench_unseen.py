"""The whole offline coder on job names it never saw: coverage and precision of the final code.

Holds out the same 20 % of 한국직업사전 jobs as ``coder model evaluate`` (seed 0), trains a model
on the rest, builds the job-dictionary index WITHOUT the held-out jobs, then codes every held-out
job name through the pipeline (title, rule, index, model, fuzzy → decide).  A final code is right
when it equals the true unit group truncated to the final code's own level; blank = no code.
Prints coverage and precision at the default thresholds and over a grid of model and
corroboration thresholds (re-deciding the same stored crosswalk: rate once, decide many times).

Run: ``python bench/bench_unseen.py`` (a script, not a test; trains one model, ~1 min).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from coder.codes import load_codes
from coder.crosswalk.decide import DecisionPolicy, decide
from coder.labels import tabulate_labels
from coder.pipeline import code_labels, make_policy
from coder.raters.index import build_index, load_index
from coder.raters.model import MODEL_THRESHOLD, train_model
from coder.raters.model_fit import PARAMS, SEED, split_groups, training_data


def main() -> None:
    codes = load_codes()
    data = training_data()
    is_dict = np.array([s == "jobdict" for s in data.sources])
    test = is_dict & split_groups(data.groups, seed=SEED, share=float(PARAMS["test_share"]))
    model = train_model(data=data.subset(~test), evaluate=False)
    held_jobs = {data.groups[i] for i in np.flatnonzero(test)}
    full = load_index()
    index = build_index([e for e in full.entries if not (e.source == "jobdict" and e.ref in held_jobs)])
    names = [data.keys[i] for i in np.flatnonzero(test)]
    truth = dict(zip(names, (data.codes[i] for i in np.flatnonzero(test)), strict=False))
    table = tabulate_labels(pd.Series(names, dtype=object))
    xw = code_labels(table, model=model, index=index)

    def score(frame: pd.DataFrame, *, strict: bool = False) -> tuple[float, float, float]:
        # A code is right when it matches the truth at the shallower of the two levels: the dictionary's
        # truth is a 4-digit unit group, so a 5-digit title code under it cannot be judged deeper than 4.
        # strict=True also counts every 5-digit code wrong (the truth has no 5th digit to match).
        rows = frame[frame["label_key"].isin(truth)]
        coded = rows[rows["ksco_code"] != ""]
        right = []
        for k, c in zip(coded["label_key"], coded["ksco_code"], strict=True):
            n = len(c) if strict else min(len(c), len(truth[k]))
            right.append(truth[k][:n] == c[:n])
        return len(coded) / len(rows), float(np.mean(right)) if right else float("nan"), coded["ksco_level"].mean()

    cov, prec, lvl = score(xw)
    _, prec_strict, _ = score(xw, strict=True)
    print(f"held-out job names: {len(truth)} (jobs never seen by the model or the index)")
    print(
        f"defaults (model threshold {MODEL_THRESHOLD}, corroboration {DecisionPolicy().corroborate_threshold}): "
        f"coverage {cov:.3f}  precision {prec:.3f} (strict: {prec_strict:.3f})  mean level {lvl:.2f}"
    )
    print("model_threshold  corroborate  coverage  precision  strict  mean level   (same crosswalk, re-decided)")
    for ct in (1.0, 0.7, 0.6, 0.5):
        for t in (0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9):
            decided = decide(xw, make_policy(model_threshold=t).with_(corroborate_threshold=ct), codes=codes)
            c, p, lv = score(decided)
            print(f"{t:>15.2f}  {ct:>11.2f}  {c:>8.3f}  {p:>9.3f}  {score(decided, strict=True)[1]:>6.3f}  {lv:>10.2f}")
    by_source = xw[xw["ksco_code"] != ""].groupby("code_source").size().to_dict()
    print("final codes by source:", by_source)


if __name__ == "__main__":
    main()
