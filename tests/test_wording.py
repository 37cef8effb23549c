"""Issue 23 item 2: status words and survey wording, through the real pipeline (``code_frame``, the CLI).

Each case of the issue's "Status words missed" and "Survey wording breaks coding" bullets is a
row here; the expected codes are what the words support (see rules/status.csv, rules/mapper.csv
R0400–R0426 and the module docstring of coder.status).
"""

import io

import pandas as pd
import pytest
from click.testing import CliRunner

from coder.cli import cli
from coder.consistency import check_crosswalk
from coder.crosswalk.decide import decide
from coder.normalize import label_key, normalize_label
from coder.pipeline import OUTPUT_COLUMNS, apply_crosswalk, code_frame
from coder.review import export_review
from coder.status import _jamo, _one_edit, frequent_answers, occupation_oracle, parse_status, read_wording


def _code(labels):
    """Code ``labels`` as rows of a table; return (rows, crosswalk indexed by label_key)."""
    res = code_frame(pd.DataFrame({"occupation": labels}), text_col="occupation")
    return res.rows, res.crosswalk.set_index("label_key")


def _row(label):
    rows, xw = _code([label])
    return rows.iloc[0], xw.loc[label_key(label)]


# ------------------------------------------------------------------ former and retired


@pytest.mark.parametrize(
    ("label", "former"),
    [
        ("은퇴한 교사", "25"),
        ("퇴직 교사", "25"),
        ("퇴직한 교사", "25"),
        ("전직 교사", "25"),
        ("前 교사", "25"),
        ("전 교사", "25"),
        ("은퇴 교사", "25"),
        ("교사 출신", "25"),
        ("공무원 퇴직", "3"),
        ("전직 간호사", "2430"),
        ("퇴직한 택시 기사", "87310"),
        ("retired teacher", "25"),
        ("former nurse", "2430"),
        ("ex-teacher", "25"),
    ],
)
def test_former_occupation_is_not_employed_with_its_code_apart(label, former):
    row, xw = _row(label)
    assert row["code_status"] == "not_employed"
    assert row["ksco_code"] == "" and row["ksco_major"] == "0" and row["ksco_level"] == 0
    assert row["former_code"] == former
    assert xw["former_code"] == former and xw["former_title"] != ""
    assert xw["status_parsed"] == "former" and xw["code_source"] == "status"
    assert "former occupation" in xw["code_note"]


@pytest.mark.parametrize("label", ["은퇴", "퇴직", "퇴직자", "retired"])
def test_retired_alone_has_no_former_code(label):
    row, xw = _row(label)
    assert (row["code_status"], row["ksco_major"], row["former_code"]) == ("not_employed", "0", "")
    assert xw["former_title"] == ""


def test_job_seeker_keeps_rule_12_unchanged():
    """전직 X, 현재 구직중 is a job-seeker whose X keeps its code (the audit's rule 12), no former code."""
    rows, _ = _code(["전직 간호사, 현재 구직중", "전직 간호사 (구직중)", "前 택시 기사 구직중"])
    assert rows["code_status"].tolist() == ["job_seeker"] * 3
    assert rows["ksco_code"].tolist() == ["2430", "2430", "87310"]
    assert rows["former_code"].tolist() == ["", "", ""]


def test_former_code_is_never_counted_as_employed():
    rows, _ = _code(["은퇴한 교사", "교사", "전직 교사"])
    employed = rows[rows["code_status"] == "employed"]
    assert employed["occupation"].tolist() == ["교사"]
    assert rows["ksco_major"].tolist() == ["0", "2", "0"]


def test_former_code_flows_through_store_and_apply(tmp_path):
    """The stored crosswalk keeps former_code; apply joins it to new rows; deciding again keeps it."""
    res = code_frame(pd.DataFrame({"occupation": ["은퇴한 교사", "간호사"]}), text_col="occupation")
    again = decide(res.crosswalk).set_index("label_key")
    assert (again.loc["은퇴한교사", "former_code"], again.loc["간호사", "former_code"]) == ("25", "")
    applied = apply_crosswalk(
        pd.DataFrame({"occupation": ["간호사", "은퇴한  교사"]}), res.crosswalk, text_col="occupation"
    )
    assert applied.rows["former_code"].tolist() == ["", "25"]
    assert applied.rows["code_status"].tolist() == ["employed", "not_employed"]
    old = res.crosswalk.drop(columns=["former_code", "former_title"])  # a crosswalk stored before the column
    assert apply_crosswalk(pd.DataFrame({"occupation": ["간호사"]}), old, text_col="occupation").rows[
        "former_code"
    ].tolist() == [""]


def test_a_reviewer_code_on_a_former_label_is_the_former_code():
    res = code_frame(pd.DataFrame({"occupation": ["은퇴한 교사"]}), text_col="occupation")
    xw = res.crosswalk.copy()
    xw["review_code"], xw["review_rule_id"] = ["25220"], ["batch1"]
    row = decide(xw).iloc[0]
    assert (row["status"], row["ksco_code"], row["former_code"], row["code_source"]) == (
        "not_employed",
        "",
        "25220",
        "review",
    )
    assert not row["needs_review"]


def test_check_finds_no_status_mismatch_on_former_and_military_labels():
    """`coder check`: a former label keeps its 전직 prefix (status former), a service phrase is military."""
    labels = ["전직 교사", "퇴직 교사", "군 복무 중", "병역 의무 수행 중", "현역", "soldier"]
    res = code_frame(pd.DataFrame({"occupation": labels}), text_col="occupation")
    found = check_crosswalk(res.crosswalk).violations
    assert found[found["check"] == "status_mismatch"].empty, found.to_dict("records")


def test_a_coded_former_label_is_not_sent_to_review_as_uncoded():
    """Review export: 은퇴한 교사 has its former code (no ``no_code``); when it is exported the suggestion is that code."""
    res = code_frame(pd.DataFrame({"occupation": ["은퇴한 교사", "asdf"]}), text_col="occupation")
    sheet = export_review(res.crosswalk).frame
    assert sheet["label_key"].tolist() == ["asdf"]
    xw = res.crosswalk.copy()
    xw["review_reasons"] = [
        "weak" if k == "은퇴한교사" else "" for k in xw["label_key"]
    ]  # as if the former code were weak
    sheet = export_review(xw).frame.set_index("label_key")
    assert (sheet.loc["은퇴한교사", "why"], sheet.loc["은퇴한교사", "suggested_code"]) == ("weak", "25")


# ------------------------------------------------------------------ status words


@pytest.mark.parametrize(
    ("label", "status", "code", "major"),
    [
        ("현재 무직", "not_employed", "", "0"),
        ("지금은 무직", "not_employed", "", "0"),
        ("없음", "not_employed", "", "0"),
        ("해당 없음", "unknown", "", ""),
        ("none", "unknown", "", ""),
        ("군 복무 중", "military", "A0900", "A"),
        ("군복무중", "military", "A0900", "A"),
        ("군 복무", "military", "A0900", "A"),
        ("병역 의무 수행 중", "military", "A0900", "A"),
        ("현역", "military", "A", "A"),
        ("병사", "military", "A0900", "A"),
        ("입대 대기", "not_employed", "", "0"),
        ("사회복무요원", "employed_unstated", "", ""),
        ("student", "not_employed", "", "0"),
        ("housewife", "not_employed", "", "0"),
        ("homemaker", "not_employed", "", "0"),
        ("retired", "not_employed", "", "0"),
        ("unemployed", "not_employed", "", "0"),
        ("jobless", "not_employed", "", "0"),
        ("job seeker", "job_seeker", "", "0"),
        ("looking for work", "job_seeker", "", "0"),
        ("self-employed", "employed_unstated", "", ""),
        ("freelancer", "employed_unstated", "", ""),
    ],
)
def test_status_words(label, status, code, major):
    row, _ = _row(label)
    assert (row["code_status"], row["ksco_code"], row["ksco_major"]) == (status, code, major)


@pytest.mark.parametrize(
    ("label", "code"),
    [
        ("teacher", "25"),
        ("nurse", "2430"),
        ("doctor", "241"),
        ("driver", "873"),
        ("taxi driver", "87310"),
        ("engineer", "2"),
        ("farmer", "61"),
        ("office worker", "3"),
        ("programmer", "222"),
        ("developer", "222"),
        ("Software Engineer", "222"),
        ("salesperson", "5"),
        ("cook", "441"),
        ("chef", "28701"),
        ("cleaner", "941"),
        ("soldier", "A"),
        ("police officer", "4111"),
        ("accountant", "27120"),
        ("lawyer", "26120"),
        ("designer", "285"),
        ("professor", "2511"),
        ("pharmacist", "24201"),
        ("civil servant", "3"),
    ],
)
def test_english_job_words(label, code):
    row, xw = _row(label)
    assert row["ksco_code"] == code
    assert xw["code_source"] == "rule" and xw["rule_id"].startswith("R04")


# ------------------------------------------------------------------ survey wording


@pytest.mark.parametrize(
    ("label", "code", "core", "note"),
    [
        ("간호사 (대학병원)", "2430", "간호사", "qualifier: 대학병원"),
        ("간호사(대학병원)", "2430", "간호사", "qualifier: 대학병원"),
        ("공무원(교사)", "25", "교사", "qualifier: 공무원"),
        ("회사원, 과장", "3", "회사원", "qualifier: 과장"),
        ("회사원(사무직)", "3", "사무직", "qualifier: 회사원"),
        ("현대자동차 생산직", "8", "생산직", "prefix: 현대자동차"),
        ("삼성전자 생산직", "8", "생산직", "prefix: 삼성전자"),
        ("학생(대학원)", "", "", "qualifier: 대학원"),
    ],
)
def test_qualifiers_are_read_apart(label, code, core, note):
    row, xw = _row(label)
    assert row["ksco_code"] == code
    assert xw["core_key"] == core and xw["core_note"] == note
    assert note in xw["code_note"]
    assert xw["label"] == normalize_label(label)  # the original label is kept


@pytest.mark.parametrize(
    ("label", "status", "code", "former"),
    [
        ("교사(퇴직)", "not_employed", "", "25"),
        ("간호사(은퇴)", "not_employed", "", "2430"),
        ("공무원(퇴직자)", "not_employed", "", "3"),
        ("회사원, 은퇴", "not_employed", "", "3"),
        ("교사(전직)", "not_employed", "", "25"),
        ("간호사(구직중)", "job_seeker", "2430", ""),  # rule 12: a job-seeker keeps X's code
        ("택시기사(개인)", "employed", "87310", ""),
    ],
)
def test_a_status_qualifier_gives_its_status(label, status, code, former):
    row, xw = _row(label)
    assert (row["code_status"], row["ksco_code"], row["former_code"]) == (status, code, former)
    assert xw["core_note"].startswith("qualifier: ")


def test_a_qualifier_that_names_nothing_leaves_the_label_whole():
    occ = occupation_oracle()
    assert read_wording(label_key("대학병원(서울)"), occ) == ("대학병원(서울)", "")
    assert read_wording(label_key("asdf, qwer"), occ) == ("asdf,qwer", "")


def test_a_user_rule_for_the_whole_label_keeps_it_whole(tmp_path):
    """The wording is read with the run's own mapper: a user rule that codes the bracketed label wins."""
    user = tmp_path / "my_rules.csv"
    user.write_text(
        "rule_id,status,priority,pattern,match,code,code_title,example,counterexample,note,depth\n"
        "R9001,active,95,간호사\\(대학병원\\),full,24301,전문 간호사,간호사 (대학병원),,hospital nurse,\n",
        encoding="utf-8",
    )
    res = code_frame(pd.DataFrame({"occupation": ["간호사 (대학병원)"]}), text_col="occupation", rules=user)
    xw = res.crosswalk.iloc[0]
    assert (xw["core_key"], xw["core_note"], xw["ksco_code"], xw["rule_id"]) == (
        "간호사(대학병원)",
        "",
        "24301",
        "R9001",
    )


def test_student_in_brackets_is_a_student():
    row, _ = _row("학생(대학원)")
    assert (row["code_status"], row["ksco_major"]) == ("not_employed", "0")


@pytest.mark.parametrize(
    "raw",
    [
        "택시\0기사",
        "택시\u200b기사",
        "택시\u200c기사",
        "택시\u200d기사",
        "택시\u2060기사",
        "\ufeff택시기사",
        "택시\x07기사",
    ],
)
def test_invisible_characters_are_removed_and_the_label_codes_by_rule(raw):
    assert label_key(raw) == "택시기사"
    row, xw = _row(raw)
    assert row["ksco_code"] == "87310" and xw["code_source"] == "rule" and xw["rule_id"] == "R0010"


@pytest.mark.parametrize(
    ("label", "fixed", "code", "rule"),
    [
        ("회사언", "회사원", "3", "R0001"),
        ("공무언", "공무원", "3", "R0002"),
        ("경비윈", "경비원", "9421", "R0089"),
        ("택시기샤", "택시기사", "87310", "R0010"),
        ("회사웜", "회사원", "3", "R0001"),
    ],
)
def test_one_jamo_typos_of_frequent_answers(label, fixed, code, rule):
    row, xw = _row(label)
    assert (row["ksco_code"], xw["rule_id"], xw["core_key"]) == (code, rule, fixed)
    assert xw["core_note"] == f"typo: {label} → {fixed}"
    assert xw["needs_review"] and "typo" in xw["review_reasons"].split(";")


def test_typo_of_a_status_word_takes_that_status():
    row, xw = _row("전엄주부")
    assert (row["code_status"], row["ksco_major"]) == ("not_employed", "0")
    assert xw["core_note"] == "typo: 전엄주부 → 전업주부" and xw["needs_review"]


@pytest.mark.parametrize(
    "label",
    # two-syllable words are too close to each other: 기사 is one jamo from 교사, 이사 from 의사,
    # 간사 and 감사 from 강사 — all real words, so no typo reading below three syllables
    ["회사원", "교수", "asdf", "가나다라마바사", "회사", "기사", "이사", "간사", "감사", "무징"],
)
def test_no_typo_reading_without_a_unique_one_jamo_neighbour(label):
    (st,) = parse_status([label_key(label)])
    assert not st.note.startswith("typo")


def test_one_edit_and_jamo():
    assert _jamo("회사원") == "회사원"
    assert _jamo("abc") is None
    assert _one_edit(_jamo("회사언"), _jamo("회사원"))  # substitution
    assert _one_edit(_jamo("회사워"), _jamo("회사원"))  # a final consonant deleted
    assert not _one_edit(_jamo("회사원"), _jamo("회사원"))
    assert not _one_edit(_jamo("회사"), _jamo("회사원"))  # two jamo apart


def test_frequent_answers_come_from_npk_counts_and_survey_words():
    answers = frequent_answers()
    assert {"무직", "건물청소원", "회사원", "공무원", "자영업", "주부", "학생", "농업"} <= set(answers)
    assert len(answers) == len(set(answers)) >= 100


def test_npk_labels_are_never_read_apart(npk_labels):
    """No NPK label gets a wording reading: the parse step leaves every one of the 2,120 as it was."""
    labels = npk_labels["occupation"].tolist()
    st = parse_status([label_key(x) for x in labels], labels=[normalize_label(x) for x in labels])
    assert len(st) == 2120 and [s.note for s in st if s.note] == []


def _parse(label):
    (st,) = parse_status([label_key(label)], labels=[normalize_label(label)])
    return st


def test_a_tail_is_not_coded_by_a_suffix_rule_its_look_behind_keeps_off():
    """검독 수리 (검독수리, a bird): R0236 …수리 → 7 is kept off 독수리 by a look-behind; reading
    검독 + 수리 apart would undo it."""
    st = _parse("검독 수리")
    assert (st.status, st.core_key, st.note) == ("", "검독수리", "")
    st = _parse("서울 디지털트윈엔지니어업")  # no space before 어업: not cut there
    assert (st.core_key, st.note) == ("서울디지털트윈엔지니어업", "")
    st = _parse("현대자동차 생산직")  # a full rule on the tail still reads
    assert (st.core_key, st.note) == ("생산직", "prefix: 현대자동차")


@pytest.mark.parametrize("label", ["게임관리자", "사이버평판관리자", "리더십코치", "위생청소원", "현대자동차생산직"])
def test_a_job_name_written_as_one_word_is_not_cut(label):
    """Unseen job names are one word: no workplace is cut off where the label has no space (issue 23 item 3)."""
    st = _parse(label)
    assert (st.core_key, st.note) == (label_key(label), "")


# ------------------------------------------------------------------ the CLI, as a user runs it


def test_cli_codes_the_issue_cases(tmp_path):
    src = tmp_path / "survey.csv"
    labels = [
        "은퇴한 교사",
        "현재 무직",
        "군 복무 중",
        "student",
        "없음",
        "간호사 (대학병원)",
        "공무원(교사)",
        "회사언",
    ]
    pd.DataFrame({"id": range(1, len(labels) + 1), "occupation": labels}).to_csv(src, index=False)
    result = CliRunner().invoke(cli, ["code", str(src), "--text-col", "occupation", "-o", "-", "-q"])
    assert result.exit_code == 0, result.output
    out = pd.read_csv(io.StringIO(result.stdout), dtype=str, keep_default_na=False)
    assert list(out.columns) == ["id", "occupation", *OUTPUT_COLUMNS]
    assert out["code_status"].tolist() == [
        "not_employed",
        "not_employed",
        "military",
        "not_employed",
        "not_employed",
        "employed",
        "employed",
        "employed",
    ]
    assert out["ksco_code"].tolist() == ["", "", "A0900", "", "", "2430", "25", "3"]
    assert out["former_code"].tolist() == ["25", "", "", "", "", "", "", ""]
