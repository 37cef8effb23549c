"""Read and write a stored crosswalk (CSV or Parquet), types kept.

CSV is written as UTF-8 **with BOM** (``utf-8-sig``) so Korean Excel shows Hangul; it is
read back with encoding detection.  Codes stay strings (``01`` stays ``01``); counts,
levels and flags get their types back; ``<rater>_candidates`` cells are JSON and are
parsed back into ranked ``(code, score)`` pairs by :func:`rater_results`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import CrosswalkError
from ..io import read_table, write_table
from ..provenance import meta_path, write_meta
from ..raters.base import RaterResult, decode_candidates
from ..resources import file_sha256
from .assemble import LABEL_COLUMNS, STATUS_COLUMNS
from .decide import rater_names

__all__ = ["crosswalk_files", "rater_results", "read_crosswalk", "save_crosswalk", "write_crosswalk"]

_INT = ("n_rows", "ksco_level", "panel_valid")
_FLOAT = ("weight", "panel_agreement")
_BOOL = ("needs_review",)


def write_crosswalk(crosswalk: pd.DataFrame, path: str | Path) -> None:
    """Write a crosswalk by extension: CSV/TSV as UTF-8 with BOM, Parquet as is; atomic."""
    write_table(crosswalk, path, encoding="utf-8-sig")


def read_crosswalk(path: str | Path) -> pd.DataFrame:
    """Read a crosswalk written by :func:`write_crosswalk` (or by ``coder code --crosswalk``)."""
    frame = read_table(path)
    missing = [c for c in (*LABEL_COLUMNS, *STATUS_COLUMNS) if c not in frame.columns]
    if missing:
        raise CrosswalkError(
            f"{path}: not a crosswalk — column(s) {', '.join(missing)} missing. "
            "Write one with `coder code … --crosswalk FILE`.",
            path=path,
        )
    frame = frame.copy()
    try:
        for c in frame.columns:
            if c in _INT or c.endswith("_n_entries"):
                frame[c] = pd.to_numeric(frame[c].replace("", "0")).astype("int64")
            elif c in _FLOAT or c.endswith(("_score", "_confidence")):
                frame[c] = pd.to_numeric(frame[c].replace("", np.nan)).astype(float)
            elif c in _BOOL or (c.endswith(("_conflict", "_final_ok", "_valid")) and c != "panel_valid"):
                frame[c] = frame[c].map(_bool).astype(bool)
            elif frame[c].dtype == object:
                frame[c] = frame[c].fillna("").astype(str)
    except (ValueError, TypeError) as exc:
        raise CrosswalkError(f"{path}: column {c!r} has a value of the wrong type ({exc}).", path=path) from None
    dup = frame["label_key"].duplicated()
    if dup.any():
        raise CrosswalkError(
            f"{path}: label_key {frame.loc[dup, 'label_key'].iloc[0]!r} appears more than once — "
            "a crosswalk has one row per label.",
            path=path,
        )
    return frame


def _bool(v: object) -> bool:
    if isinstance(v, bool | np.bool_):
        return bool(v)
    s = str(v).strip().lower()
    if s in ("true", "1"):
        return True
    if s in ("false", "0", ""):
        return False
    raise ValueError(f"{v!r} is not True/False")


def rater_results(crosswalk: pd.DataFrame) -> list[RaterResult]:
    """Each stored rater's answers as a :class:`RaterResult` keyed by ``label_key`` (candidates parsed)."""
    keys = tuple(crosswalk["label_key"].astype(str))
    out = []
    for name in rater_names(crosswalk):

        def col(f: str, default: object, name: str = name) -> tuple:
            c = f"{name}_{f}"
            return tuple(crosswalk[c]) if c in crosswalk.columns else (default,) * len(keys)

        flags = tuple(tuple(x for x in str(f).split(";") if x) for f in col("flags", ""))
        out.append(
            RaterResult(
                name,
                keys,
                tuple(str(c) for c in col("code", "")),
                tuple(float(s) if s == s else math.nan for s in col("score", math.nan)),
                tuple(str(d) for d in col("detail", "")),
                rule_ids=tuple(str(r) for r in col("rule_id", "")),
                flags=flags,
                candidates=tuple(decode_candidates(c) for c in col("candidates", "")),
            )
        )
    return out


def crosswalk_files(path: str | Path, codes: object) -> dict[str, str]:
    """The rule/code-list files a stored crosswalk's sidecar records; refuse another code list.

    ``codes`` is the :class:`~coder.codes.CodeList` in use.  No sidecar → ``{}``.
    """
    import json

    side = meta_path(path)
    if not side.is_file():
        return {}
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    files = meta.get("files_sha256", {})
    name = Path(codes.path).name
    recorded = {k: v for k, v in files.items() if k.startswith("crosswalks/") and k.endswith(name)}
    for key, sha in recorded.items():
        if sha != codes.sha256:
            raise CrosswalkError(
                f"{path}: made with another code list ({key} sha256 {sha[:12]}…, this toolkit has "
                f"{codes.sha256[:12]}…) — re-code the labels with this code list (`coder code`).",
                path=path,
            )
    return dict(files)


def save_crosswalk(crosswalk: pd.DataFrame, path: str | Path, meta: dict) -> None:
    """Write a crosswalk (:func:`write_crosswalk`) and its sidecar ``<name>.meta.json`` with the output's sha256.

    ``meta`` comes from :func:`coder.provenance.build_meta`.  The crosswalk is written first,
    atomically; a failure leaves any earlier output intact.
    """
    write_crosswalk(crosswalk, path)
    if str(path) != "-":
        record = {**meta, "outputs": {**meta.get("outputs", {}), "this": str(path), "sha256": file_sha256(path)}}
        write_meta(path, record)
