"""The distinct-label table: code labels, not rows.

:func:`tabulate_labels` turns a text column (and optional weights) into one row
per distinct :func:`~coder.normalize.label_key` — ``label_key``, ``label`` (the
most frequent raw spelling), ``n_rows``, ``weight`` — plus, for every input row,
the index of its label.  Normalisation runs once per distinct raw string, and
the counts come from ``numpy.bincount``: nothing loops over rows in Python.
Missing and blank texts, and placeholders such as ``NaN``, ``null``, ``N/A``, ``-``
(see :mod:`coder.normalize`), share the key ``""``.

The table is sorted by ``weight``, then ``n_rows`` (both descending), then ``label_key``, so two runs
on the same data give the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import InputError
from .normalize import label_key

__all__ = ["LabelTable", "tabulate_labels"]


@dataclass(frozen=True, eq=False)
class LabelTable:
    """Distinct labels (``frame``) and, per input row, its label's position (``row_label``)."""

    frame: pd.DataFrame
    row_label: np.ndarray

    @property
    def keys(self) -> list[str]:
        return self.frame["label_key"].tolist()

    def __len__(self) -> int:
        return len(self.frame)


def _weights(weights: pd.Series, column: str) -> np.ndarray:
    values = pd.to_numeric(pd.Series(weights).replace("", np.nan), errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if bad.size:
        shown = ", ".join(f"row {i + 1} ({weights.iloc[i]!r})" for i in bad[:5]) + (
            f" and {bad.size - 5} more" if bad.size > 5 else ""
        )
        raise InputError(
            f"weight column {column!r}: {bad.size} value(s) are missing, not numbers or negative: {shown} — "
            "fix them, or drop --weight-col to count rows.",
            column=column,
        )
    return values


def tabulate_labels(texts: pd.Series, weights: pd.Series | None = None, *, weight_name: str = "weight") -> LabelTable:
    """Build the distinct-label table of a text column (see the module docstring)."""
    raw_ids, raw_uniques = pd.factorize(pd.Series(texts, copy=False), use_na_sentinel=True)
    raw_keys = [label_key(t) for t in raw_uniques]
    n_raw = len(raw_uniques)
    # missing values (-1) become one extra raw id whose key is ""
    raw_ids = np.where(raw_ids < 0, n_raw, raw_ids)
    raw_keys.append("")
    raw_text = [str(t) for t in raw_uniques] + [""]
    key_of_raw, keys = pd.factorize(pd.Series(raw_keys, dtype=object))
    row_key = key_of_raw[raw_ids]
    n_keys = len(keys)
    n_rows = np.bincount(row_key, minlength=n_keys)
    w = _weights(weights, weight_name) if weights is not None else None
    weight = np.bincount(row_key, weights=w, minlength=n_keys) if w is not None else n_rows.astype(float)
    # the most frequent raw spelling of each key (ties: first seen)
    raw_count = np.bincount(raw_ids, minlength=n_raw + 1)
    order = np.lexsort((np.arange(n_raw + 1), -raw_count))
    label = [""] * n_keys
    filled = np.zeros(n_keys, dtype=bool)
    for r in order:
        k = key_of_raw[r]
        if not filled[k] and raw_count[r] > 0:
            label[k] = raw_text[r]
            filled[k] = True
    frame = pd.DataFrame(
        {"label_key": pd.Series(keys, dtype=object), "label": label, "n_rows": n_rows, "weight": weight}
    )
    keep = frame["n_rows"] > 0
    frame = frame[keep]
    sort = np.lexsort(
        (
            frame["label_key"].to_numpy(dtype=object).astype(str),
            -frame["n_rows"].to_numpy(),
            -frame["weight"].to_numpy(),
        )
    )
    frame = frame.iloc[sort].reset_index()
    position = np.full(n_keys, -1, dtype=np.int64)
    position[frame["index"].to_numpy()] = np.arange(len(frame))
    frame = frame.drop(columns="index")
    return LabelTable(frame=frame, row_label=position[row_key])
