"""Data tests for both shipped consistency rule sets: examples win with their code, counterexamples miss."""

from __future__ import annotations

import pytest

from coder.codes import load_codes
from coder.consistency import check_examples, check_rules, load_consistency_rules
from coder.resources import data_path

AUDIT = data_path("rules", "consistency_npk_audit_2026.toml")


@pytest.mark.parametrize("path", [None, AUDIT], ids=["default", "npk_audit_2026"])
def test_every_example_wins_and_no_counterexample_hits(path):
    rules = load_consistency_rules(path)
    assert rules.active
    assert check_examples(rules) == []
    for rule in rules.active:
        assert rule.examples, rule.rule_id


def test_default_rules_agree_with_ksco7():
    # every citation exists with its title, every target is under a citation and inside its labels' titles
    assert [v.message for v in check_rules(load_consistency_rules())] == []


def test_default_rules_decide_guards_with_citation():
    codes = load_codes()
    c01 = load_consistency_rules().get("C01")
    assert c01.code == "9421" and ("9421", "건물 관리원") in c01.citation
    assert c01.hit("경비원") and not c01.hit("시설경비원")
    assert "title" not in c01.overrides
    assert codes.title("94212") == "건물 경비원" and codes.parent("41231") == "4123"


def test_audit_rules_contradictions_found():
    messages = [v.message for v in check_rules(load_consistency_rules(AUDIT))]
    expected = [
        "NPK02 (line 27): cites 9519, which is not in ksco7",
        "NPK04 (line 49): cites 5314, which is not in ksco7",
        "NPK05 (line 60): cites 4222 as '우편집배원', but 4222 is '미용사' in ksco7",
        "NPK06 (line 72): cites 86 as '운전 및 운송 관련직', but 86 is '전기 및 전자 관련 기계 조작직' in ksco7",
        "NPK11 (line 127): cites 2143, which is not in ksco7",
        "NPK01 (line 15): target 9421 (건물 관리원) — '시설 경비원' is the KSCO-7 title of 41231 (시설 경비원), not under 9421",
        "NPK05 (line 60): target 4222 (미용사) — '우편집배원' is the KSCO-7 title of 92210 (우편집배원), 9221 (우편집배원), not under 4222",
        "NPK06 (line 72): target 86 (전기 및 전자 관련 기계 조작직) — '택배원' is the KSCO-7 title of 92221 (택배원), 9222 (택배원), not under 86",
        "NPK06 (line 72): target 86 (전기 및 전자 관련 기계 조작직) — '음식 배달원' is the KSCO-7 title of 92230 (음식 배달원), 9223 (음식 배달원), not under 86",
        "NPK10 (line 116): cited 2351 (기계공학 기술자 및 연구원), 285 (디자이너) — '토목 제도사' is the KSCO-7 title of 23952 (토목 제도사)",
    ]
    for m in expected:
        assert m in messages


def test_the_issue_claims_hold_in_the_code_list():
    codes = load_codes()
    assert codes.lookup_title("시설 경비원") == ("41231",)
    for title in ("우편집배원", "택배원", "음식 배달원"):
        assert all(c.startswith("922") for c in codes.lookup_title(title))
    assert "5313" in codes.lookup_title("텔레마케터")
    assert codes.lookup_title("제도사") == ("2395",)
    assert codes.title("4222") == "미용사"
    assert "2143" not in codes
