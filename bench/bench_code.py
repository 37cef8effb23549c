"""Benchmark the offline coding core on a 1,000,000-row NPK-shaped file.

Builds ``bench/out/npk_1m.csv`` by expanding the bundled NPK label counts
(2,120 labels, 1,000,000 persons) and shuffling with a fixed seed, then measures,
each in a fresh process so peak memory is its own:

1. plain pandas: ``pd.read_csv`` + ``DataFrame.to_csv`` of the same file (baseline);
2. ``coder code`` CSV in → CSV out (``coder.pipeline.code_file``), with its coding
   time excluding I/O (``CodingResult.seconds``) and peak RSS;
3. the same, the CSV streamed in batches (``STREAM_CSV_BYTES`` set to 0; files of 64 MB or
   more stream by default), and whether its output bytes equal those of 2.

Then, in one more process, where the time of a run of 2 goes (:data:`BREAKDOWN`): each phase's
thread, its window from the start of ``code_file`` (s) and its CPU time (s), so the critical path
reads off the table (the setup threads run while the input is read; the rows and the crosswalk
are written side by side).

Run: ``python bench/bench_code.py [REPEATS]`` (a script, not a test; prints a table; default 3 repeats,
each kind's best and median: runs of a few threads on a shared 2-core machine vary by 10-20%).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


def build(path: Path, seed: int = 20261122) -> None:
    import numpy as np
    import pandas as pd

    from coder.demo import DEMO_DATA

    labels = pd.read_csv(DEMO_DATA, dtype={"occupation": str}, keep_default_na=False)
    occ = np.repeat(labels["occupation"].to_numpy(dtype=object), labels["count"].to_numpy())
    rng = np.random.default_rng(seed)
    rng.shuffle(occ)
    frame = pd.DataFrame({"row_id": [f"p{i:07d}" for i in range(len(occ))], "occupation": occ})
    frame.to_csv(path, index=False)


PLAIN = """
import sys, time, resource, json
import pandas as pd
t = time.perf_counter()
df = pd.read_csv(sys.argv[1])
df.to_csv(sys.argv[2], index=False)
print(json.dumps({"seconds": time.perf_counter() - t,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

CODER = """
import sys, time, resource, json
import coder.pipeline
from coder.pipeline import code_file
if sys.argv[4] == "stream":
    coder.pipeline.STREAM_CSV_BYTES = 0  # the streamed path, whatever the file's size
t = time.perf_counter()
r = code_file(sys.argv[1], sys.argv[2], text_col="occupation", crosswalk_path=sys.argv[3])
total = time.perf_counter() - t
print(json.dumps({"seconds": total, "coding_seconds": r.seconds,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rows": int(r.crosswalk["n_rows"].sum()), "labels": len(r.crosswalk)}))
"""


BREAKDOWN = """
import functools, json, sys, threading, time
from pathlib import Path
import coder.crosswalk.stage as stage
import coder.io as cio
import coder.pipeline as pipeline
PHASES = [  # (module, function, what it is)
    (pipeline, "_read_input_lines", "read the input (Arrow, whole)"),
    (pipeline, "file_sha256", "hash the input"),
    (pipeline, "_setup", "load code list, rules, status rules, index"),
    (pipeline, "_ready_model", "load the model, first-call work"),
    (pipeline, "tabulate_labels", "distinct labels"),
    (pipeline, "csv_text", "the rows' own columns as CSV (input lines)"),
    (pipeline, "_code", "code the labels (status, raters, decide)"),
    (pipeline, "_written_rows", "each label's added columns"),
    (cio, "_write_csv", "write (and hash) a CSV"),
    (stage, "write_meta", "write a sidecar"),
]
log, t0 = [], time.perf_counter()
def wrap(mod, name, what):
    f = getattr(mod, name, None)
    if f is None:
        return  # not in this checkout
    @functools.wraps(f)
    def timed(*args, **kwargs):
        start, cpu = time.perf_counter(), time.thread_time()
        try:
            return f(*args, **kwargs)
        finally:
            where = ""  # which file, for the two that write one (made only for them: other args are big)
            if name == "_write_csv":
                where = f" {Path(str(args[-1])).name}"
            elif name == "write_meta":
                where = f" of {Path(str(args[0])).name}"
            log.append([what + where, threading.current_thread().name, start - t0,
                        time.perf_counter() - t0, time.thread_time() - cpu])
    setattr(mod, name, timed)
for mod, name, what in PHASES:
    wrap(mod, name, what)
t0, cpu0 = time.perf_counter(), time.process_time()
pipeline.code_file(sys.argv[1], sys.argv[2], text_col="occupation", crosswalk_path=sys.argv[3])
log.append(["code_file, in all (CPU of every thread)", "MainThread", 0.0, time.perf_counter() - t0, time.process_time() - cpu0])
print(json.dumps(sorted(log, key=lambda x: x[2])))
"""


def breakdown(src: Path) -> None:
    """Print where the time of one CSV -> CSV run goes (see :data:`BREAKDOWN`)."""
    out = subprocess.run(
        [sys.executable, "-c", BREAKDOWN, str(src), str(OUT / "coded.csv"), str(OUT / "crosswalk.csv")],
        capture_output=True,
        text=True,
        check=True,
    )
    print("\nwhere the time of one coder code CSV -> CSV run goes (window from the start of code_file, CPU):")
    for what, thread, start, end, cpu in json.loads(out.stdout.strip().splitlines()[-1]):
        name = "main" if thread == "MainThread" else "thread"
        print(f"  {what:52s} {name:6s} {start:5.2f} -> {end:5.2f} s   cpu {cpu:5.2f} s")


def run(script: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    OUT.mkdir(exist_ok=True)
    src = OUT / "npk_1m.csv"
    if not src.exists():
        t = time.perf_counter()
        build(src)
        print(f"built {src} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    plain: list[dict] = []
    coded, streamed = [], []
    for _ in range(repeats):  # interleaved, so a busy moment of a shared machine hits every kind alike
        plain.append(run(PLAIN, str(src), str(OUT / "plain.csv")))
        coded.append(run(CODER, str(src), str(OUT / "coded.csv"), str(OUT / "crosswalk.csv"), "whole"))
        streamed.append(run(CODER, str(src), str(OUT / "streamed.csv"), str(OUT / "crosswalk_s.csv"), "stream"))
    p = min(x["seconds"] for x in plain)
    c = min(x["seconds"] for x in coded)
    s = min(x["seconds"] for x in streamed)
    k = min(x["coding_seconds"] for x in coded)
    pm = statistics.median(x["seconds"] for x in plain)
    cm = statistics.median(x["seconds"] for x in coded)
    same = (OUT / "coded.csv").read_bytes() == (OUT / "streamed.csv").read_bytes()
    print(f"rows: {coded[0]['rows']:,}  distinct labels: {coded[0]['labels']:,}  (best and median of {repeats})")
    print(
        f"plain pandas read_csv + to_csv     : {p:6.2f} s   median {pm:5.2f} s   peak {max(x['peak_mb'] for x in plain):5.0f} MB"
    )
    print(
        f"coder code CSV -> CSV (incl. I/O)   : {c:6.2f} s   median {cm:5.2f} s   peak {max(x['peak_mb'] for x in coded):5.0f} MB"
    )
    print(f"  coding only (labels, raters, join): {k:6.2f} s")
    print(f"  ratio to plain pandas             : {c / p:6.2f}x best, {cm / pm:4.2f}x median  (target < 1x)")
    print(
        f"coder code, CSV streamed in batches : {s:6.2f} s   peak {max(x['peak_mb'] for x in streamed):7.0f} MB"
        f"   (same bytes: {same})"
    )
    breakdown(src)


if __name__ == "__main__":
    main()
