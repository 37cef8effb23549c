"""Read and write a stored crosswalk (CSV or Parquet), types kept, with its state.

CSV is written as UTF-8 **with BOM** (``utf-8-sig``) so Korean Excel shows Hangul; it is
read back with encoding detection.  Codes stay strings (``01`` stays ``01``); counts,
levels and flags get their types back; ``<rater>_candidates`` cells are JSON and are
parsed back into ranked ``(code, score)`` pairs by :func:`rater_results`.

:func:`read_crosswalk` returns a :class:`~coder.crosswalk.model.Crosswalk`: the table plus what
its sidecar ``<file>.meta.json`` records — the policy it was decided with (``params.policy``),
the code list it was coded against (refused when it is not the toolkit's) and the files that
made it (``files_sha256``), and the residual-error estimates of its audit samples (``audit``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..codes import CodeList, load_codes
from ..errors import CrosswalkError
from ..io import read_table, write_table
from ..provenance import meta_path
from ..raters.base import RaterResult, decode_candidates
from ..resources import file_sha256
from .assemble import LABEL_COLUMNS, STATUS_COLUMNS
from .decide import DecisionPolicy, rater_names
from .model import Crosswalk, code_list_record

__all__ = ["rater_results", "read_crosswalk", "write_crosswalk"]

_INT = ("n_rows", "ksco_level", "panel_valid")
_FLOAT = ("weight", "panel_agreement")
_BOOL = ("needs_review",)


def write_crosswalk(crosswalk: Crosswalk | pd.DataFrame, path: str | Path) -> None:
    """Write a crosswalk's table by extension: CSV/TSV as UTF-8 with BOM, Parquet as is; atomic.

    Only the table: the stage runner (:func:`coder.crosswalk.stage.run_stage`) writes the sidecar.
    """
    frame = crosswalk.frame if isinstance(crosswalk, Crosswalk) else crosswalk
    write_table(frame, path, encoding="utf-8-sig")


def read_crosswalk(path: str | Path, *, codes: CodeList | None = None) -> Crosswalk:
    """Read a crosswalk written by a stage (or by ``coder code --crosswalk``) with its sidecar.

    The sidecar ``<file>.meta.json`` gives the policy it was decided with and the files that made
    it.  A sidecar that names another code list than ``codes`` (default: the toolkit's) is
    refused (:class:`~coder.errors.CrosswalkError`).  Without a sidecar the policy it was decided
    with is unknown: the crosswalk gets the default policy and a note saying so (``notes``).
    """
    if codes is None:
        codes = load_codes()
    frame = _read_frame(path)
    sha = file_sha256(path)
    policy, files, notes, audit = _read_sidecar(path, sha, codes)
    return Crosswalk(
        frame, policy=policy, codes=codes, files=files, path=str(path), sha256=sha, notes=notes, audit=audit
    )


def _read_frame(path: str | Path) -> pd.DataFrame:
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


def rater_results(crosswalk: Crosswalk | pd.DataFrame) -> list[RaterResult]:
    """Each stored rater's answers as a :class:`RaterResult` keyed by ``label_key`` (candidates parsed)."""
    if isinstance(crosswalk, Crosswalk):
        crosswalk = crosswalk.frame
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


def _read_sidecar(
    path: str | Path, sha: str, codes: CodeList
) -> tuple[DecisionPolicy, dict[str, str], tuple[str, ...], tuple[dict, ...]]:
    """``(policy, files, notes, audit)`` from the sidecar of a stored crosswalk; refuse another code list."""
    side = meta_path(path)
    if not side.is_file():
        return (
            DecisionPolicy(),
            {},
            (
                f"{path} has no sidecar {side.name}: the policy it was decided with is unknown, "
                "so the default policy is used (choose one with `coder decide`)",
            ),
            (),
        )
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CrosswalkError(
            f"{side}: the sidecar of {path} cannot be read ({exc}) — restore it, or delete it to use the default policy.",
            path=side,
        ) from None
    files = {str(k): str(v) for k, v in (meta.get("files_sha256") or {}).items()}
    _check_code_list(path, meta, files, codes)
    notes: list[str] = []
    params = meta.get("params") or {}
    raw = params.get("policy") if isinstance(params, dict) else None
    if raw is None:
        policy = DecisionPolicy()
        notes.append(f"{side.name} records no policy: {path} is decided again with the default policy")
    else:
        try:
            policy = DecisionPolicy.from_dict(raw)
        except (TypeError, ValueError) as exc:
            raise CrosswalkError(
                f"{side}: params.policy cannot be read ({exc}) — fix the sidecar, or delete it to read the crosswalk with the default policy.",
                path=side,
            ) from None
    audit = meta.get("audit") or []
    if not isinstance(audit, list) or not all(isinstance(a, dict) for a in audit):
        raise CrosswalkError(
            f"{side}: audit is not a list of records — fix the sidecar, or delete its audit entry.", path=side
        )
    recorded = (meta.get("outputs") or {}).get("sha256")
    if recorded and recorded != sha:
        notes.append(
            f"{path} changed after its sidecar was written (sha256 {sha[:12]}…, the sidecar says {recorded[:12]}…); "
            "the policy the sidecar records is used"
        )
    return policy, files, tuple(notes), tuple(audit)


def _check_code_list(path: str | Path, meta: dict, files: dict[str, str], codes: CodeList) -> None:
    """Refuse a sidecar that names another code list (by name or sha256) than ``codes``.

    The evidence: the sidecar's ``code_list`` record, an older sidecar's ``params.code_list``
    name, and the code list file's sha256 among ``files_sha256``; any one that differs refuses.
    """
    ours = code_list_record(codes)
    named = meta.get("code_list") if isinstance(meta.get("code_list"), dict) else {}
    params = meta.get("params") if isinstance(meta.get("params"), dict) else {}
    legacy = params.get("code_list")
    names = {str(n) for n in (named.get("name"), legacy if isinstance(legacy, str) else None) if n}
    shas = {str(h) for h in (named.get("sha256"), files.get(ours["file"])) if h}
    other = sorted(names - {ours["name"]})
    if other:
        raise CrosswalkError(
            f"{path}: made with another code list ({', '.join(other)}; this toolkit codes to {ours['name']}) — "
            "re-code the labels with this code list (`coder code`).",
            path=path,
        )
    other = sorted(shas - {ours["sha256"]})
    if other:
        raise CrosswalkError(
            f"{path}: made with another code list ({ours['file']} sha256 {other[0][:12]}…, this toolkit has "
            f"{ours['sha256'][:12]}…) — re-code the labels with this code list (`coder code`).",
            path=path,
        )
