"""Benchmark of ρ's coding draws (multiple imputation of whole mappings) on the NPK demo's 2,120 labels.

Run:  .venv/bin/python bench/bench_axis_draws.py [--draws 1000] [--bootstrap 2000] [--repeat 3]

The frame: the bundled NPK labels (1,000,000 persons) coded offline, the default consistency
rules applied, with the demo's IMPUTED label × sex table (NPK publishes sex by label only for its
20 largest labels) — the frame ``coder demo`` measures. Times (wall clock, best of --repeat):

  1. the coding distributions of the 2,120 labels (:func:`coder.axis.coding.label_frame`);
  2. ``--draws`` whole mappings alone (:func:`coder.axis.frame.draw_mappings` + re-aggregating the
     bucket × sex table + V) → ``rho_ci_coding``;
  3. :func:`coder.axis.frame.measure_rho` complete: ``--bootstrap`` respondent bootstraps
     (``rho_ci``) and ``--draws`` coding draws, each paired with its own bootstrap (``rho_ci_coding``,
     ``rho_ci_total``).

The target (issue 20): 1,000 draws in seconds, not minutes. Not a test: nothing fails when the
machine is slow.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
from pathlib import Path

import numpy as np
from bench_axis import best_of  # the script's own folder is on sys.path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from coder.axis.coding import label_frame
    from coder.axis.frame import draw_mappings, measure_rho, tabulate_draws
    from coder.axis.references import load_reference
    from coder.demo import REFERENCE, _npk_imputed_label_sex, run_demo
    from coder.sensitivity import apply_rule_set
    from coder.stats import cramers_v

    with tempfile.TemporaryDirectory() as tmp:
        coding = run_demo(Path(tmp))
    crosswalk, _ = apply_rule_set(coding.as_crosswalk(), "default")
    decided = crosswalk.decided().frame
    label_sex = _npk_imputed_label_sex(decided)
    ref = load_reference(REFERENCE)

    t_frame, frame = best_of(
        args.repeat, lambda: label_frame(decided, label_sex.label_keys, label_sex.counts, coding=True)
    )
    k = len(frame.buckets)
    ref_table = ref.subset(frame.buckets)

    def draws_only():
        rng = np.random.default_rng(1)
        mapping = draw_mappings(frame, args.draws, rng=rng)
        tab, ne = tabulate_draws(frame.weights[None], frame.weights_sq[None], mapping, k)
        return cramers_v(tab, n=np.maximum(ne, 1.0))

    t_draws, _ = best_of(args.repeat, draws_only)
    t_all, m = best_of(
        args.repeat, lambda: measure_rho(frame, ref_table, n_bootstrap=args.bootstrap, n_draws=args.draws)
    )
    uncertain = int((frame.coding.max(axis=1) < 1 - 1e-12).sum())
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}")
    print(
        f"frame: {len(frame.units):,} labels ({uncertain:,} with an uncertain bucket), "
        f"{frame.persons_weighted:,.0f} persons in the comparison"
    )
    print(f"1. coding distributions of {len(frame.units):,} labels: {t_frame:.3f} s")
    print(f"2. {args.draws:,} whole mappings, tables re-aggregated, V: {t_draws:.3f} s")
    print(
        f"3. measure_rho ({args.bootstrap:,} bootstraps + {args.draws:,} coding draws with their bootstraps): "
        f"{t_all:.3f} s"
    )

    def ci(x):
        return f"[{x[0]:.4f}, {x[1]:.4f}]"

    print(
        f"ρ = {m.rho:.4f}; sampling {ci(m.rho_ci)}, coding {ci(m.rho_ci_coding)}, total {ci(m.rho_ci_total)} "
        f"→ {m.verdict} (IMPUTED label × sex)"
    )


if __name__ == "__main__":
    main()
