"""Benchmark of the full ``coder demo`` (code, check, agreement, axis, sweeps, report), offline.

Run:  .venv/bin/python bench/bench_demo.py [--repeat 2]

Each run is a fresh ``coder demo --out <tmp> -q`` process (start-up and imports included); prints
the wall time of each and the per-step seconds the demo records in ``report.json``. The target is
under 60 s. Not a test: nothing fails when the machine is slow.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    coder = shutil.which("coder", path=str(Path(sys.executable).parent)) or "coder"
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores; {coder}")
    best = float("inf")
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "demo"
            t = time.perf_counter()
            subprocess.run([coder, "demo", "--out", str(out), "-q"], check=True)
            wall = time.perf_counter() - t
            report = json.loads((out / "report.json").read_text(encoding="utf-8"))
            steps = report.get("provenance", {}).get("params", {}).get("seconds") or report.get("seconds")
        best = min(best, wall)
        print(f"  run {i + 1}: {wall:.2f} s" + (f"  steps: {steps}" if steps else ""))
    print(f"best of {args.repeat}: {best:.2f} s (target < 60 s)")


if __name__ == "__main__":
    main()
