import pytest

from coder.codes import load_codes
from coder.errors import RuleError
from coder.normalize import label_key
from coder.raters.rules import apply_rules, check_examples, load_rules, match_rules

HEADER = "rule_id,status,priority,pattern,match,code,code_title,example,counterexample,note\n"


def _write(tmp_path, body, name="mapper.csv"):
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_bundled_mapper_loads_and_every_example_holds():
    rules = load_rules()
    assert len(rules.active) >= 100
    assert check_examples(rules) == []


def test_bundled_codes_exist_and_agree_with_titles():
    codes = load_codes()
    for rule in load_rules().rules:
        assert rule.code in codes, rule.rule_id
        assert rule.code_title == codes.title(rule.code), rule.rule_id
        assert rule.note, f"{rule.rule_id} has no note"


def test_bundled_rule_ids_are_unique_and_stable():
    ids = [r.rule_id for r in load_rules().rules]
    assert len(ids) == len(set(ids))
    assert ids == sorted(ids)


def test_rules_never_contradict_exact_titles():
    """On a KSCO-7 title, the winning rule (if any) stays in the title's lineage."""
    codes, rules = load_codes(), load_rules()
    bad = []
    for key, found in codes.by_title_key.items():
        hits = match_rules(key, rules)
        if hits and not codes.same_lineage(hits[0].code, found[0]):
            bad.append((codes.title(found[0]), found[0], hits[0].rule_id, hits[0].code))
    assert len(bad) <= 0.02 * len(codes.by_title_key), bad[:20]


def test_several_bad_rows_one_error_with_line_numbers(tmp_path):
    path = _write(
        tmp_path,
        "R0001,active,90,택시기사,full,87310,택시 운전원,택시 기사,,ok\n"
        "R0002,active,50,(의사,full,2,전문가 및 관련 종사자,,,x\n"
        "R0003,active,50,간호사,full,2411,틀린 제목,,,x\n"
        "R0001,active,500,의사,suffix,2,전문가 및 관련 종사자,,,x\n"
        "R0005,active,50,의사,sometimes,2,전문가 및 관련 종사자,,,x,extra\n",
    )
    with pytest.raises(RuleError) as info:
        load_rules(path)
    assert str(info.value) == (
        f"{path}: 5 problem(s):\n"
        f'  {path}:3 (R0002): pattern "(의사" does not compile (missing ), unterminated subpattern at position 0)\n'
        f"  {path}:4 (R0003): code_title '틀린 제목' is not the title of 2411 ('전문 의사')\n"
        f"  {path}:5 (R0001): rule_id R0001 is already used on line 2\n"
        f"  {path}:5 (R0001): priority '500' is not an integer from 1 to 100\n"
        f"  {path}:6 (R0005): 1 cell(s) more than the header — quote fields that contain commas\n"
        "Fix these rows or set status=retired."
    )
    assert len(info.value.problems) == 5


def test_code_not_in_ksco7(tmp_path):
    path = _write(tmp_path, "R0001,active,90,택시기사,full,87311,택시 운전원,택시 기사,,x\n")
    with pytest.raises(RuleError) as info:
        load_rules(path)
    assert str(info.value) == (
        f"{path}: 1 problem(s):\n  {path}:2 (R0001): code '87311' is not in ksco7\nFix these rows or set status=retired."
    )


def test_missing_columns(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("rule_id,pattern,code\nR0001,x,1\n", encoding="utf-8")
    with pytest.raises(RuleError, match=r"missing column\(s\) status, priority, match, code_title, example"):
        load_rules(path)


def test_all_hits_priority_and_conflicts(tmp_path):
    path = _write(
        tmp_path,
        "R0001,active,40,사무원,suffix,3,사무 종사자,회계 사무원,,generic\n"
        "R0002,active,80,회계사무원,full,31310,회계 사무원,,,specific\n"
        "R0003,active,80,회계.*,prefix,2,전문가 및 관련 종사자,,,conflicting\n"
        "R0004,retired,99,회계사무원,full,9,단순노무 종사자,,,retired never fires\n",
    )
    rules = load_rules(path, bundled=False)
    hits = match_rules(label_key("회계 사무원"), rules)
    assert [h.rule_id for h in hits] == ["R0002", "R0003", "R0001"]
    result = apply_rules(["회계사무원", "일반사무원", "없음"], rules)
    assert result.codes == ("31310", "3", "")
    assert result.details == ("R0002", "R0001", "")
    assert result.extra["hits"][0] == "R0002=31310 R0003=2 R0001=3"
    assert result.extra["conflict"] == (True, False, False)


def test_tie_breaks_deeper_code_then_longer_match(tmp_path):
    path = _write(
        tmp_path,
        "R0001,active,50,기사,suffix,8,장치·기계 조작 및 조립 종사자,,,x\n"
        "R0002,active,50,택시기사,suffix,87310,택시 운전원,,,x\n"
        "R0003,active,50,시기사,suffix,8,장치·기계 조작 및 조립 종사자,,,x\n",
    )
    hits = match_rules("택시기사", load_rules(path, bundled=False))
    assert [h.rule_id for h in hits] == ["R0002", "R0003", "R0001"]


def test_user_rules_go_ahead_of_bundled_rules(tmp_path):
    path = _write(tmp_path, "R9001,active,1,택시기사,full,8,장치·기계 조작 및 조립 종사자,택시 기사,,user rule\n")
    merged = load_rules(path)
    bundled = load_rules()
    assert len(merged.rules) == len(bundled.rules) + 1
    assert list(merged.files) == [str(path.resolve()), bundled.path]
    assert merged.files[bundled.path] == bundled.sha256
    assert (merged.path, merged.sha256) == (str(path.resolve()), merged.files[str(path.resolve())])
    # priority 1 user rule beats the priority 90 bundled R0010
    hits = match_rules("택시기사", merged)
    assert [h.rule_id for h in hits[:2]] == ["R9001", "R0010"]
    assert apply_rules(["택시기사", "간호사"], merged).codes[0] == "8"
    alone = load_rules(path, bundled=False)
    assert [r.rule_id for r in alone.rules] == ["R9001"]
    assert list(alone.files) == [alone.path]


def test_rule_id_in_both_files_is_an_error(tmp_path):
    path = _write(tmp_path, "R0010,active,90,택시기사,full,87310,택시 운전원,택시 기사,,x\n")
    bundled = load_rules()
    line = next(r.line for r in bundled.rules if r.rule_id == "R0010")
    with pytest.raises(RuleError) as info:
        load_rules(path)
    assert f"{path.resolve()}:2 and {bundled.path}:{line}: rule_id R0010" in str(info.value)
    assert load_rules(path, bundled=False).rules[0].rule_id == "R0010"


def test_edited_mapper_is_read_again(tmp_path):
    import os

    path = _write(tmp_path, "R0001,active,90,택시기사,full,87310,택시 운전원,택시 기사,,x\n")
    first = load_rules(path, bundled=False)
    path.write_text(
        HEADER
        + "R0001,active,90,택시기사,full,8731,택시 운전원,택시 기사,,x\n".replace(
            "8731,택시 운전원", "873,자동차 운전원"
        ),
        encoding="utf-8",
    )
    ns = os.stat(path).st_mtime_ns + 10**9
    os.utime(path, ns=(ns, ns))
    second = load_rules(path, bundled=False)
    assert second.rules[0].code == "873"
    assert second.sha256 != first.sha256


def test_rater_fields(tmp_path):
    path = _write(
        tmp_path,
        "R0002,active,80,회계사무원,full,31310,회계 사무원,,,specific\n"
        "R0003,active,80,회계.*,prefix,2,전문가 및 관련 종사자,,,conflicting\n",
    )
    result = apply_rules(["회계사무원", "없음"], load_rules(path, bundled=False))
    assert result.rule_ids == ("R0002", "")
    assert result.flags == (("conflict",), ())
    assert result.candidates == ((("31310", 0.8), ("2", 0.8)), ())


@pytest.mark.parametrize(
    ("label", "code"),
    [
        ("편의점 알바", "52129"),
        ("편의점알바생", "52129"),
        ("공장 다님", "8"),
        ("요양원 근무", "421"),
        ("식당 근무", "44"),
        ("카페 알바생", "44151"),
        ("쿠팡 알바", "92"),
        ("공사장 다님", "91001"),
    ],
)
def test_colloquial_place_forms(label, code):
    assert apply_rules([label_key(label)]).codes == (code,)


def test_bucketed_matching_finds_exactly_the_rules_that_fire():
    """The character prefilter only skips rules that cannot fire (brute force over real labels)."""
    from coder.demo import DEMO_DATA
    from coder.io import read_table
    from coder.normalize import label_key
    from coder.raters.rules import load_rules, match_rules
    from coder.resources import data_path, read_csv_rows

    rules = load_rules()
    keys = {label_key(x) for x in read_table(DEMO_DATA)["occupation"]}
    keys |= {label_key(row["title_ko"]) for _, row in read_csv_rows(data_path("crosswalks", "ksco7.csv"))}
    keys |= {label_key(row["text"]) for _, row in read_csv_rows(data_path("crosswalks", "jobdict_index.csv"))[::5]}
    keys |= {label_key(x) for r in rules.active for x in (*r.examples, *r.counterexamples)}
    for key in sorted(keys):
        brute = sorted(r.rule_id for r in rules.active if r.hit(key) is not None)
        assert sorted(h.rule_id for h in match_rules(key, rules)) == brute, key


@pytest.mark.parametrize(
    ("pattern", "chars"),
    [
        ("경비원", "경비원"),
        ("(일반)?경비원", "경비원"),
        (".*(기사|기능사)", "기사"),
        (r"택시\s*기사", "택시기사"),
        ("[가-힣]+판매원", "판매원"),
        ("a+b?c{2,3}", "ac"),
        ("(?i)abc", ""),
        ("(a|b)", ""),
    ],
)
def test_required_chars_is_a_safe_under_estimate(pattern, chars):
    from coder.raters.rules import required_chars

    assert required_chars(pattern) == frozenset(chars)


def test_depth_column_is_optional_and_checked(tmp_path):
    header = "rule_id,status,priority,pattern,match,code,code_title,example,counterexample,note,depth\n"
    good = tmp_path / "good.csv"
    good.write_text(header + "R0001,active,90,선생,full,25,교육 전문가 및 관련직,선생,,vague,final\n", encoding="utf-8")
    result = apply_rules(["선생"], load_rules(good, bundled=False))
    assert (result.codes, result.extra["depth_final"]) == (("25",), (True,))
    bad = tmp_path / "bad.csv"
    bad.write_text(header + "R0001,active,90,선생,full,25,교육 전문가 및 관련직,선생,,vague,deep\n", encoding="utf-8")
    with pytest.raises(RuleError) as info:
        load_rules(bad, bundled=False)
    assert info.value.problems == [f"{bad}:2 (R0001): depth 'deep' is not 'final' or blank"]
    old = _write(tmp_path, "R0001,active,90,선생,full,25,교육 전문가 및 관련직,선생,,vague\n")  # no depth column
    assert apply_rules(["선생"], load_rules(old, bundled=False)).extra["depth_final"] == (False,)
