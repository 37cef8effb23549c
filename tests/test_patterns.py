"""Pattern bounds (issue 21, case 13): the label-length cap, the refusal of exponential pattern
shapes at load time, and linear bundled patterns."""

import time
from re import _parser as sre_parser

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from coder.cli import cli
from coder.consistency import load_consistency_rules
from coder.errors import RuleError
from coder.patterns import MAX_MATCH_CHARS, compile_matcher, pattern_problem
from coder.raters.rules import apply_rules, load_rules
from coder.status import load_status_rules, parse_status

MAPPER_HEADER = "rule_id,status,priority,pattern,match,code,code_title,example,counterexample,note\n"
NESTED = (
    "nests a repeat inside a repeat over the same characters (like (a+)+ or (.*)*), which can backtrack "
    "exponentially (a 30-character label can hang the run) — repeat once (a+ instead of (a+)+) or put a "
    "different character between the repeats"
)
ALTERNATIVES = (
    "repeats alternatives that can match the same text (like (a|a)* or (a|aa)+), which can backtrack "
    "exponentially (a 30-character label can hang the run) — make the alternatives start with different "
    "characters, or use a character class ([ab]+ instead of (a|b)+)"
)


# --- the shape check ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern, why",
    [
        ("(a+)+$", NESTED),
        ("(.*)*", NESTED),
        ("(a*)*b", NESTED),
        ("(a*b*)*", NESTED),
        ("(a?)*", NESTED),
        (r"(\d+,?)+", NESTED),
        (r"(\w+\s?)*$", NESTED),
        ("([가-힣]+)+요리사", NESTED),
        ("x(a+){2}", NESTED),
        ("(?=(a+)+)b", NESTED),  # inside a lookahead too
        ("(a|a)*", ALTERNATIVES),
        ("(a|aa)+", ALTERNATIVES),
        ("(요리|요리요리)+", ALTERNATIVES),
        ("(a|b|)*", ALTERNATIVES),
    ],
)
def test_exponential_shapes_are_refused(pattern, why):
    assert pattern_problem(pattern) == f'pattern "{pattern}" {why}'


@pytest.mark.parametrize(
    "pattern",
    [
        "의사",
        "의사|한의사|치과의사",  # ordinary alternations
        "(건물|병원|학교)?청소원",
        "(?<!덤프)(?<!믹서)(버스|택시)(기사|운전원)",
        "[가-힣]공",
        ".+운전원|.+운전기사",
        "전직(?P<core>.+?),?현재구직중",
        "(a|ab)*c",  # alternatives that start alike but cannot split one text two ways
        "(ab*)*",  # a repeat inside a repeat, separated by a character
        r"(\d{1,3},)+",
        r"(\d|1)+",  # the parser folds it into the class [\d1]
        "(?>a+)+",  # atomic: never backtracks
        "(?:a+)++",  # possessive
        "(a{2})*",  # a fixed count inside a repeat
    ],
)
def test_ordinary_patterns_pass(pattern):
    assert pattern_problem(pattern) is None


def test_linear_mode_refuses_search_repeats_and_two_repeats_per_path():
    assert pattern_problem(".+(요리사|쿡)", "suffix") is None  # quadratic, bounded by the cap: allowed
    assert pattern_problem(".+(요리사|쿡)", "suffix", linear=True) == (
        'pattern ".+(요리사|쿡)" has an unbounded repeat (* + {n,}) in a suffix pattern, which is searched '
        "from every position: quadratic time on a long label — drop the repeat (contains already allows "
        "text around the match), or anchor the pattern with match=full (suffix .+X is full .+X)"
    )
    assert pattern_problem(".+(요리사|쿡)", "full", linear=True) is None
    assert pattern_problem(".*청소원|.*미화원", "full", linear=True) is None  # one per alternative
    assert pattern_problem("통신.*기술자.*연구원", "full", linear=True) == (
        'pattern "통신.*기술자.*연구원" has two unbounded repeats (* + {n,}) in one path, which is quadratic '
        "on a long label — keep one"
    )
    assert pattern_problem("조작원|조립원", "contains", linear=True) is None


def _bundled_patterns():
    out = []
    for r in load_rules().rules:
        out.append((f"rules/mapper.csv:{r.line} ({r.rule_id})", r.pattern, r.match))
    for name in ("default", "npk-audit-2026"):
        rules = load_consistency_rules(name)
        for r in rules.rules:
            out.extend((f"{rules.file_key}:{r.line} ({r.rule_id})", p, r.match) for p in r.patterns)
    for r in load_status_rules().rules:
        out.append((f"rules/status.csv:{r.line} ({r.status_id})", r.pattern, r.match))
    return out


def test_every_bundled_pattern_is_linear_by_shape():
    bundled = _bundled_patterns()
    assert len(bundled) > 300
    problems = [f"{where}: {why}" for where, p, m in bundled if (why := pattern_problem(p, m, linear=True))]
    assert problems == []


def _alphabet(pattern: str) -> list[str]:
    """The characters a pattern names (literals, class members, range ends), and 가 for ``.``."""
    chars = {"가"}

    def walk(seq):
        for op, av in seq:
            name = str(op)
            if name == "LITERAL":
                chars.add(chr(av))
            elif name == "IN":
                for o, a in av:
                    if str(o) == "LITERAL":
                        chars.add(chr(a))
                    elif str(o) == "RANGE":
                        chars.update((chr(a[0]), chr(a[1])))
            elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                walk(av[2])
            elif name == "SUBPATTERN":
                walk(av[-1])
            elif name == "BRANCH":
                for alt in av[1]:
                    walk(alt)
            elif name in ("ASSERT", "ASSERT_NOT"):
                walk(av[1])
            elif name == "ATOMIC_GROUP":
                walk(av)

    walk(sre_parser.parse(pattern))
    return sorted(chars)


def _adversarial(pattern: str, n: int) -> list[str]:
    alpha = _alphabet(pattern)
    cycle = "".join(alpha)
    keys = [c * n for c in alpha] + [(cycle * (n // len(cycle) + 1))[:n]]
    return keys + [k[:-1] + "!" for k in keys]  # and each one failing at its end


def test_every_bundled_pattern_is_fast_on_40000_characters_without_the_cap():
    """One generous bound: a linear pattern takes about a millisecond per key here; the old suffix
    R0261 took 7 s per key."""
    slowest = (0.0, "")
    for where, pattern, match in _bundled_patterns():
        find = compile_matcher(pattern, match, max_chars=None)
        for key in _adversarial(pattern, 40_000):
            t = time.perf_counter()
            find(key)
            slowest = max(slowest, (time.perf_counter() - t, f"{where} {pattern!r} on {key[:3]}…"))
    assert slowest[0] < 2.0, slowest


# --- R0261 ------------------------------------------------------------------------------------------


R0261 = ".+(요리사|쿡|셰프|쉐프)"


@given(st.text(alphabet="요리사쿡셰프쉐중식가a", max_size=12))
def test_r0261_as_full_match_is_the_old_suffix_rule(key):
    old = compile_matcher(R0261, "suffix")
    new = compile_matcher(R0261, "full")
    assert new(key) == old(key)


def test_r0261_is_a_linear_full_rule():
    rule = next(r for r in load_rules().rules if r.rule_id == "R0261")
    assert (rule.pattern, rule.match) == (R0261, "full")
    assert rule.hit("중식요리사") == 5 and rule.hit("요리사") is None


# --- the label-length cap --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern, match",
    [
        (".*의사", "full"),
        ("의", "prefix"),
        ("의+", "prefix"),
        ("의사", "suffix"),
        ("(?:의|치)사", "suffix"),
        ("의사", "contains"),
        ("의사+", "contains"),
    ],
)
def test_keys_longer_than_the_cap_match_nothing(pattern, match):
    fits = "의사" * (MAX_MATCH_CHARS // 2)
    over = "의" + fits
    assert len(fits) == MAX_MATCH_CHARS
    find = compile_matcher(pattern, match)
    assert find(fits) is not None
    assert find(over) is None
    assert compile_matcher(pattern, match, max_chars=None)(over) is not None


def test_the_mapper_flags_a_long_label_and_codes_a_short_one():
    long = "중식" * 200 + "요리사"
    res = apply_rules([long, "중식 요리사"])
    assert res.codes == ("", "44")
    assert res.flags == (("too_long",), ())
    assert res.rule_ids == ("", "R0261")
    assert res.details[0] == f"label key longer than {MAX_MATCH_CHARS} characters: no rule tried"


def test_status_and_consistency_rules_skip_a_long_label():
    long = "전직 " + "가" * 300 + ", 현재 구직중"
    assert parse_status(["전직간호사,현재구직중", long.replace(" ", "")])[1].status == ""
    rule = load_consistency_rules().get("C03")
    assert rule.hit("건물청소원") and not rule.hit("가" * 300 + "청소원")


# --- user patterns refused at load -----------------------------------------------------------------


def test_a_user_mapper_with_a_nested_repeat_is_refused_at_load(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text(
        MAPPER_HEADER
        + "R9001,active,90,(a+)+$,full,2,전문가 및 관련 종사자,aaa,,x\n"
        + "R9002,retired,90,(a+)+$,full,2,전문가 및 관련 종사자,aaa,,retired: never runs\n"
        + "R9003,active,90,(a|a)*b,contains,2,전문가 및 관련 종사자,ab,,x\n",
        encoding="utf-8",
    )
    with pytest.raises(RuleError) as info:
        load_rules(path)
    assert str(info.value) == (
        f"{path}: 2 problem(s):\n"
        f'  {path}:2 (R9001): pattern "(a+)+$" {NESTED}\n'
        f'  {path}:4 (R9003): pattern "(a|a)*b" {ALTERNATIVES}\n'
        "Fix these rows or set status=retired."
    )
    (tmp_path / "in.csv").write_text("x\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["code", str(tmp_path / "in.csv"), "--text-col", "x", "-o", str(tmp_path / "o.csv"), "--rules", str(path)]
    )
    assert result.exit_code == 1
    assert f'{path}:2 (R9001): pattern "(a+)+$" nests a repeat inside a repeat' in result.output


def test_a_consistency_rule_with_a_nested_repeat_is_refused_at_load(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        '[[rule]]\nid = "X01"\ndescription = "d"\npatterns = ["경비원", "(.*)*경비"]\ncode = "9421"\n'
        'citation = [{ code = "9421" }]\noverrides = []\nexamples = ["경비원"]\n',
        encoding="utf-8",
    )
    with pytest.raises(RuleError) as info:
        load_consistency_rules(path)
    assert str(info.value) == (
        f"{path}: 1 problem(s):\n"
        f'  {path}:1 (X01): pattern "(.*)*경비" {NESTED}\n'
        'Fix these rules or set status = "retired".'
    )


def test_a_status_rule_with_a_nested_repeat_is_refused_at_load(tmp_path):
    path = tmp_path / "status.csv"
    path.write_text(
        "status_id,status,pattern,match,example,counterexample,note\nS1,not_employed,(무+)+직,full,무직,,\n",
        encoding="utf-8",
    )
    with pytest.raises(RuleError) as info:
        load_status_rules(path)
    assert info.value.problems == [f'{path}:2 (S1): pattern "(무+)+직" {NESTED}']


# --- end to end -------------------------------------------------------------------------------------


def test_a_40000_character_label_codes_and_checks_quickly(tmp_path):
    """Before: 8–10 s in the mapper alone (R0261); now well under a second (fuzzy takes most of it)."""
    src = tmp_path / "in.csv"
    pd.DataFrame({"occupation": ["가" * 40_000, "중식 요리사", "건물 청소원"]}).to_csv(src, index=False)
    runner = CliRunner()
    t = time.perf_counter()
    result = runner.invoke(
        cli,
        [
            "code",
            str(src),
            "--text-col",
            "occupation",
            "-o",
            str(tmp_path / "o.csv"),
            "--crosswalk",
            str(tmp_path / "x.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    checked = runner.invoke(cli, ["check", str(tmp_path / "x.csv"), "-o", str(tmp_path / "c.csv")])
    assert checked.exit_code == 0, checked.output
    assert time.perf_counter() - t < 5.0
    xw = pd.read_csv(tmp_path / "x.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    long = xw[xw["label_key"].str.len() > MAX_MATCH_CHARS].iloc[0]
    assert (long["rule_code"], long["rule_flags"]) == ("", "too_long")
    assert xw.set_index("label_key").loc["중식요리사", "rule_code"] == "44"
