"""Benchmark of the sensitivity sweeps on a 1,000,000-person label × sex table.

Run:  .venv/bin/python bench/bench_sweeps.py [--repeat 3] [--rules default|npk-audit-2026]

The table: the 2,120 NPK labels with their published person counts (1,000,000), coded by the
offline coder, the consistency rule set applied; each label's women drawn binomially from the
published NPK female share of its decided major group (reviewed mapping) — a synthetic sex
split for timing, not NPK's. Times (wall clock, best of --repeat) ``run_sensitivity`` with
3 noise levels × 100 replicates, leave one rule out over every consistency and mapper rule that
decides persons, leave one rater out, the model × fuzzy threshold grid and the mapping
comparison. The target is under 10 s. Not a test: nothing fails when the machine is slow.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rules", default="default")
    args = parser.parse_args()

    from coder.axis.references import load_reference
    from coder.codes import load_codes
    from coder.demo import NPK_BUCKETS, run_demo
    from coder.sensitivity import LabelSexTable, apply_rule_set, run_sensitivity

    codes = load_codes()
    with tempfile.TemporaryDirectory() as tmp:
        coding = run_demo(Path(tmp))
    crosswalk, rules = apply_rule_set(coding.as_crosswalk(), args.rules, codes=codes)
    frame = crosswalk.frame
    published = pd.read_csv(NPK_BUCKETS, dtype={"ksco_major": str})
    share = dict(zip(published["ksco_major"], published["female_share_reviewed_mapping"], strict=True))
    rng = np.random.default_rng(20260101)
    persons = frame["weight"].to_numpy(float).round()
    majors = frame["ksco_major"].astype(str).tolist()
    p = np.array([share.get(m, 0.42) for m in majors])
    women = rng.binomial(persons.astype(int), p).astype(float)
    table = LabelSexTable(tuple(frame["label_key"].astype(str)), np.stack([women, persons - women], axis=1))
    ref = load_reference("kosis-res:2025H2")
    print(f"{table.persons:,.0f} persons, {len(crosswalk):,} labels, rules {Path(rules.path).name}")
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores")
    best = float("inf")
    for i in range(args.repeat):
        t = time.perf_counter()
        result = run_sensitivity(crosswalk, table, ref, codes=codes, replicates=100, seed=20260101)
        best = min(best, time.perf_counter() - t)
        print(f"  run {i + 1}: {time.perf_counter() - t:.2f} s")
    s = result.summary()
    print(
        f"sweeps: {len(result.noise)} noise levels × 100 replicates, {s.get('rules', 0)} rules left out, "
        f"{len(result.raters)} raters left out, {len(result.thresholds)} threshold cells, {len(result.mappings)} mappings"
    )
    print(f"best of {args.repeat}: {best:.2f} s (target < 10 s)")


if __name__ == "__main__":
    main()
