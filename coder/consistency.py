"""KSCO-7 consistency rules (rater ``consistency``) and checks over a stored crosswalk.

**Decision rules** live in TOML (default ``rules/consistency.toml``; the 2026 NPK audit's printed
rules in ``rules/consistency_npk_audit_2026.toml``), one ``[[rule]]`` table each:

``id``               stable id (``C01``, ``NPK01``…), never reused; ``status = "retired"`` keeps it silent
``description``      what the rule decides, in words
``patterns``         label patterns (Python regexes or literals, see :mod:`coder.patterns`: a key longer
                     than 200 characters matches none; a pattern that can backtrack exponentially,
                     like ``(a+)+``, is refused at load time)
``match``            ``full`` (default), ``prefix``, ``suffix`` or ``contains``
``on``               ``core_key`` (default: X of ``전직 X, 현재 구직중`` too) or ``label_key``
``statuses``         parsed statuses the rule applies to (default ``["", "job_seeker"]``)
``code``             the target code, or ``"core"``: the code the former occupation X gets
``citation``         ``[{code, title}, …]``: the KSCO-7 code(s) and title(s) that justify the target
``overrides``        slots whose disagreeing answer the rule may overrule (``title``, ``rule``,
                     ``index``, ``panel``, ``model``, ``fuzzy``); a disagreeing answer from any
                     other slot keeps the rule from firing and flags a conflict instead.
                     ``title`` covers every exact KSCO-7 title: the title lookup, and a mapper
                     rule or job-index answer at the unit-group level (5 digits).  The default
                     rules list ``title`` nowhere, so they never override an exact title; the
                     printed NPK-audit set does, deliberately, and ``check`` reports each such
                     override (check ``exact_title``)
``examples``         labels the rule must win with its code; ``counterexamples``: labels it must not hit
``note``             free text; ``printed``: optional ``{target, overrides, persons}`` as published

The first active rule that hits a label wins (file order); other hits naming a code in another
lineage flag a ``conflict``.  A firing rule becomes the rater ``consistency`` (it ranks above
``title``; :func:`coder.crosswalk.decide.decide` records ``code_source``/``rule_id``), with the
extra columns ``consistency_overrode`` (the stored answers it beat, e.g. ``rule=9421; panel=4123``,
the panel as its majority) and ``consistency_hits``.  When a deeper stored answer agrees in lineage,
decide's refinement keeps the deeper code (``title=41231 refines consistency=4123``).

**Checks** (:func:`check_crosswalk`) add violations without changing any code; each has an id:

``not_in_ksco``          a final or rater code that is not in the code list (nor ``0``)
``title_contradiction``  a final code outside the lineage of the label's own exact KSCO-7 title
``exact_title``          a consistency rule against an exact title answer (the title lookup, or a mapper
                         rule / job-index answer at the unit-group level): overridden, deliberately
                         (the rule lists ``title`` in its overrides), or not applied (it may not)
``rule_family``          a rule's target (or citation) outside the lineage of a title its labels carry
``citation``             a cited code not in KSCO-7, a cited title that is not the code's, a target not
                         under any cited code
``status_mismatch``      a military label outside ``A`` (or an ``A`` code on a civilian label), a
                         job-seeker prefix lost, a not-employed label with an occupation code
``too_deep``             a code deeper than the evidence: a label that is the title of a level-L
                         code coded below L, or a generic word (≤ 3 characters, no title) at level 5
"""

from __future__ import annotations

import functools
import math
import re
import tomllib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .codes import BUCKET_NOT_EMPLOYED, CodeList, load_codes
from .crosswalk.assemble import add_raters
from .crosswalk.decide import DecisionPolicy, decide, panel_vote, rater_names
from .crosswalk.model import Crosswalk
from .crosswalk.stage import Output, StageResult, run_stage
from .errors import RuleError
from .normalize import label_key
from .patterns import MATCH_MODES, compile_matcher, pattern_problem
from .raters.base import REGISTRY, RaterResult, slot_of
from .resources import data_path, file_identity, file_sha256
from .status import parse_status

__all__ = [
    "CHECKS",
    "RULE_SETS",
    "CheckResult",
    "ConsistencyRule",
    "ConsistencyRules",
    "Violation",
    "apply_consistency",
    "check_crosswalk",
    "check_examples",
    "check_file",
    "check_rules",
    "load_consistency_rules",
    "match_consistency",
    "rules_path",
]

CHECKS = (
    "not_in_ksco",
    "title_contradiction",
    "exact_title",
    "rule_family",
    "citation",
    "status_mismatch",
    "too_deep",
)
RATER = "consistency"
DEFAULT_FILE = "consistency.toml"
RULE_SETS: Mapping[str, str] = {
    "default": DEFAULT_FILE,
    "npk-audit-2026": "consistency_npk_audit_2026.toml",
}
"""Names of the bundled rule sets (``--rules npk-audit-2026``) → their file in ``rules/``; any other value is a path."""
_SLOTS = tuple(s.slot for s in REGISTRY if s.slot not in ("review", RATER))
_KEYS = {
    "id",
    "status",
    "description",
    "patterns",
    "match",
    "on",
    "statuses",
    "code",
    "citation",
    "overrides",
    "examples",
    "counterexamples",
    "note",
    "printed",
}
_REQUIRED = ("id", "description", "patterns", "code", "citation", "overrides", "examples")
_ID_RE = re.compile(r"[A-Z][A-Z0-9]*\d{2,}[a-z]?")
_ON = ("core_key", "label_key")
_PARSED = ("", "job_seeker", "former", "not_employed", "unknown", "employed_unstated")
_MILITARY_RE = re.compile(
    r"군인|장교|부사관|병사|사병|하사관|육군|해군|공군|해병대|군복무|군대|병역|의무복무|현역(?:군|병|복무|$)|soldier|servicem[ae]n|servicewom[ae]n|military|armedforces"
)
_SEEKER_RE = re.compile(r"구직|^전직|실직")


@dataclass(frozen=True)
class ConsistencyRule:
    """One decision rule (see the module docstring)."""

    rule_id: str
    status: str
    description: str
    patterns: tuple[str, ...]
    match: str
    on: str
    statuses: tuple[str, ...]
    code: str  # a KSCO-7 code, or "core"
    citation: tuple[tuple[str, str], ...]  # (code, title) as written
    overrides: tuple[str, ...]
    examples: tuple[str, ...]
    counterexamples: tuple[str, ...]
    note: str
    line: int
    printed: Mapping[str, object] = field(default_factory=dict, compare=False)

    @functools.cached_property
    def _matchers(self) -> tuple[Callable[[str], int | None], ...]:
        return tuple(compile_matcher(p, self.match) for p in self.patterns)

    def hit(self, key: str, status: str = "") -> bool:
        """True when the rule applies to a label with this key (``on`` field) and parsed status."""
        if not key or status not in self.statuses:
            return False
        return any(m(key) is not None for m in self._matchers)


@dataclass(frozen=True)
class ConsistencyRules:
    """The rules of one TOML file, in file order (earlier rules win)."""

    path: str
    sha256: str
    rules: tuple[ConsistencyRule, ...]

    @functools.cached_property
    def active(self) -> tuple[ConsistencyRule, ...]:
        return tuple(r for r in self.rules if r.status == "active")

    def get(self, rule_id: str) -> ConsistencyRule | None:
        return next((r for r in self.rules if r.rule_id == rule_id), None)

    @property
    def file_key(self) -> str:
        """Key of this file in a sidecar's ``files_sha256`` (``rules/<name>`` for bundled files)."""
        p = Path(self.path)
        try:
            p.relative_to(data_path("rules").resolve())
        except ValueError:
            return str(p)
        return f"rules/{p.name}"


def rules_path(rules: str | Path | None = None) -> Path:
    """The TOML file of a rule set: a bundled name (:data:`RULE_SETS`), a path, or None (``default``).

    Raises :class:`~coder.errors.RuleError` (one line, listing the bundled names) when ``rules``
    is neither a bundled name nor an existing file.

    >>> rules_path("npk-audit-2026").name
    'consistency_npk_audit_2026.toml'
    """
    text = "default" if rules is None else str(rules)
    if text in RULE_SETS:
        return data_path("rules", RULE_SETS[text])
    path = Path(text)
    if not path.is_file():
        what = "is a directory, not a consistency rules file" if path.is_dir() else "no such consistency rules file"
        raise RuleError(
            f"{text}: {what} — give a TOML path or a bundled rule set name ({', '.join(RULE_SETS)}).",
            path=text,
        )
    return path


def load_consistency_rules(rules: str | Path | None = None, *, codes: CodeList | None = None) -> ConsistencyRules:
    """Load and validate a consistency rule set: a bundled name (:data:`RULE_SETS`), a TOML path, or None (``default``).

    Every rule is checked at load time (id, fields, patterns, match mode, target code, overrides);
    one :class:`~coder.errors.RuleError` lists every bad rule with its line and id.  What the code
    list says about a *valid* rule (a citation that is not in KSCO-7, a target outside its labels'
    titles) is not a load error: :func:`check_rules` reports it, so a published rule set that
    contradicts KSCO-7 can still be loaded and replicated.
    """
    if codes is None:
        codes = load_codes()
    return _load(file_identity(rules_path(rules)), codes)


@functools.lru_cache(maxsize=16)
def _load(identity: tuple[str, int, int], codes: CodeList) -> ConsistencyRules:
    path = identity[0]
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise RuleError(f"{path}: consistency rules file not found — pass an existing file.", path=path) from None
    except IsADirectoryError:
        raise RuleError(f"{path}: consistency rules file is a directory — pass a file.", path=path) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RuleError(f"{path}: not UTF-8 (byte {exc.start}) — save the rules file as UTF-8.", path=path) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{path}: not valid TOML ({exc}) — fix the syntax.", path=path) from None
    lines = [i for i, ln in enumerate(text.splitlines(), start=1) if ln.strip().startswith("[[rule]]")]
    raw = doc.get("rule", [])
    problems: list[str] = []
    extra_top = sorted(set(doc) - {"rule", "meta"})
    if extra_top:
        problems.append(f"{path}: unknown top-level key(s) {', '.join(extra_top)} (expected [[rule]] tables)")
    if not isinstance(raw, list) or not raw:
        problems.append(f"{path}: no [[rule]] tables")
        raw = []
    rules: list[ConsistencyRule] = []
    seen: dict[str, int] = {}
    for n, entry in enumerate(raw):
        line = lines[n] if n < len(lines) else 0
        rule, bad = _parse_rule(entry, line, codes, seen)
        rid = str(entry.get("id", "")) if isinstance(entry, dict) else ""
        where = f"{path}:{line} ({rid or 'no id'})"
        problems.extend(f"{where}: {b}" for b in bad)
        if rule is not None and not bad:
            rules.append(rule)
    if problems:
        raise RuleError(
            f"{path}: {len(problems)} problem(s):\n  "
            + "\n  ".join(problems)
            + '\nFix these rules or set status = "retired".',
            path=path,
            problems=problems,
        )
    return ConsistencyRules(path=path, sha256=file_sha256(path), rules=tuple(rules))


def _strings(entry: dict, key: str, bad: list[str], *, required: bool = False) -> tuple[str, ...]:
    value = entry.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        bad.append(f"{key} must be a list of strings")
        return ()
    out = tuple(v.strip() for v in value if v.strip())
    if required and not out:
        bad.append(f"{key} is empty")
    return out


def _parse_rule(
    entry: object, line: int, codes: CodeList, seen: dict[str, int]
) -> tuple[ConsistencyRule | None, list[str]]:
    if not isinstance(entry, dict):
        return None, ["[[rule]] must be a table"]
    bad: list[str] = []
    missing = [k for k in _REQUIRED if k not in entry]
    if missing:
        bad.append(f"missing key(s) {', '.join(missing)}")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        bad.append(f"unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_KEYS))})")
    rid = str(entry.get("id", ""))
    if "id" in entry:
        if not _ID_RE.fullmatch(rid):
            bad.append(f"id {rid!r} is not of the form C01 / NPK01 (capital letters, then at least two digits)")
        elif rid in seen:
            bad.append(f"id {rid} is already used on line {seen[rid]}")
        else:
            seen[rid] = line
    status = entry.get("status", "active")
    if status not in ("active", "retired"):
        bad.append(f"status {status!r} is not active or retired")
    match = entry.get("match", "full")
    if match not in MATCH_MODES:
        bad.append(f"match {match!r} is not one of {', '.join(MATCH_MODES)}")
    on = entry.get("on", "core_key")
    if on not in _ON:
        bad.append(f"on {on!r} is not one of {', '.join(_ON)}")
    statuses: tuple[str, ...] = ("", "job_seeker")
    if "statuses" in entry:
        value = entry["statuses"]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or not value:
            bad.append('statuses must be a non-empty list of strings ("" = decided by the code)')
            value = []
        statuses = tuple(v.strip() for v in value)
    wrong = [s for s in statuses if s not in _PARSED]
    if wrong:
        bad.append(f"statuses {wrong} are not parsed statuses ({', '.join(repr(s) for s in _PARSED)})")
    patterns = _strings(entry, "patterns", bad, required="patterns" in entry)
    for p in patterns:
        try:
            re.compile(p)
        except re.error as exc:
            bad.append(f'pattern "{p}" does not compile ({exc})')
        else:
            slow = pattern_problem(p, match) if status == "active" and match in MATCH_MODES else None
            if slow:
                bad.append(slow)
    code = str(entry.get("code", "")).strip()
    if "code" in entry:
        if code == "core":
            if tuple(statuses) != ("job_seeker",):
                bad.append('code "core" needs statuses = ["job_seeker"] (only a job-seeker has a former occupation)')
        elif code not in codes:
            bad.append(f"code {code!r} is not in {codes.name} — a decision rule must set a code that exists")
    citation: list[tuple[str, str]] = []
    cites = entry.get("citation", [])
    if isinstance(cites, dict):
        cites = [cites]
    if not isinstance(cites, list) or not all(isinstance(c, dict) and "code" in c for c in cites):
        bad.append("citation must be a list of {code, title} tables")
    else:
        citation = [(str(c["code"]).strip(), str(c.get("title", "")).strip()) for c in cites]
        if "citation" in entry and not citation and code != "core":
            bad.append("citation is empty — cite the KSCO-7 code and title that justify the target")
    overrides = _strings(entry, "overrides", bad)
    wrong = [o for o in overrides if o not in _SLOTS]
    if wrong:
        bad.append(f"overrides {wrong} are not rater slots ({', '.join(_SLOTS)})")
    examples = _strings(entry, "examples", bad, required="examples" in entry)
    counter = _strings(entry, "counterexamples", bad)
    printed = entry.get("printed", {})
    if not isinstance(printed, dict):
        bad.append("printed must be a table {target, overrides, persons}")
        printed = {}
    if bad:
        return None, bad
    rule = ConsistencyRule(
        rule_id=rid,
        status=status,
        description=str(entry["description"]).strip(),
        patterns=patterns,
        match=match,
        on=on,
        statuses=tuple(statuses),
        code=code,
        citation=tuple(citation),
        overrides=overrides,
        examples=examples,
        counterexamples=counter,
        note=str(entry.get("note", "")).strip(),
        line=line,
        printed=dict(printed),
    )
    return rule, []


def match_consistency(key: str, status: str, rules: ConsistencyRules, *, core_key: str | None = None) -> list[str]:
    """Ids of every active rule that hits a label (file order: the first one wins)."""
    core = key if core_key is None else core_key
    return [r.rule_id for r in rules.active if r.hit(core if r.on == "core_key" else key, status)]


def _panel_majority(row: Mapping[str, object], members: Sequence[str], codes: CodeList) -> str:

    votes = [(m[len("panel_") :], str(row.get(f"{m}_code", "") or "")) for m in members]
    return panel_vote(votes, codes)[0]


EXACT = frozenset({"rule", "index"})
"""Raters whose unit-group (5-digit) answer names an exact KSCO-7 title, as the title lookup does."""


def _slot(rater: str, code: str, codes: CodeList) -> str:
    """The slot a rule must list in ``overrides`` to beat this answer: ``title`` for an exact title.

    The title lookup, and a mapper rule or job-index name at the unit-group level (헤어디자이너 →
    rule 42220 미용사), name the occupation exactly; the default rules list ``title`` in no rule's
    overrides, so they never override an exact title.
    """
    slot = slot_of(rater)
    return "title" if slot in EXACT and codes.level(code) == 5 else slot


def apply_consistency(
    crosswalk: pd.DataFrame,
    rules: ConsistencyRules | None = None,
    *,
    codes: CodeList | None = None,
    baseline: Sequence[str] | None = None,
) -> RaterResult:
    """The rater ``consistency`` for every label of a crosswalk (keyed by ``label_key``).

    ``baseline`` is each label's final code without this rater (needed by ``code = "core"`` rules;
    default: the crosswalk's ``ksco_code``).  Stored answers are read from ``<rater>_code``
    columns; panel members ``panel_<id>`` count as their majority (:func:`~coder.crosswalk.decide.panel_vote`).
    """

    if codes is None:
        codes = load_codes()
    if rules is None:
        rules = load_consistency_rules(codes=codes)
    names = [n for n in rater_names(crosswalk) if n not in (RATER, "review")]
    members = [n for n in names if slot_of(n) == "panel"]
    singles = [n for n in names if slot_of(n) != "panel"]
    if baseline is None:
        baseline = crosswalk["ksco_code"].astype(str).tolist() if "ksco_code" in crosswalk else [""] * len(crosswalk)
    by_id = {r.rule_id: r for r in rules.active}
    out_codes, rids, details, flags, overrode, hits_col = [], [], [], [], [], []
    records = crosswalk.to_dict("records")
    for i, row in enumerate(records):
        key, core = str(row["label_key"]), str(row["core_key"])
        hits = match_consistency(key, str(row["status_parsed"]), rules, core_key=core)
        if not hits:
            for col in (out_codes, rids, details, overrode, hits_col):
                col.append("")
            flags.append(())
            continue
        rule = by_id[hits[0]]
        target = str(baseline[i]) if rule.code == "core" else rule.code
        answers = [(n, str(row.get(f"{n}_code", "") or "")) for n in singles]
        if members:
            answers.append(("panel", _panel_majority(row, members, codes)))
        answers = [(n, c) for n, c in answers if c and c in codes]
        against = [(n, c) for n, c in answers if not codes.same_lineage(target, c)]
        beaten = [f"{n}={c}" for n, c in against if _slot(n, c, codes) in rule.overrides]
        blockers = [f"{n}={c}" for n, c in against if _slot(n, c, codes) not in rule.overrides]
        others = [
            h for h in hits[1:] if by_id[h].code != "core" and target and not codes.same_lineage(target, by_id[h].code)
        ]
        fl: list[str] = ["conflict"] if others or blockers else []
        hits_col.append(" ".join(f"{h}={by_id[h].code}" for h in hits))
        rids.append(rule.rule_id)
        if blockers or not target:
            out_codes.append("")
            why = (
                f"{', '.join(blockers)} disagree(s) and {rule.rule_id} may not override them" if blockers else "no code"
            )
            details.append(f"{rule.rule_id} not applied: {why}")
            overrode.append("")
        else:
            out_codes.append(target)
            text = f"{rule.rule_id}: {rule.description}"
            if others:
                text += f" (also hit: {', '.join(f'{h}={by_id[h].code}' for h in others)})"
            details.append(text)
            overrode.append("; ".join(beaten))
        flags.append(tuple(fl))
    n = len(records)
    keys = tuple(str(k) for k in crosswalk["label_key"])
    return RaterResult(
        RATER,
        keys,
        tuple(out_codes),
        (math.nan,) * n,
        tuple(details),
        extra={"overrode": tuple(overrode), "hits": tuple(hits_col)},
        rule_ids=tuple(rids),
        flags=tuple(flags),
    )


# ---------------------------------------------------------------- checks


@dataclass(frozen=True)
class Violation:
    """One check hit: which check, on which label (or rule), and why."""

    check: str
    label_key: str
    label: str
    persons: float
    code: str
    rule_id: str
    message: str


def _titles(codes: CodeList, key: str) -> tuple[str, ...]:
    return codes.lookup_title(key) if key else ()


def _fmt(codes: CodeList, code: str) -> str:
    return f"{code} ({codes.title(code)})" if code in codes else f"{code} (not in {codes.name})"


def check_rules(
    rules: ConsistencyRules, codes: CodeList | None = None, *, labels: Mapping[str, Sequence[str]] | None = None
) -> list[Violation]:
    """Rule-level checks: citations against the code list, and targets against their labels' titles.

    The labels of a rule are its examples plus, when given, ``labels[rule_id]`` (the crosswalk
    labels it hit).  Returns one :class:`Violation` per problem (``label_key`` set for a label).
    """
    if codes is None:
        codes = load_codes()

    out: list[Violation] = []
    for rule in rules.active:
        where = f"{rule.rule_id} (line {rule.line})"
        valid_cites = []
        for code, title in rule.citation:
            if code not in codes:
                out.append(
                    Violation(
                        "citation",
                        "",
                        "",
                        0.0,
                        code,
                        rule.rule_id,
                        f"{where}: cites {code}, which is not in {codes.name}",
                    )
                )
                continue
            valid_cites.append(code)
            if title and label_key(title) != label_key(codes.title(code)):
                out.append(
                    Violation(
                        "citation",
                        "",
                        "",
                        0.0,
                        code,
                        rule.rule_id,
                        f"{where}: cites {code} as {title!r}, but {code} is {codes.title(code)!r} in {codes.name}",
                    )
                )
        if rule.code != "core" and valid_cites and not any(codes.same_lineage(rule.code, c) for c in valid_cites):
            out.append(
                Violation(
                    "citation",
                    "",
                    "",
                    0.0,
                    rule.code,
                    rule.rule_id,
                    f"{where}: target {_fmt(codes, rule.code)} is not in the lineage of any cited code ({', '.join(valid_cites)})",
                )
            )
        if rule.code == "core":
            continue
        texts = list(rule.examples) + [t for t in (labels or {}).get(rule.rule_id, ()) if t not in rule.examples]
        seen: set[str] = set()
        for text in texts:
            key = label_key(text)
            st = parse_status([key])[0]
            core = st.core_key if rule.on == "core_key" else key
            if core in seen:
                continue
            seen.add(core)
            titles = _titles(codes, core)
            if not titles:
                continue
            title_codes = ", ".join(_fmt(codes, t) for t in titles)
            if not any(codes.same_lineage(rule.code, t) for t in titles):
                out.append(
                    Violation(
                        "rule_family",
                        key,
                        text,
                        0.0,
                        rule.code,
                        rule.rule_id,
                        f"{where}: target {_fmt(codes, rule.code)} — {text!r} is the KSCO-7 title of {title_codes}, "
                        f"not under {rule.code}",
                    )
                )
            if valid_cites and not any(codes.same_lineage(c, t) for c in valid_cites for t in titles):
                out.append(
                    Violation(
                        "rule_family",
                        key,
                        text,
                        0.0,
                        ",".join(valid_cites),
                        rule.rule_id,
                        f"{where}: cited {', '.join(_fmt(codes, c) for c in valid_cites)} — {text!r} is the KSCO-7 "
                        f"title of {title_codes}",
                    )
                )
    return out


def _exact_title_checks(row: Mapping[str, object], codes: CodeList) -> list[tuple[str, str, str]]:
    """A consistency rule that overrode an exact title (deliberately), or that was kept from doing so."""
    rid = str(row.get(f"{RATER}_rule_id", "") or "")
    if not rid:
        return []
    fired = str(row.get(f"{RATER}_code", "") or "")
    first = str(row.get(f"{RATER}_hits", "") or "").split(" ")[0]
    target = fired or first.partition("=")[2]
    if not target or target not in codes:
        return []
    exact = [
        (n, c)
        for n in ("title", *EXACT)
        if (c := str(row.get(f"{n}_code", "") or "")) in codes and _slot(n, c, codes) == "title"
    ]
    against = ", ".join(f"{n}={_fmt(codes, c)}" for n, c in exact if not codes.same_lineage(target, c))
    if not against:
        return []
    if fired:
        return [
            (
                target,
                f"{rid} overrides the exact KSCO-7 title {against} (deliberate: it lists title in its overrides)",
                rid,
            )
        ]
    return [(target, f"{rid} ({target}) may not override the exact KSCO-7 title {against}: not applied", rid)]


def _label_checks(decided: pd.DataFrame, codes: CodeList) -> list[list[Violation]]:
    """Per-label checks on a decided crosswalk; one list of violations per row."""

    names = [n for n in rater_names(decided)]
    out: list[list[Violation]] = []
    for row in decided.to_dict("records"):
        key, label = str(row["label_key"]), str(row["label"])
        persons = float(row.get("weight", row.get("n_rows", 0)) or 0)
        core, parsed = str(row["core_key"]), str(row["status_parsed"])
        final = str(row.get("ksco_code", "") or "")
        status = str(row.get("status", "") or "")
        v: list[Violation] = []

        def add(check: str, code: str, msg: str, rid: str = "") -> None:
            v.append(Violation(check, key, label, persons, code, rid, msg))  # noqa: B023 - called within this iteration only

        if final and final not in codes:
            add("not_in_ksco", final, f"final code {final} is not in {codes.name}")
        for n in names:
            c = str(row.get(f"{n}_code", "") or "")
            if c and c not in codes and c != BUCKET_NOT_EMPLOYED:
                add("not_in_ksco", c, f"{n} gave {c}, which is not in {codes.name}")
        titles = _titles(codes, core) if parsed in ("", "job_seeker") else ()
        if final in codes and titles and not any(codes.same_lineage(final, t) for t in titles):
            add(
                "title_contradiction",
                final,
                f"final {_fmt(codes, final)} contradicts the label's own KSCO-7 title "
                + ", ".join(_fmt(codes, t) for t in titles),
                str(row.get("rule_id", "") or ""),
            )
        for code, msg, rid in _exact_title_checks(row, codes):
            add("exact_title", code, msg, rid)
        if final in codes:
            military_words = bool(_MILITARY_RE.search(core))
            if military_words and not final.startswith("A"):
                add("status_mismatch", final, f"military label coded {_fmt(codes, final)}, outside group A")
            elif final.startswith("A") and not military_words:
                add("status_mismatch", final, f"group-A code {final} on a label with no military word")
        if _SEEKER_RE.search(key) and parsed not in ("job_seeker", "former", "not_employed"):
            add(
                "status_mismatch",
                final,
                "job-seeker prefix lost: the label says 구직/전직 but its status is not job_seeker",
            )
        if parsed == "job_seeker" and status and status != "job_seeker":
            add("status_mismatch", final, f"job-seeker prefix lost: status {status} for a job-seeker label")
        if parsed == "not_employed" and final:
            add("status_mismatch", final, f"not-employed label with the occupation code {final}")
        if final in codes and parsed in ("", "job_seeker") and str(row.get("code_source", "")) != "review":
            level = codes.level(final)
            if titles:
                deepest = max(codes.level(t) for t in titles)
                lineage = [t for t in titles if t in codes.ancestors(final)]
                if lineage and level > deepest:
                    t = max(lineage, key=codes.level)
                    add(
                        "too_deep",
                        final,
                        f"code deeper than the evidence: {label!r} is the title of {_fmt(codes, t)} "
                        f"(level {codes.level(t)}); final {final} is level {level}",
                    )
            elif len(core) <= 3 and level == 5:
                add(
                    "too_deep",
                    final,
                    f"code deeper than the evidence: generic word {core!r} with the 5-digit code {final}",
                )
        out.append(v)
    return out


# ---------------------------------------------------------------- check_crosswalk


@dataclass(frozen=True, eq=False)
class CheckResult:
    """The checked crosswalk, each rule's impact and every check hit.

    ``crosswalk``: a :class:`~coder.crosswalk.model.Crosswalk` re-decided with the policy it was
    checked under, with the ``consistency_*`` rater columns and ``violations`` (``check: message``
    joined by `` | ``) in its frame, and the rules file among its files.  ``impact``: one row per
    active rule — ``rule_id``, ``code``, ``labels``/``persons`` it fired on,
    ``changed_labels``/``changed_persons`` whose final code it changed, ``changed_from`` (the
    codes they had, with persons), ``blocked_labels``/``blocked_persons`` (a rater outside
    ``overrides`` disagreed), ``printed_persons``.
    ``violations``: one row per :class:`Violation`.
    """

    crosswalk: Crosswalk
    impact: pd.DataFrame
    violations: pd.DataFrame
    rules: ConsistencyRules

    @property
    def n_violations(self) -> int:
        return len(self.violations)


def check_crosswalk(
    crosswalk: Crosswalk | pd.DataFrame,
    rules: ConsistencyRules | str | Path | None = None,
    *,
    codes: CodeList | None = None,
    policy: DecisionPolicy | None = None,
) -> CheckResult:
    """Apply the decision rules as the rater ``consistency``, re-decide, and run every check.

    ``crosswalk``: a :class:`~coder.crosswalk.model.Crosswalk` (a bare frame is one with the
    default policy).  ``rules`` is a loaded rule set, a bundled name (:data:`RULE_SETS`), a path,
    or None (``default``).  ``policy``: decide with this
    :class:`~coder.crosswalk.decide.DecisionPolicy` (default: the crosswalk's own, so a stricter
    threshold chosen earlier stays).  Pure: the input is not changed.
    """
    xwalk = Crosswalk.of(crosswalk, codes=codes)
    codes = codes if codes is not None else xwalk.codes
    if not isinstance(rules, ConsistencyRules):
        rules = load_consistency_rules(rules, codes=codes)
    if policy is None:
        policy = xwalk.policy
    crosswalk = xwalk.frame
    stored = crosswalk.drop(columns=[c for c in crosswalk.columns if c.startswith(f"{RATER}_") or c == "violations"])
    before = decide(stored, policy, codes=codes)
    result = apply_consistency(before, rules, codes=codes, baseline=before["ksco_code"].astype(str).tolist())
    decided = decide(add_raters(before, [result]), policy, codes=codes)
    per_label = _label_checks(decided, codes)
    fired: dict[str, list[str]] = {}
    for rid, lab in zip(result.rule_ids, decided["label"].astype(str)):
        if rid:
            fired.setdefault(rid, []).append(lab)
    rule_v = check_rules(rules, codes, labels=fired)
    persons = decided["weight"].astype(float) if "weight" in decided else decided["n_rows"].astype(float)
    weight_of = dict(zip(decided["label_key"].astype(str), persons))
    rule_v = [
        Violation(v.check, v.label_key, v.label, weight_of.get(v.label_key, 0.0), v.code, v.rule_id, v.message)
        for v in rule_v
    ]
    by_key: dict[str, list[Violation]] = {}
    for v in rule_v:
        if v.label_key:
            by_key.setdefault(v.label_key, []).append(v)
    cells = []
    for key, vs in zip(decided["label_key"].astype(str), per_label):
        allv = vs + by_key.get(key, [])
        cells.append(" | ".join(f"{v.check}: {v.message}" for v in allv))
    out = decided.copy()
    out["violations"] = cells
    records = [v for vs in per_label for v in vs] + rule_v
    violations = pd.DataFrame(
        [v.__dict__ for v in records], columns=["check", "label_key", "label", "persons", "code", "rule_id", "message"]
    )
    impact = _impact(rules, result, before, decided, persons, codes)
    checked = xwalk.with_frame(out, policy=policy, files={rules.file_key: rules.sha256})
    return CheckResult(crosswalk=checked, impact=impact, violations=violations, rules=rules)


def _impact(
    rules: ConsistencyRules,
    result: RaterResult,
    before: pd.DataFrame,
    after: pd.DataFrame,
    persons: pd.Series,
    codes: CodeList,
) -> pd.DataFrame:
    rows = []
    rid = pd.Series(result.rule_ids, index=after.index)
    code = pd.Series(result.codes, index=after.index)
    old = before["ksco_code"].astype(str)
    new = after["ksco_code"].astype(str)
    for rule in rules.active:
        hit = rid == rule.rule_id
        fired = hit & (code != "")
        blocked = hit & (code == "")
        changed = fired & (old != new)
        frm = Counter()
        for c, p in zip(old[changed], persons[changed]):
            frm[c or "(none)"] += p
        printed = rule.printed.get("persons", "")
        rows.append(
            {
                "rule_id": rule.rule_id,
                "code": rule.code,
                "description": rule.description,
                "labels": int(fired.sum()),
                "persons": float(persons[fired].sum()),
                "changed_labels": int(changed.sum()),
                "changed_persons": float(persons[changed].sum()),
                "changed_from": "; ".join(
                    f"{c} ({p:,.0f})" for c, p in sorted(frm.items(), key=lambda kv: (-kv[1], kv[0]))
                ),
                "blocked_labels": int(blocked.sum()),
                "blocked_persons": float(persons[blocked].sum()),
                "printed_persons": printed if isinstance(printed, int | float) else "",
            }
        )
    return pd.DataFrame(rows)


def check_file(
    crosswalk_path: str | Path,
    output_path: str | Path,
    *,
    rules: str | Path | None = None,
    policy: DecisionPolicy | None = None,
    codes: CodeList | None = None,
    command: str = "coder check",
) -> CheckResult:
    """Read a stored crosswalk, :func:`check_crosswalk` it, write the result with a sidecar.

    ``rules``: a bundled rule set name (:data:`RULE_SETS`) or a TOML path (default ``default``);
    ``policy``: decide with this one instead of the crosswalk's own.  The sidecar records the
    policy, the rules file's sha256 and, in its summary, the impact table and the violation
    counts per check.  Nothing is written when reading or checking fails.
    """

    def stage(crosswalk: Crosswalk) -> StageResult:
        ruleset = load_consistency_rules(rules, codes=crosswalk.codes)
        result = check_crosswalk(crosswalk, ruleset, policy=policy)
        counts = Counter(result.violations["check"]) if len(result.violations) else Counter()
        summary = {
            "labels": len(result.crosswalk),
            "violations": int(result.n_violations),
            "violations_by_check": {c: int(counts.get(c, 0)) for c in CHECKS},
            "impact": result.impact.to_dict("records"),
        }
        return StageResult(
            result,
            [Output(output_path, result.crosswalk)],
            crosswalk=result.crosswalk,
            params={"rules": ruleset.path},
            summary=summary,
        )

    return run_stage(  # type: ignore[return-value]
        stage,
        crosswalk_path,
        {"the output (-o)": output_path},
        command=command,
        codes=codes,
        tables=["the output (-o)"],
    )


def check_examples(rules: ConsistencyRules, codes: CodeList | None = None) -> list[str]:
    """Every example its rule does not win with its code, and every counterexample that hits its rule.

    Examples are parsed like labels (status and core key from :mod:`coder.status`); empty = consistent.
    """

    problems = []
    for rule in rules.active:
        where = f"{rules.path}:{rule.line} ({rule.rule_id})"
        for ex in rule.examples:
            key = label_key(ex)
            st = parse_status([key])[0]
            hits = match_consistency(key, st.status, rules, core_key=st.core_key)
            if not hits or hits[0] != rule.rule_id:
                problems.append(f"{where}: example {ex!r} is won by {hits[0] if hits else 'no rule'}, not by this rule")
        for ex in rule.counterexamples:
            key = label_key(ex)
            st = parse_status([key])[0]
            if rule.hit(st.core_key if rule.on == "core_key" else key, st.status):
                problems.append(f"{where}: counterexample {ex!r} hits this rule")
    return problems
