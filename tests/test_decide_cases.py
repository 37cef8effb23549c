"""What a new user hit (issue: decisions people can trust), on the real raters, rules and code list.

Each test failed before the decision's invariants: the mapper's deliberately shallow codes were
deepened by the model, and a default consistency rule overrode an exact title.
"""

import pandas as pd
import pytest

from coder.consistency import check_crosswalk, load_consistency_rules
from coder.crosswalk.decide import DecisionPolicy
from coder.labels import tabulate_labels
from coder.pipeline import code_labels
from coder.resources import data_path

AUDIT = data_path("rules", "consistency_npk_audit_2026.toml")


@pytest.fixture(scope="module")
def coded() -> pd.DataFrame:
    # model_depth_threshold 0: the model's deeper codes count at its threshold, so that it is
    # confident and deeper than the depth-final rules (the situation these cases are about)
    labels = ["교사", "연구원", "공무원", "헤어디자이너", "초등학교 교사", "시설 경비원"]
    return code_labels(tabulate_labels(pd.Series(labels, dtype=object)), policy=DecisionPolicy(model_depth_threshold=0))


@pytest.mark.parametrize(
    ("key", "code", "rule", "deeper"),
    [("교사", "25", "R0030", "2521"), ("연구원", "2", "R0135", "23"), ("공무원", "3", "R0002", "31")],
)
def test_a_depth_final_rule_is_not_deepened_by_the_model(coded, key, code, rule, deeper):
    row = coded.set_index("label_key").loc[key]
    assert row["model_code"].startswith(deeper)  # the model is confident and deeper …
    assert (row["ksco_code"], row["rule_id"]) == (code, rule)  # … but the words say no more than this
    assert "is final in depth" in row["code_note"]
    after = check_crosswalk(coded).crosswalk.frame.set_index("label_key").loc[key]
    assert after["ksco_code"] == code  # a consistency rule in the same lineage does not open the depth either


def test_a_rule_without_final_depth_is_refined_as_before(coded):
    row = coded.set_index("label_key").loc["초등학교교사"]
    assert row["ksco_code"] == "25220"


def test_default_consistency_rules_never_override_an_exact_title(coded):
    res = check_crosswalk(coded)
    row = res.crosswalk.frame.set_index("label_key").loc["헤어디자이너"]
    assert (row["ksco_code"], row["code_source"]) == ("42220", "rule")  # C19 would have made it 285 디자이너
    assert row["consistency_code"] == "" and row["consistency_rule_id"] == "C19"
    assert row["needs_review"] and "conflict" in row["review_reasons"]
    v = res.violations[res.violations["check"] == "exact_title"]
    assert v["message"].tolist() == [
        "C19 (285) may not override the exact KSCO-7 title rule=42220 (미용사): not applied"
    ]


def test_the_audit_set_overrides_exact_titles_deliberately_and_says_so(coded):
    res = check_crosswalk(coded, load_consistency_rules(AUDIT))
    x = res.crosswalk.frame.set_index("label_key")
    assert x.loc["시설경비원", "ksco_code"] == "9421"
    v = res.violations[res.violations["check"] == "exact_title"].set_index("label")
    assert v.loc["시설 경비원", "message"].startswith("NPK01 overrides the exact KSCO-7 title title=41231")
    assert v.loc["시설 경비원", "message"].endswith("(deliberate: it lists title in its overrides)")


def test_no_default_rule_lists_title_in_its_overrides():
    rules = load_consistency_rules()
    assert [r.rule_id for r in rules.active if "title" in r.overrides] == []
