"""The crosswalk carries its state through every stage (issue 19, item 1; the user's cases 1 and 7).

A stored crosswalk is read back with the policy it was decided with, the code list it was coded
against and the files that made it (``read_crosswalk`` → ``Crosswalk``); every stage decides
again with that policy unless it is given another, and records the policy in its output's
sidecar; one runner refuses an output that would overwrite an input, for every stage.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from fake_vendor import FakeVendor, answer_json, set_keys, write_panel, write_prices

from coder.agreement import agree_file
from coder.cli import cli
from coder.codes import load_codes
from coder.consistency import RULE_SETS, check_crosswalk, check_file, load_consistency_rules
from coder.crosswalk import Crosswalk, DecisionPolicy, read_crosswalk
from coder.crosswalk.decide import THRESHOLDS
from coder.errors import CrosswalkError, InputError, RuleError
from coder.io import read_table
from coder.panel import panel_file
from coder.pipeline import apply_file, code_file, decide_file
from coder.report import report_file
from coder.review import export_review_file, import_review, import_review_file
from coder.sensitivity import run_sensitivity, sensitivity_file

# Labels the title lookup, the mapper and the job index do not code: the weak raters (model,
# fuzzy) decide some of them at the default thresholds; the rest are coded by strong raters.
LABELS = [
    "마케터",
    "쇼핑몰 MD",
    "영상 편집자",
    "프리랜서 번역",
    "미용실 스텝",
    "인사 담당",
    "인테리어 시공",
    "카페 바리스타 알바생",
    "아파트 관리소장",
    "건물 청소원",
    "택시 운전",
    "요양보호사",
    "시설 경비원",
    "무직",
    "컨텐츠 마케터",
    "브랜드 매니저",
]
STRICT = ["--model-threshold", "0.99", "--corroborate-threshold", "1"]
"""The user's strict choice, with corroboration off too: no weak rater decides any label."""
WEAK = set(THRESHOLDS)


def _weak(frame: pd.DataFrame) -> set[str]:
    """Labels whose final code a weak rater decided."""
    return set(frame.loc[frame["code_source"].isin(WEAK), "label_key"])


def _meta(path: Path) -> dict:
    return json.loads(Path(f"{path}.meta.json").read_text(encoding="utf-8"))


def _cli(*args: str) -> object:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def coded(tmp_path_factory) -> dict[str, Path]:
    """Rows with sex, coded with the default policy (crosswalk ``xw.csv``), and decided strictly (``strict.csv``)."""
    d = tmp_path_factory.mktemp("stages")
    rows = [
        {"id": f"{i}-{j}", "occupation": label, "sex": "female" if (i + j) % 2 else "male"}
        for i, label in enumerate(LABELS)
        for j in range(1 + i % 3)
    ]
    pd.DataFrame(rows).to_csv(d / "rows.csv", index=False)
    code_file(d / "rows.csv", d / "coded.csv", text_col="occupation", crosswalk_path=d / "xw.csv")
    _cli("decide", d / "xw.csv", *STRICT, "-o", d / "strict.csv", "-q")
    return {"dir": d, "rows": d / "rows.csv", "xw": d / "xw.csv", "strict": d / "strict.csv"}


def _strict_policy() -> DecisionPolicy:
    return DecisionPolicy(thresholds={"model": 0.99}, corroborate_threshold=1.0)


# --- case 1: the policy is not lost between stages --------------------------------------------


def test_the_labels_show_the_case(coded):
    """The weak raters decide some labels by default and none under the strict policy."""
    default = read_crosswalk(coded["xw"]).frame
    strict = read_crosswalk(coded["strict"]).frame
    assert len(_weak(default)) >= 3 and _weak(strict) == set()


def test_user_case_1_decide_strict_then_check_keeps_the_weak_codes_out(coded, tmp_path):
    """`coder decide xw.csv --model-threshold 0.99 -o strict.csv`, then `coder check strict.csv -o c.csv`."""
    out = tmp_path / "c.csv"
    _cli("check", coded["strict"], "-o", out, "-q")
    checked, strict = read_crosswalk(out).frame, read_crosswalk(coded["strict"]).frame
    assert _weak(checked) == set()
    assert checked["ksco_code"].tolist() == strict["ksco_code"].tolist()
    assert _meta(out)["params"]["policy"] == _strict_policy().as_dict()


def test_user_case_1_model_threshold_alone(coded, tmp_path):
    """The user's exact command: only --model-threshold; check keeps every code decide chose."""
    strict, out = tmp_path / "strict.csv", tmp_path / "c.csv"
    _cli("decide", coded["xw"], "--model-threshold", "0.99", "-o", strict, "-q")
    _cli("check", strict, "-o", out, "-q")
    before, after = read_crosswalk(strict), read_crosswalk(out)
    assert before.policy.threshold("model") == after.policy.threshold("model") == 0.99
    for col in ("ksco_code", "needs_review"):
        assert after.frame[col].tolist() == before.frame[col].tolist()


def test_decide_changes_only_the_options_given(coded, tmp_path):
    """A second `coder decide` starts from the crosswalk's policy: the strict threshold stays."""
    out = tmp_path / "again.csv"
    _cli("decide", coded["strict"], "--fuzzy-threshold", "0.99", "-o", out, "-q")
    policy = read_crosswalk(out).policy
    assert policy == _strict_policy().with_(thresholds={"fuzzy": 0.99})
    deeper = tmp_path / "deeper.csv"
    _cli("decide", out, "--model-depth-threshold", "0", "-o", deeper, "-q")
    assert read_crosswalk(deeper).policy == policy.with_(model_depth_threshold=0.0)


def test_review_import_keeps_the_policy(coded, tmp_path):
    sheet, out = tmp_path / "b1" / "to_review.csv", tmp_path / "reviewed.csv"
    export_review_file(coded["strict"], sheet)
    assert _meta(sheet)["params"]["policy"] == _strict_policy().as_dict()
    edited = read_table(sheet)
    decided = edited["label_key"].iloc[0]
    edited.loc[0, ["decision_code", "reviewer"]] = ["94111", "kim"]
    edited.to_csv(tmp_path / "b1" / "back.csv", index=False)
    result = import_review_file(tmp_path / "b1" / "back.csv", coded["strict"], out)
    assert result.applied == 1 and result.crosswalk.policy == _strict_policy()
    frame = read_crosswalk(out).frame.set_index("label_key")
    assert frame.loc[decided, "ksco_code"] == "94111" and frame.loc[decided, "code_source"] == "review"
    assert _weak(frame.reset_index()) == set()
    assert _meta(out)["params"]["policy"] == _strict_policy().as_dict()


def test_import_review_of_an_unedited_sheet_decides_with_the_crosswalks_policy(coded):
    strict = read_crosswalk(coded["strict"])
    sheet = pd.DataFrame(columns=["review_id", "batch", "label_key", "decision_code", "decision_note", "reviewer"])
    sheet["checksum"] = []
    result = import_review(sheet, strict)
    assert result.crosswalk.policy == strict.policy and _weak(result.crosswalk.frame) == set()


def test_apply_and_agree_record_the_policy_and_add_no_weak_code(coded, tmp_path):
    by_default = apply_file(coded["rows"], coded["xw"], tmp_path / "default.csv", text_col="occupation")
    out = tmp_path / "applied.csv"
    result = apply_file(coded["rows"], coded["strict"], out, text_col="occupation")
    assert by_default.rows["code_source"].isin(WEAK).any() and not result.rows["code_source"].isin(WEAK).any()
    meta = _meta(out)
    assert meta["params"]["policy"] == _strict_policy().as_dict()
    assert meta["inputs"]["crosswalk"]["sha256"] == read_crosswalk(coded["strict"]).sha256
    agree_file(coded["strict"], tmp_path / "agreement", n_bootstrap=5, levels=(1,))
    assert _meta(tmp_path / "agreement" / "agreement.json")["params"]["policy"] == _strict_policy().as_dict()


def test_sensitivity_and_report_sweep_from_the_crosswalks_policy(coded, tmp_path):
    strict = read_crosswalk(coded["strict"])
    kw = {"sex_col": "sex", "text_col": "occupation", "replicates": 2, "noise_levels": (0.1,)}
    result = sensitivity_file(
        coded["strict"], coded["rows"], tmp_path / "sens", model_thresholds=(0.99,), fuzzy_thresholds=(0.95,), **kw
    )
    assert result.settings["policy"] == strict.policy.as_dict()
    assert _meta(tmp_path / "sens" / "noise.csv")["params"]["policy"] == strict.policy.as_dict()
    report = report_file(
        coded["strict"], coded["rows"], tmp_path / "r.html", n_bootstrap=5, model_thresholds=(0.99,), **kw
    )
    assert report.data["provenance"]["params"]["policy"] == strict.policy.as_dict()


def test_library_stages_take_a_crosswalk_and_keep_its_policy(coded):
    strict = read_crosswalk(coded["strict"])
    checked = check_crosswalk(strict).crosswalk
    assert checked.policy == strict.policy and _weak(checked.frame) == set()
    assert run_sensitivity(strict, *_label_sex(strict), replicates=2).settings["policy"] == strict.policy.as_dict()


def _label_sex(xw: Crosswalk):
    from coder.axis.references import load_reference
    from coder.sensitivity import label_sex_table

    rows = read_table(Path(xw.path).with_name("rows.csv"))
    return label_sex_table(rows, text_col="occupation", sex_col="sex"), load_reference("kosis-res:2025H2")


@pytest.fixture(scope="module")
def server():
    f = FakeVendor()
    yield f
    f.close()


def test_panel_keeps_the_policy(coded, server, tmp_path, monkeypatch):
    """The member abstains on every label sent: the panel decides nothing, no weak code comes
    back, and the output records the strict policy."""
    server.reset()
    set_keys(monkeypatch)
    panel = write_panel(tmp_path / "panel.toml", server.url, ids=("oa",))
    prices = write_prices(tmp_path / "prices.toml")
    server.answer = lambda vendor, model, prompt: answer_json("", 0.5, "모름")
    out = tmp_path / "panel.csv"
    outcome = panel_file(coded["strict"], out, panel=panel, prices=prices)
    assert outcome.crosswalk.policy == _strict_policy() and _weak(outcome.crosswalk.frame) == set()
    assert _meta(out)["params"]["policy"] == _strict_policy().as_dict()


# --- a stage given a policy uses it and records it --------------------------------------------


def test_a_stage_given_a_policy_uses_it_and_records_it(coded, tmp_path):
    default = DecisionPolicy()
    out = tmp_path / "c.csv"
    result = check_file(coded["strict"], out, policy=default)
    assert result.crosswalk.policy == default and _weak(result.crosswalk.frame) == _weak(
        read_crosswalk(coded["xw"]).frame
    )
    assert _meta(out)["params"]["policy"] == default.as_dict()
    again = decide_file(out, tmp_path / "d.csv", policy=_strict_policy())
    assert again.policy == _strict_policy() and read_crosswalk(tmp_path / "d.csv").policy == _strict_policy()


# --- the sidecar is the truth ------------------------------------------------------------------


def test_as_dict_reports_the_threshold_given():
    assert DecisionPolicy(thresholds={"model": 0.5}).as_dict()["thresholds"]["model"] == 0.5


@pytest.mark.parametrize(
    "policy",
    [
        DecisionPolicy(),
        DecisionPolicy(thresholds={"model": 0.5}),
        DecisionPolicy(thresholds={"model": 0.99, "fuzzy": 2.0}, refine=False, corroborate_threshold=1.0),
        DecisionPolicy(exclude_raters=frozenset({"fuzzy"}), exclude_rules=frozenset({"R0001"})),
    ],
    ids=["default", "model-0.5", "strict", "exclusions"],
)
def test_the_sidecar_decide_file_writes_round_trips(coded, tmp_path, policy):
    out = tmp_path / "d.csv"
    decided = decide_file(coded["xw"], out, policy=policy)
    back = read_crosswalk(out)
    assert back.policy == policy == decided.policy and back.notes == ()
    assert back.codes.sha256 == load_codes().sha256 and back.sha256 and back.path == str(out)
    assert back.files == {k: v for k, v in _meta(out)["files_sha256"].items()}
    assert "crosswalks/ksco7.csv" in back.files and "rules/mapper.csv" in back.files


def test_an_older_sidecar_with_threshold_keys_is_read(coded, tmp_path):
    xw = tmp_path / "old.csv"
    xw.write_bytes(coded["xw"].read_bytes())
    meta = _meta(coded["xw"])
    meta["params"]["policy"] = {"model_threshold": 0.9, "fuzzy_threshold": 0.97, "refine": True}
    Path(f"{xw}.meta.json").write_text(json.dumps(meta), encoding="utf-8")
    assert read_crosswalk(xw).policy.thresholds == {"fuzzy": 0.97, "model": 0.9}


def test_no_sidecar_means_the_default_policy_and_a_note_the_user_sees(coded, tmp_path):
    bare = tmp_path / "bare.csv"
    bare.write_bytes(coded["strict"].read_bytes())
    xw = read_crosswalk(bare)
    assert xw.policy == DecisionPolicy() and xw.files == {}
    assert len(xw.notes) == 1 and "no sidecar bare.csv.meta.json" in xw.notes[0]
    res = CliRunner().invoke(cli, ["check", str(bare), "-o", str(tmp_path / "c.csv")])
    assert res.exit_code == 0, res.output
    assert f"note: {bare} has no sidecar bare.csv.meta.json: the policy it was decided with is unknown" in res.stderr
    assert _meta(tmp_path / "c.csv")["summary"]["notes"] == list(xw.notes)


def test_an_unreadable_sidecar_is_refused(coded, tmp_path):
    xw = tmp_path / "x.csv"
    xw.write_bytes(coded["xw"].read_bytes())
    Path(f"{xw}.meta.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CrosswalkError, match=r"x\.csv\.meta\.json: the sidecar of .* cannot be read"):
        read_crosswalk(xw)


@pytest.mark.parametrize("how", ["name", "sha256", "legacy-name"])
def test_a_crosswalk_of_another_code_list_is_refused(coded, tmp_path, how):
    xw = tmp_path / "x.csv"
    xw.write_bytes(coded["strict"].read_bytes())
    meta = _meta(coded["strict"])
    if how == "name":
        meta["code_list"]["name"] = "ksco8"
    elif how == "sha256":
        meta["code_list"]["sha256"] = "0" * 64
    else:  # a sidecar written before the code_list record: params.code_list names it
        del meta["code_list"]
        meta["params"]["code_list"] = "ksco8"
    Path(f"{xw}.meta.json").write_text(json.dumps(meta), encoding="utf-8")
    expected = (
        f"{xw}: made with another code list (ksco8; this toolkit codes to ksco7) — "
        "re-code the labels with this code list (`coder code`)."
        if how != "sha256"
        else f"{xw}: made with another code list (crosswalks/ksco7.csv sha256 000000000000…, this toolkit has "
        f"{load_codes().sha256[:12]}…) — re-code the labels with this code list (`coder code`)."
    )
    with pytest.raises(CrosswalkError) as err:
        read_crosswalk(xw)
    assert str(err.value) == expected
    res = CliRunner().invoke(cli, ["check", str(xw), "-o", str(tmp_path / "c.csv")])
    assert res.exit_code == 1 and res.output == f"Error: {expected}\n"
    assert not (tmp_path / "c.csv").exists()


# --- case 7: rule-set names work in every command ------------------------------------------------


@pytest.mark.parametrize("name", sorted(RULE_SETS))
def test_user_case_7_check_takes_a_rule_set_name(coded, tmp_path, name):
    res = CliRunner().invoke(cli, ["check", str(coded["strict"]), "--rules", name, "-o", str(tmp_path / "c.csv")])
    assert res.exit_code == 0, res.output
    assert f"rules: {load_consistency_rules(name).path}" in res.stderr
    assert _meta(tmp_path / "c.csv")["params"]["rules"].endswith(RULE_SETS[name])


@pytest.mark.parametrize("command", ["check", "sensitivity", "report"])
def test_an_unknown_rule_set_is_a_one_line_error_listing_the_names(coded, tmp_path, command):
    out = {"check": tmp_path / "c.csv", "sensitivity": tmp_path / "s", "report": tmp_path / "r.html"}[command]
    rows = [] if command == "check" else [str(coded["rows"]), "--sex-col", "sex", "--text-col", "occupation"]
    res = CliRunner().invoke(cli, [command, str(coded["strict"]), *rows, "--rules", "npk-audit", "-o", str(out)])
    assert res.exit_code == 1
    assert res.output.endswith(
        "Error: npk-audit: no such consistency rules file — give a TOML path or a bundled rule set name "
        "(default, npk-audit-2026).\n"
    )
    assert not out.exists()


def test_load_consistency_rules_takes_a_name_or_a_path():
    by_name = load_consistency_rules("npk-audit-2026")
    assert load_consistency_rules(by_name.path).rules == by_name.rules
    assert load_consistency_rules().path == load_consistency_rules("default").path
    with pytest.raises(RuleError, match=r"is a directory"):
        load_consistency_rules(Path(by_name.path).parent)


# --- one runner: an output over an input is refused, for every stage ------------------------------


def _stages(c: dict[str, Path], d: Path) -> dict[str, tuple]:
    """Each stage with an output path that is one of its inputs: (call, the clash in the message)."""
    strict = d / "agreement_pairs.csv"  # the crosswalk, named as one of agree's outputs
    sens = d / "noise.csv"  # and as one of sensitivity's
    for p in (strict, sens):
        p.write_bytes(c["strict"].read_bytes())
        Path(f"{p}.meta.json").write_bytes(Path(f"{c['strict']}.meta.json").read_bytes())
    xw, rows = d / "xw.csv", d / "rows.csv"
    return {
        "decide": (lambda: decide_file(xw, xw), "the output (-o) is the same file as the crosswalk"),
        "check": (lambda: check_file(xw, xw), "the output (-o) is the same file as the crosswalk"),
        "panel": (lambda: panel_file(xw, xw, plan_only=True), "the output (-o) is the same file as the crosswalk"),
        "review export": (lambda: export_review_file(xw, xw), "the output (-o) is the same file as the crosswalk"),
        "review import (--into)": (
            lambda: import_review_file(rows, xw, xw),
            "the output (-o) is the same file as --into",
        ),
        "review import (sheet)": (
            lambda: import_review_file(rows, xw, rows),
            "the output (-o) is the same file as the review file",
        ),
        "apply (crosswalk)": (
            lambda: apply_file(rows, xw, xw, text_col="occupation"),
            "the output (-o) is the same file as the crosswalk",
        ),
        "apply (rows)": (
            lambda: apply_file(rows, xw, rows, text_col="occupation"),
            "the output (-o) is the same file as the input",
        ),
        "agree": (lambda: agree_file(strict, d), "-o agreement_pairs.csv is the same file as the crosswalk"),
        "sensitivity (crosswalk)": (
            lambda: sensitivity_file(sens, rows, d, sex_col="sex"),
            "-o noise.csv is the same file as the crosswalk",
        ),
        "sensitivity (rows)": (
            lambda: sensitivity_file(xw, sens, d, sex_col="sex"),
            "-o noise.csv is the same file as the rows",
        ),
        "report (rows)": (
            lambda: report_file(xw, d / "r.html", d / "r.html", sex_col="sex"),
            "the output (-o) is the same file as the rows",
        ),
        "report (json)": (
            lambda: report_file(d / "r.json", None, d / "r.html"),
            "the report JSON is the same file as the crosswalk",
        ),
    }


STAGES = [
    "decide",
    "check",
    "panel",
    "review export",
    "review import (--into)",
    "review import (sheet)",
    "apply (crosswalk)",
    "apply (rows)",
    "agree",
    "sensitivity (crosswalk)",
    "sensitivity (rows)",
    "report (rows)",
    "report (json)",
]


@pytest.mark.parametrize("stage", STAGES)
def test_an_output_over_an_input_is_refused_and_nothing_is_written(coded, tmp_path, stage):
    for name in ("xw.csv", "rows.csv"):
        (tmp_path / name).write_bytes(coded[name.removesuffix(".csv")].read_bytes())
    (tmp_path / "xw.csv.meta.json").write_bytes(Path(f"{coded['xw']}.meta.json").read_bytes())
    call, clash = _stages(coded, tmp_path)[stage]
    for name in ("r.html", "r.json"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    with pytest.raises(InputError) as err:
        call()
    assert clash in str(err.value) and "writing it would overwrite the input" in str(err.value)
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert after == before and not [p for p in tmp_path.iterdir() if p.is_dir() and p.name != "cache"]
