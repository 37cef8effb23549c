"""Status parsing: employed, employed (occupation not stated), job-seeker, not employed, military, unknown.

Rules live in ``rules/status.csv`` (``status_id, status, pattern, match, example,
counterexample, note``), applied to the label key (see :mod:`coder.normalize`)
in file order: the first rule that matches decides.

* ``not_employed`` — 무직, students, homemakers, retired: bucket ``0``, no code.
* ``job_seeker`` — ``전직 X, 현재 구직중``: the pattern's ``core`` group is X, which
  the raters code as if it stood alone; without a ``core`` group the label is a
  job-seeker with no former occupation (bucket ``0``).
* ``employed_unstated`` — 자영업(자), 알바(생), 아르바이트, 프리랜서, 직장인 on their
  own: the person works but the label names no occupation; ``core_key`` is ``""`` so
  no rater codes it.  Phrases that name the work (``편의점 알바``) are not matched
  (the rules are ``full`` matches) and are coded by the raters.
* ``unknown`` — 모름, 무응답, an empty label (incl. ``NaN``, ``-``, ``N/A``, see
  :mod:`coder.normalize`): no code, unknown bucket.

A label key longer than :data:`~coder.patterns.MAX_MATCH_CHARS` (200) characters matches no
status rule, and a pattern that can backtrack exponentially (``(a+)+``) is refused at load time
(see :mod:`coder.patterns`).

Labels no status rule matches are coded by the raters; their status is then
``military`` when the final code is in group ``A``, ``employed`` when there is
a code, ``unknown`` when there is none.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import RuleError
from .normalize import label_key
from .patterns import MATCH_MODES, MAX_MATCH_CHARS, pattern_problem, split_cell
from .resources import data_path, file_identity, file_sha256, read_csv_rows

__all__ = [
    "STATUSES",
    "LabelStatus",
    "StatusRule",
    "StatusRules",
    "load_status_rules",
    "parse_status",
]

STATUSES = ("employed", "employed_unstated", "job_seeker", "not_employed", "military", "unknown")
_RULE_STATUSES = ("job_seeker", "not_employed", "employed_unstated", "unknown")
_COLUMNS = ("status_id", "status", "pattern", "match", "example", "counterexample", "note")


@dataclass(frozen=True)
class StatusRule:
    status_id: str
    status: str
    pattern: str
    match: str
    examples: tuple[str, ...]
    counterexamples: tuple[str, ...]
    note: str
    line: int
    regex: re.Pattern[str]

    @functools.cached_property
    def _suffix_regex(self) -> re.Pattern[str]:
        return re.compile(f"(?:{self.regex.pattern})$")

    def find(self, key: str) -> re.Match[str] | None:
        if len(key) > MAX_MATCH_CHARS:
            return None
        if self.match == "full":
            return self.regex.fullmatch(key)
        if self.match == "prefix":
            return self.regex.match(key)
        if self.match == "suffix":
            return self._suffix_regex.search(key)
        return self.regex.search(key)


@dataclass(frozen=True)
class StatusRules:
    path: str
    sha256: str
    rules: tuple[StatusRule, ...]


@dataclass(frozen=True)
class LabelStatus:
    """Status of one label key; ``core_key`` is what the raters code ('' = nothing)."""

    status: str  # job_seeker | not_employed | employed_unstated | unknown | "" (decided after coding)
    core_key: str
    status_id: str


def load_status_rules(path: str | Path | None = None) -> StatusRules:
    """Load and validate ``rules/status.csv``; one :class:`RuleError` lists every bad row."""
    p = Path(path) if path is not None else data_path("rules", "status.csv")
    return _load(file_identity(p))


@functools.lru_cache(maxsize=8)
def _load(identity: tuple[str, int, int]) -> StatusRules:
    # keyed by (path, mtime_ns, size): an edited file is read again
    path = identity[0]
    problems: list[str] = []
    rules: list[StatusRule] = []
    rows = read_csv_rows(path, _COLUMNS, error=RuleError, what="status rules file")
    seen: set[str] = set()
    for line, row in rows:
        sid = (row["status_id"] or "").strip()
        where = f"{path}:{line} ({sid or 'no id'})"
        if not sid or sid in seen:
            problems.append(f"{where}: status_id is empty or repeated")
        seen.add(sid)
        status = (row["status"] or "").strip()
        if status not in _RULE_STATUSES:
            problems.append(f"{where}: status {status!r} is not one of {', '.join(_RULE_STATUSES)}")
        match = (row["match"] or "").strip()
        if match not in MATCH_MODES:
            problems.append(f"{where}: match {match!r} is not one of {', '.join(MATCH_MODES)}")
        try:
            regex = re.compile(row["pattern"] or "")
        except re.error as exc:
            problems.append(f"{where}: pattern {row['pattern']!r} does not compile ({exc})")
            continue
        if not row["pattern"]:
            problems.append(f"{where}: empty pattern")
            continue
        slow = pattern_problem(row["pattern"], match) if match in MATCH_MODES else None
        if slow:
            problems.append(f"{where}: {slow}")
            continue
        rules.append(
            StatusRule(
                sid,
                status,
                row["pattern"],
                match,
                split_cell(row["example"]),
                split_cell(row["counterexample"]),
                row["note"] or "",
                line,
                regex,
            )
        )
    if problems:
        raise RuleError(
            f"{path}: {len(problems)} bad row(s) — " + "; ".join(problems) + ". Fix them or delete the rows.",
            path=path,
            problems=problems,
        )
    return StatusRules(path=path, sha256=file_sha256(path), rules=tuple(rules))


def parse_status(keys: Sequence[str], rules: StatusRules | None = None) -> list[LabelStatus]:
    """Status and core key for each label key (see the module docstring)."""
    if rules is None:
        rules = load_status_rules()
    out = []
    for key in keys:
        if not key:
            out.append(LabelStatus("unknown", "", ""))
            continue
        for rule in rules.rules:
            m = rule.find(key)
            if m is None:
                continue
            core = ""
            if rule.status == "job_seeker" and "core" in rule.regex.groupindex:
                core = label_key(m.group("core") or "")
            out.append(LabelStatus(rule.status, core, rule.status_id))
            break
        else:
            out.append(LabelStatus("", key, ""))
    return out
