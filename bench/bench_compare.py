"""Compare two checkouts of the toolkit in one run: ``coder --help`` start-up and the 1M-row CSV → CSV coding.

Each measurement runs in a fresh process with ``PYTHONPATH`` pointing at one checkout, the two
checkouts interleaved (A, B, A, B, …) so machine load falls on both alike; best of ``--repeats``.
``python -c "import click"`` is measured in the same loop as the start-up reference.

Run: ``python bench/bench_compare.py OLD_CHECKOUT [NEW_CHECKOUT] [--repeats 5]`` (a script, not a
test). Make an old checkout with ``git worktree add /tmp/old <commit>``. The 1M-row file is the one
``bench/bench_code.py`` builds (``bench/out/npk_1m.csv``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"

HELP = "import sys; sys.argv = ['coder', '--help']; from coder.cli import main; main()"
CODE = """
import sys, time, resource, json
from coder.pipeline import code_file
t = time.perf_counter()
r = code_file(sys.argv[1], sys.argv[2], text_col="occupation", crosswalk_path=sys.argv[3])
print(json.dumps({"seconds": time.perf_counter() - t, "coding_seconds": r.seconds,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    # cwd: a folder with no coder/ in it — `python -c` puts the cwd ahead of PYTHONPATH
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env, cwd=OUT)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new", nargs="?", default=str(HERE.parent))
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    trees = {"old": str(Path(args.old).resolve()), "new": str(Path(args.new).resolve())}
    envs = {k: {**os.environ, "PYTHONPATH": v} for k, v in trees.items()}
    py = sys.executable
    OUT.mkdir(exist_ok=True)
    start = {"click": [], "old": [], "new": []}
    for _ in range(max(10, args.repeats)):
        start["click"].append(timed([py, "-c", "import click"], os.environ.copy()))
        for k in ("old", "new"):
            start[k].append(timed([py, "-c", HELP], envs[k]))
    src = OUT / "npk_1m.csv"
    if not src.exists():
        sys.exit(f"{src} is missing: run python bench/bench_code.py once to build it")
    coded: dict[str, list[dict]] = {"old": [], "new": []}
    for _ in range(args.repeats):
        for k in ("old", "new"):
            out = subprocess.run(
                [py, "-c", CODE, str(src), str(OUT / f"coded_{k}.csv"), str(OUT / f"xw_{k}.csv")],
                capture_output=True,
                text=True,
                check=True,
                env=envs[k],
            )
            coded[k].append(json.loads(out.stdout.strip().splitlines()[-1]))
    c = min(start["click"])
    print(f"python -c 'import click' : {c * 1000:6.0f} ms (best of {len(start['click'])})")
    for k in ("old", "new"):
        h = min(start[k])
        print(f"coder --help  {k:>3} ({trees[k]}): {h * 1000:6.0f} ms  ratio {h / c:.2f}x")
    for k in ("old", "new"):
        runs = coded[k]
        print(
            f"1M rows CSV -> CSV {k:>3}: best {min(r['seconds'] for r in runs):5.2f} s "
            f"(coding {min(r['coding_seconds'] for r in runs):4.2f} s), all {[round(r['seconds'], 2) for r in runs]}, "
            f"peak {max(r['peak_mb'] for r in runs):5.0f} MB"
        )


if __name__ == "__main__":
    main()
