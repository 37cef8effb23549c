import pandas as pd
import pytest

from coder.errors import InputError
from coder.io import detect_encoding, read_table, write_table

ROWS = 'id,occupation,code\n1,건물 청소원,01\n2,,002\n3,"전직 건물 경비원, 현재 구직중",A0110\n'


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp949", "cp949"), ("euc-kr", "cp949")],
)
def test_encodings_are_detected_and_read(tmp_path, encoding, expected):
    path = tmp_path / "in.csv"
    path.write_bytes(ROWS.encode(encoding))
    assert detect_encoding(path.read_bytes()) == expected
    frame = read_table(path)
    assert list(frame.columns) == ["id", "occupation", "code"]
    assert frame["occupation"].tolist() == ["건물 청소원", "", "전직 건물 경비원, 현재 구직중"]
    assert frame["code"].tolist() == ["01", "002", "A0110"]  # codes stay strings


def test_undecodable_bytes_are_an_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"a,b\n1,\xff\xfe\xfa\n")
    with pytest.raises(InputError, match=r"bad.csv:2: text is neither UTF-8 nor cp949/EUC-KR"):
        read_table(path)


def test_duplicated_column_name(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("id,occupation,sex,occupation\n1,a,M,b\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_table(path)
    assert str(info.value) == (
        f"{path}: duplicated column name(s): 'occupation' at columns 2, 4 — rename them so every column name is unique."
    )


def test_xlsx_and_parquet_round_trip(tmp_path):
    frame = pd.DataFrame({"id": ["1", "2"], "occupation": ["한식 조리사", "무직"], "code": ["01", "A0"]})
    for name in ("t.xlsx", "t.parquet", "t.csv", "t.tsv"):
        write_table(frame, tmp_path / name)
        back = read_table(tmp_path / name)
        assert back.astype(str).equals(frame.astype(str)), name


def test_unknown_format_and_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"unknown table format '.json' — use .csv, .tsv, .parquet or .xlsx"):
        read_table(tmp_path / "x.json")
    with pytest.raises(InputError, match=r"no such file — check the path"):
        read_table(tmp_path / "missing.csv")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="the file is empty"):
        read_table(path)


def test_failed_write_leaves_earlier_output(tmp_path, monkeypatch):
    from pathlib import Path

    target = tmp_path / "out.csv"
    target.write_text("earlier\n", encoding="utf-8")

    def boom(*args, **kwargs):
        raise OSError("disk trouble")

    class Failing:  # the file opens, then a write fails half-way
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        write = boom

    real_open = Path.open
    monkeypatch.setattr(Path, "write_bytes", boom)
    monkeypatch.setattr(Path, "open", lambda self, mode="r", *a, **k: Failing(real_open(self, mode, *a, **k)))
    with pytest.raises(
        InputError, match=r"out.csv: cannot write into .* — disk trouble\. Nothing of this run was written"
    ):
        write_table(pd.DataFrame({"a": ["1"]}), target)
    monkeypatch.undo()
    assert target.read_text(encoding="utf-8") == "earlier\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_csv_writer_handles_mixed_and_missing_values(tmp_path):
    frame = pd.DataFrame({"a": [1, "x", None, 2.5], "b": [True, False, None, True], "code": ["01", "A0", "", None]})
    write_table(frame, tmp_path / "m.csv")
    back = read_table(tmp_path / "m.csv")
    assert back["a"].tolist() == ["1", "x", "", "2.5"]
    assert back["b"].tolist() == ["True", "False", "", "True"]
    assert back["code"].tolist() == ["01", "A0", "", ""]


@pytest.mark.parametrize("sep", ["\t", ",", ";", "|"])
def test_txt_delimiter_is_sniffed(tmp_path, sep):
    path = tmp_path / "in.txt"
    path.write_text(
        f"id{sep}occupation{sep}code\n1{sep}건물 청소원{sep}01\n2{sep}한식 조리사{sep}A0110\n", encoding="utf-8"
    )
    frame = read_table(path)
    assert list(frame.columns) == ["id", "occupation", "code"]
    assert frame["code"].tolist() == ["01", "A0110"]


def test_txt_tabs_win_over_commas_inside_values(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("id\toccupation\n1\t전직 건물 경비원, 현재 구직중\n2\t청소원, 경비원\n", encoding="utf-8")
    assert read_table(path)["occupation"].tolist() == ["전직 건물 경비원, 현재 구직중", "청소원, 경비원"]


def test_csv_and_tsv_keep_their_delimiter(tmp_path):
    (tmp_path / "a.csv").write_text("a;b,c\n1;2,3\n", encoding="utf-8")
    assert list(read_table(tmp_path / "a.csv").columns) == ["a;b", "c"]
    (tmp_path / "a.tsv").write_text("a,b\tc\n1,2\t3\n", encoding="utf-8")
    assert list(read_table(tmp_path / "a.tsv").columns) == ["a,b", "c"]


@pytest.mark.parametrize("name", ["out.csv", "out.parquet", "out.json"])
def test_outputs_respect_the_umask(tmp_path, name):
    import os
    import stat

    from coder.io import write_json

    old = os.umask(0o027)
    try:
        target = tmp_path / name
        if name.endswith(".json"):
            write_json({"a": 1}, target)
        else:
            write_table(pd.DataFrame({"a": ["1"]}), target)
        assert stat.S_IMODE(target.stat().st_mode) == 0o640
        os.umask(0o022)
        write_json({"a": 2}, target) if name.endswith(".json") else write_table(pd.DataFrame({"a": ["2"]}), target)
        assert stat.S_IMODE(target.stat().st_mode) == 0o644
    finally:
        os.umask(old)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp949"])
def test_read_csv_rows_detects_the_encoding(tmp_path, encoding):
    from coder.resources import read_csv_rows

    path = tmp_path / "ref.csv"
    path.write_bytes("bucket,sex,count\n1,여자,10\n".encode(encoding))
    assert read_csv_rows(path, ("bucket", "sex")) == [(2, {"bucket": "1", "sex": "여자", "count": "10"})]


def test_read_csv_rows_errors_say_what_where_how(tmp_path):
    from coder.errors import CrosswalkError
    from coder.resources import read_csv_rows

    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"bucket,sex\n1,\xff\xfe\xfa\n")
    with pytest.raises(
        CrosswalkError, match=r"bad.csv:2: text is neither UTF-8 nor cp949/EUC-KR .* re-save the file as UTF-8"
    ):
        read_csv_rows(bad, ("bucket",), error=CrosswalkError, what="reference")
    cols = tmp_path / "cols.csv"
    cols.write_text("bucket,sex\n1,F\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_csv_rows(cols, ("bucket", "sex"), what="reference CSV", one_of=("count", "share"))
    assert str(info.value) == (
        f"{cols}: reference CSV has none of the columns count, share (found bucket, sex) — "
        "the header must have bucket,sex and one of count/share."
    )
    with pytest.raises(InputError, match=r"missing.csv: reference CSV not found — pass an existing file"):
        read_csv_rows(tmp_path / "missing.csv", what="reference CSV")
