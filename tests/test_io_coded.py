"""The CSV writer's coded columns: categorical columns (and the int64 columns of few values between them) are
written once per distinct combination of codes, byte for byte what the plain per-cell writer writes; rows
whose own columns were rendered ahead and whose added columns are taken per key (:class:`coder.io.KeyedRows`)
are written as the joined frame is; a CSV/TSV file's sha256 is taken as it is written."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import coder.io as cio
from coder.errors import InputError

AWKWARD = ["", "간호사", '"경비"원', "조리사, 한식", "청소\n원", "a\r\nb", "\t탭", " 공백 ", "=1+2", "NaN"]


def _frame(n: int, n_cats: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = [AWKWARD[i % len(AWKWARD)] + (str(i) if i >= len(AWKWARD) else "") for i in range(n_cats)]
    label = rng.integers(n_cats, size=n)
    codes = np.where(rng.random(n) < 0.05, -1, label)  # some missing
    return pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(n)],
            "text": pd.Series(np.array(AWKWARD, dtype=object)[rng.integers(len(AWKWARD), size=n)], dtype=object),
            "a": pd.Categorical.from_codes(codes, categories=values),
            "level": rng.integers(0, 6, size=n).astype(np.int64),
            "b": pd.Categorical.from_codes(label, categories=[v[::-1] + "x" for v in values]),
            "n": rng.integers(0, 10**9, size=n).astype(np.int64),  # many values: written per cell
            "c": pd.Categorical.from_codes((label * 7) % n_cats, categories=values),
            "d": pd.Categorical.from_codes(label % 3, categories=["x", "", "y,z"]),
        }
    )


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({c: frame[c].astype(object) if frame[c].dtype == "category" else frame[c] for c in frame})


@pytest.mark.parametrize("sep", [",", "\t"])
@pytest.mark.parametrize("n_cats", [1, 5, 300])
def test_coded_columns_write_what_the_plain_writer_writes(monkeypatch, sep, n_cats):
    monkeypatch.setattr(cio, "_CSV_ROWS", 1000)  # many batches, the last one short
    frame = _frame(4321, n_cats)
    text = cio._csv_text(frame, sep)
    assert text == cio._csv_text(_plain(frame), sep)
    assert text.count("\n") >= 4322


def test_coded_columns_fall_back_when_the_combinations_overflow(monkeypatch):
    monkeypatch.setattr(cio, "_CSV_ROWS", 700)
    rng = np.random.default_rng(1)
    cats = [f"v{i}" for i in range(1 << 11)]
    frame = pd.DataFrame(
        {f"c{j}": pd.Categorical.from_codes(rng.integers(len(cats), size=2000), categories=cats) for j in range(6)}
    )
    assert cio._coded_run([cio._coded(frame[c], ",", False, False, True) for c in frame], ",") is None
    assert cio._csv_text(frame, ",") == cio._csv_text(_plain(frame), ",")


def test_a_column_of_repeated_values_is_quoted_per_distinct_value():
    values = pd.Series(np.array(AWKWARD, dtype=object)[np.arange(5000) % len(AWKWARD)])
    got = cio._csv_cells(cio._string_column(values), ",", False).to_pylist()
    want = ['"' + v.replace('"', '""') + '"' if any(c in v for c in '",\r\n') else v for v in values]
    assert got == want


@pytest.mark.parametrize("out", ["out.csv", "out.tsv"])
def test_written_files_read_back(tmp_path, monkeypatch, out):
    monkeypatch.setattr(cio, "_CSV_ROWS", 512)
    frame = _frame(3000, 40)
    cio.write_table(frame, tmp_path / out)
    back = cio.read_table(tmp_path / out)
    for col in frame:
        want = frame[col].astype(object).where(frame[col].notna(), "").astype(str).tolist()
        assert back[col].tolist() == want


def _keyed(n: int, n_keys: int, seed: int = 2) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Rows' own columns, columns added per key (categoricals, an int64 between them, missing values) and each row's key."""
    own = _frame(n, 7, seed)[["id", "text", "n"]]
    added = _frame(n_keys, max(n_keys // 3, 1), seed + 1)[["a", "level", "b", "d"]]
    return own, added, np.random.default_rng(seed).integers(n_keys, size=n)


@pytest.mark.parametrize("out", ["out.csv", "out.tsv"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp949"])
@pytest.mark.parametrize(("n", "n_keys"), [(0, 3), (1, 1), (2500, 40)])
def test_keyed_rows_write_what_the_joined_frame_writes(tmp_path, monkeypatch, out, encoding, n, n_keys):
    monkeypatch.setattr(cio, "_CSV_ROWS", 300)
    own, added, index = _keyed(n, n_keys)
    if encoding == "cp949":
        own = own.assign(text=own["text"].str.replace("\t", " "))
    sep = "," if out.endswith(".csv") else "\t"
    joined = pd.concat([own, added.iloc[index].reset_index(drop=True)], axis=1)
    cio.write_table(joined, tmp_path / f"joined-{out}", encoding=encoding)
    cio.write_table(cio.KeyedRows(cio.csv_text(own, sep), added, index), tmp_path / out, encoding=encoding)
    assert (tmp_path / out).read_bytes() == (tmp_path / f"joined-{out}").read_bytes()


def test_keyed_rows_of_one_own_column_keep_empty_cells_unquoted(tmp_path):
    own = pd.DataFrame({"text": ["", "a", ""]})
    added = pd.DataFrame({"code": pd.Categorical(["", "1"])})
    cio.write_table(cio.KeyedRows(cio.csv_text(own, ","), added, np.array([0, 1, 0])), tmp_path / "o.csv")
    assert (tmp_path / "o.csv").read_bytes() == b"text,code\n,\na,1\n,\n"


def test_keyed_rows_are_refused_for_another_delimiter_or_format(tmp_path):
    own, added, index = _keyed(10, 3)
    rows = cio.KeyedRows(cio.csv_text(own, ","), added, index)
    with pytest.raises(ValueError, match="another delimiter"):
        cio.write_table(rows, tmp_path / "o.tsv")
    with pytest.raises(ValueError, match=r"\.csv or \.tsv files only"):
        cio.write_table(rows, tmp_path / "o.parquet")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["o.csv", "o.tsv", "o.parquet", "o.json"])
def test_the_sha256_of_a_staged_file_is_its_bytes(tmp_path, name):
    import hashlib

    frame = _frame(700, 5)
    with cio.all_or_nothing():
        if name.endswith(".json"):
            cio.write_json({"a": [1, "가"]}, tmp_path / name)
        else:
            cio.write_table(frame, tmp_path / name, encoding="utf-8-sig")
        staged = cio.staged_path(tmp_path / name)
        assert cio.staged_sha256(tmp_path / name) == hashlib.sha256(staged.read_bytes()).hexdigest()
        hashed = staged in cio._RUN.get().digests
    assert hashed == name.endswith((".csv", ".tsv"))  # CSV/TSV hashed as written, others read back


class _FullAfter:
    """A binary file whose ``n``-th write fails as on a full disk."""

    def __init__(self, fh, n: int) -> None:
        self.fh, self.left = fh, n

    def write(self, data) -> int:
        self.left -= 1
        if self.left == 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.fh.write(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.fh.close()


@pytest.mark.parametrize("n", [1, 4])
def test_a_write_failing_midway_is_a_clear_error_and_leaves_nothing(tmp_path, monkeypatch, n):
    monkeypatch.setattr(cio, "_CSV_ROWS", 100)  # the rows' writes are hashed and written on a thread of their own
    real_open = Path.open

    def opened(self, mode="r", *args, **kwargs):
        fh = real_open(self, mode, *args, **kwargs)
        return _FullAfter(fh, n) if "w" in mode else fh

    monkeypatch.setattr(Path, "open", opened)
    with pytest.raises(InputError, match=r"o\.csv: cannot write into .* — no space left on the device"):
        cio.write_table(_frame(2000, 5), tmp_path / "o.csv")
    assert list(tmp_path.iterdir()) == []
