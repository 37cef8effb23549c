"""Panel throughput on the loopback fake vendor (one thread pool per member), and the cached second run.

The fake vendor (``tests/fake_vendor.py``, in its own process so it does not share the
client's interpreter lock) answers every call after ``--latency`` seconds (default 50 ms; a real
vendor takes 1 s or more: run ``--latency 1.0`` and ``--latency 2.0``).  Labels: the NPK labels
the offline core leaves for review plus job-dictionary names (seeded sample), through three
members (OpenAI, Anthropic and Gemini wire formats, the real SDKs), ``--concurrency`` calls in
flight per member (default 8, the members' default ``max_concurrency``).

Ideal throughput = members × concurrency / latency (3 × 8 / 0.05 s = 480 calls/s; 3 × 8 / 1 s =
24 calls/s).  The number of job names is chosen so that each member's calls fill whole rounds of
``concurrency`` calls (give or take the few labels that share a text) and the ideal run lasts
about ``--seconds`` (default 30 s); ``--jobs N`` sets it instead (``--jobs 2000`` is the
6,006-call run of the earlier 50 ms measurements).

Every member's calls run on its own thread pool in this process, as in ``coder panel``
(``coder/panel/execute.py``; ``--workers processes``, one forked worker process per member, was
removed after this benchmark showed it no faster at 1 s and 2 s — the numbers are in that
module's docstring).  Reports the measured calls/s and its share of the ideal twice: run 1 cold
(the vendor SDKs are imported inside it), run 2 on a fresh cache with the SDKs loaded; then run 2
again from the cache (plan + run; target < 2 s).  The machine's noise is large (the same run
varies by ±15 % at 50 ms): run it a few times.

Run (a script, not a test)::

    python bench/bench_panel.py --latency 1.0
    python bench/bench_panel.py --latency 2.0
    python bench/bench_panel.py --latency 1.0 --concurrency 32
    python bench/bench_panel.py --latency 0.05 --jobs 2000
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fake_vendor import FAKE_KEY, write_panel, write_prices  # noqa: E402

from coder.codes import load_codes  # noqa: E402
from coder.demo import DEMO_DATA  # noqa: E402
from coder.io import read_table  # noqa: E402
from coder.labels import tabulate_labels  # noqa: E402
from coder.panel import load_panel, load_prices, load_prompts, plan_panel, run_panel  # noqa: E402
from coder.panel.cache import ResponseCache  # noqa: E402
from coder.panel.run import select_cores  # noqa: E402
from coder.panel.vendor import adapter_class  # noqa: E402
from coder.pipeline import code_labels  # noqa: E402
from coder.raters.index import load_index  # noqa: E402


def labels_to_send(latency: float, concurrency: int, seconds: float, n_jobs: int | None) -> pd.DataFrame:
    """The review labels plus ``n_jobs`` job names; by default as many as make whole rounds lasting ~``seconds``."""
    npk = read_table(DEMO_DATA)
    table = tabulate_labels(npk["occupation"], pd.to_numeric(npk["count"]))
    xw_npk = code_labels(table)
    review = xw_npk.iloc[select_cores(xw_npk, "review")]
    names = sorted({e.key for e in load_index().entries if e.source == "jobdict"} - set(xw_npk["core_key"]))
    if n_jobs is None:
        rounds = max(1, round(seconds / latency))
        n_jobs = max(0, rounds * concurrency - len(review))
    if n_jobs > len(names):
        raise SystemExit(f"{n_jobs:,} job names asked for, {len(names):,} available: lower --seconds or --concurrency")
    pick = np.random.default_rng(0).choice(len(names), size=n_jobs, replace=False)
    xw_jobs = code_labels(tabulate_labels(pd.Series([names[i] for i in sorted(pick)], dtype=object)))
    print(f"labels: {len(review)} NPK labels left for review + {len(xw_jobs)} job-dictionary names")
    return pd.concat([review, xw_jobs], ignore_index=True)


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--latency", type=float, default=0.05, help="seconds the fake vendor takes per call (default 0.05)")
    ap.add_argument("--concurrency", type=int, default=8, help="calls in flight per member (default 8)")
    ap.add_argument(
        "--seconds", type=float, default=30.0, help="length of the ideal run, sizes the labels (default 30)"
    )
    ap.add_argument("--jobs", type=int, default=None, help="job-dictionary names to send (overrides --seconds)")
    args = ap.parse_args()
    latency, concurrency = args.latency, args.concurrency
    xw = labels_to_send(latency, concurrency, args.seconds, args.jobs)
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fake_vendor.py"), "--latency", str(latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as tmp:
            for env in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
                os.environ[env] = FAKE_KEY
            panel = write_panel(Path(tmp) / "panel.toml", url, max_concurrency=concurrency, timeout_s=30.0 + latency)
            members, _ = load_panel(panel)
            prices = load_prices(write_prices(Path(tmp) / "prices.toml"))
            codes, prompts = load_codes(), load_prompts()
            ideal = len(members) * concurrency / latency
            # run 1 starts cold, as `coder panel` does: the vendor SDKs are imported inside the timed
            # call (about 0.5 s each).  Run 2, on a fresh cache, is the steady state of a process that
            # has the SDKs imported already (a notebook that ran the panel before): they are imported
            # here first
            for n, what in ((1, "cold (SDK import inside)"), (2, "SDKs loaded (steady state)")):
                if n == 2:
                    for m in members:
                        adapter_class(m.vendor)(m, FAKE_KEY).close()
                with ResponseCache(Path(tmp) / f"cache{n}") as cache:
                    t0 = time.perf_counter()
                    plan = plan_panel(xw, members, codes=codes, prompts=prompts, cache=cache, prices=prices, only="all")
                    t_plan = time.perf_counter() - t0
                    srv0, cpu0, t0 = _cpu_of(server.pid), os.times(), time.perf_counter()
                    run = run_panel(plan, codes=codes, cache=cache, prices=prices)
                    wall = time.perf_counter() - t0
                    cpu1, srv = os.times(), _cpu_of(server.pid) - srv0
                    cpu = cpu1.user + cpu1.system - cpu0.user - cpu0.system
                    calls = sum(s.calls for s in run.stats.values())
                    if n == 1:
                        print(
                            f"plan: {len(plan.cores):,} texts × {len(members)} members = {plan.calls:,} calls "
                            f"({t_plan:.2f} s); latency {latency:g} s, {concurrency} in flight per member: "
                            f"ideal {ideal:.0f} calls/s, {plan.calls / ideal:.1f} s"
                        )
                    print(
                        f"run {n}, {what}: {calls:,} calls in {wall:.2f} s = {calls / wall:.1f} calls/s "
                        f"→ {calls / wall / ideal:.1%} of ideal (target ≥ 80%)"
                    )
                    print(
                        f"  CPU: client {cpu:.1f} s = {1000 * cpu / calls:.2f} ms/call ({cpu / wall:.0%} of a core); "
                        f"fake server (own process) {srv:.1f} s = {1000 * srv / calls:.2f} ms/call; "
                        f"load {os.getloadavg()[0]:.2f}"
                    )
            with ResponseCache(Path(tmp) / "cache2") as cache:
                t0 = time.perf_counter()
                plan2 = plan_panel(xw, members, codes=codes, prompts=prompts, cache=cache, prices=prices, only="all")
                run2 = run_panel(plan2, codes=codes, cache=cache, prices=prices)
                cached = time.perf_counter() - t0
                hits = sum(s.hits for s in run2.stats.values())
                print(
                    f"cached re-run (plan + run): {hits:,} cache hits, "
                    f"{sum(s.calls for s in run2.stats.values())} calls, {cached:.2f} s (target < 2 s)"
                )
    finally:
        server.stdin.close()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
