"""``coder apply`` streams a Parquet input, or a large UTF-8 CSV/TSV one (issue 22): read in batches twice
(labels counted, then rows joined and written), it writes what the whole-file run writes.

Each streamed run (``STREAM_BATCH`` and ``STREAM_CSV_BYTES`` lowered: many batches, cutting across the
Parquet row groups) is compared with the whole-file run of the same input (``_streams`` forced off): CSV/TSV
bytes, Parquet frames, the sidecar but for its run id and time, the labels the crosswalk lacks.  The
whole-file run is held to the former ``apply_crosswalk`` (kept below verbatim) on the same rows.  The rows
are NPK-shaped (drawn from ``coder/demo_data/npk_occupation.csv``'s label counts), with empty and missing
labels, labels the crosswalk lacks, nullable ids, NaN floats, booleans and an output column to --replace.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import coder.io as cio
import coder.pipeline as pipeline
from coder.cli import cli
from coder.codes import CodeList
from coder.crosswalk.model import Crosswalk
from coder.crosswalk.store import read_crosswalk
from coder.demo import DEMO_DATA
from coder.errors import CrosswalkError, InputError
from coder.io import read_table, write_table
from coder.labels import tabulate_labels

N_ROWS = 3_000
ODD = ["", "  ", "무직", "전직 간호사, 현재 구직중", '"경비"원', "청소\n원", "NaN", "간효사 (계약직)"]


def _former_apply(
    frame: pd.DataFrame,
    crosswalk: Crosswalk | pd.DataFrame,
    *,
    text_col: str,
    replace: bool = False,
    strict: bool = False,
    codes: CodeList | None = None,
    source: str = "input",
) -> pd.DataFrame:
    """``apply_crosswalk`` before streaming (525cfad), verbatim but for its return: the joined rows."""
    xwalk = Crosswalk.of(crosswalk, codes=codes)
    codes = codes if codes is not None else xwalk.codes
    crosswalk = xwalk.frame
    pipeline._check_columns(frame, text_col, None, None, source)
    frame = pipeline._drop_output_columns(frame, replace, source)
    bad = sorted({c for c in crosswalk["ksco_code"].astype(str) if c and c not in codes})
    if bad:
        raise CrosswalkError(
            f"crosswalk: final code(s) {', '.join(bad[:10])} are not in {codes.name} — fix them or re-decide.",
        )
    labels = tabulate_labels(frame[text_col])
    xw = crosswalk.set_index("label_key")
    known = labels.frame["label_key"].isin(xw.index)
    absent = ~known & (labels.frame["label_key"] != "")
    missing = labels.frame.loc[absent, ["label_key", "label", "n_rows"]].reset_index(drop=True)
    if strict and len(missing):
        shown = ", ".join(repr(x) for x in missing["label"].head(10))
        raise InputError(
            f"{source}: {len(missing)} label(s) are not in the crosswalk ({int(missing['n_rows'].sum())} rows): {shown}"
            + (" …" if len(missing) > 10 else "")
            + " — code them (`coder code … --crosswalk`) or drop --strict.",
            path=source,
        )
    final = pd.DataFrame({"label_key": labels.frame["label_key"]})
    cols = ("status", "ksco_code", "ksco_level", "ksco_major", "ksco_title", "code_source", "rule_id", "former_code")
    for col in cols:
        stored = xw[col] if col in xw.columns else pd.Series("", index=xw.index)
        values = stored.reindex(final["label_key"]).to_numpy()
        fill = 0 if col == "ksco_level" else ("unknown" if col == "status" else "")
        final[col] = pd.Series(values).where(known.to_numpy(), fill).to_numpy()
    final["ksco_level"] = final["ksco_level"].astype("int64")
    return pipeline._join(frame, labels, final)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict:
    """A crosswalk of every other NPK label (with a sidecar), and NPK-shaped rows as Parquet (row groups of
    500), CSV and TSV; the other NPK labels and ``ODD`` are not in the crosswalk."""
    d = tmp_path_factory.mktemp("apply_stream")
    npk = pd.read_csv(DEMO_DATA, dtype={"occupation": str}, keep_default_na=False)
    coded = npk.iloc[::2][["occupation"]]
    coded.to_csv(d / "labels.csv", index=False)
    pipeline.code_file(d / "labels.csv", d / "labels_coded.csv", text_col="occupation", crosswalk_path=d / "xw.csv")
    rng = np.random.default_rng(22)
    p = npk["count"].to_numpy(dtype=float)
    occ = npk["occupation"].to_numpy(dtype=object)[rng.choice(len(npk), size=N_ROWS, p=p / p.sum())]
    odd = rng.random(N_ROWS) < 0.05
    occ[odd] = np.array(ODD, dtype=object)[rng.integers(len(ODD), size=int(odd.sum()))]
    occ[rng.random(N_ROWS) < 0.02] = None
    ids = pd.array(np.arange(N_ROWS) * 7 + 1, dtype="Int64")
    ids[rng.random(N_ROWS) < 0.03] = pd.NA
    w = rng.random(N_ROWS) * 3
    w[rng.random(N_ROWS) < 0.1] = np.nan
    frame = pd.DataFrame(
        {
            "row_id": ids,
            "occupation": occ,
            "w": w,
            "flag": rng.random(N_ROWS) < 0.5,
            "note": [f'메모 {i}, "{i % 3}"' if i % 4 == 0 else str(i % 7) for i in range(N_ROWS)],
            "ksco_code": ["x"] * N_ROWS,
        }
    )
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), d / "rows.parquet", row_group_size=500)
    write_table(read_table(d / "rows.parquet"), d / "rows.csv")
    write_table(read_table(d / "rows.parquet"), d / "rows.tsv")
    return {"dir": d, "xw": d / "xw.csv", "npk": npk}


@pytest.fixture
def small(monkeypatch):
    """Batches of 97 rows (not dividing the 500-row row groups) and every CSV/TSV input streamed."""
    monkeypatch.setattr(pipeline, "STREAM_BATCH", 97)
    monkeypatch.setattr(pipeline, "STREAM_CSV_BYTES", 1)
    monkeypatch.setattr(cio, "_CSV_BATCH_BYTES", 4096)


def _apply(src, out, xw, monkeypatch, *, stream: bool, **kw) -> pipeline.ApplyResult:
    with monkeypatch.context() as m:
        if not stream:
            m.setattr(pipeline, "_streams", lambda *a: False)
        result = pipeline.apply_file(src, xw, out, text_col="occupation", **kw)
    assert len(result.rows) == (0 if stream else result.n_rows)  # the streamed run holds no rows
    return result


def _meta(path, folder) -> dict:
    meta = json.loads(Path(f"{path}.meta.json").read_text(encoding="utf-8").replace(str(folder), "<dir>"))
    for key in ("run_id", "created_utc"):
        del meta[key]
    return meta


@pytest.mark.parametrize(
    ("src_name", "out_name"),
    [
        ("rows.parquet", "out.parquet"),
        ("rows.parquet", "out.csv"),
        ("rows.parquet", "out.tsv"),
        ("rows.csv", "out.csv"),
        ("rows.tsv", "out.parquet"),
    ],
)
def test_streamed_apply_writes_what_the_whole_file_run_writes(data, small, monkeypatch, tmp_path, src_name, out_name):
    src, xw = data["dir"] / src_name, data["xw"]
    (tmp_path / "s").mkdir()
    (tmp_path / "m").mkdir()
    s_out, m_out = tmp_path / "s" / out_name, tmp_path / "m" / out_name
    streamed = _apply(src, s_out, xw, monkeypatch, stream=True, replace=True)
    whole = _apply(src, m_out, xw, monkeypatch, stream=False, replace=True)
    assert streamed.n_rows == whole.n_rows == N_ROWS
    pd.testing.assert_frame_equal(streamed.missing, whole.missing, check_exact=True)
    assert len(whole.missing) > 100 and set(ODD[4:6]) <= set(whole.missing["label"])
    assert list(streamed.rows.columns) == list(whole.rows.columns)
    s_meta, m_meta = _meta(s_out, tmp_path / "s"), _meta(m_out, tmp_path / "m")
    if out_name.endswith(".parquet"):
        frame = pd.read_parquet(m_out)
        pd.testing.assert_frame_equal(pd.read_parquet(s_out), frame, check_exact=True)
        assert pq.ParquetFile(s_out).metadata.num_row_groups > 1
        del s_meta["outputs"]["sha256"], m_meta["outputs"]["sha256"]  # the row groups differ, not the frame
    else:
        assert s_out.read_bytes() == m_out.read_bytes()
        frame = read_table(m_out)
    assert s_meta == m_meta
    assert s_meta["summary"]["rows"] == N_ROWS and s_meta["inputs"]["input"]["rows"] == N_ROWS
    assert s_meta["summary"]["labels_missing"] == len(whole.missing) > 0
    # the whole-file run is the former apply_crosswalk's rows
    former = _former_apply(read_table(src), read_crosswalk(xw), text_col="occupation", replace=True)
    if out_name.endswith(".parquet"):
        expected = pa.Table.from_pandas(former, preserve_index=False).to_pandas()
        pd.testing.assert_frame_equal(frame, expected, check_exact=True)
    else:
        check = tmp_path / f"former{out_name[-4:]}"
        write_table(former, check)
        assert check.read_bytes() == m_out.read_bytes()
    assert (frame["code_status"] == "unknown").sum() > 0 and (frame["ksco_code"] != "").sum() > N_ROWS // 5


def test_streamed_apply_of_every_npk_label_codes_every_row(data, small, monkeypatch, tmp_path):
    """Rows holding only the crosswalk's labels: nothing missing, every row coded as the crosswalk says."""
    xw = read_crosswalk(data["xw"]).frame.set_index("label_key")
    labels = data["npk"]["occupation"].iloc[::2].tolist()
    rows = pd.DataFrame({"occupation": [labels[i % len(labels)] for i in range(1000)], "n": np.arange(1000)})
    write_table(rows, tmp_path / "rows.parquet")
    result = _apply(tmp_path / "rows.parquet", tmp_path / "out.csv", data["xw"], monkeypatch, stream=True)
    assert result.n_rows == 1000 and result.missing.empty
    out = read_table(tmp_path / "out.csv")
    keys = [pipeline.tabulate_labels(pd.Series([t])).frame["label_key"].iloc[0] for t in out["occupation"]]
    assert out["ksco_code"].tolist() == xw.loc[keys, "ksco_code"].astype(str).tolist()
    assert out["n"].tolist() == [str(i) for i in range(1000)]


@pytest.mark.parametrize("src_name", ["rows.parquet", "rows.csv"])
def test_strict_and_replace_refuse_as_the_whole_file_run_does(data, small, monkeypatch, tmp_path, src_name):
    src, xw = data["dir"] / src_name, data["xw"]
    for kw in ({"replace": True, "strict": True}, {"replace": False}):
        errors = []
        for stream in (True, False):
            out = tmp_path / f"out{int(stream)}.parquet"
            with pytest.raises(InputError) as exc:
                _apply(src, out, xw, monkeypatch, stream=stream, **kw)
            errors.append(str(exc.value))
            assert not out.exists() and not list(tmp_path.iterdir())  # nothing written, no temporary file
        assert errors[0] == errors[1]
        assert ("not in the crosswalk" if kw.get("strict") else "--replace") in errors[0]


def test_a_bad_final_code_is_refused_before_the_rows_are_read(data, small, monkeypatch, tmp_path):
    frame = read_crosswalk(data["xw"]).frame.copy()
    frame.loc[frame.index[0], "ksco_code"] = "5555X"
    with pytest.raises(CrosswalkError, match="5555X"):
        pipeline.apply_crosswalk(read_table(data["dir"] / "rows.parquet"), frame, text_col="occupation", replace=True)
    names, n_rows, _ = pipeline._batches(data["dir"] / "rows.parquet")

    def unread(columns):
        raise AssertionError("rows read")

    monkeypatch.setattr(pipeline, "_batches", lambda path: (names, n_rows, unread))
    with pytest.raises(CrosswalkError, match="5555X"):
        pipeline._apply_stream(
            data["dir"] / "rows.parquet",
            tmp_path / "out.csv",
            Crosswalk.of(frame),
            text_col="occupation",
            replace=True,
            strict=False,
        )


@pytest.mark.parametrize("out_name", ["out.parquet", "out.csv"])
def test_a_failure_midway_leaves_nothing(data, small, monkeypatch, tmp_path, out_name):
    out = tmp_path / out_name
    out.write_bytes(b"earlier")
    calls = [0]
    positions = pipeline.LabelCounter.positions

    def failing(self, texts):
        calls[0] += 1
        if calls[0] == 5:  # the fifth batch of 97 rows
            raise RuntimeError("boom")
        return positions(self, texts)

    monkeypatch.setattr(pipeline.LabelCounter, "positions", failing)
    with pytest.raises(RuntimeError, match="boom"):
        _apply(data["dir"] / "rows.parquet", out, data["xw"], monkeypatch, stream=True, replace=True)
    assert out.read_bytes() == b"earlier"
    assert sorted(p.name for p in tmp_path.iterdir()) == [out_name]  # no sidecar, no temporary file


def test_inputs_that_cannot_stream_are_read_whole(data, small, monkeypatch, tmp_path):
    """A cp949 CSV, a CSV with a header alone and a Parquet file with no rows are read whole (same output)."""
    frame = read_table(data["dir"] / "rows.csv").drop(columns="ksco_code").head(300)
    (tmp_path / "cp949.csv").write_bytes(frame.to_csv(index=False).encode("cp949"))
    (tmp_path / "header.csv").write_text("row_id,occupation\n", encoding="utf-8")
    write_table(read_table(data["dir"] / "rows.parquet").head(0), tmp_path / "empty.parquet")
    for name, out_name in (("cp949.csv", "a.csv"), ("header.csv", "b.csv"), ("empty.parquet", "c.parquet")):
        (tmp_path / "s").mkdir(exist_ok=True)
        (tmp_path / "m").mkdir(exist_ok=True)
        streamed = pipeline.apply_file(
            tmp_path / name, data["xw"], tmp_path / "s" / out_name, text_col="occupation", replace=True
        )
        whole = _apply(tmp_path / name, tmp_path / "m" / out_name, data["xw"], monkeypatch, stream=False, replace=True)
        assert streamed.n_rows == whole.n_rows == len(streamed.rows)
        assert (tmp_path / "s" / out_name).read_bytes() == (tmp_path / "m" / out_name).read_bytes()


def test_cli_apply_counts_the_streamed_rows(data, small, tmp_path):
    out = tmp_path / "out.parquet"
    args = ["apply", str(data["dir"] / "rows.parquet"), "--crosswalk", str(data["xw"]), "--text-col", "occupation"]
    res = CliRunner().invoke(cli, [*args, "-o", str(out), "--replace"])
    assert res.exit_code == 0, res.output
    assert f"applied to {N_ROWS:,} rows" in res.output
    assert len(pd.read_parquet(out)) == N_ROWS


def test_a_parquet_row_group_failing_on_the_writer_thread_leaves_nothing(tmp_path, monkeypatch):
    """``write_batches`` writes each Parquet row group on a thread: its error is raised, the file removed."""
    calls = [0]
    write = pq.ParquetWriter.write_table

    def failing(self, table, *args, **kwargs):
        calls[0] += 1
        if calls[0] == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return write(self, table, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", failing)
    made = []

    def frames():
        for a in range(0, 100, 10):
            made.append(a)
            yield pd.DataFrame({"a": np.arange(a, a + 10), "b": [f"x{i}" for i in range(10)]})

    with pytest.raises(InputError, match="disk full"):
        cio.write_batches(frames(), tmp_path / "out.parquet")
    assert calls[0] == 3 and len(made) < 10  # stopped at the failed row group, not after every batch
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    assert cio.write_batches(frames(), tmp_path / "out.parquet") == 100
    assert pd.read_parquet(tmp_path / "out.parquet")["a"].tolist() == list(range(100))


def test_labels_counted_from_dictionary_encoded_batches_are_the_whole_columns(tmp_path):
    """The count pass reads a Parquet text column dictionary-encoded (categoricals, a dictionary per row group
    in its own order): the label table, spelling ties (first seen) included, and each row's label position
    are those of the strings, batch by batch, and of ``tabulate_labels`` over the whole column."""
    rng = np.random.default_rng(5)
    spellings = ["간호사", " 간호사", "간호사 ", "교사", "교 사", "", None, "무직", "NaN", "회사원", "회사 원"]
    texts = [spellings[i] for i in rng.integers(len(spellings), size=5000)] + ["요리사 ", "요리사"] * 3  # a tie
    pq.write_table(pa.table({"occupation": pa.array(texts, pa.string())}), tmp_path / "t.parquet", row_group_size=333)
    tables = []
    for categorical in ((), ["occupation"]):
        _, _, batches = cio.read_batches(tmp_path / "t.parquet", rows=97, categorical=categorical)
        counter = pipeline.LabelCounter()
        parts = list(batches)
        assert all(isinstance(p["occupation"].dtype, pd.CategoricalDtype) == bool(categorical) for p in parts)
        for part in parts:
            counter.add(part["occupation"])
        tables.append((counter.table().frame, np.concatenate([counter.positions(p["occupation"]) for p in parts])))
    whole = tabulate_labels(pd.Series(texts, dtype=object))
    assert "요리사 " in set(whole.frame["label"]) and "요리사" not in set(whole.frame["label"])
    for frame, positions in tables:
        pd.testing.assert_frame_equal(frame, whole.frame, check_exact=True)
        assert (positions == whole.row_label).all()
