"""The rater contract: every coder answers per label, side by side.

A *rater* takes a sequence of label keys (see :func:`coder.normalize.label_key`)
and returns a :class:`RaterResult` with one answer per key, in the same order.
Title lookup (``title``), the rule mapper (``rule``), the job-dictionary index
(``index``), the learned model (``model``), the fuzzy shortlist (``fuzzy``), each
LLM panel member (``panel_<id>``), the consistency rules (``consistency``) and the
reviewer (``review``) are raters.

Each rater has a name, a precedence **slot** (``panel_a`` sits in slot ``panel``)
and is **strong** (its code is final when no higher slot answers) or **weak**
(final only at or above a score threshold; see :mod:`coder.crosswalk.decide`).
:data:`REGISTRY` lists the known slots in precedence order with their default
thresholds and how they contribute candidates; :func:`coder.crosswalk.decide.decide`, the
panel prompt, the review sheet and the threshold grid iterate it instead of naming raters.

The crosswalk stores each result as columns (:meth:`RaterResult.as_columns`):

``<rater>_code``        the answer ('' = no answer)
``<rater>_score``       confidence in [0, 1], NaN where the rater has none
``<rater>_rule_id``     the rule that fired (mapper, consistency), if any
``<rater>_flags``       ``ambiguous``, ``conflict``, ``invalid``, ``too_long`` joined by ``;``
``<rater>_candidates``  ranked ``[[code, score], ...]`` as JSON
``<rater>_detail``      human-readable detail
``<rater>_<extra>``     rater-specific extra columns
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "FIELDS",
    "FLAGS",
    "REGISTRY",
    "RaterResult",
    "RaterSpec",
    "decode_candidates",
    "encode_candidates",
    "rater_spec",
    "slot_of",
]

FLAGS = ("ambiguous", "conflict", "invalid", "too_long")
"""Flags a rater may raise on an answer (``too_long``: the label was too long to match, see :mod:`coder.patterns`)."""

FIELDS = ("code", "score", "rule_id", "flags", "candidates", "detail")
"""The stored column suffixes every rater has, in column order."""


@dataclass(frozen=True)
class RaterSpec:
    """One entry of the rater registry.

    ``name``        the rater's name and precedence slot (panel members ``panel_<id>`` share the
                    slot ``panel``)
    ``strong``      a strong rater's valid code is final when no higher slot answers; a weak rater's
                    only at or above its threshold, and then the label goes to review
    ``threshold``   a weak rater's default threshold (``inf`` for strong raters: not used)
    ``candidates``  how it contributes candidates to the panel prompt and the review sheet:
                    ``"code"`` (its code, and every hit in ``<name>_hits`` when it has one),
                    ``"ranked"`` (its ranked ``<name>_candidates``) or ``""`` (none)
    ``label``       the Korean name of its candidates in the panel prompt
    ``human``       its answers are a person's decisions (final; see :mod:`coder.crosswalk.decide`)
    """

    name: str
    strong: bool
    threshold: float = math.inf
    candidates: str = ""
    label: str = ""
    human: bool = False

    @property
    def slot(self) -> str:
        return self.name


REGISTRY: tuple[RaterSpec, ...] = (
    RaterSpec("review", True, human=True),
    RaterSpec("consistency", True),
    RaterSpec("title", True, candidates="code", label="분류명 일치"),
    RaterSpec("rule", True, candidates="code", label="규칙"),
    RaterSpec("index", True, candidates="code", label="직업사전"),
    RaterSpec("panel", True),
    # thresholds: the evidence is in coder.raters.model_fit.MODEL_THRESHOLD and coder.raters.fuzzy.FUZZY_THRESHOLD
    RaterSpec("model", False, 0.6, candidates="ranked", label="모델"),
    RaterSpec("fuzzy", False, 0.95, candidates="ranked", label="유사 명칭"),
)
"""Every rater slot in default precedence order (first answers first).

Adding a rater is one module that returns a :class:`RaterResult` plus one entry here.
"""

_BY_NAME = {s.name: s for s in REGISTRY}


def rater_spec(rater: str) -> RaterSpec:
    """The registry entry of a rater name (``panel_a`` → the ``panel`` entry); KeyError names the known slots."""
    try:
        return _BY_NAME[slot_of(rater)]
    except KeyError:
        raise KeyError(f"unknown rater {rater!r}; raters are {', '.join(_BY_NAME)} and panel_<id>") from None


def slot_of(rater: str) -> str:
    """The precedence slot of a rater name (``panel_a`` → ``panel``)."""
    return "panel" if rater.startswith("panel_") else rater


def encode_candidates(pairs: Sequence[tuple[str, float]]) -> str:
    """Ranked ``(code, score)`` pairs as a JSON cell (``""`` for none); scores rounded to 4 places."""
    if not pairs:
        return ""
    out = [
        [str(c), None if s is None or (isinstance(s, float) and math.isnan(s)) else round(float(s), 4)]
        for c, s in pairs
    ]
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def decode_candidates(cell: object) -> tuple[tuple[str, float], ...]:
    """Parse a candidates cell written by :func:`encode_candidates` (codes stay strings)."""
    if cell is None or (isinstance(cell, float) and math.isnan(cell)) or cell == "":
        return ()
    if isinstance(cell, list | tuple):
        items = cell
    else:
        items = json.loads(str(cell))
    return tuple((str(c), math.nan if s is None else float(s)) for c, s in items)


def _per_key(value: Sequence | None, n: int, default: object) -> tuple:
    return (default,) * n if value is None else tuple(value)


@dataclass(frozen=True)
class RaterResult:
    """One rater's answers for a sequence of label keys (same order, same length).

    ``rule_ids``, ``flags`` and ``candidates`` are optional per key (empty when not given).
    """

    rater: str
    keys: tuple[str, ...]
    codes: tuple[str, ...]
    scores: tuple[float, ...]
    details: tuple[str, ...]
    extra: Mapping[str, tuple] = field(default_factory=dict)
    rule_ids: tuple[str, ...] | None = None
    flags: tuple[tuple[str, ...], ...] | None = None
    candidates: tuple[tuple[tuple[str, float], ...], ...] | None = None

    def __post_init__(self) -> None:
        n = len(self.keys)
        object.__setattr__(self, "keys", tuple(self.keys))
        object.__setattr__(self, "codes", tuple(self.codes))
        object.__setattr__(self, "scores", tuple(self.scores))
        object.__setattr__(self, "details", tuple(self.details))
        object.__setattr__(self, "rule_ids", _per_key(self.rule_ids, n, ""))
        object.__setattr__(self, "flags", tuple(tuple(f) for f in _per_key(self.flags, n, ())))
        object.__setattr__(self, "candidates", tuple(tuple(c) for c in _per_key(self.candidates, n, ())))
        lengths = {
            "codes": len(self.codes),
            "scores": len(self.scores),
            "details": len(self.details),
            "rule_ids": len(self.rule_ids),
            "flags": len(self.flags),
            "candidates": len(self.candidates),
        }
        lengths.update({f"extra[{k}]": len(v) for k, v in self.extra.items()})
        bad = {k: v for k, v in lengths.items() if v != n}
        if bad:
            raise ValueError(f"rater {self.rater}: {bad} do not match {n} keys")
        unknown = sorted({f for fs in self.flags for f in fs} - set(FLAGS))
        if unknown:
            raise ValueError(f"rater {self.rater}: unknown flag(s) {unknown}; flags are {FLAGS}")
        clash = sorted(set(self.extra) & set(FIELDS))
        if clash:
            raise ValueError(f"rater {self.rater}: extra column(s) {clash} shadow the standard fields")

    @classmethod
    def empty(cls, rater: str, keys: Sequence[str]) -> RaterResult:
        n = len(keys)
        return cls(rater, tuple(keys), ("",) * n, (math.nan,) * n, ("",) * n)

    @property
    def slot(self) -> str:
        return slot_of(self.rater)

    def as_columns(self) -> dict[str, tuple]:
        """Crosswalk columns of this rater, named ``<rater>_<field>`` (see the module docstring)."""
        cols = {
            f"{self.rater}_code": self.codes,
            f"{self.rater}_score": tuple(math.nan if s is None else float(s) for s in self.scores),
            f"{self.rater}_rule_id": self.rule_ids,
            f"{self.rater}_flags": tuple(";".join(f) for f in self.flags),
            f"{self.rater}_candidates": tuple(encode_candidates(c) for c in self.candidates),
            f"{self.rater}_detail": self.details,
        }
        cols.update({f"{self.rater}_{k}": v for k, v in self.extra.items()})
        return cols
