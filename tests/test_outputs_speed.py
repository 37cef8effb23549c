"""``coder code`` writes its outputs faster and the same bytes (issue 22: the 1M-row NPK CSV -> CSV run).

The fast path renders the rows' own columns as CSV text while the rules and the model load
(:func:`coder.io.csv_text`), makes each label's added cells once and takes them at the rows' labels
(:class:`coder.io.KeyedRows`), hashes every CSV/TSV file as it is written (:func:`coder.io.staged_sha256`)
and writes the rows and the crosswalk side by side.  The former path is kept as the reference: the rows
written from the coded DataFrame by the per-column writer, and each sidecar's sha256 read back from the
staged file.  Rows, crosswalk and both sidecars (all but their run id and time) must be byte for byte
the same, on NPK rows and on awkward inputs, and every sidecar's sha256 must be its file's.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import coder.crosswalk.stage as stage
import coder.io as cio
import coder.pipeline as pipeline
from coder.errors import InputError
from coder.io import staged_path

AWKWARD = [
    "간호사",
    "  간호사  ",
    '"경비"원',
    "조리사, 한식",
    "청소\n원",
    "청소\r\n원",
    "",
    "NaN",
    "=1+2",
    "+82-10",
    "@SUM(A1)",
    "-3",
    "\t탭 교사",
    "무직",
    "간효사",
    "전직 간호사, 현재 구직중",
    "은퇴한 교사",
    "군인",
]


def _former(monkeypatch) -> None:
    """Run the former output path: rows written from the coded DataFrame, sha256s read back from the files."""
    monkeypatch.setattr(pipeline, "_sep", lambda output_path: None)
    monkeypatch.setattr(stage, "staged_sha256", lambda path: _sha(staged_path(path)))
    monkeypatch.setattr(pipeline, "staged_sha256", lambda path: _sha(staged_path(path)))


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _meta(path: Path) -> dict:
    meta = json.loads(Path(f"{path}.meta.json").read_text(encoding="utf-8"))
    assert meta["outputs"]["sha256"] == _sha(path)  # the sidecar's sha256 is its file's
    del meta["run_id"], meta["created_utc"]
    return meta


def _both(tmp_path, monkeypatch, src: Path, out_name: str = "out.csv", **kw) -> tuple[Path, Path]:
    """The fast and the former runs of ``src`` in folders ``new`` and ``old`` (relative paths, so the
    sidecars name the same files); both folders returned."""
    dirs = []
    for name in ("new", "old"):
        folder = tmp_path / name
        folder.mkdir()
        with monkeypatch.context() as m:
            m.chdir(folder)
            if name == "old":
                _former(m)
            pipeline.code_file(src, out_name, text_col="occupation", crosswalk_path="xw.csv", **{"replace": True, **kw})
        dirs.append(folder)
    return dirs[0], dirs[1]


def _same(new: Path, old: Path, out_name: str = "out.csv") -> None:
    for name in (out_name, "xw.csv"):
        assert (new / name).read_bytes() == (old / name).read_bytes(), name
        assert _meta(new / name) == _meta(old / name), name


def _cell(value: object, sep: str) -> str:
    text = "" if value is None or (isinstance(value, float) and value != value) else str(value)
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in f'"\r\n{sep}') else text


def _per_cell(frame: pd.DataFrame, sep: str) -> bytes:
    """A CSV written cell by cell in Python: each cell quoted when it holds a quote, the delimiter, CR or LF."""
    lines = [sep.join(_cell(c, sep) for c in frame.columns)]
    lines += [sep.join(_cell(v, sep) for v in row) for row in frame.astype(object).itertuples(index=False)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _npk_rows(npk_labels: pd.DataFrame, path: Path, *, scale: int = 400, seed: int = 20261122) -> pd.DataFrame:
    """NPK-shaped rows: every bundled label, repeated by its count / ``scale`` (at least once), shuffled."""
    counts = np.maximum(npk_labels["count"].astype(int).to_numpy() // scale, 1)
    occ = np.repeat(npk_labels["occupation"].to_numpy(dtype=object), counts)
    np.random.default_rng(seed).shuffle(occ)
    frame = pd.DataFrame({"row_id": [f"p{i:07d}" for i in range(len(occ))], "occupation": occ})
    cio.write_table(frame, path)
    return frame


def test_npk_rows_are_written_as_the_former_path_writes_them(tmp_path, monkeypatch, npk_labels):
    monkeypatch.setattr(cio, "_CSV_ROWS", 997)  # many batches, the last one short
    src = tmp_path / "npk.csv"
    frame = _npk_rows(npk_labels, src)
    new, old = _both(tmp_path, monkeypatch, src)
    _same(new, old)
    coded = pipeline.code_frame(frame, text_col="occupation")
    assert (new / "out.csv").read_bytes() == _per_cell(coded.rows, ",")


def _awkward(n: int, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    occ = np.array(AWKWARD, dtype=object)[rng.integers(len(AWKWARD), size=n)]
    return pd.DataFrame(
        {
            "id": [f'id {i}, "{i % 4}"' if i % 9 == 0 else f"p{i:05d}" for i in range(n)],
            "occupation": occ,
            "w": [f"{x:.6f}" for x in rng.random(n) * 3],
            "note": [('=HYPERLINK("x")' if i % 5 == 0 else f"메모\n{i}") if i % 3 == 0 else "" for i in range(n)],
        }
    )


@pytest.mark.parametrize(
    ("out_name", "encoding"),
    [("out.csv", "utf-8"), ("out.tsv", "utf-8"), ("out.csv", "utf-8-sig"), ("out.csv", "cp949")],
)
def test_awkward_rows_with_weights_and_ids_are_written_the_same(tmp_path, monkeypatch, out_name, encoding):
    monkeypatch.setattr(cio, "_CSV_ROWS", 113)
    src = tmp_path / "in.csv"
    frame = _awkward(1500)
    if encoding == "cp949":
        frame["occupation"] = frame["occupation"].str.replace("\t", " ")  # every character cp949 holds
    cio.write_table(frame, src)
    new, old = _both(tmp_path, monkeypatch, src, out_name, weight_col="w", id_col="id", encoding=encoding)
    _same(new, old, out_name)
    if encoding == "utf-8":
        coded = pipeline.code_frame(cio.read_table(src), text_col="occupation", weight_col="w", id_col="id")
        assert (new / out_name).read_bytes() == _per_cell(coded.rows, "," if out_name.endswith(".csv") else "\t")


def test_cp949_input_with_crlf_lines_is_written_the_same(tmp_path, monkeypatch):
    monkeypatch.setattr(cio, "_CSV_ROWS", 64)
    cells = ["간호사", '"""경비""원"', '"조리사, 한식"', "", "NaN", "=1+2"]  # as written in the file
    text = "번호,occupation,비고\r\n" + "".join(f'{i},{cells[i % 6]},"메모, {i}"\r\n' for i in range(700))
    src = tmp_path / "in.csv"
    src.write_bytes(text.encode("cp949"))
    new, old = _both(tmp_path, monkeypatch, src)
    _same(new, old)


def test_one_column_input_and_replaced_output_columns_are_written_the_same(tmp_path, monkeypatch):
    monkeypatch.setattr(cio, "_CSV_ROWS", 50)
    rng = np.random.default_rng(3)
    occ = np.array(AWKWARD, dtype=object)[rng.integers(len(AWKWARD), size=400)]
    one = tmp_path / "one.csv"
    cio.write_table(pd.DataFrame({"occupation": occ}), one)  # empty labels: a blank line unless quoted
    (tmp_path / "one").mkdir()
    new, old = _both(tmp_path / "one", monkeypatch, one)
    _same(new, old)
    clash = tmp_path / "clash.csv"
    cio.write_table(pd.DataFrame({"ksco_code": ["x"] * 400, "occupation": occ, "rule_id": ["R"] * 400}), clash)
    (tmp_path / "clash").mkdir()
    new, old = _both(tmp_path / "clash", monkeypatch, clash)
    _same(new, old)
    assert (new / "out.csv").read_bytes().split(b"\n", 1)[0] == (
        b"occupation,ksco_code,ksco_level,ksco_major,ksco_title,code_status,code_source,rule_id,former_code"
    )


def test_xlsx_input_with_numbers_and_empty_cells_is_written_the_same(tmp_path, monkeypatch):
    monkeypatch.setattr(cio, "_CSV_ROWS", 40)
    frame = pd.DataFrame(
        {
            "n": pd.array([i if i % 7 else None for i in range(300)], dtype="Int64"),
            "x": [i / 8 if i % 5 else None for i in range(300)],
            "occupation": [AWKWARD[i % len(AWKWARD)].replace("\r", "") for i in range(300)],
        }
    )
    src = tmp_path / "in.xlsx"
    cio.write_table(frame, src)
    new, old = _both(tmp_path, monkeypatch, src)
    _same(new, old)


def test_an_empty_input_writes_the_header_alone_the_same(tmp_path, monkeypatch):
    src = tmp_path / "in.csv"
    src.write_text("id,occupation\n", encoding="utf-8")
    new, old = _both(tmp_path, monkeypatch, src)
    _same(new, old)


def test_a_run_leaves_the_garbage_collector_as_it_found_it(tmp_path):
    import gc

    src = tmp_path / "in.csv"
    cio.write_table(_awkward(50), src)
    pipeline.code_file(src, tmp_path / "out.csv", text_col="occupation")
    assert gc.get_freeze_count() == 0
    with pytest.raises(InputError):
        pipeline.code_file(src, tmp_path / "out2.csv", text_col="no such column")
    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize("stream", [False, True])
def test_a_crosswalk_written_beside_failing_leaves_nothing(tmp_path, monkeypatch, stream):
    import errno

    if stream:
        monkeypatch.setattr(pipeline, "STREAM_CSV_BYTES", 0)
    src = tmp_path / "in.csv"
    cio.write_table(_awkward(300), src)
    real_open = Path.open

    def opened(self, mode="r", *args, **kwargs):
        if "w" in mode and ".xw.csv.coder-tmp-" in self.name:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(self, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "open", opened)
    with pytest.raises(InputError, match=r"xw\.csv: cannot write into .* — no space left on the device"):
        pipeline.code_file(src, tmp_path / "out.csv", text_col="occupation", crosswalk_path=tmp_path / "xw.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_a_parquet_input_streamed_to_csv_is_written_the_same(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "STREAM_BATCH", 97)  # many streamed batches
    monkeypatch.setattr(cio, "_CSV_ROWS", 40)
    n = 700
    frame = pd.DataFrame(
        {
            "n": pd.array([i if i % 7 else None for i in range(n)], dtype="Int64"),
            "x": [i / 8 if i % 5 else float("nan") for i in range(n)],
            "flag": [i % 3 == 0 for i in range(n)],
            "kind": pd.Categorical([("a,b", "", '"q"', "plain")[i % 4] for i in range(n)]),
            "occupation": [AWKWARD[i % len(AWKWARD)] for i in range(n)],
        }
    )
    src = tmp_path / "in.parquet"
    cio.write_table(frame, src)
    new, old = _both(tmp_path, monkeypatch, src)
    _same(new, old)


def test_a_run_codes_with_the_system_allocator_and_gives_the_pool_back(tmp_path, monkeypatch):
    """A file read whole is read, coded and written with Arrow's system pool; the former pool is the default again
    after a run and after a failed one, and a pool the user chose (ARROW_DEFAULT_MEMORY_POOL) is left alone."""
    import pyarrow as pa

    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    src = tmp_path / "in.csv"
    cio.write_table(_awkward(50), src)
    before = pa.default_memory_pool().backend_name
    used = []
    real = pipeline._code

    def spy(*args, **kwargs):
        used.append(pa.default_memory_pool().backend_name)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_code", spy)
    pipeline.code_file(src, tmp_path / "out.csv", text_col="occupation")
    assert used == ["system"] and pa.default_memory_pool().backend_name == before
    with pytest.raises(InputError):
        pipeline.code_file(src, tmp_path / "out2.csv", text_col="occupation", weight_col="occupation")
    assert pa.default_memory_pool().backend_name == before
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", before)
    pipeline.code_file(src, tmp_path / "out3.csv", text_col="occupation")
    assert used[-1] == before
