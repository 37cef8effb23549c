"""The rater contract: every coder answers per label, side by side.

A *rater* is anything that takes a sequence of label keys (see
:func:`coder.normalize.label_key`) and returns a :class:`RaterResult` with one
answer per key, in the same order.  Title lookup (``title``), the rule mapper
(``rule``), the fuzzy shortlist (``fuzzy``), the job-dictionary index
(``index``), the learned model (``model``), each LLM panel member
(``panel_<id>``) and the reviewer (``review``) are raters.  The crosswalk
(:mod:`coder.crosswalk`) stores each as columns ``<rater>_code``,
``<rater>_score``, ``<rater>_detail`` plus ``<rater>_<extra>`` for each extra
column, and chooses the final code by a documented precedence.

An empty code means *no answer*.  Scores are in [0, 1] where the rater has a
notion of confidence and NaN where it does not.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["Rater", "RaterResult"]


@dataclass(frozen=True)
class RaterResult:
    """One rater's answers for a sequence of label keys (same order, same length)."""

    rater: str
    keys: tuple[str, ...]
    codes: tuple[str, ...]
    scores: tuple[float, ...]
    details: tuple[str, ...]
    extra: Mapping[str, tuple] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.keys)
        lengths = {"codes": len(self.codes), "scores": len(self.scores), "details": len(self.details)}
        lengths.update({f"extra[{k}]": len(v) for k, v in self.extra.items()})
        bad = {k: v for k, v in lengths.items() if v != n}
        if bad:
            raise ValueError(f"rater {self.rater}: {bad} do not match {n} keys")

    @classmethod
    def empty(cls, rater: str, keys: Sequence[str]) -> RaterResult:
        n = len(keys)
        return cls(rater, tuple(keys), ("",) * n, (math.nan,) * n, ("",) * n)

    def as_columns(self) -> dict[str, tuple]:
        """Crosswalk columns of this rater, named ``<rater>_<field>``."""
        cols = {
            f"{self.rater}_code": self.codes,
            f"{self.rater}_score": self.scores,
            f"{self.rater}_detail": self.details,
        }
        cols.update({f"{self.rater}_{k}": v for k, v in self.extra.items()})
        return cols


Rater = Callable[[Sequence[str]], RaterResult]
"""A rater: label keys in, one :class:`RaterResult` out."""
