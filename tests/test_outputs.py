"""Nothing lost: what is read is read exactly or refused, and the outputs of one run land together or not at all.

Issue 21, cases 1–9 and the writer half of case 10 (XLSX cells are text, never formulas).
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import coder.io as cio
from coder.cli import cli
from coder.crosswalk.store import read_crosswalk
from coder.errors import InputError
from coder.io import all_or_nothing, read_table, write_json, write_table
from coder.pipeline import code_file, decide_file

ROOT = os.geteuid() == 0  # chmod does not stop root: simulate a read-only folder instead


def _run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def _people(tmp_path: Path, name: str = "in.csv") -> Path:
    src = tmp_path / name
    src.write_text("id,occupation\n1,건물 청소원\n2,한식 조리사\n3,무직\n", encoding="utf-8")
    return src


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _disk_full_on(monkeypatch, fragment: str) -> None:
    """Writing a temporary file whose name has ``fragment`` fails as on a full disk."""
    real_bytes, real_text, real_open = Path.write_bytes, Path.write_text, Path.open

    def check(path: Path) -> None:
        if fragment in path.name:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))

    def opened(self: Path, mode: str = "r", *a, **k):
        if "w" in mode or "a" in mode:
            check(self)
        return real_open(self, mode, *a, **k)

    monkeypatch.setattr(Path, "write_bytes", lambda self, data: (check(self), real_bytes(self, data))[1])
    monkeypatch.setattr(Path, "write_text", lambda self, *a, **k: (check(self), real_text(self, *a, **k))[1])
    monkeypatch.setattr(Path, "open", opened)  # tables are written batch by batch into an open file


# --- case 1: every output is checked before any is written; one run's outputs land together ------


def test_a_bad_crosswalk_extension_is_refused_before_anything_is_written(tmp_path):
    src = _people(tmp_path)
    out = tmp_path / "out.csv"
    out.write_text("earlier\n", encoding="utf-8")
    result = _run("code", src, "--text-col", "occupation", "-o", out, "--crosswalk", tmp_path / "xw.json")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {tmp_path / 'xw.json'}: --crosswalk has an unknown table format '.json' — "
        "use .csv, .tsv, .parquet or .xlsx.\n"
    )
    assert out.read_text(encoding="utf-8") == "earlier\n"
    assert _names(tmp_path) == ["in.csv", "out.csv"]


def test_an_output_in_a_missing_folder_under_a_file_is_refused_before_coding(tmp_path, monkeypatch):
    import coder.pipeline as pipeline

    src = _people(tmp_path)
    monkeypatch.setattr(pipeline, "code_frame", lambda *a, **k: pytest.fail("coded before checking the outputs"))
    with pytest.raises(InputError) as err:
        code_file(src, tmp_path / "in.csv" / "out.csv", text_col="occupation")
    assert str(err.value) == (
        f"{tmp_path / 'in.csv' / 'out.csv'}: the output (-o) cannot be written — {src} is a file, not a folder. "
        "Choose another path."
    )
    with pytest.raises(InputError, match=r"the output \(-o\) is a folder — give a file name in it"):
        code_file(src, tmp_path, text_col="occupation")


def test_when_the_second_output_fails_neither_is_replaced(tmp_path, monkeypatch):
    src = _people(tmp_path)
    out, xw = tmp_path / "out.csv", tmp_path / "xw.csv"
    for path in (out, xw, tmp_path / "out.csv.meta.json", tmp_path / "xw.csv.meta.json"):
        path.write_text("earlier\n", encoding="utf-8")
    before = _names(tmp_path)
    _disk_full_on(monkeypatch, ".xw.csv.coder-tmp-")
    with pytest.raises(InputError) as err:
        code_file(src, out, text_col="occupation", crosswalk_path=xw)
    assert str(err.value) == (
        f"{xw}: cannot write into {tmp_path}/ — no space left on the device (disk full or over quota). "
        "Nothing of this run was written (earlier outputs are unchanged); free some space, or write to another folder."
    )
    assert err.value.errno == errno.ENOSPC
    assert _names(tmp_path) == before  # no temporary file left
    assert all(
        (tmp_path / n).read_text(encoding="utf-8") == "earlier\n" for n in before if n != "in.csv"
    )  # rows, crosswalk and both sidecars as they were


def test_a_failed_move_puts_the_earlier_outputs_back(tmp_path, monkeypatch):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("old a\n", encoding="utf-8")
    b.write_text("old b\n", encoding="utf-8")
    real = os.replace

    def replace(src, dst):
        if Path(dst) == b:
            raise OSError(errno.EIO, "Input/output error")
        real(src, dst)

    monkeypatch.setattr(cio.os, "replace", replace)
    with pytest.raises(InputError, match=r"b.csv: cannot write into .* — Input/output error\. Nothing of this run"):
        with all_or_nothing():
            write_table(pd.DataFrame({"x": ["new"]}), a)
            write_table(pd.DataFrame({"x": ["new"]}), b)
    assert a.read_text(encoding="utf-8") == "old a\n" and b.read_text(encoding="utf-8") == "old b\n"
    assert _names(tmp_path) == ["a.csv", "b.csv"]


def test_stdout_is_held_back_until_every_file_is_written(tmp_path, monkeypatch):
    src = _people(tmp_path)
    _disk_full_on(monkeypatch, ".xw.csv.coder-tmp-")
    result = _run("code", src, "--text-col", "occupation", "-o", "-", "--crosswalk", tmp_path / "xw.csv", "-q")
    assert result.exit_code == 1 and result.stdout == ""
    assert "no space left on the device" in result.stderr
    assert _names(tmp_path) == ["in.csv"]


def test_a_stage_refuses_a_bad_table_extension_before_reading(tmp_path):
    xw = tmp_path / "xw.csv"
    code_file(_people(tmp_path), tmp_path / "out.csv", text_col="occupation", crosswalk_path=xw)
    with pytest.raises(InputError, match=r"the output \(-o\) has an unknown table format '.json'"):
        decide_file(xw, tmp_path / "decided.json")
    assert not (tmp_path / "decided.json").exists()


# --- case 2: an axis output over its input ----------------------------------------------------------


@pytest.mark.parametrize("flag", ["json_path", "csv_path"])
def test_axis_refuses_to_write_over_its_input(tmp_path, flag):
    from coder.axis import axis_file

    src = tmp_path / "a.csv"
    src.write_text("sex,ksco_major\nF,1\nM,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="is the same file as the input — writing it would overwrite the input"):
        axis_file(src, **{flag: src})
    assert src.read_text(encoding="utf-8") == "sex,ksco_major\nF,1\nM,2\n"


# --- case 3: an unterminated quote ---------------------------------------------------------------


def test_an_unterminated_quote_is_refused_naming_its_line(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text('id,occupation\n1,교사\n2,"택시 기사\n3,무직\n4,의사\n', encoding="utf-8")
    result = _run("code", src, "--text-col", "occupation", "-o", tmp_path / "out.csv")
    assert result.exit_code == 1
    assert result.stderr == (
        f'Error: {src}:3: a quoted cell opens here ("택시 기사…) and is never closed, so every line after it would be '
        'read into that one cell — close the quote, or remove it (a quote inside a quoted cell is written "").\n'
    )
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize(
    "body", ['1,"a ""quoted"" word"\n2,x\n', '1,5" screen\n2,x\n', '1,"two\nlines"\n2,x\n', '1,"a,b"\n2,""\n']
)
def test_closed_and_literal_quotes_still_read(tmp_path, body):
    src = tmp_path / "in.csv"
    src.write_text("id,occupation\n" + body, encoding="utf-8")
    assert len(read_table(src)) == 2


# --- case 4: mixed encodings ----------------------------------------------------------------------


@pytest.mark.parametrize("utf8", ["건물 청소원", "보육교사"])  # the second is valid cp949 too: read as mojibake before
def test_a_file_mixing_utf8_and_cp949_is_refused_naming_the_first_bad_line(tmp_path, utf8):
    src = tmp_path / "in.csv"
    src.write_bytes(f"id,occupation\n1,{utf8}\n".encode() + "2,한식 조리사\n3,무직\n".encode("cp949"))
    result = _run("code", src, "--text-col", "occupation", "-o", tmp_path / "out.csv")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {src}:3: the file mixes encodings — line 2 is UTF-8 but line 3 is not (cp949/EUC-KR?), so either "
        "reading would garble one of them — re-save the whole file in one encoding (UTF-8).\n"
    )
    assert not (tmp_path / "out.csv").exists()


def test_a_utf8_bom_before_cp949_bytes_is_refused_not_a_traceback(tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes(b"\xef\xbb\xbf" + "id,occupation\n1,건물 청소원\n".encode("cp949"))
    result = _run("code", src, "--text-col", "occupation", "-o", tmp_path / "out.csv")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {src}:2: the file starts with a UTF-8 byte-order mark but line 2 is not UTF-8 (bad byte at "
        "offset 19; cp949/EUC-KR?) — re-save the whole file as UTF-8.\n"
    )


def test_every_ks_x_1001_syllable_in_cp949_is_still_read_as_cp949(tmp_path):
    syllables = [chr(c) for c in range(0xAC00, 0xD7A4) if len(chr(c).encode("euc-kr")) == 2]
    src = tmp_path / "in.csv"
    src.write_bytes(("occupation\n" + "\n".join(syllables) + "\n").encode("cp949"))
    assert read_table(src)["occupation"].tolist() == syllables


# --- case 5: CR, LF, quotes and commas round-trip through the crosswalk CSV --------------------------

AWKWARD = ["청소\r원", "청소\n원", "청소\r\n원", '"경비"원', "조리사, 한식", "  앞뒤 공백  ", ""]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp949"])
@pytest.mark.parametrize("name", ["t.csv", "t.tsv"])
def test_csv_round_trip_is_exact(tmp_path, encoding, name):
    frame = pd.DataFrame({"label": AWKWARD, "tab\tcol": ["a\tb", "x", "", "y", "z", "w", "v"]})
    write_table(frame, tmp_path / name, encoding=encoding)
    back = read_table(tmp_path / name)
    assert list(back.columns) == list(frame.columns)
    assert back.to_dict("list") == frame.to_dict("list")


def _reference_csv(rows: list[list[str]], sep: str) -> str:
    """CSV as the writer promises it, cell by cell: quoted (quotes doubled) when a cell holds a quote, the
    delimiter, CR or LF, or is the only, empty cell of its row."""

    def cell(v: str, alone: bool) -> str:
        special = any(c in v for c in ('"', sep, "\r", "\n")) or (alone and v == "")
        return '"' + v.replace('"', '""') + '"' if special else v

    return "".join(sep.join(cell(v, len(r) == 1) for v in r) + "\n" for r in rows)


@pytest.mark.parametrize("name", ["t.csv", "t.tsv"])
@pytest.mark.parametrize("batch", [1, 3, 1 << 16])
def test_csv_written_in_batches_is_exact_with_categoricals(tmp_path, monkeypatch, name, batch):
    monkeypatch.setattr(cio, "_CSV_ROWS", batch)  # batch boundaries inside the frame
    sep = "," if name.endswith(".csv") else "\t"
    labels = [*AWKWARD, "a\tb", "plain"] * 2
    cats = pd.Categorical(["조리사, 한식", None, 'x"y', "청소\r원", "plain", "", "a\tb", "z", "plain"] * 2)
    frame = pd.DataFrame({"label": labels, "code": cats, "n": range(len(labels))})
    write_table(frame, tmp_path / name, encoding="utf-8")
    rows = [list(frame.columns)] + [
        [lab, "" if pd.isna(c) else c, str(n)] for lab, c, n in zip(labels, cats, range(len(labels)), strict=True)
    ]
    assert (tmp_path / name).read_bytes() == _reference_csv(rows, sep).encode("utf-8")
    back = read_table(tmp_path / name)
    assert back["label"].tolist() == labels and back["code"].tolist() == [r[1] for r in rows[1:]]
    one = pd.DataFrame({"only": pd.Categorical(["", "a", None, "b"])})  # alone in its row: "" is written quoted
    write_table(one, tmp_path / ("one" + name[1:]), encoding="cp949")
    assert (tmp_path / ("one" + name[1:])).read_bytes() == b'only\n""\na\n""\nb\n'


def test_crosswalk_with_cr_labels_is_read_back_by_decide_and_apply(tmp_path):
    src = tmp_path / "in.parquet"
    pd.DataFrame({"occupation": AWKWARD}).to_parquet(src)
    xw = tmp_path / "xw.csv"
    result = code_file(src, tmp_path / "out.parquet", text_col="occupation", crosswalk_path=xw)
    labels = read_crosswalk(xw).frame["label"].tolist()
    assert labels == result.crosswalk["label"].tolist() and "청소\r원" in labels  # exact, CR and all
    decide_file(xw, tmp_path / "decided.csv")
    result = _run(
        "apply", src, "--crosswalk", tmp_path / "decided.csv", "--text-col", "occupation", "-o", tmp_path / "a.csv"
    )
    assert result.exit_code == 0, result.output
    assert read_table(tmp_path / "a.csv")["occupation"].tolist() == AWKWARD


# --- case 6: Parquet types are kept -----------------------------------------------------------------

BIG = 9007199254740993  # 2**53 + 1: a float64 cannot hold it


def _parquet_with_null_ids(path: Path) -> None:
    table = pa.table(
        {
            "id": pa.array([BIG, None, 3], type=pa.int64()),
            "occupation": ["건물 청소원", "한식 조리사", "무직"],
            "age": pa.array([41, 35, None], type=pa.int8()),
        }
    )
    pq.write_table(table, path)  # written by Arrow, not pandas: no pandas metadata to restore dtypes from


def test_parquet_int64_ids_with_nulls_come_through_exactly(tmp_path):
    src = tmp_path / "in.parquet"
    _parquet_with_null_ids(src)
    frame = read_table(src)
    assert str(frame["id"].dtype) == "Int64" and frame["id"].iloc[0] == BIG
    code_file(src, tmp_path / "out.parquet", text_col="occupation")
    back = pq.read_table(tmp_path / "out.parquet")
    assert back.column("id").type == pa.int64() and back.column("id").to_pylist() == [BIG, None, 3]
    assert back.column("age").type == pa.int8() and back.column("age").to_pylist() == [41, 35, None]
    code_file(src, tmp_path / "out.csv", text_col="occupation")
    rows = read_table(tmp_path / "out.csv")
    assert rows["id"].tolist() == [str(BIG), "", "3"] and rows["age"].tolist() == ["41", "35", ""]


def test_xlsx_whole_numbers_with_empty_cells_stay_integers(tmp_path):
    src = tmp_path / "in.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["id", "occupation", "score"])
    ws.append([1234567, "교사", 1.5])
    ws.append([None, "무직", None])
    ws.append([3, "의사", 2])
    wb.save(src)
    frame = read_table(src)
    assert str(frame["id"].dtype) == "Int64" and frame["id"].tolist() == [1234567, pd.NA, 3]
    assert frame["score"].dtype == "float64"  # real numbers stay numbers
    code_file(src, tmp_path / "out.csv", text_col="occupation")
    assert read_table(tmp_path / "out.csv")["id"].tolist() == ["1234567", "", "3"]  # not 1234567.0


def test_an_integer_an_xlsx_number_cannot_hold_is_written_as_text(tmp_path):
    src = tmp_path / "in.parquet"
    _parquet_with_null_ids(src)
    code_file(src, tmp_path / "out.xlsx", text_col="occupation")
    assert read_table(tmp_path / "out.xlsx")["id"].tolist() == [str(BIG), None, 3]


# --- case 7: XLSX sheets and formulas ---------------------------------------------------------------


def _workbook(path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "notes"
    ws.append(["note"])
    ws.append(["read me first"])
    people = wb.create_sheet("people")
    people.append(["id", "occupation"])
    people.append([1, "건물 청소원"])
    people.append([2, "무직"])
    wb.save(path)


def test_the_sheet_read_is_chosen_and_said(tmp_path):
    src = tmp_path / "in.xlsx"
    _workbook(src)
    out = tmp_path / "out.csv"
    result = _run("code", src, "--text-col", "occupation", "-o", out, "--sheet", "people")
    assert result.exit_code == 0, result.output
    assert read_table(out)["occupation"].tolist() == ["건물 청소원", "무직"]
    assert json.loads((tmp_path / "out.csv.meta.json").read_text(encoding="utf-8"))["inputs"]["sheet"] == "people"
    assert "note:" not in result.stderr
    assert _run("code", src, "--text-col", "occupation", "-o", out, "--sheet", "2").exit_code == 0
    first = _run("code", src, "--text-col", "note", "-o", out)
    assert first.exit_code == 0, first.output
    assert first.stderr.startswith(
        f"note: {src} has 2 sheets: read the first, 'notes' (not 'people') — choose one with --sheet NAME|N\n"
    )
    missing = _run("code", src, "--text-col", "occupation", "-o", out, "--sheet", "staff")
    assert missing.stderr == (
        f"Error: {src}: no sheet 'staff' — the sheets are 1 'notes', 2 'people'. "
        "Choose one by name or position (--sheet NAME|N, 1 = first).\n"
    )


def test_apply_takes_a_sheet_too(tmp_path):
    src = tmp_path / "in.xlsx"
    _workbook(src)
    xw = tmp_path / "xw.csv"
    code_file(src, tmp_path / "out.csv", text_col="occupation", crosswalk_path=xw, sheet="people")
    result = _run(
        "apply", src, "--crosswalk", xw, "--text-col", "occupation", "--sheet", "people", "-o", tmp_path / "a.csv"
    )
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "a.csv.meta.json").read_text(encoding="utf-8"))
    assert meta["inputs"]["input"]["sheet"] == "people"


def test_a_sheet_for_a_csv_is_refused(tmp_path):
    src = _people(tmp_path)
    with pytest.raises(InputError, match=r"a sheet \('people'\) was chosen but this is not an .xlsx file"):
        read_table(src, sheet="people")


def test_a_formula_without_a_saved_value_is_refused_naming_the_cell(tmp_path):
    src = tmp_path / "in.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["id", "occupation"])
    ws.append([1, "교사"])
    ws.append([2, '=A2&"번 직업"'])  # openpyxl saves no cached value: Excel never computed it
    wb.save(src)
    with pytest.raises(InputError) as err:
        read_table(src)
    assert str(err.value) == (
        f"{src}: sheet 'Sheet' has formula cells with no saved value, which would read as empty: "
        'B3 =A2&"번 직업" — open the file in Excel and save it (the values are stored then), or paste the cells as values.'
    )


# --- case 8: the XLSX row limit is checked before coding ------------------------------------------


def test_too_many_rows_for_xlsx_is_refused_before_coding(tmp_path, monkeypatch):
    import coder.pipeline as pipeline

    monkeypatch.setattr(cio, "XLSX_MAX_ROWS", 3)  # a header and two rows; the input has three
    monkeypatch.setattr(pipeline, "code_frame", lambda *a, **k: pytest.fail("coded before checking the row limit"))
    src = _people(tmp_path)
    result = _run("code", src, "--text-col", "occupation", "-o", tmp_path / "out.xlsx")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {tmp_path / 'out.xlsx'}: the output (-o) would have 3 rows, more than an XLSX sheet holds "
        "(2 below the header) — write .csv or .parquet instead.\n"
    )
    assert _names(tmp_path) == ["in.csv"]


def test_write_table_refuses_an_xlsx_too_big_before_writing(tmp_path, monkeypatch):
    monkeypatch.setattr(cio, "XLSX_MAX_ROWS", 2)
    with pytest.raises(InputError, match="would have 2 rows, more than an XLSX sheet holds"):
        write_table(pd.DataFrame({"a": ["1", "2"]}), tmp_path / "t.xlsx")
    assert _names(tmp_path) == []


# --- case 9: disk full, read-only folders, leftovers of a killed run --------------------------------


@pytest.mark.parametrize("name", ["out.csv", "out.parquet", "out.xlsx", "out.json"])
def test_disk_full_is_a_clear_error_and_leaves_nothing(tmp_path, monkeypatch, name):
    target = tmp_path / name
    target.write_text("earlier\n", encoding="utf-8")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    real_open = Path.open
    monkeypatch.setattr(Path, "write_bytes", full)
    monkeypatch.setattr(Path, "write_text", full)
    monkeypatch.setattr(Path, "open", lambda self, mode="r", *a, **k: (full if "w" in mode else real_open)(self, mode))
    monkeypatch.setattr(pq, "write_table", full)
    monkeypatch.setattr(openpyxl.Workbook, "save", full)
    with pytest.raises(InputError, match=rf"{name}: cannot write into .* — no space left on the device"):
        if name.endswith(".json"):
            write_json({"a": 1}, target)
        else:
            write_table(pd.DataFrame({"a": ["1"]}), target)
    monkeypatch.undo()
    assert target.read_text(encoding="utf-8") == "earlier\n"
    assert _names(tmp_path) == [name]


def _read_only(folder: Path, monkeypatch) -> None:
    if ROOT:  # root writes anyway: make the folder refuse as a read-only one would
        real_access = os.access
        monkeypatch.setattr(
            cio.os, "access", lambda p, mode, **k: False if Path(p) == folder else real_access(p, mode, **k)
        )

        def mkstemp(*args, **kwargs):
            raise PermissionError(errno.EACCES, "Permission denied")

        monkeypatch.setattr(cio.tempfile, "mkstemp", mkstemp)
    else:
        folder.chmod(0o500)


def test_a_read_only_folder_is_refused_naming_it(tmp_path, monkeypatch):
    src = _people(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    _read_only(locked, monkeypatch)
    try:
        result = _run("code", src, "--text-col", "occupation", "-o", locked / "out.csv")
        assert result.exit_code == 1
        assert result.stderr == (
            f"Error: {locked / 'out.csv'}: cannot write the output (-o) into {locked}/ — the folder is not writable "
            "(permission denied or read-only). Choose a folder you can write to, or fix its permissions.\n"
        )
        # and when the check passes but the write itself is refused (a folder made read-only meanwhile)
        monkeypatch.setattr(cio, "check_output", lambda *a, **k: None)
        with pytest.raises(InputError) as err:
            write_table(pd.DataFrame({"a": ["1"]}), locked / "out.csv")
        assert str(err.value) == (
            f"{locked / 'out.csv'}: cannot write into {locked}/ — the folder is not writable (permission denied or "
            "read-only). Nothing of this run was written (earlier outputs are unchanged); choose a folder you can "
            "write to, or fix its permissions."
        )
    finally:
        locked.chmod(0o700)
    assert _names(locked) == []


def test_folders_made_for_a_failed_run_are_removed(tmp_path, monkeypatch):
    _disk_full_on(monkeypatch, ".t.csv.coder-tmp-")
    with pytest.raises(InputError, match="no space left"):
        write_table(pd.DataFrame({"a": ["1"]}), tmp_path / "new" / "deeper" / "t.csv")
    assert _names(tmp_path) == []


def test_temporary_files_have_recognisable_names_and_a_killed_runs_are_swept(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)  # a process that has ended
    stale = tmp_path / f".out.csv.coder-tmp-{pid}-abc123"
    stale.write_text("half a file", encoding="utf-8")
    live = tmp_path / f".other.csv.coder-tmp-{os.getppid()}-def456"  # a running process: maybe mid-write
    live.write_text("in progress", encoding="utf-8")
    seen = []
    with all_or_nothing():
        write_table(pd.DataFrame({"a": ["1"]}), tmp_path / "out.csv")
        seen = [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.csv.coder-tmp-")]
    assert seen and all(n.startswith(f".out.csv.coder-tmp-{os.getpid()}-") for n in seen)
    assert _names(tmp_path) == [live.name, "out.csv"]  # the dead run's temp is gone, the live one's kept


def test_a_killed_write_leaves_only_a_recognisable_temporary_file(tmp_path):
    import signal
    import subprocess
    import sys

    script = (
        "import time\n"
        "import coder.io as cio\n"
        "def writer(tmp):\n"
        "    tmp.write_text('half', encoding='utf-8'); print('writing', flush=True); time.sleep(60)\n"
        f"cio._atomic(cio.Path({str(tmp_path / 'out.csv')!r}), writer)\n"
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout.readline().strip() == "writing"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    left = _names(tmp_path)
    assert len(left) == 1 and left[0].startswith(f".out.csv.coder-tmp-{proc.pid}-")
    write_table(pd.DataFrame({"a": ["2"]}), tmp_path / "out.csv")  # the next run into the folder sweeps it
    assert _names(tmp_path) == ["out.csv"]


# --- case 10 (writer half): XLSX cells are text, never formulas -------------------------------------

FORMULAS = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "=cmd|' /C calc'!A0"]


def test_xlsx_text_cells_are_never_formulas(tmp_path):
    path = tmp_path / "t.xlsx"
    write_table(pd.DataFrame({"label": FORMULAS, "n": [1, 2, 3, 4, 5]}), path)
    ws = openpyxl.load_workbook(path).active  # data_only=False: a formula would show as one
    cells = [ws.cell(row=r, column=1) for r in range(2, 7)]
    assert [c.value for c in cells] == FORMULAS
    assert {c.data_type for c in cells} == {"s"}
    assert [ws.cell(row=r, column=2).value for r in range(2, 7)] == [1, 2, 3, 4, 5]
    assert read_table(path)["label"].tolist() == FORMULAS


def test_coded_xlsx_rows_keep_formula_like_labels_as_text_and_csv_keeps_them_exact(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("occupation\n" + "\n".join(f'"{v.replace(chr(34), chr(34) * 2)}"' for v in FORMULAS) + "\n")
    code_file(src, tmp_path / "out.xlsx", text_col="occupation", crosswalk_path=tmp_path / "xw.xlsx")
    for name in ("out.xlsx", "xw.xlsx"):
        ws = openpyxl.load_workbook(tmp_path / name).active
        assert all(c.data_type != "f" for row in ws.iter_rows() for c in row), name
    code_file(src, tmp_path / "out.csv", text_col="occupation")
    assert read_table(tmp_path / "out.csv")["occupation"].tolist() == FORMULAS  # exact: programs read it back


def test_a_control_character_xlsx_cannot_hold_is_a_clear_error(tmp_path):
    with pytest.raises(InputError) as err:
        write_table(pd.DataFrame({"a": ["ok", "bell\x07"]}), tmp_path / "t.xlsx")
    assert str(err.value) == (
        f"{tmp_path / 't.xlsx'}: column 'a', row 2 has a control character an XLSX cell cannot hold ('bell\\x07') — "
        "write .csv or .parquet instead."
    )
    assert _names(tmp_path) == []


@pytest.mark.parametrize(
    "argv",
    [["check", "XW", "-o", "OUT"], ["review", "export", "XW", "-o", "OUT"], ["panel", "run", "XW", "-o", "OUT"]],
    ids=["check", "review export", "panel"],
)
def test_every_stage_refuses_a_bad_table_extension_before_it_runs(tmp_path, argv):
    """A wrong -o extension is refused before the stage runs: for the panel, before any paid call."""
    from click.testing import CliRunner

    from coder.cli import cli
    from coder.pipeline import code_file

    src = tmp_path / "in.csv"
    src.write_text("occupation\n택시 기사\n경비원\n", encoding="utf-8")
    xw = tmp_path / "xw.csv"
    code_file(src, tmp_path / "rows.csv", text_col="occupation", crosswalk_path=xw)
    out = tmp_path / "out.json"
    args = [str(xw) if a == "XW" else str(out) if a == "OUT" else a for a in argv]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines()[-1] == (
        f"Error: {out}: the output (-o) has an unknown table format '.json' — use .csv, .tsv, .parquet or .xlsx."
    )
    assert not out.exists()
