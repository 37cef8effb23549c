import math

import pandas as pd
import pytest

from coder.labels import tabulate_labels


def test_missing_placeholders_share_the_empty_key():
    texts = pd.Series(["간호사", "NaN", None, "-", "N/A", math.nan, "null", "간호사", " "])
    table = tabulate_labels(texts)
    frame = table.frame.set_index("label_key")
    assert set(frame.index) == {"간호사", ""}
    assert frame.loc["", "n_rows"] == 7
    assert frame.loc["간호사", "n_rows"] == 2
    assert [table.keys[i] for i in table.row_label] == ["간호사", "", "", "", "", "", "", "간호사", ""]


def test_empty_rule_set_and_status_rules_are_not_replaced(tmp_path):
    """`x or load_x()` would swap an empty rule set for the bundled one."""
    from coder.raters.rules import apply_rules, load_rules
    from coder.status import load_status_rules, parse_status

    mapper = tmp_path / "mapper.csv"
    mapper.write_text(
        "rule_id,status,priority,pattern,match,code,code_title,example,counterexample,note\n", encoding="utf-8"
    )
    rules = load_rules(mapper, bundled=False)
    assert apply_rules(["택시기사"], rules).codes == ("",)
    status = tmp_path / "status.csv"
    status.write_text("status_id,status,pattern,match,example,counterexample,note\n", encoding="utf-8")
    assert parse_status(["무직"], load_status_rules(status))[0].status == ""


def test_strata_counts_per_label_and_stratum():
    texts = pd.Series(["간호사", "간호사", "택시 기사", "간호사", None, "택시기사"])
    frame = pd.DataFrame({"sex": ["여자", "남자", "남자", "여자", "여자", None], "age": [30, 40, 50, 30, 20, 60]})
    weights = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    table = tabulate_labels(texts, weights, strata=frame[["sex"]])
    s = table.strata
    assert list(s.columns) == ["label_key", "sex", "n_rows", "weight"]
    assert s.to_dict("records") == [
        {"label_key": "택시기사", "sex": "", "n_rows": 1, "weight": 6.0},
        {"label_key": "택시기사", "sex": "남자", "n_rows": 1, "weight": 3.0},
        {"label_key": "간호사", "sex": "남자", "n_rows": 1, "weight": 2.0},
        {"label_key": "간호사", "sex": "여자", "n_rows": 2, "weight": 5.0},
        {"label_key": "", "sex": "여자", "n_rows": 1, "weight": 5.0},
    ]
    # the label table itself is unchanged by strata
    plain = tabulate_labels(texts, weights)
    pd.testing.assert_frame_equal(plain.frame, table.frame)
    assert plain.strata is None
    assert (plain.row_label == table.row_label).all()


def test_strata_two_columns_sum_to_label_totals():
    texts = pd.Series(["a", "b", "a", "a", "b"] * 20)
    strata = {"sex": ["f", "m"] * 50, "band": ["x", "y", "z", "x", "y"] * 20}
    table = tabulate_labels(texts, strata=strata)
    s = table.strata
    assert list(s.columns) == ["label_key", "sex", "band", "n_rows", "weight"]
    totals = s.groupby("label_key")["n_rows"].sum()
    assert totals.to_dict() == table.frame.set_index("label_key")["n_rows"].to_dict()
    assert int(s["n_rows"].sum()) == 100


@pytest.mark.parametrize(
    ("strata", "message"),
    [
        ({}, "strata: give at least one column (e.g. strata=frame[['sex']]) or leave strata out."),
        ({"weight": ["f", "m"]}, "strata: column name(s) weight clash with the label table — rename them."),
        ({"sex": ["f"]}, "strata column 'sex' has 1 values for 2 texts — give one value per text."),
    ],
)
def test_strata_errors(strata, message):
    from coder.errors import InputError

    with pytest.raises(InputError) as err:
        tabulate_labels(pd.Series(["a", "b"]), strata=strata)
    assert str(err.value) == message


def test_a_lone_surrogate_is_dropped_from_the_key_and_shown_as_replacement_character():
    """Only a Python string can hold a lone surrogate (no file, no Arrow column): it codes like the text
    without it, and the label shows U+FFFD instead of failing inside pyarrow."""
    from coder.normalize import label_key
    from coder.pipeline import code_labels

    assert label_key("택시\ud800기사") == "택시기사"
    table = tabulate_labels(pd.Series(["택시\udfff기사", "택시기사", "택시기사"], dtype=object))
    frame = table.frame.set_index("label_key")
    assert frame.loc["택시기사", "n_rows"] == 3 and frame.loc["택시기사", "label"] == "택시기사"
    alone = tabulate_labels(pd.Series(["a\ud800b"], dtype=object))
    assert alone.frame["label"].tolist() == ["a\ufffdb"] and alone.frame["label_key"].tolist() == ["ab"]
    assert len(code_labels(table)) == 1
