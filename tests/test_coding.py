import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coder.codes import load_codes
from coder.errors import InputError
from coder.normalize import label_key
from coder.pipeline import OUTPUT_COLUMNS, code_file, code_frame


@pytest.fixture(scope="module")
def npk_result(npk_labels):
    return code_frame(npk_labels, text_col="occupation", weight_col="count")


def test_every_title_gets_exactly_its_code(npk_result):
    codes = load_codes()
    xw = npk_result.crosswalk
    checked = 0
    for row in xw.itertuples():
        found = codes.lookup_title(row.core_key)
        if found:
            assert row.ksco_code == found[0], row.label
            assert row.code_source == "title"
            checked += 1
    assert checked >= 2090


def test_npk_level5_coverage_and_buckets(npk_result):
    xw = npk_result.crosswalk
    assert xw["weight"].sum() == 1_000_000
    not_muj = xw[xw["status"] != "not_employed"]
    full = not_muj["ksco_level"] >= 5
    # a 4-digit title counts as full depth (none among NPK labels, but the rule is the rule)
    share = not_muj.loc[full, "weight"].sum() / not_muj["weight"].sum()
    assert share >= 0.995
    assert set(xw["status"]) <= {"employed", "job_seeker", "not_employed", "military"}
    assert (xw["ksco_major"] != "").all()  # every person gets a bucket
    muj = xw[xw["label"] == "무직"].iloc[0]
    assert (muj.status, muj.ksco_major, muj.ksco_code) == ("not_employed", "0", "")


@pytest.mark.parametrize(
    ("label", "code", "status"),
    [
        ("육군 장교", "A01", "military"),
        ("공군 부사관", "A0200", "military"),
        ("해병대 병사", "A0900", "military"),
        ("전직 육군 장교, 현재 구직중", "A01", "job_seeker"),
        ("전직 건물 경비원, 현재 구직중", "94212", "job_seeker"),
        ("건물 청소원", "94111", "employed"),
        ("경리 사무원", "31320", "employed"),
    ],
)
def test_npk_specials(npk_result, label, code, status):
    row = npk_result.crosswalk.set_index("label_key").loc[label_key(label)]
    assert (row.ksco_code, row.status) == (code, status)
    assert row.ksco_major == code[0]


def test_rows_carry_crosswalk_columns_in_order(npk_labels, npk_result):
    rows = npk_result.rows
    assert list(rows.columns) == [*npk_labels.columns, *OUTPUT_COLUMNS]
    assert rows["occupation"].tolist() == npk_labels["occupation"].tolist()
    assert rows.loc[rows["occupation"] == "건물 청소원", "ksco_code"].tolist() == ["94111"]


def test_missing_text_column_lists_columns():
    frame = pd.DataFrame({"id": ["1"], "직업": ["교사"], "sex": ["F"]})
    with pytest.raises(InputError) as info:
        code_frame(frame, text_col="occupation", source="people.csv")
    assert str(info.value) == (
        "people.csv: no text column 'occupation' — the columns are: id, 직업, sex. Pass --text-col with one of them."
    )


def test_missing_weight_column():
    frame = pd.DataFrame({"occupation": ["교사"]})
    with pytest.raises(InputError, match=r"no weight column 'w' — the columns are: occupation"):
        code_frame(frame, text_col="occupation", weight_col="w")


def test_bad_weights_are_listed():
    frame = pd.DataFrame({"occupation": ["a", "b", "c"], "w": ["1", "x", "-2"]})
    with pytest.raises(InputError) as info:
        code_frame(frame, text_col="occupation", weight_col="w")
    assert str(info.value) == (
        "weight column 'w': 2 value(s) are missing, not numbers or negative: row 2 ('x'), row 3 ('-2') — "
        "fix them, or drop --weight-col to count rows."
    )


def test_nan_and_empty_labels_are_kept_as_unknown():
    frame = pd.DataFrame({"occupation": ["건물 청소원", None, "", np.nan, "   ", "무직"], "x": list("abcdef")})
    result = code_frame(frame, text_col="occupation")
    rows = result.rows
    assert len(rows) == 6
    assert rows["x"].tolist() == list("abcdef")
    assert rows["code_status"].tolist() == ["employed", "unknown", "unknown", "unknown", "unknown", "not_employed"]
    assert rows["ksco_major"].tolist() == ["9", "", "", "", "", "0"]
    empty = result.crosswalk.set_index("label_key").loc[""]
    assert empty.n_rows == 4


def test_existing_output_columns_need_replace():
    frame = pd.DataFrame({"occupation": ["교사"], "ksco_code": ["1"]})
    with pytest.raises(InputError, match=r"already has column\(s\) ksco_code — rename them, or pass --replace"):
        code_frame(frame, text_col="occupation")
    out = code_frame(frame, text_col="occupation", replace=True).rows
    assert list(out.columns) == ["occupation", *OUTPUT_COLUMNS]


labels = st.sampled_from(
    ["건물 청소원", "건물청소원", "무직", "", "택시 기사", "전직 경리 사무원, 현재 구직중", "미지의 일", None]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(labels, min_size=1, max_size=40))
def test_rows_are_preserved_in_number_and_order(values):
    frame = pd.DataFrame({"row_id": [f"r{i}" for i in range(len(values))], "occupation": values})
    result = code_frame(frame, text_col="occupation")
    rows = result.rows
    assert len(rows) == len(frame)
    assert rows["row_id"].tolist() == frame["row_id"].tolist()
    assert rows["occupation"].tolist() == frame["occupation"].tolist()
    assert result.crosswalk["n_rows"].sum() == len(frame)
    # the same key always gets the same code
    keys = [label_key(v) for v in values]
    seen = {}
    for k, c in zip(keys, rows["ksco_code"], strict=True):
        assert seen.setdefault(k, c) == c


def test_code_file_writes_rows_crosswalk_and_sidecars(tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes("id,occupation\n1,건물 청소원\n2,무직\n3,택시 기사\n".encode("cp949"))
    out, xw = tmp_path / "out.csv", tmp_path / "xw.csv"
    code_file(src, out, text_col="occupation", crosswalk_path=xw)
    rows = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert rows["id"].tolist() == ["1", "2", "3"]
    assert rows["ksco_code"].tolist()[:2] == ["94111", ""]
    meta = json.loads((tmp_path / "out.csv.meta.json").read_text(encoding="utf-8"))
    assert meta["inputs"]["rows"] == 3
    assert set(meta["files_sha256"]) == {
        "crosswalks/ksco7.csv",
        "crosswalks/jobdict_index.csv",
        "rules/mapper.csv",
        "rules/status.csv",
        "model/jobdict_model.npz",
    }
    from coder.resources import file_sha256

    assert meta["inputs"]["sha256"] == file_sha256(src)
    assert (tmp_path / "xw.csv.meta.json").exists()
    crosswalk = pd.read_csv(xw, dtype=str, keep_default_na=False)
    assert {"label_key", "title_code", "rule_code", "index_code", "model_code", "fuzzy_code", "ksco_code"} <= set(
        crosswalk.columns
    )


def test_failed_run_leaves_earlier_outputs(tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("earlier\n", encoding="utf-8")
    src = tmp_path / "in.csv"
    src.write_text("id,job\n1,교사\n", encoding="utf-8")
    with pytest.raises(InputError):
        code_file(src, out, text_col="occupation")
    assert out.read_text(encoding="utf-8") == "earlier\n"


def test_duplicated_and_empty_ids_are_listed():
    frame = pd.DataFrame({"pid": ["a", "b", "a", "", "b", "c"], "occupation": ["교사"] * 6})
    with pytest.raises(InputError) as info:
        code_frame(frame, text_col="occupation", id_col="pid", source="people.csv")
    assert str(info.value) == (
        "people.csv: id column 'pid' is not a unique key — 2 duplicated id(s): 'a' at rows 1, 3; 'b' at rows 2, 5; "
        "1 empty id(s) at rows 4. Fix the ids, or drop --id-col (rows are kept in input order either way)."
    )
    ok = code_frame(frame.iloc[[0, 1, 5]], text_col="occupation", id_col="pid")
    assert ok.rows["pid"].tolist() == ["a", "b", "c"]
