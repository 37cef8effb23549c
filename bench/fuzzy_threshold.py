"""How good is the fuzzy top code at each score threshold? (the evidence for FUZZY_THRESHOLD)

Scores every job-dictionary name (crosswalks/jobdict_index.csv when present, else
../shared/data/jobdict/jobdict_index.csv) against the KSCO-7 titles with several
rapidfuzz scorers and prints, per threshold, the share of names whose top score
reaches it (coverage) and how often the top code agrees with the dictionary's
unit group at the major and 4-digit level.  Names equal to a title (score 1.0)
are included, so read the rows just below 1.0 for the fuzzy matches proper.

Run: ``python bench/fuzzy_threshold.py``
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process

from coder.codes import load_codes
from coder.fuzzy import title_entries
from coder.normalize import label_key
from coder.resources import data_path


def main() -> None:
    path = data_path("crosswalks", "jobdict_index.csv")
    if not path.exists():
        path = Path(__file__).resolve().parents[2] / "shared" / "data" / "jobdict" / "jobdict_index.csv"
    codes = load_codes()
    entries = title_entries(codes)
    with open(path, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    queries = [label_key(r["text"]) for r in rows]
    gold = [r["ksco_code"] for r in rows]
    print(f"{len(rows):,} names from {path}")
    for name, scorer in (("ratio", fuzz.ratio), ("WRatio", fuzz.WRatio), ("partial_ratio", fuzz.partial_ratio)):
        matrix = process.cdist(queries, [e.key for e in entries], scorer=scorer, workers=2)
        best, score = matrix.argmax(1), matrix.max(1) / 100
        pred = [codes.truncate(entries[j].code, 4) for j in best]
        ok4 = np.array([p == g for p, g in zip(pred, gold)])
        ok1 = np.array([p[:1] == g[:1] for p, g in zip(pred, gold)])
        print(f"\n{name}: all names  major {ok1.mean():.3f}  unit {ok4.mean():.3f}")
        print("  threshold  coverage  major  unit(4-digit)")
        for t in (0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0):
            sel = score >= t
            if sel.any():
                print(f"  >= {t:4.2f}    {sel.mean():7.3f}  {ok1[sel].mean():5.3f}  {ok4[sel].mean():5.3f}")


if __name__ == "__main__":
    main()
