"""Label patterns shared by every rules file: match modes, compiled matchers and their bounds.

The status rules (``rules/status.csv``), the rule mapper (``rules/mapper.csv``)
and the consistency rules apply a pattern to a label *key*
(:func:`coder.normalize.label_key`) in one of four :data:`MATCH_MODES`:
``full`` (the whole key), ``prefix``, ``suffix`` or ``contains``.

Two bounds keep matching fast on any input:

* **Label length.**  A key longer than :data:`MAX_MATCH_CHARS` (200) characters is matched by
  no pattern at all: the longest NPK label is 40 characters and the longest job-dictionary name
  50, so such a key is not an occupation label; the rule mapper flags it ``too_long`` and the
  other raters and the review decide it.  This bounds every pattern's time, even a polynomial
  one (``.*a.*b`` searched over 200 characters).
* **Pattern shape.**  :func:`pattern_problem` refuses, at load time, the shapes whose
  backtracking is exponential — a repeat inside a repeat over the same characters
  (``(a+)+``, ``(.*)*``, ``(\\d+,?)+``) and repeated alternatives that can match the same text
  (``(a|a)*``, ``(a|aa)+``); no length cap helps against those.  With ``linear=True`` it also
  refuses the quadratic shapes the bundled files keep out: an unbounded repeat in a ``suffix`` or
  ``contains`` pattern (searched from every position), or two in one ``full``/``prefix`` path.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from re import _parser as _sre_parser

__all__ = [
    "MATCH_MODES",
    "MAX_MATCH_CHARS",
    "alternation_texts",
    "compile_matcher",
    "is_alternation",
    "pattern_problem",
    "split_cell",
]

MATCH_MODES = ("full", "prefix", "suffix", "contains")
MAX_MATCH_CHARS = 200
"""Label keys longer than this many characters are matched by no pattern (see the module docstring)."""
_META = re.compile(r"[.^$*+?{}\[\]\\|()]")


def compile_matcher(
    pattern: str, match: str, *, max_chars: int | None = MAX_MATCH_CHARS
) -> Callable[[str], int | None]:
    """Return ``f(key) -> matched length or None`` for a pattern and match mode.

    Plain literals (most rules) use string operations; regexes are compiled once.  A key longer
    than ``max_chars`` (default :data:`MAX_MATCH_CHARS`; ``None``: no cap) matches nothing.
    """
    if match not in MATCH_MODES:
        raise ValueError(f"match must be one of {MATCH_MODES}, not {match!r}")
    cap = max_chars if max_chars is not None else float("inf")
    if not _META.search(pattern):
        n = len(pattern)
        if match == "full":
            return lambda key: n if key == pattern else None
        if match == "prefix":
            return lambda key: n if len(key) <= cap and key.startswith(pattern) else None
        if match == "suffix":
            return lambda key: n if len(key) <= cap and key.endswith(pattern) else None
        return lambda key: n if len(key) <= cap and pattern in key else None
    if match == "full":
        find = re.compile(pattern).fullmatch
    elif match == "prefix":
        find = re.compile(pattern).match
    elif match == "suffix":
        find = re.compile(f"(?:{pattern})$").search
    else:
        find = re.compile(pattern).search

    def run(key: str) -> int | None:
        if len(key) > cap:
            return None
        m = find(key)
        return None if m is None else m.end() - m.start()

    return run


_TOKEN_RE = re.compile(r"\\[.^$*+?{}\[\]\\|()]|\(\?<!|\(\?:|[()|?]|[^.^$*+?{}\[\]\\|()]+|.", re.DOTALL)
"""The tokens of :func:`alternation_texts`: an escaped metacharacter, ``(?<!``, ``(?:``, ``(``, ``)``, ``|``,
``?``, a run of literal characters, or any other single character (a metacharacter outside the grammar)."""
_ALT_TEXTS = 4096  # texts bound of alternation_texts (finite_texts' own)
_ALT_BRANCH = 256  # alternatives bound of one group (finite_texts' characters in a class)
_ALT_DEPTH = 32  # groups inside groups alternation_texts follows
_META_CHARS = ".^$*+{}[]\\"
_GROUPED_RE = re.compile(r"[.^$*+?{}\[\]\\()]")  # any metacharacter but |
_NO_TEXTS: frozenset[str] = frozenset()

_Alternation = tuple[tuple[frozenset[str], frozenset[str]], ...]


def alternation_texts(pattern: str) -> frozenset[tuple[str, frozenset[str]]] | None:
    """What :func:`coder.raters.rules.finite_texts` finds through ``re``'s parser, for a pattern of the
    alternation grammar: every text it matches in full with the texts its negative look-behinds refuse
    just before it; None for a pattern outside the grammar.

    The grammar: literal characters, escaped metacharacters (``\\(``), groups ``( )`` and ``(?: )``,
    alternatives ``|``, optional parts ``?`` (not ``??``), and negative look-behinds ``(?<!X)`` (X of
    the grammar without look-behinds, its texts of one length) at the start of an alternative of the
    whole pattern only; at most 4,096 texts counted without merging duplicates (a sequence multiplies,
    alternatives add, ``?`` adds one; X counted alone) and 256 alternatives in a group.  A pattern of
    this grammar compiles and repeats nothing more than once, so :func:`pattern_problem` finds nothing
    in it.  No part of any tree ``re``'s parser makes of it (the parser moves common first letters out
    of alternatives and turns one-letter alternatives into a class) has more texts than counted, or a
    class of more characters than a group's alternatives, so finite_texts' bounds (4,096 texts, 256
    characters in a class) hold for it.  317 of the 319 bundled rules have such patterns (their compile
    check, pattern_problem and finite_texts took ~0.03 s through ``re`` in a fresh process).
    """
    found = _alternation(pattern)
    if found is None:
        return None
    return frozenset((text, refused) for refused, texts in found for text in texts)


def is_alternation(pattern: str) -> bool:
    """Whether ``pattern`` is of :func:`alternation_texts`' grammar (then it compiles and is linear)."""
    return _alternation(pattern) is not None


@functools.lru_cache(maxsize=1024)
def _alternation(pattern: str) -> _Alternation | None:
    """``(refused texts, texts)`` of the alternatives of the whole of an alternation-grammar ``pattern``
    (:func:`alternation_texts`), alternatives with the same look-behinds together; None outside it.

    Kept for the pattern's next question (a rule's pattern is asked three times at setup: compile
    check, :func:`pattern_problem`, finite_texts), a few objects each.
    """
    if len(pattern) > 10_000:
        return None
    if not _GROUPED_RE.search(pattern):  # literals and | only (196 of the bundled rules): no tree to walk
        texts = pattern.split("|")
        return ((_NO_TEXTS, frozenset(texts)),) if len(texts) <= _ALT_BRANCH else None
    out: dict[frozenset[str], list[str]] = {}  # the whole pattern's alternatives by refused texts
    out_n = 0
    refused: frozenset[str] = _NO_TEXTS  # what the look-behinds of the current alternative refuse
    lead = True  # at the start of an alternative of the whole pattern: a look-behind may come
    stack: list[tuple[list[str], int, int, list[str], int, bool]] = []
    alts: list[str] = []  # texts of the finished alternatives of the innermost group
    alts_n = 0  # their count without merging
    branches = 1  # alternatives of the innermost group so far
    head, head_n = [""], 1  # texts of the current alternative before its last atom
    last: list[str] = []  # texts of the last atom ([] before the first)
    last_n = 1
    atom = False  # the previous token was an atom, which a ? may follow
    for tok in _TOKEN_RE.findall(pattern):
        c = tok[0]
        if c == "?":
            if not atom:
                return None  # nothing to repeat, ?? or (? other than (?: and (?<!
            last, last_n, atom = [*last, ""], last_n + 1, False
            continue
        if last:  # any other token ends the last atom
            head, head_n, last, last_n = [a + b for a in head for b in last], head_n * last_n, [], 1
            if head_n > _ALT_TEXTS:
                return None
        if c == "(":
            behind = tok == "(?<!"
            if len(stack) == _ALT_DEPTH or (behind and not lead):
                return None  # a look-behind after text or inside a group
            stack.append((alts, alts_n, branches, head, head_n, behind))
            alts, alts_n, branches, head, head_n, atom, lead = [], 0, 1, [""], 1, False, False
        elif c == "|" or c == ")":
            alts, alts_n = alts + head, alts_n + head_n
            if alts_n > _ALT_TEXTS:
                return None
            head, head_n, atom = [""], 1, False
            if c == "|":
                branches += 1
                if branches > _ALT_BRANCH:
                    return None
                if not stack:  # the end of an alternative of the whole pattern
                    out.setdefault(refused, []).extend(alts)
                    out_n += alts_n
                    if out_n > _ALT_TEXTS:
                        return None
                    alts, alts_n, refused, lead = [], 0, _NO_TEXTS, True
            elif not stack:
                return None  # unbalanced )
            else:
                group, group_n = alts, alts_n
                alts, alts_n, branches, head, head_n, behind = stack.pop()
                if behind:
                    if len({len(t) for t in group}) > 1:
                        return None  # not of one width: re refuses it
                    refused, lead = refused | frozenset(group), True
                else:
                    last, last_n, atom = list(dict.fromkeys(group)), group_n, True
        elif c == "\\" and len(tok) == 2:  # an escaped metacharacter
            last, atom, lead = [tok[1]], True, False
        elif c in _META_CHARS:
            return None  # a lone backslash, an escape such as \d, or a metacharacter outside the grammar
        else:  # a run of literals: the ? that may follow is about its last one
            head, last, atom, lead = [a + tok[:-1] for a in head], [tok[-1]], True, False
    if stack:
        return None  # unclosed (
    if last:
        head, head_n = [a + b for a in head for b in last], head_n * last_n
    out.setdefault(refused, []).extend(alts + head)
    if out_n + alts_n + head_n > _ALT_TEXTS:
        return None
    return tuple((r, frozenset(texts)) for r, texts in out.items())


def split_cell(cell: str | None) -> tuple[str, ...]:
    """Split an ``a | b | c`` cell into its non-empty parts."""
    return tuple(x.strip() for x in (cell or "").split(" | ") if x.strip())


# --- pattern shapes ------------------------------------------------------------------------------

_NESTED = (
    "nests a repeat inside a repeat over the same characters (like (a+)+ or (.*)*), which can "
    "backtrack exponentially (a 30-character label can hang the run) — repeat once (a+ instead of "
    "(a+)+) or put a different character between the repeats"
)
_ALTERNATIVES = (
    "repeats alternatives that can match the same text (like (a|a)* or (a|aa)+), which can "
    "backtrack exponentially (a 30-character label can hang the run) — make the alternatives start "
    "with different characters, or use a character class ([ab]+ instead of (a|b)+)"
)
_SEARCHED = (
    "has an unbounded repeat (* + {n,}) in a {match} pattern, which is searched from every position: "
    "quadratic time on a long label — drop the repeat (contains already allows text around the "
    "match), or anchor the pattern with match=full (suffix .+X is full .+X)"
)
_TWO = "has two unbounded repeats (* + {n,}) in one path, which is quadratic on a long label — keep one"
_REPEATS = ("MAX_REPEAT", "MIN_REPEAT")
_UNBOUNDED = 100  # a repeat allowing more than this many times counts as unbounded
_ANY = ("any",)
_CATEGORY_RE = {
    "DIGIT": re.compile(r"\d"),
    "NOT_DIGIT": re.compile(r"\D"),
    "SPACE": re.compile(r"\s"),
    "NOT_SPACE": re.compile(r"\S"),
    "WORD": re.compile(r"\w"),
    "NOT_WORD": re.compile(r"\W"),
}
# pairs of categories no character belongs to both of
_DISJOINT = {
    frozenset(p)
    for p in (
        ("DIGIT", "NOT_DIGIT"),
        ("SPACE", "NOT_SPACE"),
        ("WORD", "NOT_WORD"),
        ("DIGIT", "SPACE"),
        ("WORD", "SPACE"),
        ("DIGIT", "NOT_WORD"),
    )
}


def pattern_problem(pattern: str, match: str = "full", *, linear: bool = False) -> str | None:
    """Why matching ``pattern`` could take super-linear time, as ``pattern "…" <why> — <how to fix>``; None if it cannot.

    Refused: a repeat inside a repeat over the same characters (``(a+)+``, ``(.*)*``) and
    repeated alternatives that can match the same text (``(a|a)*``) — exponential.  With
    ``linear=True`` (what the bundled rules promise) also an unbounded repeat in a ``suffix`` or
    ``contains`` pattern, or two unbounded repeats in one path of a ``full``/``prefix`` pattern —
    quadratic, and harmless under :data:`MAX_MATCH_CHARS`.  Ordinary alternations (``a|b|ab``)
    and one ``.*``/``.+`` in an anchored pattern pass.  The pattern must compile.

    >>> pattern_problem("의사|한의사") is None
    True
    >>> pattern_problem("(a+)+$").split(",")[0]
    'pattern "(a+)+$" nests a repeat inside a repeat over the same characters (like (a+)+ or (.*)*)'
    """
    if match not in MATCH_MODES:
        raise ValueError(f"match must be one of {MATCH_MODES}, not {match!r}")
    if not _META.search(pattern) or is_alternation(pattern):  # no repeat but ? (once)
        return None
    parsed = _sre_parser.parse(pattern)
    why = _exponential(parsed)
    if why is None and linear:
        if match in ("suffix", "contains") and _open_repeats(parsed) > 0:
            why = _SEARCHED.replace("{match}", match)
        elif _open_repeats(parsed) > 1:
            why = _TWO
    return None if why is None else f'pattern "{pattern}" {why}'


def _name(op: object) -> str:
    return str(op)


def _children(op: object, av: object) -> list:
    name = _name(op)
    if name in (*_REPEATS, "POSSESSIVE_REPEAT"):
        return [av[2]]
    if name == "SUBPATTERN":
        return [av[-1]]
    if name == "ATOMIC_GROUP":
        return [av]
    if name == "BRANCH":
        return list(av[1])
    if name in ("ASSERT", "ASSERT_NOT"):
        return [av[1]]
    if name == "GROUPREF_EXISTS":
        return [x for x in av[1:] if x is not None]
    return []


def _exponential(seq: Iterable) -> str | None:
    """The first exponential shape in a parsed pattern: a repeat whose body is ambiguous."""
    for op, av in seq:
        if _name(op) in _REPEATS and av[1] > 1:
            body = list(av[2])
            why = _ambiguous(body, _first(body))
            if why:
                return why
        for sub in _children(op, av):
            why = _exponential(sub)
            if why:
                return why
    return None


def _ambiguous(seq: list, follow: frozenset) -> str | None:
    """Whether a repeated body can split one text in two ways, given what may ``follow`` it.

    At each variable repeat inside, "once more" (its first characters) must exclude "go on"
    (what follows it, up to the next turn of the outer repeat); at each alternation the
    alternatives' first characters must be disjoint.  Atomic and possessive parts never
    backtrack and are skipped.
    """
    for i, (op, av) in enumerate(seq):
        rest = list(seq[i + 1 :])
        after = _first(rest) | (follow if _nullable(rest) else frozenset())
        name = _name(op)
        if name in _REPEATS:
            body = list(av[2])
            if av[0] != av[1] and _overlap(_first(body), after):
                return _NESTED
            why = _ambiguous(body, (_first(body) if av[1] > 1 else frozenset()) | after)
        elif name == "BRANCH":
            alts = [list(a) for a in av[1]]
            starts = [_first(a) | (after if _nullable(a) else frozenset()) for a in alts]
            if sum(_nullable(a) for a in alts) > 1 or any(
                _overlap(x, y) for j, x in enumerate(starts) for y in starts[j + 1 :]
            ):
                return _ALTERNATIVES
            why = next((w for a in alts if (w := _ambiguous(a, after))), None)
        elif name == "SUBPATTERN":
            why = _ambiguous(list(av[-1]), after)
        elif name == "GROUPREF_EXISTS":
            why = next((w for x in av[1:] if x is not None and (w := _ambiguous(list(x), after))), None)
        else:
            why = None
        if why:
            return why
    return None


def _nullable(seq: Iterable) -> bool:
    return all(_item_nullable(op, av) for op, av in seq)


def _item_nullable(op: object, av: object) -> bool:
    name = _name(op)
    if name in (*_REPEATS, "POSSESSIVE_REPEAT"):
        return av[0] == 0 or _nullable(av[2])
    if name == "SUBPATTERN":
        return _nullable(av[-1])
    if name == "ATOMIC_GROUP":
        return _nullable(av)
    if name == "BRANCH":
        return any(_nullable(a) for a in av[1])
    return name in ("AT", "ASSERT", "ASSERT_NOT", "GROUPREF", "GROUPREF_EXISTS")


def _first(seq: Iterable) -> frozenset:
    """What a match of ``seq`` can start with: atoms ``("c", ch)``, ``("r", lo, hi)``, ``("cat", name)``, or ``("any",)``."""
    out: set = set()
    for op, av in seq:
        out |= _item_first(op, av)
        if not _item_nullable(op, av):
            break
    return frozenset(out)


def _item_first(op: object, av: object) -> frozenset:
    name = _name(op)
    if name == "LITERAL":
        return frozenset({("c", chr(av).lower())})
    if name == "IN":
        return _class_atoms(av)
    if name in (*_REPEATS, "POSSESSIVE_REPEAT"):
        return _first(av[2]) if av[1] > 0 else frozenset()
    if name == "SUBPATTERN":
        return _first(av[-1])
    if name == "ATOMIC_GROUP":
        return _first(av)
    if name == "BRANCH":
        return frozenset().union(*(_first(a) for a in av[1]))
    if name == "GROUPREF_EXISTS":
        return frozenset().union(*(_first(x) for x in av[1:] if x is not None))
    if name in ("AT", "ASSERT", "ASSERT_NOT"):
        return frozenset()
    return frozenset({_ANY})  # ANY, NOT_LITERAL, GROUPREF, …


def _class_atoms(items: Iterable) -> frozenset:
    out = set()
    for op, av in items:
        name = _name(op)
        if name == "LITERAL":
            out.add(("c", chr(av).lower()))
        elif name == "RANGE":
            out.add(("r", av[0], av[1]))
        elif name == "CATEGORY" and _name(av).removeprefix("CATEGORY_").removeprefix("UNI_") in _CATEGORY_RE:
            out.add(("cat", _name(av).removeprefix("CATEGORY_").removeprefix("UNI_")))
        else:  # NEGATE, NOT_LITERAL, locale categories: could be anything
            return frozenset({_ANY})
    return frozenset(out)


def _overlap(a: frozenset, b: frozenset) -> bool:
    return any(_atoms_overlap(x, y) for x in a for y in b)


def _atoms_overlap(x: tuple, y: tuple) -> bool:
    if x == _ANY or y == _ANY:
        return True
    if x[0] > y[0]:  # order the pair: "c" < "cat" < "r"
        x, y = y, x
    kinds = (x[0], y[0])
    if kinds == ("c", "c"):
        return x[1] == y[1]
    if kinds == ("c", "r"):
        return y[1] <= ord(x[1]) <= y[2]
    if kinds == ("r", "r"):
        return x[1] <= y[2] and y[1] <= x[2]
    if kinds == ("c", "cat"):
        return _CATEGORY_RE[y[1]].match(x[1]) is not None
    if kinds == ("cat", "cat"):
        return frozenset((x[1], y[1])) not in _DISJOINT
    # a category and a range: look at the range's characters (a huge range is assumed to overlap)
    lo, hi = y[1], y[2]
    rx = _CATEGORY_RE[x[1]]
    return hi - lo > 0x4000 or any(rx.match(chr(c)) for c in range(lo, hi + 1))


def _open_repeats(seq: Iterable) -> int:
    """Most unbounded repeats on one path through ``seq``."""
    n = 0
    for op, av in seq:
        name = _name(op)
        if name in (*_REPEATS, "POSSESSIVE_REPEAT"):
            n += (av[1] > _UNBOUNDED) + _open_repeats(av[2])
        elif name == "BRANCH":
            n += max((_open_repeats(a) for a in av[1]), default=0)
        elif name in ("SUBPATTERN", "ATOMIC_GROUP", "ASSERT", "ASSERT_NOT", "GROUPREF_EXISTS"):
            n += max((_open_repeats(c) for c in _children(op, av)), default=0)
    return n
