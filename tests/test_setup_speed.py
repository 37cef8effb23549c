"""The setup every run loads (code list, rules and their lookup tables, job-dictionary index) is what the
former code loaded (issue 22).

Three shortcuts took ``coder.pipeline._ready_setup(None, True)`` from ~0.2 s to ~0.07 s of CPU in a
fresh process; each is checked here against the former code, kept as the reference:

* :func:`coder.patterns.alternation_texts` reads a pattern of literals, groups, ``|`` and ``?`` (317
  of the 319 bundled rules) without ``re``'s parser: such a pattern always compiles, passes
  :func:`~coder.patterns.pattern_problem` and has the texts :func:`~coder.raters.rules.finite_texts`
  finds through ``re``'s parser.  The former code is the same functions with that shortcut switched
  off (``alternation_texts`` patched to answer None), and ``re.compile`` as the compile check.
* :func:`coder.normalize.normalize_label` and :func:`~coder.normalize.label_key` return a text of
  Hangul and digit runs, one space or ``·`` between two runs, as it is (the key without its spaces
  and dots); the former: the same functions with that shortcut switched off.
* :func:`coder.resources.iter_csv_rows` builds ``csv.DictReader``'s rows from ``csv.reader``, and
  the code list and job dictionary read :func:`~coder.resources.iter_csv_cells`' lists by column; the
  former ``read_csv_rows`` (through DictReader), code-list reader and ``read_jobdict`` are kept here
  verbatim.

Compared: every bundled pattern, generated patterns (hypothesis) and odd ones (their texts, compile
check, pattern_problem in every mode, the load errors of a user file), the whole RuleSet and its
lookup tables, the CodeList, the JobIndex (entries, keys, hashes), the normal forms and keys of the
titles, names, NPK labels, synthetic labels and odd texts, and the rows of the bundled and odd CSVs.
The index rater answers a key of one entry without sorting (the former rater is kept here too).
The speed is measured in fresh processes (``_ready_setup``'s process time, 7 runs, see the commit).
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import io
import math
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import coder.codes as codes_module
import coder.normalize as normalize_module
import coder.patterns as patterns_module
import coder.raters.index as index_module
import coder.raters.rules as rules_module
import coder.resources as resources_module
from coder.codes import Code, CodeList, load_codes
from coder.errors import CoderError, CrosswalkError, InputError, RuleError
from coder.io import decode_text, file_delimiter
from coder.normalize import label_key, normalize_label
from coder.patterns import MATCH_MODES, _alternation, alternation_texts, is_alternation, pattern_problem
from coder.raters.base import RaterResult
from coder.raters.index import JOBDICT_FILE, IndexEntry, build_index, index_rater, load_index, read_jobdict
from coder.raters.rules import finite_texts, key_again, load_rules
from coder.resources import data_path, file_sha256, read_csv_rows

HERE = Path(__file__).parent
HEADER = "rule_id,status,priority,pattern,match,code,code_title,example,counterexample,note\n"


# --------------------------------------------------------------------------- the former code


def old_read_csv_rows(path, required=(), *, error=InputError, what="CSV file", one_of=()):
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise error(f"{path}: {what} not found — pass an existing file.", path=path) from None
    except IsADirectoryError:
        raise error(f"{path}: {what} is a directory — pass a file.", path=path) from None
    try:
        text = decode_text(data, path=path)
        delimiter = file_delimiter(path, text)
    except InputError as exc:
        raise error(str(exc), path=path, line=getattr(exc, "line", None)) from None
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [c.strip() for c in (reader.fieldnames or [])]
    reader.fieldnames = header
    missing = [c for c in required if c not in header]
    if missing or (one_of and not any(c in header for c in one_of)):
        need = ",".join(required) + (f" and one of {'/'.join(one_of)}" if one_of else "")
        found = ", ".join(h for h in header if h) or "no header"
        lacks = f"missing column(s) {', '.join(missing)}" if missing else f"none of the columns {', '.join(one_of)}"
        raise error(
            f"{path}: {what} has {lacks} (found {found}) — the header must have {need}.",
            path=path,
        )
    return list(enumerate(reader, start=2))


def old_iter_csv_rows(path, required=(), *, error=InputError, what="CSV file", one_of=()):
    return iter(old_read_csv_rows(path, required, error=error, what=what, one_of=one_of))


def old_read_codes(path, name):
    problems = []
    codes = {}
    rows = old_read_csv_rows(path, codes_module._COLUMNS, error=CrosswalkError, what="code list")
    for line, row in rows:
        code = (row["code"] or "").strip()
        title = normalize_label(row["title_ko"])
        try:
            level = int(row["level"])
        except ValueError:
            problems.append(f"line {line}: level {row['level']!r} is not a number")
            continue
        if not code or not title:
            problems.append(f"line {line}: empty code or title")
            continue
        if len(code) != level:
            problems.append(f"line {line}: code {code} has {len(code)} characters but level {level}")
        if code in codes:
            problems.append(f"line {line}: code {code} appears twice")
            continue
        codes[code] = Code(code, title, level, (row["parent_code"] or "").strip())
    for c in codes.values():
        if c.level > 1 and c.parent not in codes:
            problems.append(f"code {c.code}: parent {c.parent or '(none)'} is not in the list")
        elif c.level > 1 and not c.code.startswith(c.parent):
            problems.append(f"code {c.code}: parent {c.parent} is not its prefix")
    if problems:
        raise CrosswalkError(f"{path}: bad code list — " + "; ".join(problems) + ".", path=path)
    index = {}
    for c in codes.values():
        index.setdefault(label_key(c.title), []).append(c.code)
    by_key = {k: tuple(sorted(v, key=lambda x: (-codes[x].level, x))) for k, v in index.items()}
    return CodeList(name=name, path=str(path), sha256=file_sha256(path), codes=codes, by_title_key=by_key)


def old_read_jobdict(path, codes):
    path = Path(path)
    if not path.is_file():
        raise CrosswalkError(
            f"{path}: job dictionary not found — restore crosswalks/{JOBDICT_FILE} or pass an existing file.", path=path
        )
    rows = old_read_csv_rows(path, index_module._JOBDICT_COLUMNS[:4], error=CrosswalkError, what="job dictionary")
    entries = []
    problems = []
    for line, row in rows:
        text = normalize_label(row["text"])
        code = (row["ksco_code"] or "").strip()
        kind = (row["kind"] or "").strip()
        job_id = (row["job_id"] or "").strip()
        if not text or not job_id:
            problems.append(f"line {line}: empty text or job_id")
            continue
        if code not in codes or codes.level(code) != 4:
            problems.append(f"line {line}: code {code!r} is not a 4-digit KSCO-7 unit group")
            continue
        if kind not in index_module._KINDS:
            problems.append(f"line {line}: kind {kind!r} is not one of {', '.join(index_module._KINDS)}")
            continue
        entries.append(IndexEntry(text, label_key(text), code, "jobdict", job_id, kind))
    if problems:
        raise CrosswalkError(
            f"{path}: bad job-dictionary rows — " + "; ".join(problems) + ". Fix the rows or remove them.",
            path=path,
        )
    return entries


def old_index_rater(keys, *, index, codes):
    out_codes, scores, details, counts, flags, cands = [], [], [], [], [], []
    memo = {}
    for key in keys:
        if key not in memo:
            found = index.by_key.get(key_again(key), ())
            if found:
                code, detail = index_module._resolve(found, codes)
                distinct = sorted({e.code for e in found}, key=lambda c: (-codes.level(c), c))
                memo[key] = (
                    code,
                    detail,
                    len(found),
                    () if code else ("ambiguous",),
                    tuple((c, 1.0) for c in distinct),
                )
            else:
                memo[key] = ("", "", 0, (), ())
        code, detail, n, flag, cand = memo[key]
        out_codes.append(code)
        scores.append(1.0 if code else math.nan)
        details.append(detail)
        counts.append(n)
        flags.append(flag)
        cands.append(cand)
    return RaterResult(
        "index",
        tuple(keys),
        tuple(out_codes),
        tuple(scores),
        tuple(details),
        {"n_entries": tuple(counts)},
        flags=tuple(flags),
        candidates=tuple(cands),
    )


class _OldCompile:
    """``re.compile`` for every pattern (the former compile check): the shortcut answers None."""

    @staticmethod
    def alternation_texts(pattern):
        return None

    @staticmethod
    def is_alternation(pattern):
        return False


def _clear_caches():
    codes_module._cached.cache_clear()
    rules_module._load.cache_clear()
    index_module._cached.cache_clear()
    _alternation.cache_clear()


@contextlib.contextmanager
def former(monkeypatch):
    """The former code: no pattern shortcut, no settled-text shortcut, DictReader rows; fresh caches."""
    with monkeypatch.context() as m:
        for mod in (patterns_module, rules_module):
            m.setattr(mod, "alternation_texts", _OldCompile.alternation_texts)
            m.setattr(mod, "is_alternation", _OldCompile.is_alternation)
        m.setattr(normalize_module, "_SETTLED_RE", re.compile("(?!)"))
        m.setattr(resources_module, "iter_csv_rows", old_iter_csv_rows)
        for mod in (codes_module, rules_module, index_module):
            if hasattr(mod, "iter_csv_rows"):
                m.setattr(mod, "iter_csv_rows", old_iter_csv_rows)
        _clear_caches()
        try:
            yield
        finally:
            _clear_caches()
    _clear_caches()


def _bundled_patterns() -> list[str]:
    out = []
    for name in ("mapper.csv", "status.csv"):
        out += [row["pattern"] for _, row in old_read_csv_rows(data_path("rules", name))]
    return out


def _old_finite(pattern, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(rules_module, "alternation_texts", _OldCompile.alternation_texts)
        return finite_texts(pattern)


def _old_problems(pattern, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(patterns_module, "is_alternation", _OldCompile.is_alternation)
        return [pattern_problem(pattern, mode, linear=linear) for mode in MATCH_MODES for linear in (False, True)]


def _same_pattern(pattern, monkeypatch):
    """The shortcut agrees with the former code on ``pattern``; returns whether it took the pattern."""
    _alternation.cache_clear()
    texts = alternation_texts(pattern)
    assert finite_texts(pattern) == _old_finite(pattern, monkeypatch), pattern
    assert is_alternation(pattern) is (texts is not None)
    if texts is None:
        return False
    re.compile(pattern)  # the grammar's patterns compile
    assert finite_texts(pattern) == texts, pattern
    assert _old_problems(pattern, monkeypatch) == [None] * 8, pattern
    assert [pattern_problem(pattern, mode, linear=lin) for mode in MATCH_MODES for lin in (False, True)] == [None] * 8
    return True


# --------------------------------------------------------------------------- patterns


def test_every_bundled_pattern_reads_as_before(monkeypatch):
    patterns = _bundled_patterns()
    taken = sum(_same_pattern(p, monkeypatch) for p in patterns)
    assert taken >= 300  # 317 of the 319 rules (the status rules' lazy groups are not in the grammar)


ODD = [
    "",
    "|",
    "a|",
    "|a",
    "a||b",
    "()",
    "(?:)",
    "()?",
    "(?:)?",
    "(|a)?",
    "a?",
    "a??",
    "a?+",
    "a?*",
    "?a",
    "a|?",
    "(?a)",
    "(?i)a",
    "(?P<x>a)",
    "(?=a)a",
    "(?<!a)b",
    "((a))",
    "(a",
    "a)",
    "(a))",
    "((a)",
    "\\(a\\)",
    "\\(a\\)?",
    "a\\",
    "\\d",
    "\\1",
    "\\.",
    "\\|",
    "\\?",
    "a{2}",
    "a{",
    "a}",
    "]",
    "[a]",
    "a.b",
    "^a",
    "a$",
    "a*",
    "a+",
    "가나다?",
    "(가|나)(다|라)?마",
    "공무원\\(행정직\\)",
    "a b",
    "a,b",
    "a#b",
    "a\nb",
    "a\x00b",
    "|".join("abcdefghijklmnopqrstuvwxyz"),
    "|".join(chr(0xAC00 + i) for i in range(256)),
    "|".join(chr(0xAC00 + i) for i in range(257)),  # 257 one-character alternatives: a class too wide
    "|".join(chr(0xAC00 + i) for i in range(300)),
    "(" + "|".join(chr(0xAC00 + i) for i in range(257)) + ")",
    "(a|b)" * 8,  # 256 texts
    "(a|b)" * 9,  # 512: given up (finite_texts takes it through re's parser)
    "(a|b|c|d)" * 7,  # 16,384: more than finite_texts expands
    "(a?)" * 9,
    "((a|b)?)?" * 4,
    "(" * 31 + "a" + ")" * 31,
    "(" * 33 + "a" + ")" * 33,
    "(?:" * 40 + "a" + ")" * 40,
    "a" * 10_001,
    "(a|b)" * 12,  # 4,096 texts
    "(a|b)" * 13,  # 8,192: more than finite_texts expands
    "(" + "|".join("가" + chr(0xAC00 + i) for i in range(256)) + ")",
    "(" + "|".join("가" + chr(0xAC00 + i) for i in range(257)) + ")",  # re's parser: 가[257 characters]
    "|".join("가" + chr(0xAC00 + i) for i in range(257)),
    "|".join("가나" * 40 + chr(0xAC00 + i) for i in range(200)) + "|" + "|".join("(a|b)" * 4 for _ in range(20)),
    "(?<!a)b",
    "(?<!a)(?<!bc)d|e|(?<!f)",
    "(?<!)a",
    "(?<!a|b)c",
    "(?<!a|bc)d",  # not of one width: does not compile
    "(?<!a?)b",
    "(?<!(a|b)c)d",
    "(?<!(?<!a)b)c",
    "a(?<!b)c",
    "(a)(?<!b)c",
    "()(?<!b)c",
    "(?:(?<!b)c)",
    "(?<!b)?c",
    "(?<!b",
    "(?<=b)c",
    "수리원|(?<!독)수리",
]


@pytest.mark.parametrize("pattern", ODD, ids=range(len(ODD)))
def test_odd_patterns_read_as_before(pattern, monkeypatch):
    _same_pattern(pattern, monkeypatch)


TOKENS = [
    "(?<!",
    "(?<!a)",
    "(?<!ab|cd)",
    "(?<!a|bc)",
    "a",
    "b",
    "가",
    "다",
    "(",
    ")",
    "(?:",
    "|",
    "?",
    "\\(",
    "\\)",
    "\\|",
    "\\?",
    ".",
    "*",
    "+",
    "\\",
    "{1}",
    "[a]",
    "(?<!a)",
    "x y",
]


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=14).map("".join))
def test_generated_patterns_read_as_before(pattern):
    with pytest.MonkeyPatch.context() as monkeypatch:
        _same_pattern(pattern, monkeypatch)


BAD = [
    "(",
    ")",
    "a)",
    "?a",
    "a**",
    "[",
    "a\\",
    "(?<!a|bb)x",
    "(a+)+",
    "(a|a)*",
    "(?P<x>a)(?P<x>b)",
]


def test_a_user_file_of_bad_patterns_is_refused_with_the_same_message(tmp_path, monkeypatch):
    rows = [f'R9{i:03d},active,50,"{p}",full,94111,건물 청소원,,,' for i, p in enumerate(BAD)]
    rows += [f'R9{i + 100:03d},active,50,"{p}",suffix,94111,건물 청소원,,,' for i, p in enumerate(BAD)]
    path = tmp_path / "user.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    _clear_caches()
    with pytest.raises(RuleError) as new:
        load_rules(path, bundled=False)
    with former(monkeypatch), pytest.raises(RuleError) as old:
        load_rules(path, bundled=False)
    assert str(new.value) == str(old.value)
    assert new.value.problems == old.value.problems
    assert len(new.value.problems) == 2 * len(BAD)


# --------------------------------------------------------------------------- the loaded setup


def _buckets(bucket):
    by_first, by_last, by_char, always = bucket
    ids = lambda items: [(i[0].rule_id, i[2], i[3], i[4]) for i in items]  # noqa: E731
    return [{k: ids(v) for k, v in d.items()} for d in (by_first, by_last, by_char)] + [ids(always)]


def _setup_now():
    _clear_caches()
    codes = load_codes()
    rules = load_rules(codes=codes)
    look = rules._fast
    return (
        codes,
        rules,
        (look.full, look.suffix, look.lengths, look.n_rest, _buckets(look.rest), _buckets(look.anchored)),
        _buckets(rules._buckets),
        load_index(codes=codes),
    )


def test_the_setup_is_what_the_former_code_loaded(monkeypatch):
    codes, rules, look, buckets, index = _setup_now()
    with former(monkeypatch):
        old_codes, old_rules, old_look, old_buckets, old_index = _setup_now()
    for field in ("name", "path", "sha256", "codes", "by_title_key"):
        assert getattr(codes, field) == getattr(old_codes, field), field
    assert list(codes.codes) == list(old_codes.codes)
    assert rules == old_rules and rules.sha256 == old_rules.sha256 and rules.files == old_rules.files
    assert look == old_look
    assert buckets == old_buckets
    assert index.entries == old_index.entries
    assert index.by_key == old_index.by_key and list(index.by_key) == list(old_index.by_key)
    assert index.sha256 == old_index.sha256
    assert index == old_index


def test_the_lookup_tables_share_equal_values():
    look = load_rules()._fast
    singles = [v for v in look.full.values() if len(v) == 1]
    assert len({id(v) for v in singles}) == len({v[0].rule_id for v in singles})
    pairs = [p for v in look.suffix.values() for p in v]
    assert len({id(p) for p in pairs}) == len({(p[0].rule_id, p[1]) for p in pairs})


def test_a_user_file_with_the_bundled_one_is_what_the_former_code_loaded(tmp_path, monkeypatch):
    path = tmp_path / "user.csv"
    path.write_text(
        HEADER
        + "R9001,active,60,(병원|학교)?청소(원|부)?,full,94111,건물 청소원,병원 청소원,,\n"
        + "R9002,active,60,(?<!호텔)미화원,suffix,94111,건물 청소원,미화원,,\n"
        + "R9003,retired,60,(a+)+,full,94111,건물 청소원,,,\n"
        + "R9004,active,60,.+청소원,full,94111,건물 청소원,,,\n",
        encoding="utf-8",
    )
    _clear_caches()
    new = load_rules(path)
    look = new._fast
    with former(monkeypatch):
        old = load_rules(path)
        old_look = old._fast
        assert (look.full, look.suffix, look.lengths, look.n_rest) == (
            old_look.full,
            old_look.suffix,
            old_look.lengths,
            old_look.n_rest,
        )
        assert _buckets(look.rest) == _buckets(old_look.rest)
    assert new == old and new.files == old.files


# --------------------------------------------------------------------------- label texts


def _bench_synthetic(n):
    spec = importlib.util.spec_from_file_location("bench_scale", HERE.parent / "bench" / "bench_scale.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench.synthetic_labels(n)


def _texts():
    out = [row["title_ko"] for _, row in old_read_csv_rows(data_path("crosswalks", "ksco7.csv"))]
    out += [row["text"] for _, row in old_read_csv_rows(data_path("crosswalks", "jobdict_index.csv"))]
    npk = Path(codes_module.__file__).parent / "demo_data" / "npk_occupation.csv"
    out += [row["occupation"] for _, row in old_read_csv_rows(npk)]
    out += (HERE / "data" / "non_occupations.txt").read_text(encoding="utf-8").splitlines()
    out += _bench_synthetic(3000)
    return out


ODD_TEXTS = [
    "",
    " ",
    "1",
    "12",
    "1 2",
    "1·2",
    "가",
    "가 나",
    "가·나",
    "가 · 나",
    "가 ·나",
    "가· 나",
    "가  나",
    " 가",
    "가 ",
    "·가",
    "가·",
    "가··나",
    "가ㆍ나",
    "가•나",
    "가\u318d나",
    "가\u119e나",
    "가\u200b나",
    "가\t나",
    "가\n나",
    "가\u3000나",
    "１２",
    "가１",
    "\u1100\u1161",
    "가\u11a8",
    "각",
    "가(나)",
    "NA",
    "na",
    "-",
    "가-나",
]


def test_normal_forms_and_keys_are_the_former_ones(monkeypatch):
    texts = _texts() + ODD_TEXTS
    new = [(normalize_label(t), label_key(t)) for t in texts]
    with former(monkeypatch):
        old = [(normalize_label(t), label_key(t)) for t in texts]
    assert new == old


@settings(max_examples=1500, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(["가", "힣", "1", "0", " ", "·", "ㆍ", "\u119e", "a", "(", "\u11a8", "\u3000"]),
        max_size=8,
    )
)
def test_generated_texts_normalise_as_before(text):
    new = (normalize_label(text), label_key(text))
    with pytest.MonkeyPatch.context() as m:
        m.setattr(normalize_module, "_SETTLED_RE", re.compile("(?!)"))
        assert new == (normalize_label(text), label_key(text))


# --------------------------------------------------------------------------- CSV rows

ODD_CSV = [
    "",
    "\n",
    "a,b\n",
    "a,b",
    "a,b\n1,2",
    "a,b\n1,2\n",
    "a,b\n\n1,2\n\n\n3,4\n",
    "a,b\r\n1,2\r\n",
    "a,b\r1,2\r",
    "a,b\n1\n",
    "a,b\n1,2,3,4\n",
    "a,a\n1,2\n",
    "a,b,a\n1\n",
    " a , b \n1,2\n",
    "\na,b\n1,2\n",
    ',b\n"x,y",2\n',
    'a,b\n"line\none",2\n',
    'a,b\n"q""uote",2\n',
    "\ufeffa,b\n1,2\n",
    "a,b\n,\n",
]


@pytest.mark.parametrize("text", ODD_CSV, ids=range(len(ODD_CSV)))
@pytest.mark.parametrize("required", [(), ("a",), ("a", "c")])
def test_csv_rows_are_the_former_ones(text, required, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8", newline="")
    outcomes = []
    for read in (read_csv_rows, old_read_csv_rows):
        try:
            outcomes.append(read(path, required, error=CrosswalkError, what="table"))
        except CoderError as exc:
            outcomes.append((type(exc), str(exc)))
    assert outcomes[0] == outcomes[1]


ODD_BYTES = [
    "a,b\n청소원,1\n".encode(),
    "\ufeffa,b\n청소원,1\n".encode(),
    b"\xef\xbb\xbf" + "a,b\n청소원,1\n".encode("cp949"),  # a byte-order mark, then cp949
    "a,b\n청소원,1\n".encode("cp949"),
    "a,b\n청소원,1\n".encode() + "경비원,2\n".encode("cp949"),  # UTF-8 and cp949 lines
    b"a,b\n\xff\xfe,1\n",
    b"",
]


@pytest.mark.parametrize("data", ODD_BYTES, ids=range(len(ODD_BYTES)))
def test_csv_bytes_decode_as_before(data, tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(data)
    outcomes = []
    for read in (read_csv_rows, old_read_csv_rows):
        try:
            outcomes.append(read(path, ("a",), error=CrosswalkError, what="table"))
        except CoderError as exc:
            outcomes.append((type(exc), str(exc), exc.line))
    assert outcomes[0] == outcomes[1]


def test_bundled_csv_rows_are_the_former_ones():
    for folder, name in (
        ("crosswalks", "ksco7.csv"),
        ("crosswalks", "jobdict_index.csv"),
        ("rules", "mapper.csv"),
        ("rules", "status.csv"),
    ):
        assert read_csv_rows(data_path(folder, name)) == old_read_csv_rows(data_path(folder, name))


@pytest.mark.parametrize("name", ["t.tsv", "t.txt"])
def test_other_delimiters_and_cp949_rows_are_the_former_ones(name, tmp_path):
    path = tmp_path / name
    path.write_bytes("이름\t코드\n청소원\t9411\n경비원\n".encode("cp949"))
    assert read_csv_rows(path, ("이름",)) == old_read_csv_rows(path, ("이름",))
    missing = tmp_path / "none.csv"
    with pytest.raises(CrosswalkError) as new:
        read_csv_rows(missing, error=CrosswalkError)
    with pytest.raises(CrosswalkError) as old:
        old_read_csv_rows(missing, error=CrosswalkError)
    assert str(new.value) == str(old.value)


# --------------------------------------------------------------------------- loaders' own files

CODE_LISTS = [
    "level,code,title_ko,parent_code\n1,9,단순 노무 종사자,\n2,94,청소원,9\n",
    "title_ko,parent_code,code,level\n단순 노무 종사자,,9,1\n청소원,9,94,2\n",  # columns in another order
    "level,code,title_ko,parent_code,code\n1,8,단순,,9\n2,94,청소원,9,94\n",  # a name twice: its last column
    "level,code,title_ko,parent_code\n1,9,단순 노무 종사자\n2,94,청소원,9,extra\n\n",  # short, long, blank rows
    "level,code,title_ko,parent_code\nx,9,단순,\n1,,단순,\n2,9,단순,\n1,9,단순,\n1,9,둘,\n3,945,셋,94\n2,84,넷,9\n",
    "level,code,title_ko,parent_code\n1,9,단순·노무 종사자,\n2,94,청소 원,9\n2,95,NA,9\n",
    "level,code,title\n1,9,단순\n",  # a column missing
]


def _outcome(read, *args):
    try:
        out = read(*args)
    except CoderError as exc:
        return type(exc), str(exc)
    if isinstance(out, CodeList):
        return out.name, out.path, out.sha256, out.codes, list(out.codes), out.by_title_key
    return out


@pytest.mark.parametrize("text", CODE_LISTS, ids=range(len(CODE_LISTS)))
def test_code_lists_read_as_before(text, tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text(text, encoding="utf-8")
    assert _outcome(codes_module._read, path, "mine") == _outcome(old_read_codes, path, "mine")


def test_the_bundled_code_list_and_dictionary_read_as_before():
    path = data_path("crosswalks", "ksco7.csv")
    assert _outcome(codes_module._read, path, "ksco7") == _outcome(old_read_codes, path, "ksco7")
    codes = load_codes()
    path = data_path("crosswalks", JOBDICT_FILE)
    assert read_jobdict(path, codes) == old_read_jobdict(path, codes)


DICTIONARIES = [
    "text,ksco_code,kind,job_id,inq_year\n청소원,9411,job_name,J1,2020\n",
    "job_id,kind,ksco_code,text\nJ1,job_name,9411,청소원\n",  # columns in another order
    "text,ksco_code,kind,job_id,text\n청소원,9411,job_name,J1,경비원\n",  # a name twice: its last column
    "text,ksco_code,kind,job_id\n청소원,9411,job_name\n경비원,9411,job_name,J2,x,y\n\n",  # short, long, blank
    "text,ksco_code,kind,job_id\n오류,94111,job_name,J2\n없음,0000,job_name,J3\n종류,9411,other,J4\n,9411,job_name,J5\n",
    "text,ksco_code,kind,job_id\n NA ,9411,job_name,J1\n건물  청소원,9411 , similar_name ,J2\n",
    "text,ksco_code,kind\n청소원,9411,job_name\n",  # a column missing
]


@pytest.mark.parametrize("text", DICTIONARIES, ids=range(len(DICTIONARIES)))
def test_dictionaries_read_as_before(text, tmp_path):
    path = tmp_path / "dict.csv"
    path.write_text(text, encoding="utf-8")
    codes = load_codes()
    assert _outcome(read_jobdict, path, codes) == _outcome(old_read_jobdict, path, codes)
    path.write_bytes(text.encode("cp949"))
    assert _outcome(read_jobdict, path, codes) == _outcome(old_read_jobdict, path, codes)


# --------------------------------------------------------------------------- the index rater


def _same_result(new, old):
    assert new.keys == old.keys and new.codes == old.codes and new.details == old.details
    assert [str(x) for x in new.scores] == [str(x) for x in old.scores]
    assert new.extra == old.extra and new.flags == old.flags and new.candidates == old.candidates


def test_the_index_rater_answers_as_before():
    codes = load_codes()
    index = load_index(codes=codes)
    keys = sorted(index.by_key) + [label_key(t) for t in _texts()] + ["", "없는직업", "nan", "건물 청소원", "9411"]
    _same_result(index_rater(keys, index=index, codes=codes), old_index_rater(keys, index=index, codes=codes))


def test_an_index_of_odd_entries_answers_as_before():
    codes = load_codes()
    entries = [
        IndexEntry("가", "가", "9411", "jobdict", "J1", "job_name"),  # one entry
        IndexEntry("나", "나", "", "jobdict", "J2", "job_name"),  # one entry without a code
        IndexEntry("다", "다", "X999", "mine", "X999"),  # a code not in the list
        IndexEntry("라", "라", "9411", "jobdict", "J3", "job_name"),
        IndexEntry("라", "라", "94111", "ksco7", "94111"),  # one lineage: the deepest
        IndexEntry("마", "마", "9411", "jobdict", "J4", "job_name"),
        IndexEntry("마", "마", "3111", "jobdict", "J5", "job_name"),  # two lineages: ambiguous
        IndexEntry("바", "바", "9411", "jobdict", "J6", "job_name"),
        IndexEntry("바", "바", "9411", "jobdict", "J7", "similar_name"),  # one code twice
    ]
    index = build_index(entries)
    keys = ["가", "나", "다", "라", "마", "바", "사", "가", "마"]
    _same_result(index_rater(keys, index=index, codes=codes), old_index_rater(keys, index=index, codes=codes))
