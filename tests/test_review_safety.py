"""The review sheet in a spreadsheet (issue 21, cases 10 review half, 19-22).

No label becomes a formula and an unedited sheet still changes nothing (10); review ids are unique
(19); re-typed cells are named, not "unknown review_id" (20); columns are read by name, a missing
one or a sheet of another crosswalk is named once (21); codes are normalised and a note without a
code is kept (22).
"""

from __future__ import annotations

import csv
import hashlib
import io

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coder import review_sheet
from coder.cli import cli
from coder.crosswalk.model import Crosswalk
from coder.crosswalk.store import read_crosswalk, write_crosswalk
from coder.io import read_table, write_table
from coder.labels import label_key, tabulate_labels
from coder.pipeline import code_labels
from coder.review import export_review, import_review, import_review_file

FORMULA = '=HYPERLINK("http://x","y")'
RISKY = ("=", "+", "-", "@", "\t", "\r")


def _crosswalk(labels) -> Crosswalk:
    return Crosswalk.of(code_labels(tabulate_labels(pd.Series(list(labels), dtype=object)), model=False))


def _excel_strips(frame: pd.DataFrame) -> pd.DataFrame:
    """What a spreadsheet that takes a leading ' as a text marker writes back: the ' dropped."""
    return frame.map(lambda v: v[1:] if isinstance(v, str) and v.startswith("'") else v)


def _unchanged(result, crosswalk: Crosswalk, n_rows: int) -> None:
    assert (result.applied, result.changed, result.notes_kept, result.skipped) == (0, 0, 0, n_rows)
    pd.testing.assert_frame_equal(result.crosswalk.frame, crosswalk.frame)


def _cli(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def exported(tmp_path):
    """A crosswalk file with formula-like and re-typable labels, and its exported review sheet (CSV)."""
    xw = _crosswalk([FORMULA, "+82 경비원", "-경비원", "@조리사", "\t=1+1", "02", "1/2", "3-4", "1e5", "간효사"])
    into = tmp_path / "xw.csv"
    write_crosswalk(xw, into)
    sheet = tmp_path / "b1" / "to_review.csv"
    assert _cli("review", "export", into, "-o", sheet, "-q").exit_code == 0
    return into, sheet


# -- case 10: no label becomes a formula; the import restores it ---------------------------------


def test_formula_label_round_trips_through_excel(tmp_path, exported):
    into, sheet = exported
    cells = list(csv.reader(io.StringIO(sheet.read_text(encoding="utf-8-sig"))))
    assert not [c for row in cells for c in row if c.startswith(RISKY)]
    sent = read_table(sheet)
    row = sent.index[sent["label"] == "'" + FORMULA][0]
    assert sent.loc[row, "label_key"] == "'" + label_key(FORMULA)
    xw = read_crosswalk(into)
    _unchanged(import_review(sent, xw), xw, len(sent))
    _unchanged(import_review(_excel_strips(sent), xw), xw, len(sent))
    back = _excel_strips(sent)
    back.loc[row, ["decision_code", "reviewer"]] = ["0", "kim"]
    edited = tmp_path / "back.csv"
    edited.write_bytes(back.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig"))
    out = tmp_path / "reviewed.csv"
    assert import_review_file(edited, into, out).applied == 1
    got = read_crosswalk(out).frame.set_index("label_key").loc[label_key(FORMULA)]
    assert (got["label"], got["review_code"], got["status"]) == (FORMULA, "0", "not_employed")


def test_xlsx_sheet_has_no_formula_cells(tmp_path, exported):
    into, _ = exported
    sheet = tmp_path / "b1" / "s.xlsx"
    assert _cli("review", "export", into, "-o", sheet, "-q").exit_code == 0
    wb = openpyxl.load_workbook(sheet)
    assert [c.coordinate for row in wb.active.iter_rows() for c in row if c.data_type == "f"] == []
    xw = read_crosswalk(into)
    sent = read_table(sheet)
    _unchanged(import_review(sent, xw), xw, len(sent))


WORDS = ["경비원", "조리사", "qz", "1+1", 'HYPERLINK("x")', "cmd|' /C calc'!A0", "3-4"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    labels=st.lists(
        st.tuples(
            st.sampled_from(["", *RISKY, "'", "''", "'=", "\t'"]), st.sampled_from(WORDS), st.sampled_from(WORDS)
        ),
        min_size=1,
        max_size=6,
    ),
    blind=st.booleans(),
    stripped=st.booleans(),
)
def test_unedited_sheet_with_formula_prefixes_changes_nothing(tmp_path, labels, blind, stripped):
    """The unedited-sheet property over labels that start like formulas, through a CSV file and Excel's re-save."""
    xw = _crosswalk(f"{p}{a} {b}" for p, a, b in labels)
    sheet = tmp_path / "s.csv"
    write_table(export_review(xw, blind=blind).frame, sheet, encoding="utf-8-sig")
    back = read_table(sheet)
    _unchanged(import_review(_excel_strips(back) if stripped else back, xw), xw, len(back))


# -- case 19: review ids are unique --------------------------------------------------------------


def _colliding_pair(digits: int = 8) -> tuple[str, str]:
    """Two label keys whose sha256 share their first ``digits`` hex digits (found by brute force)."""
    seen: dict[str, str] = {}
    i = 0
    while True:
        key = label_key(f"qz{i}")
        h = hashlib.sha256(key.encode()).hexdigest()[:digits]
        if h in seen:
            return seen[h], key
        seen[h] = key
        i += 1


@pytest.mark.parametrize("digits", [None, 8], ids=["default", "forced collision"])
def test_review_ids_are_unique_when_hashes_collide(monkeypatch, digits):
    a, b = _colliding_pair()
    if digits is not None:  # ids as short as the old ones: the collision itself must be resolved
        monkeypatch.setattr(review_sheet, "_ID_HEX", digits)
    xw = _crosswalk([a, b, "시설 경비원"])
    sheet = export_review(xw).frame
    ids = dict(zip(sheet["label_key"], sheet["review_id"]))
    assert ids[a] != ids[b] and len(set(ids.values())) == len(ids)
    assert all(len(rid) - len("b1-") >= (digits or 16) for rid in ids.values())
    assert export_review(xw, limit=1, order="persons").frame["review_id"].iloc[0] in ids.values()  # stable
    sheet.loc[sheet["label_key"] == a, "decision_code"] = "431"
    sheet.loc[sheet["label_key"] == b, "decision_code"] = "A0200"
    got = import_review(sheet, xw).crosswalk.frame.set_index("label_key")["ksco_code"]
    assert (got[a], got[b]) == ("431", "A0200")


def test_review_ids_lengthen_only_the_colliding_labels():
    a, b = _colliding_pair()
    ids = review_sheet.review_ids([a, b, "경비원"], digits=8)
    assert ids[a][:8] == ids[b][:8] and ids[a] != ids[b] and len(ids[a]) == len(ids[b]) > 8
    assert len(ids["경비원"]) == 8 and review_sheet.review_ids([b, "경비원", a], digits=8) == ids


# -- case 20: a re-typed cell is named ---------------------------------------------------------


def test_retyped_cells_are_named_not_unknown_review_id(tmp_path, exported):
    into, sheet = exported
    f = read_table(sheet)
    excel = {"02": "2", "1/2": "2026-01-02", "3-4": "04-Mar", "1e5": "100000"}  # what Excel shows and saves
    for col in ("label", "label_key"):
        f[col] = f[col].map(lambda v: excel.get(v, v))
    f.loc[f["label"] == "2", "decision_code"] = "9992"
    lines = {label: f.index[f["label"] == now][0] + 2 for label, now in excel.items()}
    ids = {label: f.loc[lines[label] - 2, "review_id"] for label in excel}
    edited = tmp_path / "b1" / "edited.csv"
    edited.write_bytes(f.to_csv(index=False, lineterminator="\r\n").encode("cp949"))
    out = tmp_path / "out.csv"
    r = _cli("review", "import", edited, "--into", into, "-o", out)
    assert r.exit_code == 1
    expected = [
        f"  line {lines[label]} ({ids[label]}): protected cell {col} was {label!r}, is now {now!r}"
        for label, now in sorted(excel.items(), key=lambda kv: lines[kv[0]])
        for col in ("label_key", "label")
    ]
    assert r.output == (
        f"Error: {edited}: 8 problem(s), nothing was written:\n"
        + "\n".join(expected)
        + "\nFix these rows and import again. Protected cells must come back as exported. A spreadsheet that "
        "opens a CSV re-types cells such as 02, 1/2, 3-4 or 1e5: open the CSV with every column as Text (Excel: "
        "Data > From Text/CSV), or export the sheet as .xlsx.\n"
    )
    assert "unknown review_id" not in r.output and not out.exists()


def test_checksum_and_crosswalk_id_cannot_be_read_as_numbers(exported):
    _, sheet = exported
    f = read_table(sheet)
    assert f["checksum"].str.fullmatch(r"c-[0-9a-f]{16}").all()
    assert f["crosswalk_id"].str.fullmatch(r"x-[0-9a-f]{16}").all()


# -- case 21: columns by name; a missing column and another crosswalk named once ---------------


def test_reordered_columns_are_read_by_name(tmp_path, exported):
    into, sheet = exported
    f = read_table(sheet)
    f = f[list(reversed(f.columns))].assign(my_comment="added by the reviewer")
    f.loc[f["label"] == "간효사", ["decision_code", "reviewer"]] = ["41231", "lee"]
    edited = tmp_path / "edited.csv"
    f.to_csv(edited, index=False, encoding="utf-8-sig")
    assert import_review_file(edited, into, tmp_path / "out.csv").applied == 1


@pytest.mark.parametrize(
    ("dropped", "message"),
    [
        (["why"], "missing column(s) why — import the file `coder review export` wrote, with every column it has "
         "(in any order)."),
        (["fuzzy_title"], "missing column(s) fuzzy_title — import the file `coder review export` wrote, with every "
         "column it has (in any order)."),
        (["fuzzy_code", "fuzzy_title"], "missing column(s) fuzzy_code, fuzzy_title — the sheet was exported with "
         "them and every row's checksum covers them; put them back as exported and import again."),
    ],
)  # fmt: skip
def test_a_dropped_column_is_named_once(tmp_path, exported, dropped, message):
    into, sheet = exported
    f = read_table(sheet).drop(columns=dropped)
    edited = tmp_path / "edited.csv"
    f.to_csv(edited, index=False, encoding="utf-8-sig")
    r = _cli("review", "import", edited, "--into", into, "-o", tmp_path / "out.csv")
    assert (r.exit_code, r.output) == (1, f"Error: {edited}: {message}\n")


def test_a_sheet_of_another_crosswalk_is_refused(tmp_path, exported):
    _, sheet = exported
    other = tmp_path / "other.csv"
    write_crosswalk(_crosswalk(["시설 경비원", "경비원", "무직"]), other)
    sent = read_table(sheet)
    out = tmp_path / "out.csv"
    r = _cli("review", "import", sheet, "--into", other, "-o", out)
    theirs = review_sheet.crosswalk_id(read_crosswalk(other).frame["label_key"])
    assert (r.exit_code, r.output) == (
        1,
        f"Error: {sheet}: the sheet was exported from another crosswalk (crosswalk_id {sent['crosswalk_id'].iloc[0]}; "
        f"the crosswalk given, --into, is {theirs}) — import it --into the crosswalk it was exported from.\n",
    )
    assert not out.exists()


# -- case 22: codes normalised; a note without a code kept ------------------------------------


@pytest.mark.parametrize(
    ("typed", "code"), [("４３１", "431"), ("a0200", "A0200"), (" 9421 ", "9421"), ("9 4 2 1", "9421"), ("０", "0")]
)
def test_decision_codes_are_normalised(exported, typed, code):
    into, sheet = exported
    f = read_table(sheet)
    f.loc[f["label"] == "간효사", "decision_code"] = typed
    got = import_review(f, read_crosswalk(into)).crosswalk.frame.set_index("label_key").loc["간효사"]
    assert got["review_code"] == code


def test_a_note_without_a_code_is_kept_and_said(tmp_path, exported):
    into, sheet = exported
    f = read_table(sheet)
    f.loc[f["label"] == "간효사", ["decision_note", "reviewer"]] = ["4123인지 9421인지 모르겠음", "kim"]
    edited = tmp_path / "edited.csv"
    f.to_csv(edited, index=False, encoding="utf-8-sig")
    out = tmp_path / "out.csv"
    r = _cli("review", "import", edited, "--into", into, "-o", out)
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[-1] == (
        f"applied 0 decisions ({len(f) - 1} empty rows skipped; 1 notes without a code kept in review_note, "
        f"no code set); 0 final codes changed; wrote {out}"
    )
    before, after = read_crosswalk(into).frame, read_crosswalk(out).frame
    got = after.set_index("label_key").loc["간효사"]
    assert (got["review_code"], got["review_note"], got["review_reviewer"], got["review_batch"]) == (
        "",
        "4123인지 9421인지 모르겠음",
        "kim",
        "b1",
    )
    kept = [c for c in before.columns if not c.startswith("review_")]
    pd.testing.assert_frame_equal(after[kept], before[kept])
    again = export_review(read_crosswalk(out))  # no code: the label goes to the next batch
    assert "간효사" in set(again.frame["label_key"])
