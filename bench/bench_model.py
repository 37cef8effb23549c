"""Benchmark of the job-dictionary index and the learned rater (a script, not a test).

Times: training plus held-out evaluation (``train_model(evaluate=True)``, what
``coder model train`` runs), loading the shipped model from disk, ``model_rater``
on the 2,120 distinct NPK labels and on 10,000 keys, and ``index_rater`` on the
NPK labels.  Also counts how the two raters answer the NPK labels.

    .venv/bin/python bench/bench_model.py            # everything (~45 s)
    .venv/bin/python bench/bench_model.py --no-train # predict/load timings only
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import time
from pathlib import Path

from coder.normalize import label_key
from coder.raters.index import index_rater, load_index
from coder.raters.model import MODEL_DIR, MODEL_NAME, MODEL_THRESHOLD, _read_model, model_rater, train_model

NPK = Path(__file__).resolve().parents[2] / "shared" / "data" / "npk" / "occupation.csv"


def _best(fn, repeat: int = 5) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def _npk_keys(path: Path) -> list[str]:
    if not path.is_file():
        sys.exit(f"{path}: NPK label table not found — pass --npk PATH (shared/data/npk/occupation.csv).")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return sorted({label_key(r["occupation"]) for r in csv.DictReader(fh)} - {""})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--npk", type=Path, default=NPK, help="NPK occupation.csv (distinct labels)")
    ap.add_argument("--no-train", action="store_true", help="skip the training + evaluation timing")
    args = ap.parse_args()

    if not args.no_train:
        t0 = time.perf_counter()
        model = train_model()
        ev = model.metadata["evaluation"]
        print(f"train + evaluate: {time.perf_counter() - t0:.1f} s (evaluation part {ev['seconds']:.1f} s)")
        print("held-out micro " + " ".join(f"{k}:{v:.3f}" for k, v in ev["accuracy"].items()))

    js = MODEL_DIR / f"{MODEL_NAME}.json"
    load_s, model = _best(lambda: _read_model(js))
    print(f"load shipped model (cold read + sha256 check): {load_s * 1000:.0f} ms; "
          f"npz {(MODEL_DIR / f'{MODEL_NAME}.npz').stat().st_size / 1e6:.2f} MB")  # fmt: skip

    keys = _npk_keys(args.npk)
    s, res = _best(lambda: model_rater(keys, model=model))
    print(f"model_rater on {len(keys)} NPK labels: {s * 1000:.0f} ms")
    rng = random.Random(0)
    syll = [chr(c) for c in range(0xAC00, 0xAC00 + 2000, 7)]
    many = ["".join(rng.choice(syll) for _ in range(rng.randint(2, 9))) + rng.choice(["원", "사", "공", "자"])
            for _ in range(10_000)]  # fmt: skip
    s10, _ = _best(lambda: model_rater(many, model=model), repeat=3)
    print(f"model_rater on 10,000 distinct keys: {s10 * 1000:.0f} ms")

    load_index()  # build once (cached), as the coding pipeline does
    si, ix = _best(lambda: index_rater(keys))
    print(f"index_rater on {len(keys)} NPK labels: {si * 1000:.1f} ms")

    hits = sum(bool(c) for c in ix.codes)
    from_dict = sum(bool(c) and d.startswith("jobdict") for c, d in zip(ix.codes, ix.details, strict=True))
    final = sum(res.extra["final_ok"])
    depth = statistics.mean(len(c) for c in res.codes if c) if final else float("nan")
    print(f"NPK labels: index codes {hits} ({from_dict} via a dictionary name, the rest KSCO-7 titles); "
          f"model codes (p ≥ {MODEL_THRESHOLD}) {final}, mean level {depth:.2f}; median model p {statistics.median(res.scores):.2f}")  # fmt: skip
    unmatched = [(k, c, p) for k, c, p, i in zip(keys, res.codes, res.scores, ix.codes, strict=True) if not i]
    print(
        f"not in the index: {len(unmatched)}; of those model-final: {sum(p >= MODEL_THRESHOLD for _, _, p in unmatched)}"
    )


if __name__ == "__main__":
    main()
