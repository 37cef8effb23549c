"""Assemble the crosswalk: the label table, each label's parsed status, and every rater's columns.

:func:`assemble_crosswalk` writes what was *rated*; :func:`coder.crosswalk.decide.decide`
computes the final columns from it.  Columns, in order:

``label_key, label, n_rows, weight``
    the distinct-label table (:mod:`coder.labels`).
``status_parsed, status_rule, core_key``
    :mod:`coder.status`: the status the label's words give (``job_seeker``, ``not_employed``,
    ``unknown``, ``employed_unstated`` or ``""`` = decided by the code), the status rule that
    fired, and ``core_key``, what the raters coded (X of ``전직 X, 현재 구직중``, ``은퇴한 X``, the
    head of ``간호사 (대학병원)``); ``status_parsed`` ``former`` marks a former occupation.
``core_note``
    how the wording was read apart (``qualifier: 대학병원``, ``prefix: 현대자동차``,
    ``typo: 회사언 → 회사원``; '' for most labels).  Optional when read back: crosswalks stored
    before it existed have no such column.
``<rater>_code, _score, _rule_id, _flags, _candidates, _detail, _<extra>``
    every rater's own answer (:mod:`coder.raters.base`), raters in precedence order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..labels import LabelTable
from ..raters.base import REGISTRY, RaterResult, slot_of
from ..status import LabelStatus

__all__ = [
    "LABEL_COLUMNS",
    "STATUS_COLUMNS",
    "Assembler",
    "RatedColumns",
    "add_raters",
    "assemble_crosswalk",
    "order_raters",
]

LABEL_COLUMNS = ("label_key", "label", "n_rows", "weight")
STATUS_COLUMNS = ("status_parsed", "status_rule", "core_key")


def order_raters(names: Sequence[str], precedence: Sequence[str] | None = None) -> list[str]:
    """Rater names sorted by their slot's place in ``precedence`` (default :data:`REGISTRY`), then by name.

    Raises ValueError naming any rater whose slot has no place.
    """
    order = list(precedence) if precedence is not None else [s.slot for s in REGISTRY]
    rank = {slot: i for i, slot in enumerate(order)}
    unknown = [n for n in names if slot_of(n) not in rank]
    if unknown:
        raise ValueError(f"raters {unknown} have no place in the precedence {tuple(order)}")
    return sorted(names, key=lambda n: (rank[slot_of(n)], n))


@dataclass(frozen=True, eq=False)
class RatedColumns:
    """One rater's crosswalk columns (:meth:`~coder.raters.base.RaterResult.as_columns`) for its keys.

    What :func:`assemble_crosswalk` needs of a :class:`~coder.raters.base.RaterResult`, without its
    per-key tuples (candidates as ``(code, score)`` tuples, flags as tuples): a batch of labels is
    rated, turned into columns and dropped (:meth:`of`), and the batches put together (:meth:`concat`).
    """

    rater: str
    keys: Sequence[str]
    columns: Mapping[str, Sequence]

    @classmethod
    def of(cls, result: RaterResult) -> RatedColumns:
        cols = result.as_columns()
        for col, values in cols.items():
            if col.endswith("_score"):  # always floats (NaN for none): an array, not a tuple of floats
                cols[col] = np.array(values, dtype=float) if values else np.empty(0)
        return cls(result.rater, result.keys, cols)

    @classmethod
    def concat(cls, parts: Sequence[RatedColumns]) -> RatedColumns:
        """One rater's columns over consecutive batches of keys, as one."""
        if len(parts) == 1:
            return parts[0]

        def cat(values: list[Sequence]) -> Sequence:
            if all(isinstance(v, np.ndarray) for v in values):
                return np.concatenate(values)
            return [x for v in values for x in v]

        first = parts[0]
        return cls(
            first.rater,
            cat([p.keys for p in parts]),
            {col: cat([p.columns[col] for p in parts]) for col in first.columns},
        )


class Assembler:
    """The stored crosswalk of a label table, built for any run of labels (see :func:`assemble_crosswalk`).

    Each rater's columns are typed once (:func:`_column`) and each label's position in each rater's
    keys found once, so :meth:`frame` ``(a, b)`` builds labels ``a:b`` alone: a caller can assemble
    and decide a million labels a batch at a time, the batches together being the whole frame.
    """

    def __init__(
        self, labels: LabelTable, statuses: Sequence[LabelStatus], results: Sequence[RaterResult | RatedColumns]
    ) -> None:
        n = len(labels.frame)
        if len(statuses) != n:
            raise ValueError(f"{len(statuses)} statuses for {n} labels")
        rated = [r if isinstance(r, RatedColumns) else RatedColumns.of(r) for r in results]
        names = order_raters([r.rater for r in rated])
        if len(set(names)) != len(names):
            raise ValueError(f"rater names repeat: {names}")
        by_name = {r.rater: r for r in rated}
        self.labels = labels.frame
        core = [s.core_key for s in statuses]
        self.status = {
            "status_parsed": [s.status for s in statuses],
            "status_rule": [s.status_id for s in statuses],
            "core_key": core,
            "core_note": [s.note for s in statuses],
        }
        self.columns: dict[str, tuple[np.ndarray, np.ndarray, object]] = {}
        found: list[tuple[list[str], np.ndarray]] = []  # the offline raters all rate the same keys: looked up once
        for name in names:
            r = by_name[name]
            keys = list(r.keys)
            pos = next((p for k, p in found if k == keys), None)
            if pos is None:
                lookup = dict(zip(keys, range(len(keys))))
                pos = np.array([lookup.get(k, -1) for k in core], dtype=np.int64)
                del lookup
                found.append((keys, pos))
            for col, values in r.columns.items():
                arr, dtype = _column(values, col)
                self.columns[col] = (arr, pos, dtype)

    def __len__(self) -> int:
        return len(self.labels)

    def frame(self, a: int = 0, b: int | None = None) -> pd.DataFrame:
        """The stored crosswalk of labels ``a:b`` (index ``a…b-1``, as in the label table)."""
        b = len(self) if b is None else b
        frame = self.labels.iloc[a:b].copy()
        for col, values in self.status.items():
            frame[col] = values[a:b]
        columns = {col: pd.Series(arr[pos[a:b]], dtype=dtype) for col, (arr, pos, dtype) in self.columns.items()}
        if columns:
            frame = pd.concat([frame, pd.DataFrame(columns).set_axis(frame.index)], axis=1)
        return frame


def assemble_crosswalk(
    labels: LabelTable, statuses: Sequence[LabelStatus], results: Sequence[RaterResult | RatedColumns]
) -> pd.DataFrame:
    """The stored crosswalk without final columns (see the module docstring).

    ``results`` are keyed by core key (each rater saw the distinct core keys).
    """
    return Assembler(labels, statuses, results).frame()


def add_raters(crosswalk: pd.DataFrame, results: Sequence[RaterResult], *, on: str = "label_key") -> pd.DataFrame:
    """The crosswalk with these raters' columns added (replacing any stored under the same names).

    ``results`` are keyed by ``on`` (``label_key``, or ``core_key`` for raters that saw core keys);
    a label the result does not cover gets no answer.  Rater columns stay in precedence order
    after the other columns; the final columns are not recomputed (call ``decide``).
    """
    if on not in crosswalk.columns:
        raise ValueError(f"not a crosswalk: column {on!r} missing")
    names = [r.rater for r in results]
    if len(set(names)) != len(names):
        raise ValueError(f"rater names repeat: {names}")
    prefixes = tuple(f"{n}_" for n in names)
    stored = {c[: -len("_code")] for c in crosswalk.columns if c.endswith("_code")}
    drop = [
        c
        for c in crosswalk.columns
        if c.startswith(prefixes) and any(c.startswith(f"{n}_") for n in names if n in stored)
    ]
    frame = crosswalk.drop(columns=drop)
    keys = frame[on].astype(str).tolist()
    columns = {}
    for r in results:
        lookup = dict(zip(r.keys, range(len(r.keys))))
        pos = np.array([lookup.get(k, -1) for k in keys], dtype=np.int64)
        for col, values in r.as_columns().items():
            columns[col] = _take(values, pos, col).set_axis(frame.index)
    return pd.concat([frame, pd.DataFrame(columns, index=frame.index)], axis=1)


def _take(values: Sequence, pos: np.ndarray, col: str) -> pd.Series:
    """Values at ``pos`` (-1 = the label's core key was not rated), typed by the column's kind."""
    arr, dtype = _column(values, col)
    return pd.Series(arr[pos], dtype=dtype)


def _column(values: Sequence, col: str) -> tuple[np.ndarray, object]:
    """A rater column as an array with one trailing value for labels not rated, and its dtype (by the column's kind)."""
    n = len(values)
    if col.endswith("_score"):
        arr = np.empty(n + 1, dtype=float)
        arr[:n] = values
        arr[n] = math.nan
        return arr, float  # pos -1 picks the trailing NaN
    sample = next((v for v in values if v is not None), "")
    if isinstance(sample, bool | np.bool_):
        arr, fill, dtype = np.empty(n + 1, dtype=bool), False, bool
    elif isinstance(sample, int | np.integer):
        arr, fill, dtype = np.empty(n + 1, dtype=np.int64), 0, "int64"
    elif isinstance(sample, float | np.floating):
        arr, fill, dtype = np.empty(n + 1, dtype=float), math.nan, float
    else:
        arr = np.empty(n + 1, dtype=object)
        if isinstance(values, list | tuple) and pd.api.types.infer_dtype(values, skipna=False) == "string":
            arr[:n] = values  # text already, as most columns are: numpy copies it in C
        else:
            arr[:n] = ["" if v is None else v if isinstance(v, str) else str(v) for v in values]
        arr[n] = ""
        return arr, object
    plain = isinstance(values, list | tuple) and None not in values  # nothing to fill: numpy converts in C
    arr[:n] = values if plain else [fill if v is None else v for v in values]
    arr[n] = fill
    return arr, dtype
