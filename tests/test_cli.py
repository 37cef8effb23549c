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
    meta = json.loads((tmp_path / "coded.meta.json").read_text(encoding="utf-8"))
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
    result = runner.invoke(cli, ["demo", "--out", str(tmp_path / "demo"), "--top", "3"])
    assert result.exit_code == 0, result.output
    assert "2,120 labels, 1,000,000 persons" in result.stderr
    assert "persons by source:" in result.stderr
    xw = pd.read_csv(tmp_path / "demo" / "crosswalk.csv", dtype=str, keep_default_na=False)
    assert len(xw) == 2120
    assert (tmp_path / "demo" / "coded.meta.json").exists()


def test_explain(runner):
    result = runner.invoke(cli, ["explain", "전직 건물 경비원, 현재 구직중"])
    assert result.exit_code == 0
    assert "ksco_code        94212" in result.output
    assert "status           job_seeker" in result.output


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
