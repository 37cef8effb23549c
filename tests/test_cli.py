import json

import pandas as pd
import pytest
from click.testing import CliRunner

from coder.cli import cli


@pytest.fixture
def runner():
    return CliRunner()


def test_help_has_example(runner):
    result = runner.invoke(cli, ["code", "-h"])
    assert result.exit_code == 0
    assert "Example:" in result.output
    assert "--text-col" in result.output


def test_code_csv_to_parquet_with_crosswalk(runner, tmp_path):
    src = tmp_path / "people.csv"
    src.write_text("id,occupation,w\n1,건물 청소원,2\n2,무직,1\n3,건물청소원,1.5\n", encoding="utf-8-sig")
    out, xw = tmp_path / "coded.parquet", tmp_path / "xw.csv"
    result = runner.invoke(
        cli, ["code", str(src), "--text-col", "occupation", "--weight-col", "w", "-o", str(out), "--crosswalk", str(xw)]
    )
    assert result.exit_code == 0, result.output
    assert "coded 3 rows (2 distinct labels)" in result.stderr
    rows = pd.read_parquet(out)
    assert rows["ksco_code"].astype(str).tolist() == ["94111", "", "94111"]
    crosswalk = pd.read_csv(xw, dtype=str, keep_default_na=False)
    assert crosswalk.set_index("label_key").loc["건물청소원", "weight"] == "3.5"
    meta = json.loads((tmp_path / "coded.parquet.meta.json").read_text(encoding="utf-8"))
    assert meta["params"]["weight_col"] == "w"


def test_code_missing_column_exact_error(runner, tmp_path):
    src = tmp_path / "people.csv"
    src.write_text("id,직업\n1,교사\n", encoding="utf-8")
    result = runner.invoke(cli, ["code", str(src), "--text-col", "occupation", "-o", str(tmp_path / "o.csv")])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {src}: no text column 'occupation' — the columns are: id, 직업. Pass --text-col with one of them.\n"
    )
    assert not (tmp_path / "o.csv").exists()


def test_code_to_stdout(runner, tmp_path):
    src = tmp_path / "people.csv"
    src.write_text("occupation\n한식 조리사\n", encoding="utf-8")
    result = runner.invoke(cli, ["code", str(src), "--text-col", "occupation", "-o", "-", "-q"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1].startswith("한식 조리사,44110,5,4,한식 조리사,employed,title")


def test_usage_error_exit_code(runner):
    result = runner.invoke(cli, ["code"])
    assert result.exit_code == 2


def test_demo(runner, tmp_path):
    result = runner.invoke(cli, ["demo", "-o", str(tmp_path / "demo"), "--top", "3"])
    assert result.exit_code == 0, result.output
    assert "2,120 labels, 1,000,000 persons" in result.stderr
    assert "persons by source:" in result.stderr
    xw = pd.read_csv(tmp_path / "demo" / "crosswalk.csv", dtype=str, keep_default_na=False)
    assert len(xw) == 2120
    assert (tmp_path / "demo" / "coded.csv.meta.json").exists()


def test_explain(runner):
    result = runner.invoke(cli, ["explain", "무직", "전직 건물 경비원, 현재 구직중", "-v"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "무직: final (no code, not_employed) — because status S0004; not in employment"
    assert lines[1].startswith("전직 건물 경비원, 현재 구직중: final 94212 건물 경비원 — because title")
    assert "    title    94212 (1.00)" in lines


def test_rules_check_strict(runner, tmp_path):
    assert runner.invoke(cli, ["rules", "check", "--strict"]).exit_code == 0
    bad = tmp_path / "mapper.csv"
    bad.write_text(
        "rule_id,status,priority,pattern,match,code,code_title,example,counterexample,note\n"
        "R0001,active,50,택시기사,full,87310,택시 운전원,버스 기사,택시 기사,x\n",
        encoding="utf-8",
    )
    result = runner.invoke(cli, ["rules", "check", "--rules", str(bad), "--strict"])
    assert result.exit_code == 1
    assert f"{bad}:2 (R0001): example '버스 기사' is won by no rule, not by this rule (87310)" in result.output
    assert f"{bad}:2 (R0001): counterexample '택시 기사' hits this rule" in result.output


def test_model_flags_are_exclusive(runner, tmp_path):
    src = tmp_path / "p.csv"
    src.write_text("occupation\n교사\n", encoding="utf-8")
    from coder.raters.model import MODEL_DIR

    result = runner.invoke(
        cli, ["code", str(src), "--text-col", "occupation", "-o", "-", "--no-model", "--model", str(MODEL_DIR)]
    )
    assert result.exit_code == 2
    assert "Error: --model and --no-model cannot be used together." in result.output


def test_no_model_leaves_the_model_columns_out(runner, tmp_path):
    src = tmp_path / "p.csv"
    src.write_text("occupation\n병원청소원\n휠체어조립원\n", encoding="utf-8")
    xw = tmp_path / "xw.csv"
    result = runner.invoke(
        cli, ["code", str(src), "--text-col", "occupation", "-o", "-", "-q", "--no-model", "--crosswalk", str(xw)]
    )
    assert result.exit_code == 0, result.output
    columns = pd.read_csv(xw, dtype=str, keep_default_na=False).columns
    assert "model_code" not in columns
    assert "index_code" in columns


def test_help_shows_default_values_and_dash(runner):
    from coder.cli.code import FUZZY_THRESHOLD_DEFAULT, MODEL_THRESHOLD_DEFAULT
    from coder.raters.fuzzy import FUZZY_THRESHOLD
    from coder.raters.model import MODEL_THRESHOLD

    assert (MODEL_THRESHOLD_DEFAULT, FUZZY_THRESHOLD_DEFAULT) == (MODEL_THRESHOLD, FUZZY_THRESHOLD)
    from coder.cli.code import CORROBORATE_THRESHOLD_DEFAULT
    from coder.crosswalk.decide import DecisionPolicy

    assert DecisionPolicy().corroborate_threshold == CORROBORATE_THRESHOLD_DEFAULT
    decide_help = " ".join(runner.invoke(cli, ["decide", "-h"]).output.split())
    assert f"[default: {CORROBORATE_THRESHOLD_DEFAULT}]" in decide_help
    from coder.cli.code import MODEL_DEPTH_THRESHOLD_DEFAULT

    assert DecisionPolicy().model_depth_threshold == MODEL_DEPTH_THRESHOLD_DEFAULT
    assert "--model-depth-threshold FLOAT RANGE A model code below the major group also needs" in decide_help
    assert f"[default: {MODEL_DEPTH_THRESHOLD_DEFAULT}]" in decide_help
    out = runner.invoke(cli, ["code", "-h"]).output
    assert "coder." not in out.replace("coder code", "")
    assert f"[default: {MODEL_THRESHOLD}]" in " ".join(out.split())
    assert "or - for CSV on stdin" in " ".join(out.split())


def _people(tmp_path):
    src = tmp_path / "people.csv"
    src.write_text("id,occupation\n1,건물 청소원\n2,무직\n3,택시 기사\n4,NaN\n", encoding="utf-8")
    return src


@pytest.mark.parametrize(
    "args, message",
    [
        (["-o", "{src}"], "the output (-o) is the same file as the input"),
        (["-o", "{dir}/out.csv", "--crosswalk", "{src}"], "--crosswalk is the same file as the input"),
        (["-o", "{dir}/out.csv", "--crosswalk", "{dir}/out.csv"], "the output (-o) and --crosswalk are the same file"),
    ],
)
def test_output_paths_that_would_destroy_data_are_refused(runner, tmp_path, args, message):
    src = _people(tmp_path)
    before = src.read_bytes()
    args = [a.format(src=src, dir=tmp_path) for a in args]
    result = runner.invoke(cli, ["code", str(src), "--text-col", "occupation", *args])
    assert result.exit_code == 1
    assert message in result.output
    assert src.read_bytes() == before


def test_sidecars_do_not_collide_and_record_sha256(runner, tmp_path):
    from coder.resources import file_sha256

    src = _people(tmp_path)
    for name in ("x.parquet", "x.csv"):
        result = runner.invoke(cli, ["code", str(src), "--text-col", "occupation", "-o", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    for name in ("x.parquet", "x.csv"):
        meta = json.loads((tmp_path / f"{name}.meta.json").read_text(encoding="utf-8"))
        assert meta["outputs"]["sha256"] == file_sha256(tmp_path / name)


def test_crosswalk_csv_has_bom_and_rows_encoding_option(runner, tmp_path):
    src = _people(tmp_path)
    out, xw = tmp_path / "out.csv", tmp_path / "xw.csv"
    args = ["code", str(src), "--text-col", "occupation", "-o", str(out), "--crosswalk", str(xw), "--encoding", "cp949"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert xw.read_bytes().startswith(b"\xef\xbb\xbf")
    assert "건물 청소원" in out.read_bytes().decode("cp949")


def test_decide_and_apply_round_trip(runner, tmp_path):
    src = _people(tmp_path)
    xw, strict, coded = tmp_path / "xw.csv", tmp_path / "strict.csv", tmp_path / "coded.csv"
    assert runner.invoke(cli, ["code", str(src), "--text-col", "occupation", "-o", str(tmp_path / "o.csv"),
                               "--crosswalk", str(xw)]).exit_code == 0  # fmt: skip
    result = runner.invoke(cli, ["decide", str(xw), "-o", str(strict), "--precedence", "title"])
    assert result.exit_code == 0, result.output
    decided = pd.read_csv(strict, dtype=str, keep_default_na=False).set_index("label_key")
    assert decided.loc["택시기사", "ksco_code"] == ""  # not a KSCO-7 title: the mapper and the index are left out
    assert decided.loc["건물청소원", "ksco_code"] == "94111"
    rows = tmp_path / "more.csv"
    rows.write_text("occupation\n택시 기사\n우주비행사\n건물청소원\nNaN\n", encoding="utf-8")
    result = runner.invoke(
        cli, ["apply", str(rows), "--crosswalk", str(xw), "--text-col", "occupation", "-o", str(coded)]
    )
    assert result.exit_code == 0, result.output
    assert "1 labels (1 rows) not in the crosswalk" in result.stderr
    assert "not in crosswalk: '우주비행사'" in result.stderr
    out = pd.read_csv(coded, dtype=str, keep_default_na=False)
    assert out["ksco_code"].tolist() == ["87310", "", "94111", ""]
    assert out["code_status"].tolist() == ["employed", "unknown", "employed", "unknown"]
    strict_run = runner.invoke(
        cli, ["apply", str(rows), "--crosswalk", str(xw), "--text-col", "occupation", "-o", str(coded), "--strict"]
    )
    assert strict_run.exit_code == 1
    assert "1 label(s) are not in the crosswalk (1 rows): '우주비행사'" in strict_run.output


def test_apply_refuses_a_crosswalk_of_another_code_list(runner, tmp_path):
    src = _people(tmp_path)
    xw = tmp_path / "xw.csv"
    assert runner.invoke(cli, ["code", str(src), "--text-col", "occupation", "-o", str(tmp_path / "o.csv"),
                               "--crosswalk", str(xw)]).exit_code == 0  # fmt: skip
    side = tmp_path / "xw.csv.meta.json"
    meta = json.loads(side.read_text(encoding="utf-8"))
    meta["files_sha256"]["crosswalks/ksco7.csv"] = "0" * 64
    side.write_text(json.dumps(meta), encoding="utf-8")
    result = runner.invoke(
        cli, ["apply", str(src), "--crosswalk", str(xw), "--text-col", "occupation", "-o", str(tmp_path / "c.csv")]
    )
    assert result.exit_code == 1
    assert "made with another code list" in result.output


def test_light_imports_load_no_pandas_or_scipy():
    import subprocess
    import sys

    code = (
        "import sys, coder, coder.normalize, coder.cli; "
        "heavy = [m for m in ('pandas', 'scipy', 'sklearn') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_user_rules_add_to_the_bundled_ones_unless_told_otherwise(runner, tmp_path):
    rules = tmp_path / "mine.csv"
    rules.write_text(
        "rule_id,status,priority,pattern,match,code,code_title,example,counterexample,note\n"
        "R9001,active,50,우주비행사,full,2,전문가 및 관련 종사자,우주비행사,,test\n",
        encoding="utf-8",
    )
    src = tmp_path / "in.csv"
    src.write_text("occupation\n우주비행사\n택시 기사\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    assert (
        runner.invoke(
            cli, ["code", str(src), "--text-col", "occupation", "-o", str(out), "--rules", str(rules)]
        ).exit_code
        == 0
    )
    assert pd.read_csv(out, dtype=str, keep_default_na=False)["ksco_code"].tolist() == ["2", "87310"]
    meta = json.loads((tmp_path / "out.csv.meta.json").read_text(encoding="utf-8"))
    assert "rules/mapper.csv" in meta["files_sha256"] and f"user_rules/{rules}" in meta["files_sha256"]
    args = ["code", str(src), "--text-col", "occupation", "-o", str(out), "--rules", str(rules), "--no-bundled-rules"]
    assert runner.invoke(cli, [*args, "--no-model"]).exit_code == 0
    assert pd.read_csv(out, dtype=str, keep_default_na=False)["ksco_code"].tolist()[0] == "2"
    assert pd.read_csv(out, dtype=str, keep_default_na=False)["rule_id"].tolist() == ["R9001", ""]
