"""Issue 22: the scaled-up paths give the same answers as the plain ones.

The fuzzy rater scores in blocks of rows and keeps each row's top entries (memory O(labels × k),
not O(labels × entries)); these tests compare it with a small reference implementation of the
full-matrix shortlist it replaced, on the NPK labels, the held-out job names and one-jamo typos
of them.  They compare code with code, not with a stored file, so a change of rules, model or
index elsewhere does not break them.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

import coder.raters.fuzzy as fz
from coder.demo import DEMO_DATA
from coder.normalize import label_key
from coder.panel.evaluate import heldout_names
from coder.raters.index import load_index


def _typo(text: str, i: int) -> str:
    """``text`` with the vowel of its ``i``-th Hangul syllable (counted cyclically) changed."""
    hangul = [j for j, c in enumerate(text) if "가" <= c <= "힣"]
    if not hangul:
        return text + "ㅏ"
    j = hangul[i % len(hangul)]
    o = ord(text[j]) - 0xAC00
    vowel = ((o % 588) // 28 + 1) % 21
    return text[:j] + chr(0xAC00 + (o // 588) * 588 + vowel * 28 + o % 28) + text[j + 1 :]


@pytest.fixture(scope="module")
def queries() -> list[str]:
    npk = pd.read_csv(DEMO_DATA, dtype={"occupation": str}, keep_default_na=False)["occupation"].tolist()
    held = heldout_names()[0]
    return [label_key(t) for t in [*npk, *held, *(_typo(t, i) for i, t in enumerate(held))]]


def _reference_shortlist(keys, entries, k, threshold, skip):
    """The full-matrix shortlist as it was before issue 22 (two full cdist matrices, one argpartition)."""
    n = len(keys)
    codes, scores, details, cands = [""] * n, [math.nan] * n, [""] * n, [()] * n
    todo = [i for i in range(n) if keys[i] and not skip[i]]
    qj = [fz.decompose_jamo(label_key(keys[i])) for i in todo]
    cj = [fz.decompose_jamo(e.key) for e in entries]
    ratio = process.cdist(qj, cj, scorer=fuzz.ratio, dtype=np.float32, workers=1) / 100
    dist = process.cdist(qj, cj, scorer=Levenshtein.distance, score_cutoff=1, dtype=np.int32, workers=1)
    typo = (dist == 1) & (np.array([len(q) for q in qj])[:, None] >= 6)
    matrix = np.clip(np.where(typo, np.maximum(ratio, fz.TYPO_SCORE), ratio), 0.0, 1.0)
    width = min(len(cj), max(4 * k, 20))
    top = np.argpartition(-matrix, width - 1, axis=1)[:, :width]
    for row, i in enumerate(todo):
        picked, seen = [], set()
        for j in top[row][np.argsort(-matrix[row, top[row]], kind="stable")]:
            if entries[j].code not in seen:
                seen.add(entries[j].code)
                picked.append([entries[j].text, entries[j].code, round(float(matrix[row, j]), 3)])
            if len(picked) == k:
                break
        codes[i], scores[i], details[i] = picked[0][1], picked[0][2], json.dumps(picked, ensure_ascii=False)
        cands[i] = tuple((c, s) for _, c, s in picked)
    return codes, scores, details, cands


def test_fuzzy_in_blocks_equals_the_full_matrix_shortlist(queries, monkeypatch):
    k = 5
    monkeypatch.setattr(fz, "_CHUNK", 997)  # several blocks, the last one short
    entries = list(load_index().entries)
    skip = [i % 7 == 3 for i in range(len(queries))]  # labels a strong rater coded get no shortlist
    got = fz.fuzzy_shortlist(queries, entries=entries, k=k, skip=skip)
    codes, scores, details, cands = _reference_shortlist(queries, entries, k, fz.FUZZY_THRESHOLD, skip)
    assert got.codes == tuple(codes)
    assert [s if s == s else None for s in got.scores] == [s if s == s else None for s in scores]
    assert got.details == tuple(details) and got.candidates == tuple(cands)
    assert sum(got.extra["final_ok"]) > 100  # the typos are there: many reach the threshold


def test_rating_in_batches_gives_the_crosswalk_of_one_pass(queries, monkeypatch):
    import coder.pipeline as pipeline
    from coder.labels import tabulate_labels

    labels = tabulate_labels(pd.Series([*queries[::3], "", "무직", "전직 간호사, 현재 구직중"]))
    one = pipeline.code_labels(labels)
    monkeypatch.setattr(pipeline, "RATE_BATCH", 97)  # many batches, the last one short
    batched = pipeline.code_labels(labels)
    pd.testing.assert_frame_equal(batched, one)
    assert (one["fuzzy_code"] != "").sum() > 100 and (one["model_code"] != "").sum() > 100
