"""Consistency rules (rater consistency) and checks: loading errors, firing, overrides, checks, CLI."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from click.testing import CliRunner

from coder.cli import cli
from coder.consistency import check_crosswalk, check_file, load_consistency_rules
from coder.crosswalk.assemble import add_raters
from coder.crosswalk.store import read_crosswalk
from coder.errors import RuleError
from coder.labels import tabulate_labels
from coder.pipeline import code_labels
from coder.raters.base import RaterResult
from coder.resources import data_path

AUDIT = data_path("rules", "consistency_npk_audit_2026.toml")
LABELS = ["시설 경비원", "경비원", "육군 장교", "배달원", "전직 텔레마케터, 현재 구직중", "무직", "한식 조리사"]


@pytest.fixture(scope="module")
def xwalk() -> pd.DataFrame:
    return code_labels(tabulate_labels(pd.Series(LABELS, dtype=object)), model=False)


def _rules(tmp_path, text: str):
    p = tmp_path / "c.toml"
    p.write_text(text, encoding="utf-8")
    return p


RULE = """
[[rule]]
id = "X01"
description = "d"
patterns = ["{pat}"]
code = "{code}"
citation = [{{ code = "{code}" }}]
overrides = {ov}
examples = ["{ex}"]
"""


def test_every_bad_rule_is_reported_at_once(tmp_path):
    p = _rules(
        tmp_path,
        """[[rule]]
id = "X01"
description = "d"
patterns = ["(경비"]
code = "2143"
citation = [{ code = "9421" }]
overrides = ["tilte"]
examples = ["a"]

[[rule]]
id = "X01"
description = "d"
patterns = ["a"]
match = "around"
code = "9421"
citation = [{ code = "9421" }]
overrides = []
examples = ["a"]
""",
    )
    with pytest.raises(RuleError) as err:
        load_consistency_rules(p)
    assert str(err.value) == (
        f"{p}: 5 problem(s):\n"
        f'  {p}:1 (X01): pattern "(경비" does not compile (missing ), unterminated subpattern at position 0)\n'
        f"  {p}:1 (X01): code '2143' is not in ksco7 — a decision rule must set a code that exists\n"
        f"  {p}:1 (X01): overrides ['tilte'] are not rater slots (title, rule, index, panel, model, fuzzy)\n"
        f"  {p}:10 (X01): id X01 is already used on line 1\n"
        f"  {p}:10 (X01): match 'around' is not one of full, prefix, suffix, contains\n"
        'Fix these rules or set status = "retired".'
    )
    assert len(err.value.problems) == 5


def test_toml_syntax_error(tmp_path):
    p = _rules(tmp_path, "[[rule]\nid = 1\n")
    with pytest.raises(RuleError, match=r"not valid TOML \(.*line 1.*\) — fix the syntax\."):
        load_consistency_rules(p)


def test_missing_keys(tmp_path):
    p = _rules(tmp_path, '[[rule]]\nid = "X01"\n')
    with pytest.raises(RuleError) as err:
        load_consistency_rules(p)
    assert err.value.problems == [
        f"{p}:1 (X01): missing key(s) description, patterns, code, citation, overrides, examples"
    ]


def test_audit_rule_overrides_title_and_records_what_it_beat(xwalk):
    res = check_crosswalk(xwalk, load_consistency_rules(AUDIT))
    row = res.crosswalk.frame.set_index("label_key").loc["시설경비원"]
    assert row["consistency_code"] == "9421" and row["consistency_rule_id"] == "NPK01"
    assert row["ksco_code"] == "9421" and row["code_source"] == "consistency" and row["rule_id"] == "NPK01"
    assert row["consistency_overrode"] == "title=41231; rule=4123; index=41231"
    assert (
        "title_contradiction: final 9421 (건물 관리원) contradicts the label's own KSCO-7 title 41231 (시설 경비원)"
        in row["violations"]
    )
    imp = res.impact.set_index("rule_id").loc["NPK01"]
    assert (imp["labels"], imp["changed_labels"], imp["changed_from"], imp["printed_persons"]) == (
        1,
        1,
        "41231 (1)",
        28754,
    )


def test_default_rules_change_nothing_and_keep_depth(xwalk):
    res = check_crosswalk(xwalk)
    x = res.crosswalk.frame.set_index("label_key")
    assert x.loc["시설경비원", "ksco_code"] == "41231"  # C02 4123 refined by the title
    assert x.loc["시설경비원", "rule_id"] == "C02"
    assert x.loc["경비원", "ksco_code"] == "9421" and x.loc["경비원", "consistency_rule_id"] == "C01"
    assert (x["ksco_code"] == xwalk.set_index("label_key")["ksco_code"]).all()
    assert x.loc["전직텔레마케터,현재구직중", "consistency_rule_id"] == "C08"  # on core_key


def test_rule_blocked_by_a_rater_it_may_not_override(tmp_path, xwalk):
    p = _rules(tmp_path, RULE.format(pat="시설경비원", code="9421", ov='["rule", "index"]', ex="시설 경비원"))
    res = check_crosswalk(xwalk, p)
    row = res.crosswalk.frame.set_index("label_key").loc["시설경비원"]
    assert row["consistency_code"] == "" and row["consistency_flags"] == "conflict"
    assert (
        row["consistency_detail"]
        == "X01 not applied: title=41231, index=41231 disagree(s) and X01 may not override them"
    )
    assert row["ksco_code"] == "41231" and row["needs_review"] and "conflict" in row["review_reasons"]
    assert res.impact.iloc[0][["labels", "blocked_labels"]].tolist() == [0, 1]


def test_panel_majority_is_what_the_rule_overrode(tmp_path, xwalk):
    keys = tuple(xwalk["label_key"])
    n = len(keys)
    panel = [
        RaterResult(
            f"panel_{m}", keys, tuple("4123" if k == "경비원" else "" for k in keys), (math.nan,) * n, ("",) * n
        )
        for m in "abc"
    ]
    p = _rules(tmp_path, RULE.format(pat="경비원", code="9421", ov='["rule", "panel"]', ex="경비원"))
    res = check_crosswalk(add_raters(xwalk, panel), p)
    row = res.crosswalk.frame.set_index("label_key").loc["경비원"]
    assert row["consistency_overrode"] == "panel=4123"
    assert row["ksco_code"] == "9421" and row["code_source"] == "consistency"


def test_checks_status_depth_and_codes_not_in_ksco(tmp_path, xwalk):
    text = RULE.format(pat="육군장교", code="3", ov='["rule", "title", "index"]', ex="육군 장교") + RULE.format(
        pat="배달원", code="92230", ov='["rule", "title", "index"]', ex="배달원"
    ).replace("X01", "X02")
    keys = tuple(xwalk["label_key"])
    n = len(keys)
    bogus = RaterResult("fuzzy", keys, tuple("2143" if k == "한식조리사" else "" for k in keys), (0.1,) * n, ("",) * n)
    res = check_crosswalk(add_raters(xwalk, [bogus]), _rules(tmp_path, text))
    v = res.violations.set_index(["label_key", "check"])["message"]
    assert v.loc[("육군장교", "status_mismatch")] == "military label coded 3 (사무 종사자), outside group A"
    assert v.loc[("배달원", "too_deep")] == (
        "code deeper than the evidence: '배달원' is the title of 922 (배달원) (level 3); final 92230 is level 5"
    )
    assert v.loc[("한식조리사", "not_in_ksco")] == "fuzzy gave 2143, which is not in ksco7"
    assert "무직" not in set(res.violations["label_key"])


def test_an_exact_title_is_final_in_depth_so_nothing_is_too_deep(xwalk):
    # 배달원 is the title of 922: decide no longer lets the mapper's 9223 deepen it (it was flagged too_deep)
    res = check_crosswalk(xwalk)
    row = res.crosswalk.frame.set_index("label_key").loc["배달원"]
    assert row["ksco_code"] == "922"
    assert "title=922 is final in depth (rule=9223 not taken)" in row["code_note"]
    assert res.violations["message"].tolist() == []


def test_check_file_writes_output_and_sidecar(tmp_path, xwalk):
    import json

    from coder.crosswalk.store import write_crosswalk

    src = tmp_path / "x.csv"
    write_crosswalk(xwalk, src)
    res = check_file(src, tmp_path / "out.csv", rules=AUDIT)
    back = read_crosswalk(tmp_path / "out.csv").frame
    assert back["label_key"].tolist() == xwalk["label_key"].tolist()
    assert "violations" in back and "consistency_overrode" in back
    meta = json.loads((tmp_path / "out.csv.meta.json").read_text(encoding="utf-8"))
    assert meta["files_sha256"][AUDIT.as_posix().split("/")[-2] + "/" + AUDIT.name] == res.rules.sha256
    assert meta["summary"]["violations"] == res.n_violations > 0


def test_cli_check_strict(tmp_path, xwalk):
    from coder.crosswalk.store import write_crosswalk

    src = tmp_path / "x.csv"
    write_crosswalk(xwalk[xwalk["label_key"] != "배달원"], src)  # 배달원 → 9223 is too deep (see below)
    runner = CliRunner()
    ok = runner.invoke(cli, ["check", str(src), "-o", str(tmp_path / "a.csv"), "--strict"])
    assert ok.exit_code == 0, ok.output
    assert "0 violation(s)" in ok.output
    bad = runner.invoke(cli, ["check", str(src), "--rules", str(AUDIT), "-o", str(tmp_path / "b.csv"), "--strict"])
    assert bad.exit_code == 1
    assert "NPK01    9421       1          1        1          1  41231 (1)  [printed 28,754]" in bad.output
    assert (tmp_path / "b.csv").is_file()
    same = runner.invoke(cli, ["check", str(src), "-o", str(src)])
    assert same.exit_code == 1
    assert "the output (-o) is the same file as the crosswalk" in same.output
