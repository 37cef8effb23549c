"""The whole offline coder on job names it never saw: coverage and precision, overall, per major, per path.

Holds out 20 % of 한국직업사전 jobs (seed 0, the split of ``coder model evaluate``), trains a model
on the rest, builds the job-dictionary index WITHOUT the held-out jobs, then codes every held-out
job name through the pipeline (title, rule, index, model, fuzzy → decide).  A final code is right
when it equals the true unit group truncated to the final code's own level (a 5-digit code is
compared at 4 digits, the dictionary's depth; *strict* counts every 5-digit code wrong); blank =
no code.

Printed (markdown tables, pasted as is into the README):

* overall: coverage, precision, strict precision, mean level, and the **major-balanced** coverage
  and precision (each true major group weighted equally: the mean over the nine groups of the
  group's own coverage and precision — the job dictionary over-represents majors 2 and 8);
* per true major group: names, coverage, precision;
* per decision path: title, rule (``full`` colloquial words / ``suffix`` families), index, model
  at or above its threshold, model corroborated by the fuzzy shortlist, fuzzy, model refining a
  rule; the LLM panel does not run offline;
* per rule with at least 5 codes on the split (the evidence for narrowing a rule);
* a grid of model thresholds × depth thresholds (``model_depth_threshold``: 0 = the deepest chain
  code at the model threshold) × corroboration settings (the same crosswalk re-decided).

``--split tune`` holds out a *different* 20 % of the remaining jobs (salt ``tune``) and trains
and indexes without both sets: every threshold, floor and rule change is chosen there (or on
out-of-fold data of the training part), never on the reported split.

Run: ``python bench/bench_unseen.py [--split report|tune]`` (a script, not a test; trains one model, ~1 min).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from coder.codes import load_codes
from coder.crosswalk.decide import DecisionPolicy, decide
from coder.labels import tabulate_labels
from coder.pipeline import code_labels, make_policy
from coder.raters.base import decode_candidates
from coder.raters.index import build_index, load_index
from coder.raters.model import MODEL_THRESHOLD, train_model
from coder.raters.model_fit import PARAMS, SEED, split_groups, training_data
from coder.raters.rules import load_rules

MAJORS = tuple("123456789")
PATHS = (
    "title",
    "rule (full)",
    "rule (suffix)",
    "index",
    "model",
    "model (corroborated)",
    "model refines rule",
    "fuzzy",
    "other",
)


def held_out(split: str) -> tuple[np.ndarray, np.ndarray]:
    """``(test, excluded)`` masks over the training data: the names scored, and every name kept out of model and index."""
    data = training_data()
    is_dict = np.array([s == "jobdict" for s in data.sources])
    report = is_dict & split_groups(data.groups, seed=SEED, share=float(PARAMS["test_share"]))
    if split == "report":
        return report, report
    tune = is_dict & ~report & split_groups(data.groups, seed=SEED, share=float(PARAMS["test_share"]), salt="tune")
    return tune, report | tune


def code_split(split: str, params: Mapping | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """The crosswalk of the split's names (model and index without the excluded jobs) and the truth by key."""
    data = training_data()
    test, excluded = held_out(split)
    model = train_model(data=data.subset(~excluded), params=params, evaluate=False)
    gone = {data.groups[i] for i in np.flatnonzero(excluded)}
    full = load_index()
    index = build_index([e for e in full.entries if not (e.source == "jobdict" and e.ref in gone)])
    names = [data.keys[i] for i in np.flatnonzero(test)]
    truth = dict(zip(names, (data.codes[i] for i in np.flatnonzero(test)), strict=True))
    table = tabulate_labels(pd.Series(list(truth), dtype=object))
    return code_labels(table, model=model, index=index), truth


def path_of(source: str, rule_id: str, note: str, kinds: Mapping[str, str]) -> str:
    """The decision path of a final code (see the module docstring)."""
    if source == "rule":
        return "rule (full)" if kinds.get(rule_id) == "full" else "rule (suffix)"
    if source == "model":
        if "corroborated by fuzzy" in note:
            return "model (corroborated)"
        return "model refines rule" if rule_id else "model"
    return source if source in PATHS else "other"


def outcomes(frame: pd.DataFrame, truth: Mapping[str, str], kinds: Mapping[str, str]) -> pd.DataFrame:
    """One row per scored name: true major, coded, right (own level, and strict), level, path, rule id."""
    rows = frame[frame["label_key"].isin(truth)]
    out = []
    for key, code, level, source, rid, note in zip(
        rows["label_key"],
        rows["ksco_code"],
        rows["ksco_level"],
        rows["code_source"],
        rows["rule_id"],
        rows["code_note"],
    ):
        t = truth[key]
        n = min(len(code), len(t))
        out.append(
            {
                "key": key,
                "major": t[0],
                "coded": bool(code),
                "right": bool(code) and t[:n] == code[:n],
                "strict": bool(code) and len(code) <= len(t) and t[: len(code)] == code,
                "level": int(level),
                "path": path_of(source, rid, note, kinds) if code else "",
                "rule_id": rid if code else "",
            }
        )
    return pd.DataFrame(out)


def summary(o: pd.DataFrame) -> dict[str, float]:
    """Coverage, precision (own level, strict), mean level, and their major-balanced versions (higher is better)."""
    coded = o[o["coded"]]
    per = [(o[o["major"] == m], coded[coded["major"] == m]) for m in MAJORS]
    return {
        "n": len(o),
        "coverage": len(coded) / max(len(o), 1),
        "precision": coded["right"].mean() if len(coded) else math.nan,
        "strict": coded["strict"].mean() if len(coded) else math.nan,
        "level": coded["level"].mean() if len(coded) else math.nan,
        "bal_coverage": float(np.mean([len(c) / len(a) for a, c in per if len(a)])),
        "bal_precision": float(np.mean([c["right"].mean() for _, c in per if len(c)])),
    }


def tables(o: pd.DataFrame, title: str) -> list[str]:
    s = summary(o)
    lines = [
        f"### {title}",
        "",
        "| names | coverage | precision | strict | mean level | major-balanced coverage | major-balanced precision |",
        "|---|---|---|---|---|---|---|",
        f"| {s['n']} | {s['coverage']:.3f} | {s['precision']:.3f} | {s['strict']:.3f} | {s['level']:.2f} "
        f"| {s['bal_coverage']:.3f} | {s['bal_precision']:.3f} |",
        "",
        "| true major | names | coverage | precision |",
        "|---|---|---|---|",
    ]
    for m in MAJORS:
        g = o[o["major"] == m]
        c = g[g["coded"]]
        p = f"{c['right'].mean():.3f}" if len(c) else "–"
        lines.append(f"| {m} | {len(g)} | {len(c) / max(len(g), 1):.3f} | {p} |")
    lines += ["", "| decision path | codes | share of names | precision |", "|---|---|---|---|"]
    for p in PATHS:
        c = o[o["path"] == p]
        if len(c):
            lines.append(f"| {p} | {len(c)} | {len(c) / len(o):.3f} | {c['right'].mean():.3f} |")
    lines.append("| panel | 0 | 0.000 | – (not run offline) |")
    return lines


def rule_table(o: pd.DataFrame, minimum: int = 5) -> list[str]:
    """Per rule: its final codes and their precision, split into the rule's own code and the model's refinement."""
    c = o[o["rule_id"] != ""]
    lines = [
        "",
        f"rules with ≥ {minimum} final codes on this split (rule id, codes, precision; "
        "of which the rule's own code: codes, precision; refined by the model: codes, precision):",
    ]
    for rid, g in sorted(c.groupby("rule_id"), key=lambda kv: kv[1]["right"].mean()):
        if len(g) >= minimum:
            own, refined = g[g["path"] != "model refines rule"], g[g["path"] == "model refines rule"]
            fmt = lambda d: f"{len(d):>4}  {d['right'].mean():.3f}" if len(d) else f"{0:>4}  –    "  # noqa: E731
            lines.append(f"  {rid}  {fmt(g)}  | own {fmt(own)}  | refined {fmt(refined)}")
    return lines


def corroboration_table(frame: pd.DataFrame, truth: Mapping[str, str], kinds: Mapping[str, str]) -> list[str]:
    """Corroborated model codes by the fuzzy top score, decided with no floor (the evidence for the floor),
    and coverage/precision at each candidate floor."""
    top = {
        k: next(iter(decode_candidates(v)), ("", math.nan))[1]
        for k, v in zip(frame["label_key"], frame["fuzzy_candidates"])
    }
    codes = load_codes()
    policy = DecisionPolicy()
    try:
        open_policy = policy.with_(corroborate_floor=0.0)
    except TypeError:  # a checkout without the floor: it had none
        open_policy = policy
    o = outcomes(decide(frame, open_policy, codes=codes), truth, kinds)
    c = o[o["path"] == "model (corroborated)"].assign(score=lambda d: d["key"].map(top))
    lines = ["", "corroborated model codes by fuzzy top score, no floor (bin, codes, precision):"]
    for lo, hi in ((0.0, 0.5), (0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.01)):
        g = c[(c["score"] >= lo) & (c["score"] < hi)]
        if len(g):
            lines.append(f"  [{lo:.1f}, {min(hi, 1.0):.1f})  {len(g):>4}  {g['right'].mean():.3f}")
    if open_policy is not policy:
        lines += ["", "corroboration floor: coverage, precision, major-balanced precision"]
        for floor in (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
            s = summary(outcomes(decide(frame, policy.with_(corroborate_floor=floor), codes=codes), truth, kinds))
            lines.append(f"  {floor:.1f}  {s['coverage']:.3f}  {s['precision']:.3f}  {s['bal_precision']:.3f}")
    return lines


def grid(frame: pd.DataFrame, score: Callable[[pd.DataFrame], dict[str, float]]) -> list[str]:
    codes = load_codes()
    lines = [
        "",
        "| model threshold | depth threshold | corroborate | coverage | precision | strict | major-balanced precision "
        "| mean level |",
        "|---|---|---|---|---|---|---|---|",
    ]
    default = DecisionPolicy()
    for depth in (0.0, default.model_depth_threshold):
        for ct in (1.0, default.corroborate_threshold):
            for t in (0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9):
                policy = make_policy(model_threshold=t).with_(corroborate_threshold=ct, model_depth_threshold=depth)
                s = score(decide(frame, policy, codes=codes))
                lines.append(
                    f"| {t:.2f} | {depth:.2f} | {ct:.2f} | {s['coverage']:.3f} | {s['precision']:.3f} | {s['strict']:.3f} "
                    f"| {s['bal_precision']:.3f} | {s['level']:.2f} |"
                )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("report", "tune"), default="report", help="held-out set to score")
    ap.add_argument("--major-balance", type=float, help="override the model's major_balance (for the tune split)")
    args = ap.parse_args()
    kinds = {r.rule_id: r.match for r in load_rules().rules}
    params = None if args.major_balance is None else {"major_balance": args.major_balance}
    frame, truth = code_split(args.split, params)
    o = outcomes(frame, truth, kinds)
    policy = DecisionPolicy()
    print(
        f"split {args.split}: {len(truth)} held-out job names (jobs never seen by the model or the index); "
        f"defaults: model threshold {MODEL_THRESHOLD} (codes below the major group {policy.model_depth_threshold}), "
        f"corroboration {policy.corroborate_threshold} (fuzzy top ≥ {policy.corroborate_floor})"
    )
    print("\n".join(tables(o, "at the defaults")))
    print("\n".join(rule_table(o)))
    print("\n".join(corroboration_table(frame, truth, kinds)))
    print("\n".join(grid(frame, lambda f: summary(outcomes(f, truth, kinds)))))


if __name__ == "__main__":
    main()
