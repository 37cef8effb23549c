"""How good is the fuzzy top code at each score threshold? (the evidence for FUZZY_THRESHOLD)

The shortlist index is the KSCO-7 titles plus the job-dictionary names of the
*training* jobs (the model's job-id split, coder.model.split_groups); the queries
are the names of the held-out jobs that are not already exact index entries.
For each rapidfuzz scorer and threshold it prints the share of queries whose top
score reaches the threshold (coverage) and how often the top code agrees with
the dictionary's unit group at the major and 4-digit level.

Run: ``python bench/fuzzy_threshold.py``
"""

from __future__ import annotations

import numpy as np
from rapidfuzz import fuzz, process

from coder.codes import load_codes
from coder.raters.fuzzy import fuzzy_scores
from coder.raters.index import load_index
from coder.raters.model import split_groups


def main() -> None:
    codes = load_codes()
    index = load_index(codes=codes)
    names = [e for e in index.entries if e.source == "jobdict"]
    held = split_groups([e.ref for e in names])
    train = [e for e, h in zip(names, held) if not h] + [e for e in index.entries if e.source != "jobdict"]
    train_keys = {e.key for e in train}
    queries = [e for e, h in zip(names, held) if h and e.key not in train_keys]
    print(f"index: {len(train):,} entries (titles + training-job names); queries: {len(queries):,} held-out names")
    gold = [e.code for e in queries]
    scorers = (
        ("jamo (coder.raters.fuzzy.fuzzy_scores)", None),
        ("ratio", fuzz.ratio),
        ("WRatio", fuzz.WRatio),
        ("partial_ratio", fuzz.partial_ratio),
    )
    for name, scorer in scorers:
        if scorer is None:
            matrix = fuzzy_scores([q.key for q in queries], [e.key for e in train])
        else:
            matrix = process.cdist([q.key for q in queries], [e.key for e in train], scorer=scorer, workers=2) / 100
        best, score = matrix.argmax(1), matrix.max(1)
        pred = [codes.truncate(train[j].code, 4) for j in best]
        ok4 = np.array([p == g for p, g in zip(pred, gold)])
        ok1 = np.array([p[:1] == g[:1] for p, g in zip(pred, gold)])
        print(f"\n{name}: all queries  major {ok1.mean():.3f}  unit {ok4.mean():.3f}")
        print("  threshold  coverage  major  unit(4-digit)")
        for t in (0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.96):
            sel = score >= t
            if sel.any():
                print(
                    f"  >= {t:4.2f}    {sel.mean():7.3f}  {ok1[sel].mean():5.3f}  {ok4[sel].mean():5.3f}  (n={sel.sum()})"
                )


if __name__ == "__main__":
    main()
