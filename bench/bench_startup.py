"""Start-up time of ``coder --help`` against ``python -c "import click"``, measured in one run.

Run: ``python bench/bench_startup.py`` (a script, not a test). Target: at most 3x.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

CODER = Path(sys.executable).with_name("coder")


def best(cmd: list[str], n: int = 10) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


if __name__ == "__main__":
    click_s = best([sys.executable, "-c", "import click"])
    help_s = best([str(CODER), "--help"])
    norm_s = best([sys.executable, "-c", "import coder.normalize, sys; assert 'pandas' not in sys.modules"])
    print(f"python -c 'import click'   : {click_s * 1000:6.0f} ms (median of 10)")
    print(f"coder --help               : {help_s * 1000:6.0f} ms  ratio {help_s / click_s:.2f}x (target <= 3x)")
    print(f"import coder.normalize     : {norm_s * 1000:6.0f} ms  (pandas not loaded)")
