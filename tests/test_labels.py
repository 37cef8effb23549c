import math

import pandas as pd

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
