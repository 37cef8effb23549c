"""The rule mapper (rater ``rule``): regexes in ``rules/mapper.csv``.

Columns: ``rule_id, status, priority, pattern, match, code, code_title, example,
counterexample, note`` and the optional ``depth``.

* ``pattern`` is a Python regex applied to the label *key* (NFKC, no whitespace,
  no middle dots, Latin lower-case; see :func:`coder.normalize.label_key`), after
  the job-seeker wrapper is stripped by :mod:`coder.status`.
* ``match``: ``full`` (the whole key), ``prefix``, ``suffix`` or ``contains``.
* ``priority``: integer 1–100, higher wins.  Ties go to the deeper code, then the
  longer matched text, then the smaller ``rule_id``.
* ``code`` must exist in the code list and ``code_title`` must be its title: a
  typo in a code is caught at load time.
* ``example`` / ``counterexample``: `` | ``-separated raw labels; the test suite
  checks every example is won by its rule with its code and no counterexample
  hits the rule.
* ``status``: ``active`` or ``retired`` (retired rules are kept, never reused,
  and never fire).
* ``depth`` (optional column): ``final`` when the rule codes shallow on purpose (교사 → 25: the
  words do not say which school), so that no other rater deepens its code; blank otherwise.

Bounds (see :mod:`coder.patterns`): a label key longer than
:data:`~coder.patterns.MAX_MATCH_CHARS` (200) characters is matched by no rule and flagged
``too_long`` (the longest NPK label has 40 characters, the longest job-dictionary name 50); a
pattern whose backtracking can be exponential (``(a+)+``, ``(a|a)*``, ``(.*)*``) is refused at
load time with its line and rule id, so no rule can hang ``code`` or ``check``.

:func:`apply_rules` returns *all* hits per key, resolved by priority; a key whose
top-priority hits name codes in different lineages is flagged as a conflict.

Speed: a ``full`` or ``suffix`` rule whose pattern matches a finite set of texts (:func:`finite_texts`;
all bundled rules but two) is looked up by text instead of run (:class:`_Lookup`), with the same hits
and matched lengths; the other rules, and keys ending with a newline, go through their matchers,
indexed by first, last or required characters.  The bounds above hold for both.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from re import _parser as _sre_parser

from ..codes import CodeList, load_codes
from ..errors import RuleError
from ..normalize import is_missing_token, label_key, normalize_label
from ..patterns import (
    MATCH_MODES,
    MAX_MATCH_CHARS,
    alternation_texts,
    compile_matcher,
    is_alternation,
    pattern_problem,
    split_cell,
)
from ..resources import data_path, file_identity, file_sha256, read_csv_rows
from .base import RaterResult

__all__ = [
    "MATCH_MODES",
    "Rule",
    "RuleHit",
    "RuleSet",
    "apply_rules",
    "compile_matcher",
    "key_again",
    "load_rules",
    "match_rules",
]

_COLUMNS = (
    "rule_id",
    "status",
    "priority",
    "pattern",
    "match",
    "code",
    "code_title",
    "example",
    "counterexample",
    "note",
)
_RULE_STATUS = ("active", "retired")
_DEPTHS = ("", "final")


@dataclass(frozen=True)
class Rule:
    rule_id: str
    status: str
    priority: int
    pattern: str
    match: str
    code: str
    code_title: str
    examples: tuple[str, ...]
    counterexamples: tuple[str, ...]
    note: str
    line: int
    level: int
    source: str = ""  # path of the file the rule comes from
    depth_final: bool = False  # ``depth = final``: nothing deepens this rule's code

    @functools.cached_property
    def _matcher(self) -> Callable[[str], int | None]:
        return compile_matcher(self.pattern, self.match)

    def hit(self, key: str) -> int | None:
        """Matched length if this rule fires on ``key``, else None."""
        return self._matcher(key)


@dataclass(frozen=True)
class RuleHit:
    rule_id: str
    code: str
    priority: int
    level: int
    length: int
    rank: int = 0  # file position: 0 = first file (user rules outrank bundled ones)

    def sort_key(self) -> tuple:
        return (self.rank, -self.priority, -self.level, -self.length, self.rule_id)


_ANCHORED = ("full", "prefix")
"""Rule modes asked about the tail of a key (``match_rules(..., anchored=True)``, the status pass's
oracle): a suffix or contains rule that fires on a tail fires on the whole key too, unless a
look-behind kept it off there on purpose."""


@dataclass(frozen=True)
class _Lookup:
    """:attr:`RuleSet._fast`: the ``full`` and ``suffix`` rules whose pattern matches a finite set of texts
    (:func:`finite_texts`; every bundled rule but a few) by text, and the buckets of the rest.

    ``full[text]``: the ``full`` rules whose pattern matches exactly ``text``; ``suffix[text]``: the
    ``(rule, texts that must not come just before)`` of the ``suffix`` rules matching ``text``;
    ``lengths[c]``: the lengths of the suffix texts ending with the character ``c`` (the empty text
    under ``""``), longest first.  A ``full`` rule fires on a key when the key is one of its texts
    (matched length: the key's); a ``suffix`` rule when the key ends with one of them not preceded by
    one of its look-behind texts, with the longest such text's length (the leftmost match the search
    finds).  Any other rule (``prefix``, ``contains``, an unbounded repeat, a class of all
    characters, …) is in ``rest`` (:attr:`RuleSet._buckets` of the ``n_rest`` of them) and
    ``anchored`` (those of them that are ``full`` or ``prefix``), tried by its matcher as before.
    Used for keys that do not end with a newline (``$`` also matches before one).
    """

    full: dict[str, tuple[Rule, ...]]
    suffix: dict[str, tuple[tuple[Rule, frozenset[str]], ...]]
    lengths: dict[str, tuple[int, ...]]
    n_rest: int
    rest: tuple
    anchored: tuple


@dataclass(frozen=True)
class RuleSet:
    """Rules of one or more mapper files, in rank order (earlier files outrank later ones).

    ``files`` maps each file's path to its sha256, first file first; ``path`` and
    ``sha256`` describe the first file (the only one for a single-file set).
    """

    path: str
    sha256: str
    rules: tuple[Rule, ...]
    files: dict[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not self.files:
            object.__setattr__(self, "files", {self.path: self.sha256})

    @functools.cached_property
    def active(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.status == "active")

    @functools.cached_property
    def _buckets(self) -> tuple[dict[str, list], dict[str, list], dict[str, list], list]:
        """The active rules indexed so a key tries only those that can fire on it.

        ``(by_first, by_last, by_char, always)``: a ``full`` or ``prefix`` rule whose matches can
        only begin with known characters is under each of them in ``by_first``; else a ``full`` or
        ``suffix`` rule whose matches can only end with known characters is under each of them in
        ``by_last``; else a rule with a character every match contains is under its rarest one in
        ``by_char``; the rest are ``always`` tried.  Each entry is ``(rule, matcher, required
        characters, first characters, last characters)`` (None: any), checked before the matcher.
        """
        return _bucket(self.active)

    @functools.cached_property
    def _fast(self) -> _Lookup:
        """The active rules as :class:`_Lookup` tables: most looked up by text, the rest tried one by one.

        Equal values are one object (a rule's ``(rule,)`` under each of its texts, each ``(rule, refused
        texts)`` pair and its 1-tuple, equal refused sets): the bundled rules leave ~1,000 objects for the
        garbage collector to keep for the run instead of ~8,300 (with the index's and code list's, the
        setup's 25,000 made a fresh process run a full collection, ~0.035 s, before the run began).
        """
        full: dict[str, list] = {}
        suffix: dict[str, list] = {}
        rest = []
        refused: dict[frozenset[str], frozenset[str]] = {}
        pairs: dict[tuple[str, frozenset[str]], tuple[Rule, frozenset[str]]] = {}
        for rule in self.active:
            texts = finite_texts(rule.pattern) if rule.match in ("full", "suffix") else None
            if texts is None:
                rest.append(rule)
            elif rule.match == "full":  # a look-behind at the start of the key sees no text: it holds
                for text in dict.fromkeys(t for t, _ in texts):
                    full.setdefault(text, []).append(rule)
            else:
                for text, after in texts:
                    after = refused.setdefault(after, after)
                    suffix.setdefault(text, []).append(pairs.setdefault((rule.rule_id, after), (rule, after)))
        lengths: dict[str, set[int]] = {}
        for text in suffix:
            lengths.setdefault(text[-1:], set()).add(len(text))
        anchored = [r for r in rest if r.match in _ANCHORED]
        alone: dict[object, tuple] = {}  # the 1-tuple of a rule (full) or of a pair (suffix), by its id
        return _Lookup(
            {t: tuple(r) if len(r) > 1 else alone.setdefault(id(r[0]), (r[0],)) for t, r in full.items()},
            {t: tuple(r) if len(r) > 1 else alone.setdefault(id(r[0]), (r[0],)) for t, r in suffix.items()},
            {ch: tuple(sorted(ls, reverse=True)) for ch, ls in lengths.items()},
            len(rest),
            _bucket(rest),
            _bucket(anchored),
        )

    def warm(self) -> None:
        """Make the lookup tables :func:`match_rules` builds on its first call (e.g. on a thread, ahead)."""
        self._fast  # noqa: B018

    @functools.cached_property
    def _modes(self) -> dict[str, str]:
        return {r.rule_id: r.match for r in self.rules}

    @functools.cached_property
    def _rank(self) -> dict[str, int]:
        # file position of each rule: 0 = first (user) file
        paths = {p: i for i, p in enumerate(self.files)}
        return {r.rule_id: paths.get(r.source, 0) for r in self.rules}


def _bucket(active: Sequence[Rule]) -> tuple[dict[str, list], dict[str, list], dict[str, list], list]:
    """:attr:`RuleSet._buckets` of the rules ``active``."""
    need = []
    for rule in active:
        first = end_chars(rule.pattern) if rule.match in ("full", "prefix") else None
        last = end_chars(rule.pattern, last=True) if rule.match in ("full", "suffix") else None
        need.append((rule, rule._matcher, required_chars(rule.pattern), first, last))
    freq: dict[str, int] = {}
    for item in need:
        for ch in item[2]:
            freq[ch] = freq.get(ch, 0) + 1
    by_first: dict[str, list] = {}
    by_last: dict[str, list] = {}
    by_char: dict[str, list] = {}
    always = []
    for item in need:
        _, _, req, first, last = item
        if first is not None:
            for ch in first:
                by_first.setdefault(ch, []).append(item)
        elif last is not None:
            for ch in last:
                by_last.setdefault(ch, []).append(item)
        elif req:
            by_char.setdefault(min(req, key=lambda ch: (freq[ch], ch)), []).append(item)
        else:
            always.append(item)
    return by_first, by_last, by_char, always


def load_rules(path: str | Path | None = None, *, codes: CodeList | None = None, bundled: bool = True) -> RuleSet:
    """Load and validate a mapper file (default ``rules/mapper.csv``).

    With a user ``path`` and ``bundled=True`` the user's rules are added *ahead of*
    the bundled ones: any user rule that fires outranks every bundled rule, whatever
    the priorities; inside each file the usual priority order holds.  ``bundled=False``
    uses the user's file alone.  A ``rule_id`` used in both files is an error naming
    both files and lines.

    Every pattern is compiled and every code checked against the code list at
    load time; one :class:`RuleError` lists every bad row with its line number.
    """
    if codes is None:
        codes = load_codes()
    default = data_path("rules", "mapper.csv")
    if path is None:
        return _load(file_identity(default), codes)
    user = _load(file_identity(Path(path)), codes)
    if not bundled or Path(path).resolve() == default.resolve():
        return user
    base = _load(file_identity(default), codes)
    theirs = {r.rule_id: r for r in base.rules}
    clashes = [
        f"{user.path}:{r.line} and {base.path}:{theirs[r.rule_id].line}: rule_id {r.rule_id}"
        for r in user.rules
        if r.rule_id in theirs
    ]
    if clashes:
        raise RuleError(
            f"{user.path}: {len(clashes)} rule_id(s) also used by the bundled rules:\n  "
            + "\n  ".join(clashes)
            + "\nRename them in your file (e.g. R9001 and up), or pass bundled=False (--no-bundled-rules) to replace the bundled rules.",
            path=user.path,
            problems=clashes,
        )
    return RuleSet(
        path=user.path,
        sha256=user.sha256,
        rules=user.rules + base.rules,
        files={user.path: user.sha256, base.path: base.sha256},
    )


@functools.lru_cache(maxsize=16)
def _load(identity: tuple[str, int, int], codes: CodeList) -> RuleSet:
    # keyed by (path, mtime_ns, size): an edited file is read again, with its new sha256
    path = identity[0]
    rows = read_csv_rows(path, _COLUMNS, error=RuleError, what="rules file")
    problems: list[str] = []
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        if None in row:
            rid = (row.get("rule_id") or "").strip()
            problems.append(
                f"{path}:{line} ({rid or 'no id'}): {len(row[None])} cell(s) more than the header — quote fields that contain commas"
            )
            continue
        row = {k: (v or "").strip() for k, v in row.items()}
        rid = row["rule_id"]
        where = f"{path}:{line} ({rid or 'no id'})"
        bad = []
        if not re.fullmatch(r"R\d{4,}", rid):
            bad.append(f"rule_id {rid!r} is not of the form R0001")
        elif rid in seen:
            bad.append(f"rule_id {rid} is already used on line {seen[rid]}")
        else:
            seen[rid] = line
        if row["status"] not in _RULE_STATUS:
            bad.append(f"status {row['status']!r} is not active or retired")
        try:
            priority = int(row["priority"])
            if not 1 <= priority <= 100:
                raise ValueError
        except ValueError:
            bad.append(f"priority {row['priority']!r} is not an integer from 1 to 100")
            priority = 0
        depth = row.get("depth", "")
        if depth not in _DEPTHS:
            bad.append(f"depth {depth!r} is not 'final' or blank")
        if row["match"] not in MATCH_MODES:
            bad.append(f"match {row['match']!r} is not one of {', '.join(MATCH_MODES)}")
        if not row["pattern"]:
            bad.append("pattern is empty")
        else:
            try:
                if not is_alternation(row["pattern"]):  # a pattern of that grammar compiles
                    re.compile(row["pattern"])
            except re.error as exc:
                bad.append(f'pattern "{row["pattern"]}" does not compile ({exc})')
            else:
                if row["status"] == "active" and row["match"] in MATCH_MODES:
                    slow = pattern_problem(row["pattern"], row["match"])
                    if slow:
                        bad.append(slow)
        code = row["code"]
        if code not in codes:
            bad.append(f"code {code!r} is not in {codes.name}")
        elif normalize_label(row["code_title"]) != codes.title(code):
            bad.append(f"code_title {row['code_title']!r} is not the title of {code} ({codes.title(code)!r})")
        if bad:
            problems.extend(f"{where}: {b}" for b in bad)
            continue
        rules.append(
            Rule(
                rid,
                row["status"],
                priority,
                row["pattern"],
                row["match"],
                code,
                codes.title(code),
                split_cell(row["example"]),
                split_cell(row["counterexample"]),
                row["note"],
                line,
                codes.level(code),
                path,
                depth == "final",
            )
        )
    if problems:
        raise RuleError(
            f"{path}: {len(problems)} problem(s):\n  "
            + "\n  ".join(problems)
            + "\nFix these rows or set status=retired.",
            path=path,
            problems=problems,
        )
    return RuleSet(path=path, sha256=file_sha256(path), rules=tuple(rules))


_KEYLIKE_RE = re.compile("[0-9a-z()\uac00-\ud7a3]+")


def key_again(key: object) -> str:
    """``label_key(key)``, fast for a key of Hangul syllables, lower-case ASCII letters, digits and ``( )``.

    Such a text is its own normal form (NFKC-stable, printable, no whitespace, middle dot, bracket
    variant, comma or upper case: nothing in :func:`~coder.normalize.normalize_label` or
    :func:`~coder.normalize.label_key` changes it), so its key is itself, or ``""`` when it is a
    missing-value token (``nan``, ``na``, …).  Any other text goes through ``label_key``.
    """
    if isinstance(key, str) and _KEYLIKE_RE.fullmatch(key):
        return "" if is_missing_token(key) else key
    return label_key(key)


_TOO_LONG = f"label key longer than {MAX_MATCH_CHARS} characters: no rule tried"
_META = re.compile(r"[.^$*+?{}\[\]\\|()]")  # as coder.patterns: a pattern without these is a literal


def required_chars(pattern: str) -> frozenset[str]:
    """Characters every match of ``pattern`` must contain (a safe under-estimate; empty = unknown).

    Used only to skip rules that cannot fire: literal characters outside optional parts,
    intersected over alternatives.  Case-insensitive or unusual constructs give the empty set.
    """
    if not _META.search(pattern):
        return frozenset(pattern)
    parsed = _parse(pattern)
    if parsed is None:
        return frozenset()
    return frozenset(_required(parsed))


@functools.lru_cache(maxsize=4096)
def _parse(pattern: str) -> object | None:
    """The parse tree of a pattern (read only; shared by :func:`required_chars` and :func:`end_chars`);
    None when it does not compile or is case-insensitive."""
    try:
        parsed = _sre_parser.parse(pattern)
    except re.error:
        return None
    return None if parsed.state.flags & re.IGNORECASE else parsed


def _required(seq: object) -> set[str]:
    out: set[str] = set()
    for op, av in seq:
        name = str(op)
        if name == "LITERAL":
            out.add(chr(av))
        elif name == "SUBPATTERN":
            out |= _required(av[-1])
        elif name == "BRANCH":
            alts = [_required(a) for a in av[1]]
            out |= set.intersection(*alts) if alts else set()
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and av[0] >= 1:
            out |= _required(av[2])
        elif name == "ATOMIC_GROUP":
            out |= _required(av)
    return out


def match_rules(key: str, rules: RuleSet, *, anchored: bool = False) -> list[RuleHit]:
    """Every active rule that fires on ``key``, best first (none on a key longer than :data:`~coder.patterns.MAX_MATCH_CHARS`).

    ``anchored=True``: the ``full`` and ``prefix`` rules only (the same hits as dropping the others).
    """
    if len(key) > MAX_MATCH_CHARS:
        return []
    if not key or key[-1] == "\n":  # "$" also matches before a final newline: every rule tried by its matcher
        hits = _brute(key, rules) if not key else _match_each(key, rules, rules._buckets, True)
        if anchored:
            modes = rules._modes
            hits = [h for h in hits if modes[h.rule_id] in _ANCHORED]
        hits.sort(key=RuleHit.sort_key)
        return hits
    look = rules._fast
    rank = rules._rank if len(rules.files) > 1 else None
    hits = _match_each(key, rules, look.anchored if anchored else look.rest, False) if look.n_rest else []
    n = len(key)
    for rule in look.full.get(key, ()):
        hits.append(RuleHit(rule.rule_id, rule.code, rule.priority, rule.level, n, rank[rule.rule_id] if rank else 0))
    if not anchored and look.suffix:
        suffix = look.suffix
        seen: set[str] = set()
        for m in (*look.lengths.get(key[-1], ()), *look.lengths.get("", ())):  # longest first: the leftmost start
            if m > n:
                continue
            for rule, after in suffix.get(key[n - m :], ()):
                if rule.rule_id in seen or (after and any(key.endswith(x, 0, n - m) for x in after)):
                    continue
                seen.add(rule.rule_id)
                r = rank[rule.rule_id] if rank else 0
                hits.append(RuleHit(rule.rule_id, rule.code, rule.priority, rule.level, m, r))
    if len(hits) > 1:
        hits.sort(key=RuleHit.sort_key)
    return hits


def _match_each(key: str, rules: RuleSet, buckets: tuple, newline: bool) -> list[RuleHit]:
    """The hits of the rules in ``buckets`` (see :attr:`RuleSet._buckets`) on a non-empty ``key``, unsorted;
    ``newline``: the key ends with a newline (no last-character index for it)."""
    hits = []
    rank = rules._rank if len(rules.files) > 1 else None
    by_first, by_last, by_char, always = buckets
    head, tail = key[0], key[-1]
    if newline:
        candidates = list(
            {id(i): i for i in (*by_first.get(head, ()), *(i for b in by_last.values() for i in b))}.values()
        )
    else:
        candidates = [*by_first.get(head, ()), *by_last.get(tail, ())]
    if by_char:
        candidates += [item for ch in set(key) if ch in by_char for item in by_char[ch]]
    for rule, matcher, req, first, last in (*candidates, *always):
        if req and not all(ch in key for ch in req):
            continue
        if (first is not None and head not in first) or (last is not None and tail != "\n" and tail not in last):
            continue
        n = matcher(key)
        if n is not None:
            r = rank[rule.rule_id] if rank is not None else 0
            hits.append(RuleHit(rule.rule_id, rule.code, rule.priority, rule.level, n, r))
    return hits


_FINITE_MAX = 4096  # texts a pattern may expand to before it is matched by its regex instead
_FINITE_CLASS = 256  # characters a class may hold


def finite_texts(pattern: str) -> frozenset[tuple[str, frozenset[str]]] | None:
    """Every text ``pattern`` matches in full, when they are few (at most 4,096), each with the texts
    its negative look-behinds refuse just before it; None otherwise.

    Literals, small character classes (literals and ranges, not negated, no categories), groups,
    alternatives, repeats with a finite bound, and negative look-behinds (``(?<!X)``, X finite)
    before any character of the text; anything else (``.``, ``\\d``, anchors, look-aheads, positive
    look-behinds, back-references, atomic or possessive parts, unbounded repeats, a case-insensitive
    or otherwise flagged pattern) gives None.  For such a pattern ``fullmatch(key)`` holds exactly
    when ``key`` is one of the texts (a look-behind at the start of the key sees nothing), and a search
    for ``(?:pattern)$`` in a key not ending with a newline starts at the leftmost place where the rest
    of the key is one of the texts and none of that text's refused texts ends there.
    """
    if not _META.search(pattern):
        return frozenset(((pattern, frozenset()),))
    found = alternation_texts(pattern)  # 317 of the 319 bundled rules: no parse
    if found is not None:
        return found
    try:
        parsed = _sre_parser.parse(pattern)
    except re.error:
        return None
    if parsed.state.flags & ~re.UNICODE:
        return None
    try:
        return frozenset(_texts(list(parsed)))
    except _Infinite:
        return None


class _Infinite(Exception):
    """A pattern part with too many texts, or one :func:`finite_texts` does not expand."""


_NONE: frozenset[str] = frozenset()


def _texts(seq: list) -> set[tuple[str, frozenset[str]]]:
    out = {("", _NONE)}
    for op, av in seq:
        part = _node_texts(str(op), av)
        if len(out) * len(part) > _FINITE_MAX:
            raise _Infinite
        out = {_join(a, b) for a in out for b in part}
    return out


def _join(a: tuple[str, frozenset[str]], b: tuple[str, frozenset[str]]) -> tuple[str, frozenset[str]]:
    if b[1] and a[0]:  # a look-behind after some text: not expanded
        raise _Infinite
    return a[0] + b[0], a[1] | b[1]


def _node_texts(name: str, av: object) -> set[tuple[str, frozenset[str]]]:
    if name == "LITERAL":
        return {(chr(av), _NONE)}  # type: ignore[arg-type]
    if name == "IN":
        chars: set[str] = set()
        for op, val in av:  # type: ignore[attr-defined]
            if str(op) == "LITERAL":
                chars.add(chr(val))
            elif str(op) == "RANGE" and val[1] - val[0] < _FINITE_CLASS:
                chars.update(chr(c) for c in range(val[0], val[1] + 1))
            else:
                raise _Infinite  # NEGATE, CATEGORY, a wide range
            if len(chars) > _FINITE_CLASS:
                raise _Infinite
        return {(c, _NONE) for c in chars}
    if name == "SUBPATTERN":
        if av[1] or av[2]:  # type: ignore[index]  # inline flags
            raise _Infinite
        return _texts(list(av[-1]))  # type: ignore[index]
    if name == "BRANCH":
        out: set[tuple[str, frozenset[str]]] = set()
        for alt in av[1]:  # type: ignore[index]
            out |= _texts(list(alt))
            if len(out) > _FINITE_MAX:
                raise _Infinite
        return out
    if name == "ASSERT_NOT" and av[0] == -1:  # type: ignore[index]  # (?<!X): X ending here refuses the match
        refused = _texts(list(av[1]))  # type: ignore[index]
        if any(r[1] for r in refused):
            raise _Infinite
        return {("", frozenset(r[0] for r in refused))}
    if name in ("MAX_REPEAT", "MIN_REPEAT"):
        lo, hi, sub = av  # type: ignore[misc]
        if hi > _FINITE_MAX:
            raise _Infinite
        body = _texts(list(sub))
        if any(b[1] for b in body):
            raise _Infinite
        out, level = set(), {("", _NONE)}
        for i in range(hi + 1):
            if i >= lo:
                out |= level
            if i == hi:
                break
            if len(level) * len(body) > _FINITE_MAX:
                raise _Infinite
            level = {_join(a, b) for a in level for b in body}
            if len(out) + len(level) > _FINITE_MAX:
                raise _Infinite
        return out
    raise _Infinite  # ANY, NOT_LITERAL, CATEGORY, AT, look-aheads, back-references, atomic, possessive, …


def _brute(key: str, rules: RuleSet) -> list[RuleHit]:
    """Every active rule tried on ``key`` (the empty key: no first or last character to index by)."""
    rank = rules._rank if len(rules.files) > 1 else None
    hits = [
        RuleHit(rule.rule_id, rule.code, rule.priority, rule.level, n, rank[rule.rule_id] if rank is not None else 0)
        for rule in rules.active
        for n in (rule._matcher(key),)
        if n is not None
    ]
    hits.sort(key=RuleHit.sort_key)
    return hits


def end_chars(pattern: str, *, last: bool = False) -> frozenset[str] | None:
    """The characters a non-empty match of ``pattern`` can begin with (``last``: end with); None if any or unknown.

    A safe over-estimate used only to skip rules that cannot fire: literals and character
    classes at the start (end), through groups, alternatives and optional parts.  A pattern
    that can match the empty text, a case-insensitive one, lookarounds, back-references,
    ``.``, negated or category classes and wide ranges give None.
    """
    if not _META.search(pattern):
        return frozenset(pattern[-1:] if last else pattern[:1]) or None
    parsed = _parse(pattern)
    if parsed is None:
        return None
    chars, nullable = _ends(list(parsed), last)  # type: ignore[call-overload]
    return None if chars is None or nullable or not chars else frozenset(chars)


_WIDE = 256  # a character range wider than this counts as any character


def _ends(seq: list, last: bool) -> tuple[set[str] | None, bool]:
    """(first or last characters of a match of ``seq``, whether it can match the empty text); None: any."""
    out: set[str] = set()
    for op, av in reversed(seq) if last else seq:
        chars, nullable = _end_node(str(op), av, last)
        if chars is None:
            return None, False
        out |= chars
        if not nullable:
            return out, False
    return out, True


def _end_node(name: str, av: object, last: bool) -> tuple[set[str] | None, bool]:
    if name == "LITERAL":
        return {chr(av)}, False  # type: ignore[arg-type]
    if name == "IN":
        chars: set[str] = set()
        for op, val in av:  # type: ignore[attr-defined]
            if str(op) == "LITERAL":
                chars.add(chr(val))
            elif str(op) == "RANGE" and val[1] - val[0] <= _WIDE:
                chars.update(chr(c) for c in range(val[0], val[1] + 1))
            else:
                return None, False  # NEGATE, CATEGORY, a wide range
        return chars, False
    if name == "SUBPATTERN":
        if av[1] & re.IGNORECASE:  # type: ignore[index]
            return None, False
        return _ends(list(av[-1]), last)  # type: ignore[index]
    if name == "ATOMIC_GROUP":
        return _ends(list(av), last)  # type: ignore[arg-type]
    if name == "BRANCH":
        out: set[str] = set()
        nullable = False
        for alt in av[1]:  # type: ignore[index]
            chars_, n = _ends(list(alt), last)
            if chars_ is None:
                return None, False
            out |= chars_
            nullable |= n
        return out, nullable
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        lo, _, sub = av  # type: ignore[misc]
        chars_, n = _ends(list(sub), last)
        return chars_, n or lo == 0
    if name == "AT":
        return set(), True  # an anchor matches no character
    return None, False  # ANY, NOT_LITERAL, CATEGORY, lookarounds, back-references, …


def apply_rules(keys: Sequence[str], rules: RuleSet | None = None, *, codes: CodeList | None = None) -> RaterResult:
    """Run the mapper over label keys (rater ``rule``).

    ``code`` is the winning rule's code, ``rule_id`` and ``detail`` its rule id,
    ``flags`` ``("conflict",)`` when hits at the winning rank and priority name codes
    in different lineages, ``("too_long",)`` (and a ``detail`` saying so) when the key is
    longer than :data:`~coder.patterns.MAX_MATCH_CHARS` and no rule was tried,
    ``candidates`` every hit's ``(code, priority / 100)``
    best first; extra columns ``hits`` (every hit as ``rule_id=code``), ``conflict`` and
    ``depth_final`` (the winning rule's ``depth = final``: nothing may deepen its code).
    """
    if codes is None:
        codes = load_codes()
    if rules is None:
        rules = load_rules(codes=codes)
    out_codes, details, hits_col, conflicts, cands, final, flags = [], [], [], [], [], [], []
    by_id = {r.rule_id: r for r in rules.active}
    for key in keys:
        k = key_again(key) if key else ""
        hits = match_rules(k, rules) if k else []
        long = len(k) > MAX_MATCH_CHARS
        flags.append(("too_long",) if long else ())
        if not hits:
            out_codes.append("")
            details.append(_TOO_LONG if long else "")
            hits_col.append("")
            conflicts.append(False)
            cands.append(())
            final.append(False)
            continue
        best = hits[0]
        top = [h for h in hits if (h.rank, h.priority) == (best.rank, best.priority)]
        out_codes.append(best.code)
        details.append(best.rule_id)
        hits_col.append(" ".join(f"{h.rule_id}={h.code}" for h in hits))
        conflicts.append(any(not codes.same_lineage(best.code, h.code) for h in top[1:]))
        cands.append(tuple((h.code, h.priority / 100) for h in hits))
        final.append(by_id[best.rule_id].depth_final)
    n = len(keys)
    return RaterResult(
        rater="rule",
        keys=tuple(keys),
        codes=tuple(out_codes),
        scores=(math.nan,) * n,
        details=tuple(details),
        extra={"hits": tuple(hits_col), "conflict": tuple(conflicts), "depth_final": tuple(final)},
        rule_ids=tuple("" if d == _TOO_LONG else d for d in details),
        flags=tuple(("conflict",) if c else f for c, f in zip(conflicts, flags)),
        candidates=tuple(cands),
    )


def check_examples(rules: RuleSet) -> list[str]:
    """Every example that its rule does not win, and every counterexample that hits its rule.

    Returns one message per problem (empty when the file is consistent).
    """
    problems = []
    for rule in rules.active:
        where = f"{rules.path}:{rule.line} ({rule.rule_id})"
        if not rule.examples:
            problems.append(f"{where}: no example — add one that the rule codes as {rule.code}")
        for ex in rule.examples:
            hits = match_rules(label_key(ex), rules)
            if not hits or hits[0].rule_id != rule.rule_id:
                winner = f"{hits[0].rule_id}={hits[0].code}" if hits else "no rule"
                problems.append(f"{where}: example {ex!r} is won by {winner}, not by this rule ({rule.code})")
        for ex in rule.counterexamples:
            if rule.hit(label_key(ex)) is not None:
                problems.append(f"{where}: counterexample {ex!r} hits this rule")
    return problems
