"""The whole offline coder on job names it never saw: coverage and precision of the final code.

Holds out the same 20 % of 한국직업사전 jobs as ``coder model evaluate`` (seed 0), trains a model
on the rest, builds the job-dictionary index WITHOUT the held-out jobs, then codes every held-out
job name through the pipeline (title, rule, index, model, fuzzy → decide).  A final code is right
when it equals the true unit group truncated to the final code's own level; blank = no code.
Prints coverage and precision at the default thresholds and over a model-threshold grid
(re-deciding the same stored crosswalk: rate once, decide many times).

Run: ``python bench/bench_unseen.py`` (a script, not a test; trains one model, ~1 min).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from coder.codes import load_codes
from coder.crosswalk.decide import decide
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

    def score(frame: pd.DataFrame) -> tuple[float, float, float]:
        rows = frame[frame["label_key"].isin(truth)]
        coded = rows[rows["ksco_code"] != ""]
        right = [truth[k][: len(c)] == c for k, c in zip(coded["label_key"], coded["ksco_code"], strict=True)]
        return len(coded) / len(rows), float(np.mean(right)) if right else float("nan"), coded["ksco_level"].mean()

    cov, prec, lvl = score(xw)
    print(f"held-out job names: {len(truth)} (jobs never seen by the model or the index)")
    print(
        f"defaults (model threshold {MODEL_THRESHOLD}): coverage {cov:.3f}  precision {prec:.3f}  mean level {lvl:.2f}"
    )
    print("model_threshold  coverage  precision  mean level   (same crosswalk, re-decided)")
    for t in (0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9):
        # the model's depth depends on its threshold at rating time, so re-rate the model only here
        xw_t = code_labels(table, model=model, index=index, model_threshold=t)
        c, p, lv = score(decide(xw_t, make_policy(model_threshold=t), codes=codes))
        print(f"{t:>15.2f}  {c:>8.3f}  {p:>9.3f}  {lv:>10.2f}")
    by_source = xw[xw["ksco_code"] != ""].groupby("code_source").size().to_dict()
    print("final codes by source:", by_source)


if __name__ == "__main__":
    main()
