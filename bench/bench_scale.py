"""Scale benchmarks: distinct labels per second, and rows streamed, each with peak memory.

``labels N``: code N distinct labels (``coder.pipeline.code_labels``, all offline raters at the
defaults) and print labels/s and peak RSS.  ``rows N``: build (in another process; ``build N`` alone) an N-row Parquet file of NPK-shaped
rows (``bench/out/rows_N.parquet``: row id, occupation from the NPK label counts, sex, age; built
batch by batch) and code it Parquet → Parquet with ``coder.pipeline.code_file``, printing wall time
and peak RSS; ``csvrows N`` the same rows as a CSV (``buildcsv N``; pyarrow quotes every string cell) coded
CSV → CSV (64 MB or more streams).  ``apply N``: the same Parquet rows joined to a crosswalk
Parquet → Parquet with ``coder.pipeline.apply_file`` (the crosswalk coded once, in another process, from the
NPK labels: ``bench/out/apply_crosswalk.csv``), printing wall time and peak RSS.  ``profile N``: seconds per stage
(each offline rater, the status pass, assembly, decision) for N distinct labels.  ``fuzzy N``: the fuzzy
rater alone on the labels it gets among N (wall and CPU, best of 3, and a digest of its answers to compare
checkouts).  ``table``: every size (10^4, 10^5, 10^6 labels; 10^6, 10^7, 10^8 rows) as a Markdown
table, each in a fresh process; ``--keep`` keeps the built files (they are deleted by default).

The labels are synthetic but shaped like survey answers: the NPK labels and the job-dictionary
names, with workplace words before them, rank or contract words after them, and one-jamo typos
(:func:`synthetic_labels`, fixed seed), distinct by ``label_key``.

Run: ``python bench/bench_scale.py table`` (a script, not a test).  Peak RSS is the process's
``ru_maxrss``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"

PREFIXES = [
    "",
    "",
    "",
    "서울",
    "부산",
    "지방",
    "중소기업",
    "대기업",
    "공기업",
    "개인",
    "프리랜서",
    "파트타임",
    "계약직",
    "정규직",
    "시간제",
    "주말",
    "야간",
    "전문",
    "보조",
    "수습",
    "자영업",
    "가족",
    "농촌",
    "해외",
]
SUFFIXES = [
    "",
    "",
    "",
    "보조",
    "팀장",
    "과장",
    "실장",
    "관리",
    "업무",
    "(계약직)",
    "(정규직)",
    " 알바",
    "직",
    " 겸 사장",
    " 3년차",
    "원",
    "사",
    " 일",
    " 등",
    " 보조원",
    " 책임자",
    " 견습",
    " 외",
    "업",
]


def _typo(text: str, rng) -> str:
    """One jamo replaced in one Hangul syllable of ``text`` (the text unchanged when it has none)."""
    hangul = [i for i, c in enumerate(text) if "가" <= c <= "힣"]
    if not hangul:
        return text
    i = hangul[int(rng.integers(len(hangul)))]
    o = ord(text[i]) - 0xAC00
    lead, vowel, tail = o // 588, (o % 588) // 28, o % 28
    part = int(rng.integers(3))
    if part == 0:
        lead = (lead + 1 + int(rng.integers(18))) % 19
    elif part == 1:
        vowel = (vowel + 1 + int(rng.integers(20))) % 21
    else:
        tail = (tail + 1 + int(rng.integers(27))) % 28
    return text[:i] + chr(0xAC00 + (lead * 21 + vowel) * 28 + tail) + text[i + 1 :]


def synthetic_labels(n: int, seed: int = 20261206) -> list[str]:
    """``n`` labels with distinct ``label_key``: NPK labels and job names, varied (see the module docstring)."""
    import numpy as np
    import pandas as pd

    from coder.demo import DEMO_DATA
    from coder.normalize import label_key
    from coder.raters.index import load_index

    base = pd.read_csv(DEMO_DATA, dtype={"occupation": str}, keep_default_na=False)["occupation"].tolist()
    base += [e.text for e in load_index().entries]
    base = list(dict.fromkeys(base))
    rng = np.random.default_rng(seed)
    out: dict[str, str] = {}
    for text in base:
        out.setdefault(label_key(text), text)
    while len(out) < n:
        m = 2 * (n - len(out)) + 1000
        b = rng.integers(len(base), size=m)
        p = rng.integers(len(PREFIXES), size=m)
        s = rng.integers(len(SUFFIXES), size=m)
        t = rng.random(m) < 0.3
        for i in range(m):
            text = base[b[i]]
            text = (PREFIXES[p[i]] + " " if PREFIXES[p[i]] else "") + text + SUFFIXES[s[i]]
            if t[i]:
                text = _typo(text, rng)
            out.setdefault(label_key(text), text)
            if len(out) >= n:
                break
    return list(out.values())[:n]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_labels(n: int) -> dict:
    import pandas as pd

    from coder.labels import tabulate_labels
    from coder.pipeline import code_labels

    texts = synthetic_labels(n)
    code_labels(tabulate_labels(pd.Series(["간호사"])))  # load the model, rules and index outside the clock
    t = time.perf_counter()
    labels = tabulate_labels(pd.Series(texts, dtype=object))
    xw = code_labels(labels)
    seconds = time.perf_counter() - t
    return {"labels": len(xw), "seconds": seconds, "labels_per_s": len(xw) / seconds, "peak_mb": peak_mb()}


STAGES = {
    "tabulate_labels": "labels table",
    "parse_status": "status",
    "lookup_titles": "title",
    "apply_rules": "rule",
    "index_rater": "index",
    "model_rater": "model",
    "fuzzy_shortlist": "fuzzy",
    "Assembler": "assemble",
    "assemble_crosswalk": "assemble",  # checkouts before the batched assembly
    "decide": "decide",
}


def profile_labels(n: int) -> dict:
    """Seconds per stage of coding ``n`` distinct labels (each rater, the status pass, assembly, decision).

    Times the functions :mod:`coder.pipeline` calls by wrapping them in its namespace, so the same
    script profiles any checkout of the pipeline (``PYTHONPATH=<checkout>``).
    """
    import pandas as pd

    import coder.pipeline as pipeline

    texts = synthetic_labels(n)
    pipeline.code_labels(pipeline.tabulate_labels(pd.Series(["간호사"])))  # loads outside the clock
    seconds = dict.fromkeys(STAGES.values(), 0.0)

    def timed(name: str, fn):
        def run(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                seconds[STAGES[name]] += time.perf_counter() - t

        return run

    if hasattr(pipeline, "Assembler"):  # its batches of stored columns are assembly too
        pipeline.Assembler.frame = timed("Assembler", pipeline.Assembler.frame)
    for name in STAGES:
        if hasattr(pipeline, name):
            setattr(pipeline, name, timed(name, getattr(pipeline, name)))
    t = time.perf_counter()
    xw = pipeline.code_labels(pipeline.tabulate_labels(pd.Series(texts, dtype=object)))
    total = time.perf_counter() - t
    return {"labels": len(xw), "seconds": total, "labels_per_s": len(xw) / total, "peak_mb": peak_mb(), **seconds}


def fuzzy_alone(n: int, repeat: int = 3) -> dict:
    """Seconds of the fuzzy rater alone (best of ``repeat``: wall, and CPU of all its threads) on the labels it
    gets when ``n`` distinct labels are coded, and a digest of its answers.

    One coding run records each ``fuzzy_shortlist`` call's keys and arguments; the calls are then repeated
    by themselves.  The digest (SHA-256 of codes, scores, details, candidates and ``final_ok``) compares
    checkouts: the same digest, the same shortlists (``PYTHONPATH=<checkout>``).
    """
    import hashlib

    import pandas as pd

    import coder.pipeline as pipeline

    texts = synthetic_labels(n)
    calls = []
    shortlist = pipeline.fuzzy_shortlist

    def record(keys, **kwargs):
        calls.append((list(keys), kwargs))
        return shortlist(keys, **kwargs)

    pipeline.fuzzy_shortlist = record
    try:
        pipeline.code_labels(pipeline.tabulate_labels(pd.Series(texts, dtype=object)))
    finally:
        pipeline.fuzzy_shortlist = shortlist
    walls, cpus = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        results = [shortlist(keys, **kwargs) for keys, kwargs in calls]
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    digest = hashlib.sha256()
    for r in results:
        digest.update(repr((r.codes, r.scores, r.details, r.candidates, r.extra["final_ok"])).encode())
    rated = sum(1 for _, kwargs in calls for skip in kwargs["skip"] if not skip)
    return {
        "labels": len(texts),
        "rated": rated,
        "wall": min(walls),
        "cpu": min(cpus),
        "walls": walls,
        "cpus": cpus,
        "digest": digest.hexdigest()[:16],
    }


def build_rows(path: Path, n: int, seed: int = 20261122, batch: int = 1_000_000) -> None:
    """An ``n``-row Parquet file: ``row_id``, ``occupation`` (drawn from the NPK label shares), ``sex``, ``age``."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from coder.demo import DEMO_DATA

    labels = pd.read_csv(DEMO_DATA, dtype={"occupation": str}, keep_default_na=False)
    occ = pa.array(labels["occupation"].tolist(), pa.string())
    p = labels["count"].to_numpy(dtype=float)
    p /= p.sum()
    rng = np.random.default_rng(seed)
    sexes = pa.array(["F", "M"])
    with pq.ParquetWriter(
        path,
        pa.schema([("row_id", pa.int64()), ("occupation", pa.string()), ("sex", pa.string()), ("age", pa.int16())]),
    ) as writer:
        for a in range(0, n, batch):
            m = min(batch, n - a)
            writer.write_table(
                pa.table(
                    {
                        "row_id": pa.array(np.arange(a, a + m, dtype=np.int64)),
                        "occupation": occ.take(pa.array(rng.choice(len(p), size=m, p=p))),
                        "sex": sexes.take(pa.array(rng.integers(2, size=m))),
                        "age": pa.array(rng.integers(19, 90, size=m).astype(np.int16)),
                    }
                )
            )


def build_csv(path: Path, parquet: Path) -> None:
    """The Parquet rows as a UTF-8 CSV (pyarrow's writer: every string cell quoted), batch by batch."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(parquet)
    with pacsv.CSVWriter(path, pf.schema_arrow) as writer:
        for batch in pf.iter_batches(batch_size=1 << 20):
            writer.write_batch(batch)


def bench_csv_rows(n: int, keep: bool) -> dict:
    """:func:`bench_rows` for a CSV input written to CSV (a file of 64 MB or more streams)."""
    return _bench_file(n, keep, "csv", "buildcsv")


def bench_rows(n: int, keep: bool) -> dict:
    """Code the N-row Parquet file Parquet → Parquet (built in another process when missing)."""
    return _bench_file(n, keep, "parquet", "build")


def _bench_file(n: int, keep: bool, ext: str, build: str) -> dict:
    from coder.pipeline import code_file

    OUT.mkdir(exist_ok=True)
    src, dst = OUT / f"rows_{n}.{ext}", OUT / f"rows_{n}_coded.{ext}"
    if not src.exists():  # built in another process: the peak RSS below is the coding run's alone
        env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
        subprocess.run([sys.executable, str(Path(__file__).resolve()), build, str(n)], check=True, env=env)
    t = time.perf_counter()
    try:
        result = code_file(src, dst, text_col="occupation")
        seconds = time.perf_counter() - t
        rows = int(result.crosswalk["n_rows"].sum())
    finally:
        if not keep:
            for f in (src, dst, Path(f"{dst}.meta.json")):
                f.unlink(missing_ok=True)
    return {
        "rows": rows,
        "labels": len(result.crosswalk),
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "peak_mb": peak_mb(),
    }


def bench_apply(n: int, keep: bool) -> dict:
    """Apply a crosswalk of the NPK labels to the N-row Parquet file, Parquet → Parquet.

    The rows file and the crosswalk are made in other processes when missing (``coder code`` on the NPK
    labels, which are every label of the rows), so the peak RSS below is the apply run's alone.
    """
    from coder.demo import DEMO_DATA
    from coder.pipeline import apply_file

    OUT.mkdir(exist_ok=True)
    src, dst, xw = OUT / f"rows_{n}.parquet", OUT / f"rows_{n}_applied.parquet", OUT / "apply_crosswalk.csv"
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    if not src.exists():
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "build", str(n)], check=True, env=env)
    if not xw.exists():
        coded = OUT / "apply_crosswalk_rows.csv"
        code = ["code", str(DEMO_DATA), "--text-col", "occupation", "-o", str(coded), "--crosswalk", str(xw), "-q"]
        subprocess.run([sys.executable, "-m", "coder", *code], check=True, env=env)
        for f in (coded, Path(f"{coded}.meta.json")):
            f.unlink(missing_ok=True)
    t = time.perf_counter()
    try:
        apply_file(src, xw, dst, text_col="occupation")
        seconds = time.perf_counter() - t
        with open(f"{dst}.meta.json", encoding="utf-8") as fh:
            rows = int(json.load(fh)["summary"]["rows"])
    finally:
        if not keep:
            for f in (src, dst, Path(f"{dst}.meta.json")):
                f.unlink(missing_ok=True)
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds, "peak_mb": peak_mb()}


def _child(kind: str, n: int, keep: bool) -> dict:
    args = [sys.executable, str(Path(__file__).resolve()), kind, str(n), "--json"] + (["--keep"] if keep else [])
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    out = subprocess.run(args, capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "kind", choices=["labels", "profile", "fuzzy", "build", "buildcsv", "rows", "csvrows", "apply", "table"]
    )
    ap.add_argument("n", nargs="?", type=int, default=10_000)
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    ap.add_argument("--keep", action="store_true", help="keep the built Parquet files")
    args = ap.parse_args()
    if args.kind == "table":
        print("| what | size | wall | rate | peak RSS |\n|---|---|---|---|---|")
        for n in (10_000, 100_000, 1_000_000):
            r = _child("labels", n, args.keep)
            print(
                f"| distinct labels | {r['labels']:,} | {r['seconds']:.1f} s | {r['labels_per_s']:,.0f} labels/s "
                f"| {r['peak_mb']:,.0f} MB |",
                flush=True,
            )
        for n in (1_000_000, 10_000_000, 100_000_000):
            r = _child("rows", n, args.keep)
            print(
                f"| rows (Parquet → Parquet) | {r['rows']:,} | {r['seconds']:.1f} s | {r['rows_per_s']:,.0f} rows/s "
                f"| {r['peak_mb']:,.0f} MB |",
                flush=True,
            )
        for n in (1_000_000, 10_000_000):
            r = _child("csvrows", n, args.keep)
            print(
                f"| rows (CSV → CSV) | {r['rows']:,} | {r['seconds']:.1f} s | {r['rows_per_s']:,.0f} rows/s "
                f"| {r['peak_mb']:,.0f} MB |",
                flush=True,
            )
        return
    if args.kind in ("build", "buildcsv"):
        OUT.mkdir(exist_ok=True)
        parquet = OUT / f"rows_{args.n}.parquet"
        made = not parquet.exists()
        if made or args.kind == "build":
            build_rows(parquet, args.n)
        if args.kind == "buildcsv":
            build_csv(OUT / f"rows_{args.n}.csv", parquet)
            if made:
                parquet.unlink()
        return
    run = {"labels": bench_labels, "profile": profile_labels, "fuzzy": fuzzy_alone}.get(args.kind)
    rows = {"csvrows": bench_csv_rows, "apply": bench_apply}.get(args.kind, bench_rows)
    result = run(args.n) if run else rows(args.n, args.keep)
    print(json.dumps(result) if args.json else result)


if __name__ == "__main__":
    main()
