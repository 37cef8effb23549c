"""Review round trip: export, Excel-style re-saves, import errors (all at once, nothing written), CLI end to end."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coder.cli import cli
from coder.consistency import check_crosswalk
from coder.crosswalk.model import Crosswalk
from coder.crosswalk.store import read_crosswalk, write_crosswalk
from coder.errors import ReviewError
from coder.io import read_table
from coder.labels import tabulate_labels
from coder.pipeline import code_labels
from coder.resources import data_path
from coder.review import export_review, import_review, import_review_file

AUDIT = data_path("rules", "consistency_npk_audit_2026.toml")
LABELS = ["시설 경비원"] * 5 + [
    "경비원",
    "콘크리트패널 조립원",
    "우편집배원",
    "육군 장교",
    "한식 조리사",
    "간효사",
    "무직",
]


@pytest.fixture(scope="module")
def checked() -> Crosswalk:
    xw = code_labels(tabulate_labels(pd.Series(LABELS, dtype=object)), model=False)
    return check_crosswalk(xw, AUDIT).crosswalk


@pytest.fixture
def files(tmp_path, checked):
    into = tmp_path / "checked.csv"
    write_crosswalk(checked, into)
    sheet = tmp_path / "review" / "b1" / "to_review.csv"
    runner = CliRunner()
    r = runner.invoke(cli, ["review", "export", str(into), "-o", str(sheet)])
    assert r.exit_code == 0, r.output
    return into, sheet


def test_export_selects_orders_and_protects(checked):
    ex = export_review(checked, batch="b1")
    f = ex.frame
    assert f.columns[:6].tolist() == ["review_id", "batch", "label_key", "label", "persons", "why"]
    assert f.columns[-4:].tolist() == ["decision_code", "decision_note", "reviewer", "checksum"]
    assert "무직" not in set(f["label_key"]) and "한식조리사" not in set(f["label_key"])
    # candidates spanning majors first, most persons first: 시설 경비원 (5 persons, 4 vs 9)
    assert f["label_key"].iloc[0] == "시설경비원" and f["persons"].iloc[0] == "5"
    assert "overrode" in f["why"].iloc[0] and "check" in f["why"].iloc[0]
    assert f.set_index("label_key").loc["시설경비원", "title_title"] == "시설 경비원"
    assert export_review(checked, limit=1).frame["label_key"].tolist() == ["시설경비원"]
    assert export_review(checked, min_persons=2).frame["label_key"].tolist() == ["시설경비원"]


def test_blind_export_hides_raters(tmp_path, checked):
    ex = export_review(checked, blind=True)
    assert not [c for c in ex.frame.columns if c.startswith(("title_", "rule_", "consistency_"))]
    rid = ex.frame["review_id"].iloc[0]
    opts = ex.frame.iloc[0]
    letters = {opts[f"option_{k}_code"]: k for k in "AB"}
    assert set(ex.key[rid][letters["41231"]]) == {"title", "index"}
    runner = CliRunner()
    into = tmp_path / "x.csv"
    write_crosswalk(checked, into)
    out = tmp_path / "b" / "s.csv"
    assert runner.invoke(cli, ["review", "export", str(into), "-o", str(out), "--blind"]).exit_code == 0
    key = json.loads((tmp_path / "b" / "s.csv.key.json").read_text(encoding="utf-8"))
    assert key["batch"] == "b" and "title_code" not in out.read_text(encoding="utf-8-sig").split("\n", 1)[0]


def test_export_file_is_utf8_with_bom(files):
    _, sheet = files
    data = sheet.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and "시설 경비원" in data.decode("utf-8-sig")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(limit=st.integers(1, 10), order=st.sampled_from(["impact", "persons"]), blind=st.booleans())
def test_importing_an_unedited_export_changes_nothing(checked, limit, order, blind):
    ex = export_review(checked, limit=limit, order=order, blind=blind)
    r = import_review(ex.frame, checked)
    assert (r.applied, r.changed) == (0, 0) and r.skipped == len(ex.frame)
    pd.testing.assert_frame_equal(r.crosswalk.frame, checked.frame)


def _edit(sheet, **codes) -> pd.DataFrame:
    f = read_table(sheet)
    for key, code in codes.items():
        f.loc[f["label_key"] == key, ["decision_code", "reviewer", "decision_note"]] = [code, "kim", "검토함"]
    return f


def test_decisions_become_rater_review_excel_resave(tmp_path, files):
    into, sheet = files
    other = next(k for k in read_table(sheet)["label_key"] if k != "시설경비원")
    f = _edit(sheet, **{"시설경비원": "41231", other: "0"})
    resaved = tmp_path / "resaved.csv"
    blank = "," * (len(f.columns) - 1) + "\r\n"  # Excel keeps the column count on blank rows
    text = f.to_csv(index=False, lineterminator="\r\n") + blank * 2
    resaved.write_bytes(text.encode("cp949"))
    out = tmp_path / "reviewed.csv"
    r = import_review_file(resaved, into, out)
    assert (r.applied, r.skipped) == (2, len(f) - 2)
    x = read_crosswalk(out).frame.set_index("label_key")
    assert x.loc["시설경비원", "ksco_code"] == "41231" and x.loc["시설경비원", "code_source"] == "review"
    assert x.loc["시설경비원", "rule_id"] == "b1"
    assert (x.loc["시설경비원", "review_reviewer"], x.loc["시설경비원", "review_note"]) == ("kim", "검토함")
    assert x.loc[other, "status"] == "not_employed" and x.loc[other, "ksco_code"] == ""
    assert x.loc[other, "review_code"] == "0" and x.loc[other, "status_rule"] == "review"


def test_xlsx_round_trip(tmp_path, checked):
    into = tmp_path / "x.csv"
    write_crosswalk(checked, into)
    sheet = tmp_path / "b1" / "s.xlsx"
    assert CliRunner().invoke(cli, ["review", "export", str(into), "-o", str(sheet)]).exit_code == 0
    f = read_table(sheet)
    f.loc[f["label_key"] == "우편집배원", "decision_code"] = 92210  # Excel keeps a typed code as a number
    f.to_excel(tmp_path / "b1" / "back.xlsx", index=False)
    r = import_review_file(tmp_path / "b1" / "back.xlsx", into, tmp_path / "out.csv")
    assert r.applied == 1
    assert read_crosswalk(tmp_path / "out.csv").frame.set_index("label_key").loc["우편집배원", "ksco_code"] == "92210"


def test_every_bad_row_reported_and_nothing_written(tmp_path, files):
    into, sheet = files
    f = read_table(sheet)
    assert len(f) >= 4
    f.loc[0, "decision_code"] = "2143"
    f.loc[1, "decision_code"] = "94-21"
    was = f.loc[2, "label"]
    f.loc[2, "label"] = "edited"
    f.loc[3, "review_id"] = "b1-00000000"
    f = pd.concat([f, f.iloc[[0]]], ignore_index=True)
    bad = tmp_path / "bad.csv"
    f.to_csv(bad, index=False, encoding="utf-8-sig")
    out = tmp_path / "out.csv"
    with pytest.raises(ReviewError) as err:
        import_review_file(bad, into, out)
    ids = f["review_id"].tolist()
    n = len(f)
    assert str(err.value) == (
        f"{bad}: 7 problem(s), nothing was written:\n"
        f"  line 2 ({ids[0]}): decision_code 2143 is not in ksco7 (nor 0 / A…)\n"
        f"  line 3 ({ids[1]}): decision_code '94-21' is malformed — a KSCO-7 code is 1-5 digits, or A…; 0 = not employed\n"
        f"  line 4 ({ids[2]}): protected cell label was {was!r}, is now 'edited'\n"
        f"  line 5 (b1-00000000): unknown review_id b1-00000000 — it is not a label of this crosswalk's export\n"
        f"  line 5 (b1-00000000): a protected field was edited (checksum mismatch) — change only decision_code, decision_note, reviewer\n"
        f"  line {n + 1} ({ids[0]}): review_id {ids[0]} is duplicated (first on line 2)\n"
        f"  line {n + 1} ({ids[0]}): decision_code 2143 is not in ksco7 (nor 0 / A…)\n"
        "Fix these rows and import again. Protected cells must come back as exported. A spreadsheet that opens a "
        "CSV re-types cells such as 02, 1/2, 3-4 or 1e5: open the CSV with every column as Text (Excel: Data > "
        "From Text/CSV), or export the sheet as .xlsx."
    )
    assert not out.exists() and not (tmp_path / "out.csv.meta.json").exists()


def test_missing_columns(tmp_path, files):
    into, _ = files
    bad = tmp_path / "bad.csv"
    bad.write_text("review_id,label_key\nx,y\n", encoding="utf-8")
    r = CliRunner().invoke(cli, ["review", "import", str(bad), "--into", str(into), "-o", str(tmp_path / "o.csv")])
    assert r.exit_code == 1
    assert r.output == (
        f"Error: {bad}: missing column(s) batch, label, persons, why, suggested_code, suggested_title, crosswalk_id, "
        "decision_code, decision_note, reviewer, checksum — import the file `coder review export` wrote, with every "
        "column it has (in any order).\n"
    )
    assert not (tmp_path / "o.csv").exists()


def test_end_to_end_cli(tmp_path):
    runner = CliRunner()
    d = tmp_path / "demo"
    assert runner.invoke(cli, ["demo", "-o", str(d), "-q"]).exit_code == 0
    checked = tmp_path / "checked.csv"
    r = runner.invoke(cli, ["check", str(d / "crosswalk.csv"), "--rules", str(AUDIT), "-o", str(checked), "-q"])
    assert r.exit_code == 0, r.output
    sheet = tmp_path / "review" / "b1" / "to_review.csv"
    assert runner.invoke(cli, ["review", "export", str(checked), "-o", str(sheet), "--limit", "50"]).exit_code == 0
    f = read_table(sheet)
    assert f["label_key"].iloc[0] == "시설경비원"  # impact order: 10,897 persons, candidates in 4 and 9
    f.loc[f["label_key"] == "시설경비원", ["decision_code", "reviewer"]] = ["41231", "lee"]
    edited = tmp_path / "edited.csv"
    edited.write_bytes(f.to_csv(index=False, lineterminator="\r\n").encode("cp949"))
    reviewed = tmp_path / "reviewed.csv"
    r = runner.invoke(cli, ["review", "import", str(edited), "--into", str(checked), "-o", str(reviewed)])
    assert r.exit_code == 0, r.output
    assert "applied 1 decisions" in r.output
    rows = tmp_path / "rows.csv"
    pd.DataFrame({"occupation": ["시설 경비원", "건물 경비원", "무직"]}).to_csv(rows, index=False)
    out = tmp_path / "coded.csv"
    r = runner.invoke(
        cli, ["apply", str(rows), "--crosswalk", str(reviewed), "--text-col", "occupation", "-o", str(out)]
    )
    assert r.exit_code == 0, r.output
    coded = read_table(out)
    assert coded["ksco_code"].tolist() == ["41231", "94212", ""]  # NPK01 9421, refined by the title 94212
    assert coded["code_source"].tolist() == ["review", "title", "status"]
    assert coded["rule_id"].tolist() == ["b1", "NPK01", "S0004"]
