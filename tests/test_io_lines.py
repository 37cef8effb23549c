"""The rows' own text taken from the input's bytes (:func:`coder.io.read_table_lines`, ``csv_text(..., lines)``)
is byte for byte what rendering every cell gives (``csv_text(frame, sep)``, the reference): the CsvText rows and
the whole file written with added columns (:class:`coder.io.KeyedRows`), over quoted cells, doubled quotes,
needless quotes, embedded newlines, CRLF, blank lines, BOM, cp949, TSV, one column, empty cells, a missing
last newline and header-only files; inputs whose lines are not the rows fall back to rendering."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import coder.io as cio
from coder.demo import DEMO_DATA
from coder.errors import InputError


def _row_texts(text: cio.CsvText) -> list[str]:
    """Each row's own text, whichever form the CsvText holds."""
    values = [v for chunk in text.lines for v in chunk.to_pylist()]
    if text.lead:
        assert all(v.startswith("\n") for v in values)
        return [v[1:] for v in values]
    return values


def _added(rows: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    added = pd.DataFrame(
        {
            "code": pd.Categorical(["A1", "", "B,2", 'q"', "C3"]),
            "level": np.array([1, 2, 3, 4, 5], dtype=np.int64),
            "title": ["간호사", "x\ny", "", "t", "u"],
        }
    )
    return added, rng.integers(len(added), size=rows)


def _written(text: cio.CsvText, out: Path, encoding: str = "utf-8") -> bytes:
    added, index = _added(text.rows)
    cio.write_table(cio.KeyedRows(text, added, index), out, encoding=encoding)
    return out.read_bytes()


def _same(tmp_path: Path, name: str, raw: bytes, *, taken: bool | None = None) -> None:
    """``raw`` saved as ``name`` reads the same through both readers, and its own text, taken from the lines
    or rendered, is the same rows and the same written file for both output delimiters."""
    src = tmp_path / name
    src.write_bytes(raw)
    frame, lines = cio.read_table_lines(src)
    pd.testing.assert_frame_equal(frame, cio.read_table(src))
    assert lines is not None and lines.frame is frame
    took = []
    for sep, ext in ((",", "csv"), ("\t", "tsv")):
        got, want = cio.csv_text(frame, sep, lines), cio.csv_text(frame, sep)
        assert not want.lead
        assert (got.names, got.sep, got.rows) == (want.names, want.sep, want.rows)
        assert _row_texts(got) == _row_texts(want)
        assert _written(got, tmp_path / f"got.{ext}") == _written(want, tmp_path / f"want.{ext}")
        if sep == lines.delimiter:
            took.append(got.lead)
        else:
            assert not got.lead
    if taken is not None:
        assert took == [taken]


@pytest.fixture(autouse=True)
def _small_batches(monkeypatch):
    monkeypatch.setattr(cio, "_CSV_ROWS", 7)  # many batches, the last one short


def _npk_csv(rows: int, seed: int = 3) -> bytes:
    """A file shaped like bench/bench_code.py's (row_id, occupation; NPK labels, some quoted for a comma)."""
    labels = pd.read_csv(DEMO_DATA, dtype={"occupation": str}, keep_default_na=False)
    rng = np.random.default_rng(seed)
    occ = rng.choice(labels["occupation"].to_numpy(dtype=object), size=rows, p=labels["count"] / labels["count"].sum())
    frame = pd.DataFrame({"row_id": [f"p{i:07d}" for i in range(rows)], "occupation": occ})
    return frame.to_csv(index=False).encode("utf-8")


def test_npk_shaped_file_takes_its_lines(tmp_path):
    raw = _npk_csv(3000)
    assert b'"' in raw
    _same(tmp_path, "npk.csv", raw, taken=True)


def test_needless_quotes_across_batches_take_the_rendered_text(tmp_path):
    lines = _npk_csv(3000).decode().split("\n")
    rng = np.random.default_rng(5)
    for i in rng.choice(np.arange(1, 3001), size=300, replace=False):  # quoted as QUOTE_ALL would
        buf = io.StringIO()
        csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="").writerow(next(csv.reader([lines[i]])))
        lines[i] = buf.getvalue()
    _same(tmp_path, "npk.csv", "\n".join(lines).encode(), taken=True)


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("quoted.csv", b'id,text\n1,"a,b"\n2,plain\n3,"c,d,e"\n4,x\n'),
        ("doubled.csv", b'id,text\n1,"say ""hi"""\n2,plain\n3,"""x"""\n4,y\n'),
        ("needless.csv", b'id,text\n1,"abc"\n2,plain\n3,"d"\n4,"e,f"\n5,g\n6,h\n'),
        ("bare_quote.csv", b'id,text\n1,ab"c\n2,plain\n'),
        ("empty_cells.csv", b"a,b,c\n,,\n1,,3\n,2,\n"),
        ("no_final_newline.csv", b"a,b\n1,2\n3,4"),
        ("blank_at_end.csv", b"a,b\n1,2\n3,4\n\n\n"),
        ("bom.csv", b'\xef\xbb\xbfa,b\n1,\xea\xb0\x80\n2,"x,y"\n'),
        ("cp949.csv", '번호,직업\n1,간호사\n2,"조리사, 한식"\n3,교사\n'.encode("cp949")),
        ("tabs.tsv", b'a\tb\n1\tx,y\n2\t"p\tq"\n3\tz\n'),
        ("sniffed.txt", b"a\tb\n1\tx\n2\ty\n3\tz\n"),
        ("one_column.csv", b'text\nabc\n"a,b"\n""\nxyz\n'),
        ("one_column_end.csv", b"text\nabc\nxyz"),
        ("spaces.csv", b"a,b\n 1 , 2 \n3,4 \n"),
    ],
)
def test_lines_taken_as_rendered(tmp_path, name, raw):
    _same(tmp_path, name, raw, taken=True)


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("crlf.csv", b"a,b\r\n1,2\r\n3,4\r\n"),
        ("cr_in_cell.csv", b'a,b\n1,"x\ry"\n3,4\n'),
        ("blank_inside.csv", b"a,b\n1,2\n\n3,4\n"),
        ("blank_one_column.csv", b"a\n1\n\n3\n"),
        ("newline_in_cell.csv", b'a,b\n1,"x\ny"\n3,4\n'),
        ("quoted_header.csv", b'"a,x",b\n1,2\n3,4\n'),
        ("header_only.csv", b"a,b\n"),
        ("all_quoted.csv", b'a,b\n"1","2"\n"3","4"\n5,6\n'),
    ],
)
def test_other_inputs_are_rendered(tmp_path, name, raw):
    _same(tmp_path, name, raw, taken=False)


def test_another_delimiter_is_rendered(tmp_path):
    _same(tmp_path, "semicolons.txt", b"a;b\n1;2\n3;4\n5;6\n")  # neither output delimiter: never taken


def test_lines_apply_to_the_frame_read_only(tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes(b"a,b,c\n1,2,3\n4,5,6\n")
    frame, lines = cio.read_table_lines(src)
    assert cio.csv_text(frame, ",", lines).lead
    for other in (frame.copy(), frame[["a", "b"]], frame.drop(columns=["c"]), frame.iloc[:1]):
        text = cio.csv_text(other, ",", lines)
        assert not text.lead
        assert _row_texts(text) == _row_texts(cio.csv_text(other, ","))


def test_parquet_and_xlsx_have_no_lines(tmp_path):
    frame = pd.DataFrame({"a": ["1", "2"], "b": ["x", "y"]})
    for name in ("t.parquet", "t.xlsx"):
        cio.write_table(frame, tmp_path / name)
        got, lines = cio.read_table_lines(tmp_path / name)
        assert lines is None
        pd.testing.assert_frame_equal(got, cio.read_table(tmp_path / name))


def test_standard_input(monkeypatch, tmp_path):
    raw = b'id,text\n1,"a,b"\n2,c\n'
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw)))
    frame, lines = cio.read_table_lines("-")
    assert lines is not None
    text = cio.csv_text(frame, ",", lines)
    assert text.lead
    assert _written(text, tmp_path / "a.csv") == _written(cio.csv_text(frame, ","), tmp_path / "b.csv")


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp949"])
def test_other_output_encodings(tmp_path, encoding):
    src = tmp_path / "in.csv"
    src.write_bytes('id,text\n1,"조리사, 한식"\n2,간호사\n3,x\n'.encode())
    frame, lines = cio.read_table_lines(src)
    text = cio.csv_text(frame, ",", lines)
    assert text.lead
    got = _written(text, tmp_path / "a.csv", encoding)
    assert got == _written(cio.csv_text(frame, ","), tmp_path / "b.csv", encoding)


def test_unencodable_output_names_the_same_line(tmp_path):
    src = tmp_path / "in.csv"
    rows = "".join(f"{i},x{i}\n" for i in range(40)) + "40,\U0001f600\n41,y\n"
    src.write_bytes(("id,text\n" + rows).encode())
    frame, lines = cio.read_table_lines(src)
    errors = []
    for text in (cio.csv_text(frame, ",", lines), cio.csv_text(frame, ",")):
        with pytest.raises(InputError) as exc:
            _written(text, tmp_path / "o.csv", "cp949")
        errors.append(str(exc.value))
    assert errors[0] == errors[1] and "cp949 cannot hold" in errors[0]


def test_errors_are_read_tables(tmp_path):
    src = tmp_path / "bad.csv"
    src.write_bytes(b'a,b\n1,"open\n')
    with pytest.raises(InputError) as want:
        cio.read_table(src)
    with pytest.raises(InputError) as got:
        cio.read_table_lines(src)
    assert str(got.value) == str(want.value)


def _read_both(monkeypatch, src: Path) -> tuple[object, object, list[bool]]:
    """What read_table gives for ``src`` (a frame, or the InputError's text), the same with Arrow made to read
    the quotes to split the bytes in every case (the former reading), and whether Arrow was asked to."""
    real = cio.pacsv.read_csv
    asked: list[bool] = []

    def read(multiline: bool) -> object:
        def read_csv(source, *, read_options, parse_options, convert_options):
            if multiline:
                parse_options = cio.pacsv.ParseOptions(delimiter=parse_options.delimiter, newlines_in_values=True)
            else:
                asked.append(parse_options.newlines_in_values)
            return real(source, read_options=read_options, parse_options=parse_options, convert_options=convert_options)

        with monkeypatch.context() as m:
            m.setattr(cio.pacsv, "read_csv", read_csv)
            try:
                return cio.read_table(src)
            except InputError as exc:
                return str(exc)

    return read(False), read(True), asked


def _assert_same_read(got: object, want: object) -> None:
    if isinstance(want, str):
        assert got == want
    else:
        pd.testing.assert_frame_equal(got, want)


@pytest.mark.parametrize(
    ("raw", "asked"),
    [
        (b"a,b\n1,2\n3,4\n", [False]),
        (b'a,b\n1,"x,y"\n3,4\n', [False]),
        (b'a,b\n1,"x\ny"\n3,4\n', [True]),
        (b'a,b\n1,"say ""hi"""\n3,"p\nq"\n', [True]),  # "" inside: not plainly paired, so quotes are read
        (b'a,b\n1,"x,y"\n3,"p\nq"\n', [True]),
        (b'a,b\n1,ab"c\n3,4\n', [True]),
        (b"a,b\n1,2,3\n3,4\n", [False, True]),  # refused: asked again as before, the same error
        (b'a,b\n1,"x"y\n3,4\n', [False]),
        (b'a,b\r\n1,"x\r\ny"\r\n3,4\r\n', [True]),
        (b"a,b\n\n1,2\n\n", [False]),
    ],
)
def test_read_splits_as_the_quote_reading_split(monkeypatch, tmp_path, raw, asked):
    src = tmp_path / "t.csv"
    src.write_bytes(raw)
    got, want, seen = _read_both(monkeypatch, src)
    _assert_same_read(got, want)
    assert seen == asked


PLAIN = st.text(alphabet=[" ", "a", "b", "가", "1"], max_size=4)
QUOTY = st.text(alphabet=['"', ",", "\t", " ", "a", "가"], max_size=4)
ANY = st.text(alphabet=['"', ",", "\t", "\n", "\r", " ", "a", "가"], max_size=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    columns=st.integers(1, 3),
    rows=st.one_of(
        st.lists(st.lists(st.one_of(PLAIN, PLAIN, QUOTY), min_size=3, max_size=3), max_size=25),
        st.lists(st.lists(st.one_of(PLAIN, PLAIN, ANY), min_size=3, max_size=3), max_size=25),
    ),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
    sep=st.sampled_from([",", "\t"]),
    terminator=st.sampled_from(["\n", "\n", "\n", "\r\n"]),
    end=st.sampled_from(["", "\n", "\n\n"]),
    blank=st.one_of(st.just(-1), st.integers(1, 30)),
)
def test_any_table_writes_the_same_bytes(monkeypatch, tmp_path, columns, rows, quoting, sep, terminator, end, blank):
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=sep, quoting=quoting, lineterminator=terminator)
    writer.writerow([f"c{j}" for j in range(columns)])
    writer.writerows(r[:columns] for r in rows)
    text = buf.getvalue()
    if terminator == "\n" and text.endswith("\n"):
        text = text[:-1] + end
    lines = text.split("\n")
    if 1 <= blank < len(lines):
        lines.insert(blank, "")
    name = "t.tsv" if sep == "\t" else "t.csv"
    (tmp_path / name).write_bytes("\n".join(lines).encode("utf-8"))
    got, want, _ = _read_both(monkeypatch, tmp_path / name)
    _assert_same_read(got, want)
    if not isinstance(want, str):  # else a table read_table refuses (a cell's CR read as a line end, say)
        _same(tmp_path, name, "\n".join(lines).encode("utf-8"))


def test_taken_rows_written_in_batches(tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes(b'id,text\n1,"a,b"\n2,c\n3,d\n4,"e"\n5,f\n6,g\n7,h\n8,i\n9,j\n')
    frame, lines = cio.read_table_lines(src)
    taken, rendered = cio.csv_text(frame, ",", lines), cio.csv_text(frame, ",")
    assert taken.lead
    added, index = _added(taken.rows)
    for name, texts in (("taken.csv", [taken, rendered, taken]), ("rendered.csv", [rendered] * 3)):
        cio.write_batches(iter(cio.KeyedRows(t, added, index) for t in texts), tmp_path / name)
    assert (tmp_path / "taken.csv").read_bytes() == (tmp_path / "rendered.csv").read_bytes()


def test_input_lines_repr_is_short(tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes(b"a,b\n" + b"x,y\n" * 10000)
    _, lines = cio.read_table_lines(src)
    assert repr(lines) == "InputLines(40,004 bytes, delimiter=',', rows=10,000)"
