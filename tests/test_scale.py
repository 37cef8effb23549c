"""Issue 22: the scaled-up paths give the same answers as the plain ones.

The fuzzy rater scores in blocks of rows and ranks only the columns that can hold a row's best
entries (memory O(labels × k), not O(labels × entries)); these tests compare it with a small
reference implementation of the full-matrix shortlist, on the NPK labels, the held-out job names,
one-jamo typos of them and the synthetic labels of ``bench/bench_scale.py``.  They compare code
with code, not with a stored file, so a change of rules, model or index elsewhere does not break them.
"""

from __future__ import annotations

import importlib.util
import io
import json
import math
import sys
from pathlib import Path

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


def _synthetic(n: int) -> list[str]:
    """``bench/bench_scale.py``'s synthetic labels (workplace and rank words around names, typos)."""
    spec = importlib.util.spec_from_file_location("bench_scale", Path(__file__).parents[1] / "bench" / "bench_scale.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench.synthetic_labels(n)


@pytest.fixture(scope="module")
def queries() -> list[str]:
    npk = pd.read_csv(DEMO_DATA, dtype={"occupation": str}, keep_default_na=False)["occupation"].tolist()
    held = heldout_names()[0]
    synthetic = _synthetic(20_000)[9_000::4]  # the varied ones: the first ~9,000 are the NPK labels and index names
    long = ["".join(held[i : i + 30]) for i in (0, 300, 600)]  # > 300 jamo: scored by rapidfuzz itself
    return [label_key(t) for t in [*npk, *held, *(_typo(t, i) for i, t in enumerate(held)), *synthetic, *long]]


def _reference_shortlist(keys, entries, k, threshold, skip):
    """The full-matrix shortlist: every entry scored (two cdist matrices), ranked by score, then the tie order."""
    n = len(keys)
    codes, scores, details, cands = [""] * n, [math.nan] * n, [""] * n, [()] * n
    todo = [i for i in range(n) if keys[i] and not skip[i]]
    cj = [fz.decompose_jamo(e.key) for e in entries]
    width = min(len(cj), max(4 * k, 20))
    first: dict[str, int] = {}
    for i, e in enumerate(entries):
        first.setdefault(e.key, i)
    # equal scores: keys in the order of their first entry, a key's entries deepest code first, then index order
    tie = np.array(sorted(range(len(entries)), key=lambda i: (first[entries[i].key], -len(entries[i].code), i)))
    for a in range(0, len(todo), 1000):  # rows in blocks only to bound the test's memory
        block = todo[a : a + 1000]
        qj = [fz.decompose_jamo(label_key(keys[i])) for i in block]
        ratio = process.cdist(qj, cj, scorer=fuzz.ratio, dtype=np.float32, workers=1) / 100
        dist = process.cdist(qj, cj, scorer=Levenshtein.distance, score_cutoff=1, dtype=np.int32, workers=1)
        typo = (dist == 1) & (np.array([len(q) for q in qj])[:, None] >= 6)
        matrix = np.clip(np.where(typo, np.maximum(ratio, fz.TYPO_SCORE), ratio), 0.0, 1.0)
        top = tie[np.argsort(-matrix[:, tie], axis=1, kind="stable")[:, :width]]  # equal scores in tie order
        for row, i in enumerate(block):
            picked, seen = [], set()
            for j in top[row]:
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


def test_fuzzy_on_a_small_index_equals_the_full_matrix_shortlist(queries):
    """Fewer index keys than 32 groups of the shortlist's width: each column is its own group."""
    entries = list(load_index().entries)[::40]  # ~180 entries, some keys shared by a title and a name
    some = queries[::5]
    skip = [False] * len(some)
    for k in (0, 1, 5, 50):  # k = 0: every code among the first 20 entries
        got = fz.fuzzy_shortlist(some, entries=entries, k=k, skip=skip)
        codes, scores, details, cands = _reference_shortlist(some, entries, k, fz.FUZZY_THRESHOLD, skip)
        assert got.details == tuple(details) and got.candidates == tuple(cands) and got.codes == tuple(codes)
        assert got.scores == tuple(scores)


def test_rating_in_batches_gives_the_crosswalk_of_one_pass(queries, monkeypatch):
    import coder.pipeline as pipeline
    from coder.labels import tabulate_labels

    labels = tabulate_labels(pd.Series([*queries[::3], "", "무직", "전직 간호사, 현재 구직중"]))
    one = pipeline.code_labels(labels)
    monkeypatch.setattr(pipeline, "RATE_BATCH", 97)  # many batches, the last one short
    batched = pipeline.code_labels(labels)
    pd.testing.assert_frame_equal(batched, one)
    assert (one["fuzzy_code"] != "").sum() > 100 and (one["model_code"] != "").sum() > 100


# --- rows stream: a Parquet input codes batch by batch, with the output of the in-memory path ------

AWKWARD = ["청소\r원", "청소\n원", '"경비"원', "조리사, 한식", "  간호사  ", "", None, "NaN", "무직", "간효사"]


def _parquet(path, n: int = 23, *, extra: dict | None = None):
    import pyarrow as pa
    import pyarrow.parquet as pq

    occ = [AWKWARD[(i * 7) % len(AWKWARD)] for i in range(n)]
    table = pa.table(
        {
            "id": pa.array([i if i % 5 else None for i in range(n)], type=pa.int64()),
            "occupation": occ,
            "w": [1.5 + (i % 3) for i in range(n)],
            "flag": [i % 2 == 0 for i in range(n)],
            **(extra or {}),
        }
    )
    pq.write_table(table, path, row_group_size=7)
    return path


@pytest.mark.parametrize("out_name", ["out.csv", "out.tsv", "out.parquet"])
@pytest.mark.parametrize("weight", [None, "w"])
def test_a_streamed_parquet_codes_exactly_as_in_memory(tmp_path, monkeypatch, out_name, weight):
    import coder.pipeline as pipeline
    from coder.io import read_table

    src = _parquet(tmp_path / "in.parquet")
    monkeypatch.setattr(pipeline, "STREAM_BATCH", 4)  # batches cut across row groups
    streamed = pipeline.code_file(
        src,
        tmp_path / out_name,
        text_col="occupation",
        weight_col=weight,
        crosswalk_path=tmp_path / "xw.csv",
        encoding="cp949" if "csv" in out_name else "utf-8",
    )
    assert len(streamed.rows) == 0
    monkeypatch.setattr(pipeline, "_streams", lambda *a: False)
    (tmp_path / "mem").mkdir()
    held = pipeline.code_file(
        src,
        tmp_path / "mem" / out_name,
        text_col="occupation",
        weight_col=weight,
        crosswalk_path=tmp_path / "mem" / "xw.csv",
        encoding="cp949" if "csv" in out_name else "utf-8",
    )
    assert len(held.rows) == 23
    pd.testing.assert_frame_equal(streamed.crosswalk, held.crosswalk)
    if out_name.endswith("parquet"):
        pd.testing.assert_frame_equal(read_table(tmp_path / out_name), read_table(tmp_path / "mem" / out_name))
    else:
        assert (tmp_path / out_name).read_bytes() == (tmp_path / "mem" / out_name).read_bytes()
    assert (tmp_path / "xw.csv").read_bytes() == (tmp_path / "mem" / "xw.csv").read_bytes()
    a = json.loads((tmp_path / f"{out_name}.meta.json").read_text(encoding="utf-8"))
    b = json.loads((tmp_path / "mem" / f"{out_name}.meta.json").read_text(encoding="utf-8"))
    assert a["summary"] == b["summary"] and a["inputs"] == {**b["inputs"], "path": a["inputs"]["path"]}


def test_a_streamed_parquet_keeps_the_input_checks(tmp_path):
    import coder.pipeline as pipeline
    from coder.errors import InputError

    src = _parquet(tmp_path / "in.parquet", extra={"ksco_code": ["x"] * 23})
    with pytest.raises(InputError, match="no text column 'job'"):
        pipeline.code_file(src, tmp_path / "o.csv", text_col="job")
    with pytest.raises(InputError, match="already has column"):
        pipeline.code_file(src, tmp_path / "o.csv", text_col="occupation")
    with pytest.raises(InputError, match="id column 'id' is not a unique key — 5 empty id"):
        pipeline.code_file(src, tmp_path / "o.csv", text_col="occupation", id_col="id", replace=True)
    with pytest.raises(InputError, match="weight column 'occupation'"):
        pipeline.code_file(src, tmp_path / "o.csv", text_col="occupation", weight_col="occupation", replace=True)
    with pytest.raises(InputError, match="is the same file as the input — writing it would overwrite the input"):
        pipeline.code_file(src, src, text_col="occupation", replace=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet"]  # nothing written by a refused run
    pipeline.code_file(src, tmp_path / "o.parquet", text_col="occupation", replace=True)
    back = pd.read_parquet(tmp_path / "o.parquet")
    assert back["occupation"].tolist() == pd.read_parquet(src)["occupation"].tolist()  # every row, in order
    assert list(back.columns)[:4] == ["id", "occupation", "w", "flag"] and "x" not in set(back["ksco_code"])


# --- progress: bars on stderr when it is a terminal, nothing otherwise --------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("progress", [True, False])
def test_progress_bars_only_on_a_terminal_and_only_when_asked(tmp_path, monkeypatch, progress):
    import coder.pipeline as pipeline

    src = _parquet(tmp_path / "in.parquet")
    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    pipeline.code_file(src, tmp_path / "o.csv", text_col="occupation", progress=progress)
    shown = err.getvalue()
    for bar in ("rows read", "labels coded", "rows written"):
        assert (bar in shown) is progress
    assert progress or shown == ""


def test_no_progress_bars_when_stderr_is_not_a_terminal(tmp_path, monkeypatch):
    import coder.pipeline as pipeline

    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    pipeline.code_file(_parquet(tmp_path / "in.parquet"), tmp_path / "o.csv", text_col="occupation", progress=True)
    assert err.getvalue() == ""


# --- rules: a key tries only the rules whose first/last characters it has --------------------------


@pytest.mark.parametrize(
    ("pattern", "last", "chars"),
    [
        ("경비원", False, "경"),
        ("경비원", True, "원"),
        ("(일반)?경비원", False, "일경"),
        ("(육군|해군)?(하사|중사)", False, "육해하중"),
        ("(육군|해군)?(하사|중사)", True, "사"),
        ("교사|선생(님)?", True, "사생님"),
        ("[가나]+판매원", False, "가나"),
        ("^택시\\s*기사$", False, "택"),
        ("[가-힣]+판매원", False, None),  # a wide range: any
        (".*(기사|기능사)", False, None),
        ("(?i)abc", False, None),
        ("(a)?", False, None),  # can match the empty text
        ("\\d+원", False, None),
        ("(?=a)ab", False, None),
    ],
)
def test_end_chars_is_a_safe_over_estimate(pattern, last, chars):
    from coder.raters.rules import end_chars

    assert end_chars(pattern, last=last) == (None if chars is None else frozenset(chars))


def test_indexed_rule_matching_finds_exactly_the_rules_that_fire_on_varied_keys():
    from coder.normalize import label_key
    from coder.raters.rules import load_rules, match_rules

    rules = load_rules()
    examples = sorted({label_key(x) for r in rules.active for x in (*r.examples, *r.counterexamples)})
    keys = {""} | set(examples)
    for i, x in enumerate(examples):  # words around the examples, and newlines ("$" matches before one)
        keys |= {f"전 {x}", f"{x}보조", f"{x}\n", f"\n{x}", x[1:], x[:-1], ["대", "a", "1"][i % 3] + x}
    fired = 0
    for key in sorted(keys):
        brute = sorted(r.rule_id for r in rules.active if r.hit(key) is not None)
        assert sorted(h.rule_id for h in match_rules(key, rules)) == brute, repr(key)
        fired += bool(brute)
    assert fired > len(examples)


def test_labels_from_counts_equal_the_labels_of_the_rows():
    from coder.labels import tabulate_labels

    rows = pd.Series(["간호사", "청소 원", "청소원", "청소원", None, "", "간호사", "간호사", None], dtype=object)
    w = pd.Series([1.0, 2.0, 0.5, 0.5, 3.0, 1.0, 1.0, 2.0, 1.0])
    counts = rows.to_frame("t").assign(w=w).groupby("t", dropna=False, sort=False)["w"].agg(["size", "sum"])
    texts = pd.Series(counts.index, dtype=object)
    got = tabulate_labels(texts, counts["sum"].reset_index(drop=True), counts=counts["size"])
    pd.testing.assert_frame_equal(got.frame, tabulate_labels(rows, w).frame)
    assert got.frame.set_index("label_key").loc["", "n_rows"] == 3  # missing and empty labels are one label
    assert len(got.row_label) == len(texts)
    with pytest.raises(ValueError, match="one non-negative count per text"):
        tabulate_labels(texts, counts=[1, 2])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fuzzy_on_a_random_index_full_of_ties_equals_the_full_matrix_shortlist(seed):
    """Keys from a few syllables (many equal scores, keys shared by codes of two depths), ~800 distinct (groups of 32)."""
    rng = np.random.default_rng(seed)
    syllables = list("가나다라간난호사원부")

    def word(lo: int, hi: int) -> str:
        return "".join(rng.choice(syllables, size=int(rng.integers(lo, hi))))

    keys = [word(1, 6) for _ in range(700)] + [word(6, 8) for _ in range(300)]

    def code() -> str:  # 30 codes of one to three digits
        return str(int(rng.integers(10))) * int(rng.integers(1, 4))

    entries = [fz.ShortlistEntry(f"t{i}", key, code(), "x") for i, key in enumerate(keys)]
    entries += [fz.ShortlistEntry(f"u{i}", key, code(), "y") for i, key in enumerate(keys[:99])]
    queries = [word(1, 8) for _ in range(300)] + [word(40, 60), "x" + word(2, 4) + "ㅏ!", keys[5][:-1] + "갸"]
    skip = [False] * len(queries)
    for k in (1, 3, 5):
        got = fz.fuzzy_shortlist(queries, entries=entries, k=k, skip=skip)
        codes, scores, details, cands = _reference_shortlist(queries, entries, k, fz.FUZZY_THRESHOLD, skip)
        assert got.details == tuple(details) and got.candidates == tuple(cands)
        assert got.codes == tuple(codes) and got.scores == tuple(scores)


@pytest.mark.parametrize("syllables", ["가나다라마바사아자차카타파하", "가나다라간호사원부"])
def test_fuzzy_at_the_bound_and_on_odd_labels_equals_the_full_matrix_shortlist(syllables):
    """Many columns scoring exactly a row's width-th best (the bound is then that score, less its rounding
    room), one-syllable and one-letter keys and labels, empty labels ("": no shortlist) and labels empty
    once normalised ("nan", " "), and pairs whose lengths sum to 319 jamo or more (scored by rapidfuzz
    itself).  14 syllables: 212 keys, fewer than 32 groups of 20 (each column its own group, so the
    bound is exact); 9 syllables: 821 keys of three syllables and fewer, in groups of 32."""
    keys = [a + b for a in syllables for b in syllables]
    if len(syllables) < 10:
        keys += [a + b + c for a in syllables for b in syllables for c in syllables]
    keys += [*syllables, "x", "ab"]
    entries = [fz.ShortlistEntry(f"t{i}", key, str(i % 37).rjust(1 + i % 3, "1"), "x") for i, key in enumerate(keys)]
    queries = ["가나", "나가", "가", "x", "nan", "", " ", "가x", "가나다", "다라마바", syllables, syllables[::-1]]
    queries += ["가나다라" * 40, "하" * 120, "하" * 160, "간호사" * 53, "a" * 300]
    skip = [False] * len(queries)
    for k in (1, 5):
        got = fz.fuzzy_shortlist(queries, entries=entries, k=k, skip=skip)
        codes, scores, details, cands = _reference_shortlist(queries, entries, k, fz.FUZZY_THRESHOLD, skip)
        assert got.details == tuple(details) and got.candidates == tuple(cands) and got.codes == tuple(codes)
        assert [s if s == s else None for s in got.scores] == [s if s == s else None for s in scores]
