"""Coding a table: rows → distinct labels → raters → crosswalk → rows.

:func:`code_frame` is the library twin of ``coder code``; :func:`code_file` adds
reading, writing and the provenance sidecars.  Labels are coded once each and
joined back to the rows by position, so every input row comes out, in order,
with all its columns and these added:

``ksco_code``   final KSCO-7 code ('' when none)
``ksco_level``  its level 1–5 (0 when none)
``ksco_major``  bucket: ``1``–``9``, ``A`` military, ``0`` not in employment, '' unknown
``ksco_title``  the code's title
``code_status`` employed | job_seeker | not_employed | military | unknown
``code_source`` the rater that decided (title, rule, index, model, fuzzy, status, …)
``rule_id``     the mapper or status rule that fired, if any
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .codes import CodeList, load_codes
from .crosswalk.decide import PRECEDENCE, build_crosswalk
from .errors import InputError
from .io import read_table, write_table
from .labels import LabelTable, tabulate_labels
from .provenance import build_meta, write_meta
from .raters.base import RaterResult
from .raters.fuzzy import FUZZY_THRESHOLD, fuzzy_shortlist
from .raters.index import JobIndex, index_rater, load_index
from .raters.model import MODEL_THRESHOLD, JobModel, load_model, model_rater
from .raters.rules import RuleSet, apply_rules, load_rules
from .raters.title import lookup_titles
from .resources import file_sha256
from .status import StatusRules, load_status_rules, parse_status

__all__ = ["OUTPUT_COLUMNS", "CodingResult", "code_file", "code_frame", "code_labels"]

OUTPUT_COLUMNS = ("ksco_code", "ksco_level", "ksco_major", "ksco_title", "code_status", "code_source", "rule_id")
_FROM_CROSSWALK = {"code_status": "status"}


@dataclass(frozen=True, eq=False)
class CodingResult:
    """What a coding run produced: coded rows, the crosswalk, and what it used."""

    rows: pd.DataFrame
    crosswalk: pd.DataFrame
    files: dict[str, str] = field(default_factory=dict)
    params: dict[str, object] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> dict[str, object]:
        """Persons by code source, major bucket, status and level.

        Persons are the weight sums (the row counts when no weight column was given).
        """
        xw = self.crosswalk

        def by(col: str, empty: str) -> dict[str, float]:
            sums = xw.groupby(col)["weight"].sum()
            return {(str(k) or empty): _num(v) for k, v in sums.items()}

        return {
            "rows": int(xw["n_rows"].sum()),
            "labels": len(xw),
            "persons": _num(xw["weight"].sum()),
            "by_source": by("code_source", "(none)"),
            "by_major": by("ksco_major", "(unknown)"),
            "by_status": by("status", "(none)"),
            "by_level": by("ksco_level", "0"),
            "needs_review_labels": int(xw["needs_review"].sum()),
            "needs_review_persons": _num(xw.loc[xw["needs_review"], "weight"].sum()),
        }


def _num(v: float) -> float | int:
    v = float(v)
    return int(v) if v.is_integer() else v


@dataclass(frozen=True, eq=False)
class _Setup:
    codes: CodeList
    rules: RuleSet
    status_rules: StatusRules
    index: JobIndex
    model: JobModel | None

    def files(self) -> dict[str, str]:
        files = {
            "crosswalks/" + Path(self.codes.path).name: self.codes.sha256,
            "rules/" + Path(self.rules.path).name: self.rules.sha256,
            "rules/" + Path(self.status_rules.path).name: self.status_rules.sha256,
        }
        files.update({f"crosswalks/{name}": sha for name, sha in self.index.sha256.items()})
        if self.model is not None:
            meta = self.model.metadata
            files[f"model/{meta.get('model_file', 'model')}"] = str(meta.get("model_sha256", ""))
        return files


def _setup(
    codes: CodeList | None,
    rules: RuleSet | str | Path | None,
    status_rules: StatusRules | None,
    model: JobModel | str | Path | bool | None = None,
) -> _Setup:
    codes = codes or load_codes()
    if not isinstance(rules, RuleSet):
        rules = load_rules(rules, codes=codes)
    if model is False:
        loaded = None
    elif model is None or model is True:
        loaded = load_model()
    elif isinstance(model, JobModel):
        loaded = model
    else:
        loaded = load_model(model)
    return _Setup(codes, rules, status_rules or load_status_rules(), load_index(codes=codes), loaded)


def code_labels(
    labels: LabelTable,
    *,
    codes: CodeList | None = None,
    rules: RuleSet | str | Path | None = None,
    status_rules: StatusRules | None = None,
    model: JobModel | str | Path | bool | None = None,
    extra_raters: Sequence[RaterResult] = (),
    fuzzy_k: int = 5,
    fuzzy_threshold: float = FUZZY_THRESHOLD,
    model_threshold: float = MODEL_THRESHOLD,
) -> pd.DataFrame:
    """Code a distinct-label table and return its crosswalk (see :mod:`coder.crosswalk`).

    ``model``: the packaged model (None), a loaded :class:`~coder.raters.model.JobModel`,
    a path to one, or False to leave the learned rater out.  ``extra_raters``
    (keyed by core key) join the crosswalk in their place of the precedence.
    """
    setup = _setup(codes, rules, status_rules, model)
    return _code(labels, setup, extra_raters, fuzzy_k, fuzzy_threshold, model_threshold)


def _code(
    labels: LabelTable,
    setup: _Setup,
    extra: Sequence[RaterResult],
    k: int,
    fuzzy_threshold: float,
    model_threshold: float,
) -> pd.DataFrame:
    statuses = parse_status(labels.keys, setup.status_rules)
    core = sorted({s.core_key for s in statuses if s.core_key})
    title = lookup_titles(core, codes=setup.codes)
    rule = apply_rules(core, setup.rules, codes=setup.codes)
    index = index_rater(core, index=setup.index)
    raters = [title, rule, index]
    if setup.model is not None:
        raters.append(model_rater(core, k=k, model=setup.model, threshold=model_threshold))
    coded = [bool(a or b or c) for a, b, c in zip(title.codes, rule.codes, index.codes)]
    raters.append(fuzzy_shortlist(core, entries=setup.index.entries, k=k, threshold=fuzzy_threshold, skip=coded))
    thresholds = {"fuzzy": fuzzy_threshold, "model": model_threshold}
    return build_crosswalk(labels, statuses, [*raters, *extra], codes=setup.codes, thresholds=thresholds)


def _join(frame: pd.DataFrame, labels: LabelTable, crosswalk: pd.DataFrame) -> pd.DataFrame:
    """Attach the crosswalk's final columns to every row by label position.

    Text columns come out as pandas categoricals (a take of small integer codes,
    not a million Python strings); ``ksco_level`` as integers.
    """
    idx = labels.row_label
    added = {}
    for col in OUTPUT_COLUMNS:
        values = crosswalk[_FROM_CROSSWALK.get(col, col)]
        if col == "ksco_level":
            added[col] = values.to_numpy(dtype="int64")[idx]
            continue
        xw_codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=False)
        added[col] = pd.Categorical.from_codes(xw_codes[idx], categories=pd.Index(uniques, dtype=object))
    out = frame.reset_index(drop=True)
    return pd.concat([out, pd.DataFrame(added, index=out.index)], axis=1)


def _check_ids(ids: pd.Series, column: str, source: str) -> None:
    missing = ids.isna() | (ids.astype(str).str.strip() == "")
    dup = ids.duplicated(keep=False) & ~missing
    if not (missing.any() or dup.any()):
        return
    parts = []
    if dup.any():
        groups = pd.Series(np.flatnonzero(dup.to_numpy()) + 1).groupby(ids[dup].astype(str).to_numpy()).agg(list)
        shown = "; ".join(f"{k!r} at rows {', '.join(map(str, v))}" for k, v in list(groups.items())[:5])
        parts.append(f"{len(groups)} duplicated id(s): {shown}" + (" …" if len(groups) > 5 else ""))
    if missing.any():
        rows = np.flatnonzero(missing.to_numpy()) + 1
        parts.append(
            f"{rows.size} empty id(s) at rows {', '.join(map(str, rows[:5]))}" + (" …" if rows.size > 5 else "")
        )
    raise InputError(
        f"{source}: id column {column!r} is not a unique key — {'; '.join(parts)}. "
        "Fix the ids, or drop --id-col (rows are kept in input order either way).",
        path=source,
        column=column,
    )


def code_frame(
    frame: pd.DataFrame,
    *,
    text_col: str,
    weight_col: str | None = None,
    id_col: str | None = None,
    replace: bool = False,
    codes: CodeList | None = None,
    rules: RuleSet | str | Path | None = None,
    status_rules: StatusRules | None = None,
    model: JobModel | str | Path | bool | None = None,
    fuzzy_k: int = 5,
    fuzzy_threshold: float = FUZZY_THRESHOLD,
    model_threshold: float = MODEL_THRESHOLD,
    source: str = "input",
) -> CodingResult:
    """Code the ``text_col`` of a DataFrame; see the module docstring for the output."""
    columns = [str(c) for c in frame.columns]
    for role, col in (("text", text_col), ("weight", weight_col), ("id", id_col)):
        if col is not None and col not in columns:
            raise InputError(
                f"{source}: no {role} column {col!r} — the columns are: {', '.join(columns) or '(none)'}. "
                f"Pass --{role}-col with one of them.",
                path=source,
                column=col,
            )
    if id_col is not None:
        _check_ids(frame[id_col], id_col, source)
    clash = [c for c in OUTPUT_COLUMNS if c in columns]
    if clash and not replace:
        raise InputError(
            f"{source}: already has column(s) {', '.join(clash)} — rename them, or pass --replace to overwrite.",
            path=source,
        )
    if clash:
        frame = frame.drop(columns=clash)
    setup = _setup(codes, rules, status_rules, model)
    start = time.perf_counter()
    labels = tabulate_labels(frame[text_col], frame[weight_col] if weight_col else None, weight_name=weight_col or "")
    crosswalk = _code(labels, setup, (), fuzzy_k, fuzzy_threshold, model_threshold)
    rows = _join(frame, labels, crosswalk)
    seconds = time.perf_counter() - start
    params = {
        "text_col": text_col,
        "weight_col": weight_col,
        "id_col": id_col,
        "fuzzy_k": fuzzy_k,
        "fuzzy_threshold": fuzzy_threshold,
        "model": None if setup.model is None else setup.model.metadata.get("name", "model"),
        "model_threshold": model_threshold,
        "code_list": setup.codes.name,
        "precedence": list(PRECEDENCE),
    }
    return CodingResult(rows=rows, crosswalk=crosswalk, files=setup.files(), params=params, seconds=seconds)


def code_file(
    input_path: str | Path,
    output_path: str | Path,
    *,
    text_col: str,
    weight_col: str | None = None,
    id_col: str | None = None,
    crosswalk_path: str | Path | None = None,
    replace: bool = False,
    rules: str | Path | None = None,
    model: str | Path | bool | None = None,
    fuzzy_k: int = 5,
    fuzzy_threshold: float = FUZZY_THRESHOLD,
    model_threshold: float = MODEL_THRESHOLD,
    command: str = "coder code",
) -> CodingResult:
    """Read a table, code it, write the coded rows (and crosswalk) with sidecars.

    Outputs are written only after coding succeeded, each atomically, so a
    failed run leaves earlier outputs as they were.
    """
    frame = read_table(input_path)
    result = code_frame(
        frame,
        text_col=text_col,
        weight_col=weight_col,
        id_col=id_col,
        replace=replace,
        rules=rules,
        model=model,
        fuzzy_k=fuzzy_k,
        fuzzy_threshold=fuzzy_threshold,
        model_threshold=model_threshold,
        source=str(input_path),
    )
    inputs = {"path": str(input_path), "rows": len(frame), "columns": [str(c) for c in frame.columns]}
    if str(input_path) != "-":
        inputs["sha256"] = file_sha256(input_path)
    outputs = {"rows": str(output_path)}
    if crosswalk_path is not None:
        outputs["crosswalk"] = str(crosswalk_path)
    meta = build_meta(
        command=command,
        params=result.params,
        files=result.files,
        inputs=inputs,
        outputs=outputs,
        summary=result.summary(),
    )
    write_table(result.rows, output_path)
    if str(output_path) != "-":
        write_meta(output_path, meta)
    if crosswalk_path is not None:
        write_table(result.crosswalk, crosswalk_path)
        if str(crosswalk_path) != "-":
            write_meta(crosswalk_path, meta)
    return result
