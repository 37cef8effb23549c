"""A CSV/TSV input streams (issue 22): checked and parsed block by block, coded as the whole file is.

The streamed run (``STREAM_CSV_BYTES`` lowered, blocks of a few hundred bytes so that blocks and
batches cut through quoted cells) must write the bytes the one-pass run writes: rows, crosswalk,
sidecar summary and input record; a file that cannot stream exactly (cp949, a quote never closed,
mixed encodings, a header alone, a parse error) is read whole, with the one-pass run's error.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import coder.io as cio
import coder.pipeline as pipeline
from coder.errors import InputError
from coder.labels import LabelCounter, tabulate_labels

AWKWARD = [
    "간호사",
    "  간호사  ",
    '"경비"원',
    "조리사, 한식",
    "청소\n원",
    "청소\r\n원",
    "",
    "NaN",
    "무직",
    "간효사",
    "초등학교 교사",
    "전직 간호사, 현재 구직중",
    "회사원",
]


def _csv_text(n: int, *, sep: str = ",", seed: int = 7) -> str:
    rng = np.random.default_rng(seed)

    def cell(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in f'"\r\n{sep}') else v

    lines = [sep.join(["id", "occupation", "w", "note", "ksco_code"])]
    for i in range(n):
        occ = AWKWARD[int(rng.integers(len(AWKWARD)))]
        w = f"{rng.random() * 3:.6f}"
        note = cell(f'메모 {i}, "{i % 3}"') if i % 4 == 0 else str(i % 7)
        lines.append(sep.join([f"p{i:05d}", cell(occ), w, note, "x"]))
    return "\n".join(lines) + "\n"


def _run(src, out, **kw):
    return pipeline.code_file(src, out, text_col="occupation", crosswalk_path=out.parent / "xw.csv", replace=True, **kw)


def _both(tmp_path, monkeypatch, src, out_name: str, **kw):
    """The streamed run and the one-pass run of ``src``: (streamed result, held result, stream dir, mem dir)."""
    (tmp_path / "s").mkdir()
    (tmp_path / "m").mkdir()
    monkeypatch.setattr(pipeline, "STREAM_CSV_BYTES", 0)
    monkeypatch.setattr(cio, "_CSV_BLOCK", 300)
    streamed = _run(src, tmp_path / "s" / out_name, **kw)
    monkeypatch.setattr(pipeline, "_streams", lambda *a: False)
    held = _run(src, tmp_path / "m" / out_name, **kw)
    return streamed, held, tmp_path / "s", tmp_path / "m"


@pytest.mark.parametrize(
    ("in_name", "out_name", "encoding", "bom"),
    [
        ("in.csv", "out.csv", "utf-8", False),
        ("in.csv", "out.csv", "cp949", True),
        ("in.tsv", "out.tsv", "utf-8-sig", False),
        ("in.txt", "out.csv", "utf-8", False),
        ("in.csv", "out.parquet", "utf-8", True),
    ],
)
@pytest.mark.parametrize("weight", [None, "w"])
def test_a_streamed_csv_codes_exactly_as_read_whole(tmp_path, monkeypatch, in_name, out_name, encoding, bom, weight):
    sep = "," if in_name.endswith(".csv") else "\t"
    src = tmp_path / in_name
    src.write_bytes((b"\xef\xbb\xbf" if bom else b"") + _csv_text(400, sep=sep).encode("utf-8"))
    assert cio.csv_batches(src, block=300) is not None
    streamed, held, s, m = _both(tmp_path, monkeypatch, src, out_name, weight_col=weight, encoding=encoding)
    assert len(streamed.rows) == 0 and len(held.rows) == 400  # the first streamed, the second not
    pd.testing.assert_frame_equal(streamed.crosswalk, held.crosswalk, check_exact=True)
    if out_name.endswith(".parquet"):
        a, b = pd.read_parquet(s / out_name), pd.read_parquet(m / out_name)
        pd.testing.assert_frame_equal(a, b)
        assert a["id"].tolist() == [f"p{i:05d}" for i in range(400)]  # every row, in order
    else:
        assert (s / out_name).read_bytes() == (m / out_name).read_bytes()
    assert (s / "xw.csv").read_bytes() == (m / "xw.csv").read_bytes()
    a = json.loads((s / f"{out_name}.meta.json").read_text(encoding="utf-8"))
    b = json.loads((m / f"{out_name}.meta.json").read_text(encoding="utf-8"))
    assert a["summary"] == b["summary"] and a["inputs"] == b["inputs"]
    assert a["inputs"]["rows"] == 400


def test_streamed_rows_keep_every_column_and_row(tmp_path, monkeypatch):
    src = tmp_path / "in.csv"
    src.write_text(_csv_text(250), encoding="utf-8")
    _both(tmp_path, monkeypatch, src, "out.csv")
    back = cio.read_table(tmp_path / "s" / "out.csv")
    source = cio.read_table(src)
    assert list(back.columns[:4]) == ["id", "occupation", "w", "note"]
    for col in ("id", "occupation", "w", "note"):
        assert back[col].tolist() == source[col].tolist()


@pytest.mark.parametrize(
    ("name", "data", "error"),
    [
        ("cp949.csv", "id,occupation\n1,간호사\n2,교사\n".encode("cp949"), None),
        ("open.csv", b'id,occupation\n1,"\xea\xb0\x84\xed\x98\xb8\xec\x82\xac\n2,x\n', "never closed"),
        ("mixed.csv", "id,occupation\n1,간호사\n".encode() + "2,교사\n".encode("cp949"), "mixes encodings"),
        ("header.csv", b"id,occupation\n", None),
        ("ragged.csv", b"id,occupation\n1,a\n2,b,c\n", "cannot parse as CSV"),
        ("dupes.csv", b"id,id,occupation\n1,2,a\n", "duplicated column"),
        ("empty.csv", b"  \n", "empty"),
    ],
)
def test_a_csv_that_cannot_stream_is_read_whole(tmp_path, monkeypatch, name, data, error):
    src = tmp_path / name
    src.write_bytes(data)
    monkeypatch.setattr(pipeline, "STREAM_CSV_BYTES", 0)
    if error is None:
        streamed = _run(src, tmp_path / "a" / "out.csv")
        monkeypatch.setattr(pipeline, "_streams", lambda *a: False)
        held = _run(src, tmp_path / "b" / "out.csv")
        assert (tmp_path / "a" / "out.csv").read_bytes() == (tmp_path / "b" / "out.csv").read_bytes()
        pd.testing.assert_frame_equal(streamed.crosswalk, held.crosswalk)
        return
    with pytest.raises(InputError, match=error) as streamed_error:
        _run(src, tmp_path / "a" / "out.csv")
    monkeypatch.setattr(pipeline, "_streams", lambda *a: False)
    with pytest.raises(InputError) as held_error:
        _run(src, tmp_path / "b" / "out.csv")
    assert str(streamed_error.value) == str(held_error.value)
    assert not (tmp_path / "a").exists()


def test_a_streamed_csv_keeps_the_input_checks(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "STREAM_CSV_BYTES", 0)
    src = tmp_path / "in.csv"
    src.write_text("id,occupation,w\n1,간호사,1\n1,교사,x\n", encoding="utf-8")
    with pytest.raises(InputError, match="no text column 'job'"):
        pipeline.code_file(src, tmp_path / "o.csv", text_col="job")
    with pytest.raises(InputError, match="id column 'id' is not a unique key"):
        pipeline.code_file(src, tmp_path / "o.csv", text_col="occupation", id_col="id")
    with pytest.raises(InputError, match=r"weight column 'w': 1 value\(s\) .* row 2 \('x'\)"):
        pipeline.code_file(src, tmp_path / "o.csv", text_col="occupation", weight_col="w")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def _open_quote_blockwise(data: bytes, block: int) -> bool:
    inside = False
    for chunk in cio._line_blocks(__import__("io").BytesIO(data), block):
        inside = cio._quotes_open(chunk, ",", inside)
    return inside


def test_quotes_checked_block_by_block_as_in_one_pass():
    rng = np.random.default_rng(3)
    alphabet = [b'"', b'""', b",", b"\n", b"\r\n", b"a", b"\xea\xb0\x80", b" "]
    for _ in range(3000):
        data = b"".join(alphabet[i] for i in rng.integers(len(alphabet), size=int(rng.integers(0, 40))))
        expect = cio._open_quote(data, ",") is not None
        for block in (1, 2, 3, 7, 64):
            assert _open_quote_blockwise(data, block) == expect, (data, block)


def test_label_counter_weights_are_the_one_pass_sums_to_the_last_bit():
    rng = np.random.default_rng(11)
    vocab = np.array(
        ["간호사", " 간호사", "간호사 ", "교사", "", "NaN", "무직", "청소\n원", "의사", "  "], dtype=object
    )
    for _ in range(20):
        n = int(rng.integers(1, 2000))
        texts = vocab[rng.integers(len(vocab), size=n)].astype(object)
        texts[rng.random(n) < 0.1] = None
        s, w = pd.Series(texts), pd.Series(rng.random(n) * 10)
        step = int(rng.integers(1, 300))
        for weights in (w, None):
            one = tabulate_labels(s, weights)
            counter = LabelCounter()
            for a in range(0, n, step):
                counter.add(s.iloc[a : a + step], None if weights is None else weights.iloc[a : a + step])
            pd.testing.assert_frame_equal(counter.table().frame, one.frame, check_exact=True)
            positions = np.concatenate([counter.positions(s.iloc[a : a + step]) for a in range(0, n, step)])
            assert (positions == one.row_label).all()


@pytest.mark.parametrize("block", [40, 41, 57, 64, 97])
def test_a_block_boundary_inside_a_quoted_crlf_loses_nothing(tmp_path, monkeypatch, block):
    src = tmp_path / "crlf.csv"
    rows = [f'{i},"줄\r\n바꿈 {i}",x' for i in range(60)]
    src.write_bytes(("id,occupation,n\r\n" + "\r\n".join(rows) + "\r\n").encode("utf-8"))
    truth = [f"줄\r\n바꿈 {i}" for i in range(60)]
    monkeypatch.setattr(cio, "_CSV_BLOCK", block)  # Arrow's blocks too: pyarrow loses the LF of a cut CRLF
    assert cio.read_table(src)["occupation"].tolist() == truth
    streamed = pd.concat(list(cio.csv_batches(src).batches()), ignore_index=True)
    assert streamed["occupation"].tolist() == truth


def test_the_paired_quotes_shortcut_agrees_with_the_quote_reader():
    rng = np.random.default_rng(4)
    alphabet = [b'"', b",", b"\n", b"\r", b"a", b"\xea\xb0\x80", b'"x"', b',"y,z"']
    paired = 0
    for _ in range(5000):
        data = b"".join(alphabet[i] for i in rng.integers(len(alphabet), size=int(rng.integers(0, 30))))
        if cio._quotes_paired(data, ","):
            paired += 1
            assert cio._open_quote(data, ",") is None, data
    assert paired > 500


@pytest.mark.parametrize("id_col", [None, "id"])
def test_a_row_longer_than_a_batch_is_read_whole(tmp_path, monkeypatch, id_col):
    src = tmp_path / "long.csv"
    rows = [f"{i},간호사" for i in range(50)] + ["50," + "가" * 400] + [f"{i},교사" for i in range(51, 80)]
    src.write_text("id,occupation\n" + "\n".join(rows) + "\n", encoding="utf-8")
    monkeypatch.setattr(cio, "_CSV_BATCH_BYTES", 256)  # the long row straddles Arrow's blocks
    with pytest.raises(cio.CsvBatchError):
        list(cio.csv_batches(src).batches())
    monkeypatch.setattr(pipeline, "STREAM_CSV_BYTES", 0)
    streamed = _run(src, tmp_path / "s" / "out.csv", id_col=id_col)
    monkeypatch.setattr(pipeline, "_streams", lambda *a: False)
    _run(src, tmp_path / "m" / "out.csv", id_col=id_col)
    assert len(streamed.rows) == 80  # read whole
    assert (tmp_path / "s" / "out.csv").read_bytes() == (tmp_path / "m" / "out.csv").read_bytes()


@pytest.mark.parametrize("bom", [False, True])
def test_a_file_without_cr_is_read_by_arrow_itself(tmp_path, monkeypatch, bom):
    text = _csv_text(300).replace("\r", "")
    src = tmp_path / "in.csv"
    src.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    assert not cio.csv_batches(src)._cr
    _, held, s, m = _both(tmp_path, monkeypatch, src, "out.csv")
    assert (s / "out.csv").read_bytes() == (m / "out.csv").read_bytes()
    assert held.rows["id"].tolist() == [f"p{i:05d}" for i in range(300)]
