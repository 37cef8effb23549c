import pytest

from coder.errors import RuleError
from coder.normalize import label_key, normalize_label
from coder.status import load_status_rules, parse_status


def _status(label):
    return parse_status([label_key(label)], labels=[normalize_label(label)])[0]


def test_every_status_example_and_counterexample():
    rules = load_status_rules()
    assert rules.rules
    for rule in rules.rules:
        assert rule.examples, rule.status_id
        for ex in rule.examples:
            st = _status(ex)
            expected = "former" if rule.status == "former_named" else rule.status
            assert (st.status, st.status_id) == (expected, rule.status_id), ex
        for ex in rule.counterexamples:
            assert _status(ex).status_id != rule.status_id, ex


@pytest.mark.parametrize(
    ("label", "status", "core"),
    [
        ("무직", "not_employed", ""),
        ("현재 무직", "not_employed", ""),
        ("지금은 무직", "not_employed", ""),
        ("없음", "not_employed", ""),
        ("해당 없음", "unknown", ""),
        ("none", "unknown", ""),
        ("student", "not_employed", ""),
        ("housewife", "not_employed", ""),
        ("homemaker", "not_employed", ""),
        ("retired", "not_employed", ""),
        ("unemployed", "not_employed", ""),
        ("jobless", "not_employed", ""),
        ("은퇴한 교사", "former", "교사"),
        ("퇴직 교사", "former", "교사"),
        ("퇴직한 교사", "former", "교사"),
        ("전직 교사", "former", "교사"),
        ("前 교사", "former", "교사"),
        ("전 교사", "former", "교사"),
        ("교사 출신", "former", "교사"),
        ("공무원 퇴직", "former", "공무원"),
        ("퇴직 연금 상담원", "", "상담원"),  # 연금 상담원 names no occupation: not former; 상담원 read after its prefix
        ("서울 출신", "", "서울출신"),
        ("전기공", "", "전기공"),
        ("전기공사", "", "전기공사"),  # a job by a full mapper rule (R0175), not 전(former) + 기공사
        ("전기공사업", "", "전기공사업"),
        ("군 복무 중", "", "군복무중"),  # coded military by the mapper (R0005), like 병사
        ("입대 대기", "not_employed", ""),
        ("사회복무요원", "employed_unstated", ""),
        ("학생", "not_employed", ""),
        ("전업 주부", "not_employed", ""),
        ("은퇴", "not_employed", ""),
        ("퇴직자", "not_employed", ""),
        ("전직 건물 경비원, 현재 구직중", "job_seeker", "건물경비원"),
        ("전직 육군 장교, 현재 구직중", "job_seeker", "육군장교"),
        ("구직중", "job_seeker", ""),
        ("모름", "unknown", ""),
        ("NaN", "unknown", ""),
        ("N/A", "unknown", ""),
        ("-", "unknown", ""),
        ("자영업", "employed_unstated", ""),
        ("자영업자", "employed_unstated", ""),
        ("알바", "employed_unstated", ""),
        ("알바생", "employed_unstated", ""),
        ("아르바이트", "employed_unstated", ""),
        ("프리랜서", "employed_unstated", ""),
        ("직장인", "employed_unstated", ""),
        ("편의점 알바", "", "편의점알바"),
        ("편의점알바생", "", "편의점알바생"),
        ("", "unknown", ""),
        ("건물 청소원", "", "건물청소원"),
        ("가사 도우미", "", "가사도우미"),
    ],
)
def test_parse_status(label, status, core):
    st = _status(label)
    assert (st.status, st.core_key) == (status, core)


def test_bad_status_file_lists_every_bad_row(tmp_path):
    path = tmp_path / "status.csv"
    path.write_text(
        "status_id,status,pattern,match,example,counterexample,note\n"
        "S1,retired,무직,full,무직,,\n"
        "S2,not_employed,(학생,full,학생,,\n"
        "S3,not_employed,주부,everywhere,주부,,\n",
        encoding="utf-8",
    )
    with pytest.raises(RuleError) as info:
        load_status_rules(path)
    assert len(info.value.problems) == 3
    msg = str(info.value)
    assert f"{path}:2 (S1): status 'retired' is not one of job_seeker, not_employed, employed_unstated, unknown" in msg
    assert f"{path}:3 (S2): pattern '(학생' does not compile" in msg
    assert f"{path}:4 (S3): match 'everywhere' is not one of full, prefix, suffix, contains" in msg


def test_employed_unstated_is_a_status():
    from coder.status import STATUSES

    assert "employed_unstated" in STATUSES


def test_edited_status_file_is_read_again(tmp_path):
    import os

    path = tmp_path / "status.csv"
    head = "status_id,status,pattern,match,example,counterexample,note\n"
    path.write_text(head + "S1,not_employed,무직,full,무직,,\n", encoding="utf-8")
    first = load_status_rules(path)
    path.write_text(head + "S1,not_employed,무직,full,무직,,\nS2,unknown,모름,full,모름,,\n", encoding="utf-8")
    os.utime(path, ns=(first_ns := os.stat(path).st_mtime_ns + 10**9, first_ns))
    second = load_status_rules(path)
    assert len(second.rules) == 2
    assert second.sha256 != first.sha256
