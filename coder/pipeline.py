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
``former_code`` the former occupation's code of a former/retired label (은퇴한 교사: ``25``),
                kept apart: such a row is ``not_employed`` with no ``ksco_code``
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import gc
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from .codes import CodeList, load_codes
from .crosswalk.assemble import Assembler, RatedColumns
from .crosswalk.decide import DecisionPolicy, decide
from .crosswalk.model import Crosswalk, code_list_record
from .crosswalk.stage import Output, StageResult, run_stage, write_outputs
from .errors import CrosswalkError, InputError
from .io import (
    CsvBatchError,
    CsvText,
    InputLines,
    KeyedRows,
    TableBatches,
    all_or_nothing,
    check_output,
    csv_batches,
    csv_text,
    read_batches,
    read_table_lines,
    staged_sha256,
    table_format,
    write_batches,
)
from .labels import LabelCounter, LabelTable, tabulate_labels
from .provenance import build_meta, check_paths, write_meta
from .raters.base import RaterResult
from .raters.fuzzy import fuzzy_shortlist
from .raters.index import JobIndex, index_rater, load_index
from .raters.model import JobModel, load_model, model_rater
from .raters.rules import RuleSet, apply_rules, load_rules
from .raters.title import lookup_titles
from .resources import data_path, file_sha256
from .status import StatusRules, load_status_rules, occupation_oracle, parse_status

__all__ = [
    "OFFLINE_RATERS",
    "OUTPUT_COLUMNS",
    "ApplyResult",
    "CodingResult",
    "apply_crosswalk",
    "apply_file",
    "code_file",
    "code_frame",
    "code_labels",
    "decide_file",
    "make_policy",
]

OUTPUT_COLUMNS = (
    "ksco_code",
    "ksco_level",
    "ksco_major",
    "ksco_title",
    "code_status",
    "code_source",
    "rule_id",
    "former_code",
)
_FROM_CROSSWALK = {"code_status": "status"}


@dataclass(frozen=True, eq=False)
class CodingResult:
    """What a coding run produced: coded rows, the crosswalk, and what it used."""

    rows: pd.DataFrame
    crosswalk: pd.DataFrame
    files: dict[str, str] = field(default_factory=dict)
    params: dict[str, object] = field(default_factory=dict)
    seconds: float = 0.0
    codes: CodeList | None = None
    policy: DecisionPolicy | None = None
    notes: tuple[str, ...] = ()

    def as_crosswalk(self) -> Crosswalk:
        """The crosswalk with its state (policy, code list, files), for the stages over a crosswalk."""
        return Crosswalk(
            self.crosswalk,
            policy=self.policy if self.policy is not None else DecisionPolicy(),
            codes=self.codes if self.codes is not None else load_codes(),
            files=dict(self.files),
        )

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
    later: Future | None = None
    """The model still loading on a thread (:meth:`_Loading.early`): the model rater waits for it on its own
    thread while the status pass and the other raters run; None when ``model`` is the model to use."""

    def the_model(self) -> JobModel | None:
        """The model to rate with, once loaded (a loading error is raised here)."""
        return self.model if self.later is None else self.later.result()

    def final(self) -> _Setup:
        """This setup with its model loaded (for the run's files and parameters)."""
        return self if self.later is None else dataclasses.replace(self, model=self.later.result(), later=None)

    def files(self) -> dict[str, str]:
        files = {
            "crosswalks/" + Path(self.codes.path).name: self.codes.sha256,
            "rules/" + Path(self.status_rules.path).name: self.status_rules.sha256,
        }
        bundled = str(data_path("rules", "mapper.csv").resolve())
        for path, sha in self.rules.files.items():
            files["rules/mapper.csv" if str(Path(path).resolve()) == bundled else f"user_rules/{path}"] = sha
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
    index: JobIndex | None = None,
    bundled_rules: bool = True,
) -> _Setup:
    if codes is None:
        codes = load_codes()
    if not isinstance(rules, RuleSet):
        rules = _load_rules(rules, codes, bundled_rules)
    loaded = _setup_model(model)
    if status_rules is None:
        status_rules = load_status_rules()
    if index is None:
        index = load_index(codes=codes)
    return _Setup(codes, rules, status_rules, index, loaded)


def _ready_model(model: JobModel | str | Path | bool | None) -> JobModel | None:
    """The model as :func:`_setup` loads it, with its first-call work done (its plan: with the load ~0.075 s of
    CPU in a fresh process); it answers the same keys the same way after it."""
    loaded = _setup_model(model)
    if loaded is not None:
        model_rater(["간호사"], k=1, model=loaded)
    return loaded


def _ready_setup(rules: RuleSet | str | Path | None, bundled_rules: bool) -> _Setup:
    """The setup as :func:`_setup` loads it without the model, with the rules' lookup tables made (their
    first-call work: the status pass and the rule rater ask them first otherwise); ~0.06 s of CPU in a fresh process."""
    setup = _setup(None, rules, None, False, bundled_rules=bundled_rules)
    setup.rules.warm()
    return setup


class _Loading:
    """The setup loading on two threads of ``pool`` while the rows are read: the code list, rules, status rules
    and index on one, the model (:func:`_ready_model`) on the other (``bench/bench_code.py``'s breakdown:
    ~0.06 and ~0.08 s of CPU, mostly holding the GIL; Arrow's reading does not)."""

    def __init__(
        self,
        pool: ThreadPoolExecutor,
        rules: RuleSet | str | Path | None,
        model: JobModel | str | Path | bool | None,
        bundled_rules: bool,
    ) -> None:
        self._rest = pool.submit(_ready_setup, rules, bundled_rules)
        self._model = pool.submit(_ready_model, model)
        self._modelless = model is False

    def result(self) -> _Setup:
        """The setup, once loaded; a setup error is raised in :func:`_setup`'s order (the rules' before the model's)."""
        return dataclasses.replace(self._rest.result(), model=self._model.result())

    def early(self) -> _Setup:
        """The setup once all but the model is loaded, the model's loading as its ``later`` (see :class:`_Setup`):
        the coding starts while the model loads.  A rules error is raised here; a model error once the model
        rater (or :meth:`_Setup.final`) asks for it."""
        setup = self._rest.result()
        return setup if self._modelless else dataclasses.replace(setup, later=self._model)

    def check(self) -> None:
        """Raise a setup error already met (without waiting for the rest of the loading)."""
        if any(f.done() and f.exception() is not None for f in (self._rest, self._model)):
            self.result()


def _setup_model(model: JobModel | str | Path | bool | None) -> JobModel | None:
    """The model :func:`_setup` uses: the packaged one (None, True), none (False), a loaded one, or one from a path."""
    if model is False:
        return None
    if model is None or model is True:
        return load_model()
    if isinstance(model, JobModel):
        return model
    return load_model(model)


def _load_rules(path: str | Path | None, codes: CodeList, bundled: bool) -> RuleSet:
    if path is None:
        return load_rules(codes=codes)
    return load_rules(path, codes=codes, bundled=bundled)


def make_policy(
    *,
    model_threshold: float | None = None,
    fuzzy_threshold: float | None = None,
    precedence: Sequence[str] | None = None,
    base: DecisionPolicy | None = None,
) -> DecisionPolicy:
    """``base`` (default: a :class:`~coder.crosswalk.decide.DecisionPolicy` with the registry's thresholds) with the given values changed."""
    policy = base if base is not None else DecisionPolicy()
    thresholds = {k: v for k, v in (("model", model_threshold), ("fuzzy", fuzzy_threshold)) if v is not None}
    changes: dict[str, object] = {"thresholds": thresholds}
    if precedence is not None:
        changes["precedence"] = tuple(precedence)
    return policy.with_(**changes)


def code_labels(
    labels: LabelTable,
    *,
    codes: CodeList | None = None,
    rules: RuleSet | str | Path | None = None,
    bundled_rules: bool = True,
    status_rules: StatusRules | None = None,
    model: JobModel | str | Path | bool | None = None,
    index: JobIndex | None = None,
    extra_raters: Sequence[RaterResult] = (),
    fuzzy_k: int = 5,
    fuzzy_threshold: float | None = None,
    model_threshold: float | None = None,
    policy: DecisionPolicy | None = None,
) -> pd.DataFrame:
    """Code a distinct-label table and return its crosswalk (see :mod:`coder.crosswalk`).

    ``model``: the packaged model (None), a loaded :class:`~coder.raters.model.JobModel`,
    a path to one, or False to leave the learned rater out.  ``extra_raters``
    (keyed by core key) join the crosswalk in their place of the precedence.
    ``index``: a job-dictionary index instead of the bundled one (e.g. without held-out jobs).
    """
    setup = _setup(codes, rules, status_rules, model, index, bundled_rules)
    policy = make_policy(model_threshold=model_threshold, fuzzy_threshold=fuzzy_threshold, base=policy)
    return _code(labels, setup, extra_raters, fuzzy_k, policy)


@dataclass(frozen=True)
class _Offline:
    """An offline rater of the registry: name, slot, strong, and how it rates core keys."""

    name: str
    slot: str
    strong: bool
    run: Callable[[Sequence[str], _Setup, Mapping[str, RaterResult], int, DecisionPolicy], RaterResult]
    beside: bool = False
    """It reads no other rater's answers, so it runs on a thread beside the others, started first (:func:`_rate`)."""

    def rate(
        self, keys: Sequence[str], setup: _Setup, prior: Mapping[str, RaterResult], k: int, policy: DecisionPolicy
    ) -> RaterResult:
        return self.run(keys, setup, prior, k, policy)


def _fuzzy(
    keys: Sequence[str], setup: _Setup, prior: Mapping[str, RaterResult], k: int, policy: DecisionPolicy
) -> RaterResult:
    coded = [any(r.codes[i] for n, r in prior.items() if n in ("title", "rule", "index")) for i in range(len(keys))]
    return fuzzy_shortlist(keys, entries=setup.index.entries, k=k, threshold=policy.threshold("fuzzy"), skip=coded)


OFFLINE_RATERS: tuple[_Offline, ...] = (
    _Offline("title", "title", True, lambda keys, s, prior, k, p: lookup_titles(keys, codes=s.codes)),
    _Offline("rule", "rule", True, lambda keys, s, prior, k, p: apply_rules(keys, s.rules, codes=s.codes)),
    _Offline("index", "index", True, lambda keys, s, prior, k, p: index_rater(keys, index=s.index, codes=s.codes)),
    _Offline(
        "model",
        "model",
        False,
        lambda keys, s, prior, k, p: model_rater(keys, k=k, model=s.the_model(), threshold=p.threshold("model")),
        beside=True,
    ),
    _Offline("fuzzy", "fuzzy", False, _fuzzy),
)
"""The offline raters, in the order their columns stand and (but a ``beside`` one) run: a later rater sees the
earlier ones' results, except those of a ``beside`` rater (the model), which sees none: it starts first, on a
thread, and rates while the others run."""


RATE_BATCH = 50_000
"""Distinct labels rated per batch: every offline rater answers each label on its own, so the
labels are rated batch by batch and memory holds one batch's score matrices (model classes,
fuzzy entries), not all labels'."""

DECIDE_BATCH = 100_000
"""Distinct labels assembled and decided per batch (:func:`_code`): the decision reads each label
on its own, so a batch's stored columns and the decision's per-label lists are built for this many
labels at a time, not for all of them."""


def _rate(
    core: Sequence[str], setup: _Setup, k: int, policy: DecisionPolicy, bar: object = None
) -> dict[str, RatedColumns]:
    """Every offline rater over the core keys, in batches of :data:`RATE_BATCH` (see :data:`OFFLINE_RATERS`).

    Each batch's answers are kept as crosswalk columns (:class:`~coder.crosswalk.assemble.RatedColumns`),
    not as the raters' per-key tuples.
    """
    raters = [r for r in OFFLINE_RATERS if not (r.name == "model" and setup.model is None and setup.later is None)]
    parts: dict[str, list[RatedColumns]] = {r.name: [] for r in raters}
    seconds = dict.fromkeys(parts, 0.0)

    def timed(rater: _Offline, keys: Sequence[str], prior: Mapping[str, RaterResult]) -> RaterResult:
        t = time.perf_counter()
        try:
            return rater.rate(keys, setup, prior, k, policy)
        finally:
            seconds[rater.name] += time.perf_counter() - t

    # the model (its sparse products) and the fuzzy rater (rapidfuzz's cdist) both run mostly outside the
    # GIL, so the model rates on a second thread while the fuzzy rater ranks on this one
    with ThreadPoolExecutor(max_workers=1) as side:
        for a in range(0, max(len(core), 1), RATE_BATCH):
            keys = core[a : a + RATE_BATCH]
            prior: dict[str, RaterResult] = {}
            # a beside rater reads no other's answers: it starts first, and rates while the others do
            later = {
                r.name: side.submit(contextvars.copy_context().run, timed, r, keys, {}) for r in raters if r.beside
            }
            for rater in raters:
                if not rater.beside:
                    prior[rater.name] = timed(rater, keys, prior)
            columns = {name: RatedColumns.of(result) for name, result in prior.items()}  # while the model rates
            prior.update((name, job.result()) for name, job in later.items())
            for name in parts:
                parts[name].append(columns[name] if name in columns else RatedColumns.of(prior[name]))
            del prior, later, columns
        if bar is not None:
            bar.update(len(keys))  # type: ignore[attr-defined]
            bar.set_postfix_str(" ".join(f"{n} {s:.0f}s" for n, s in seconds.items()), refresh=False)  # type: ignore[attr-defined]
    return {name: RatedColumns.concat(p) for name, p in parts.items()}


def _code(
    labels: LabelTable,
    setup: _Setup,
    extra: Sequence[RaterResult],
    k: int,
    policy: DecisionPolicy,
    progress: bool = False,
) -> pd.DataFrame:
    oracle = occupation_oracle(setup.codes, rules=setup.rules, index=setup.index)  # the run's own mapper
    statuses = parse_status(
        labels.keys, setup.status_rules, occupation=oracle, codes=setup.codes, labels=labels.frame["label"].tolist()
    )
    core = sorted({s.core_key for s in statuses if s.core_key})
    with _bar(progress, total=len(core), unit="label", desc="labels coded") as bar:
        rated = _rate(core, setup, k, policy, bar)
    del core
    stored = Assembler(labels, statuses, [*rated.values(), *extra])
    del rated, statuses
    parts = [
        decide(stored.frame(a, a + DECIDE_BATCH), policy, codes=setup.codes)
        for a in range(0, max(len(stored), 1), DECIDE_BATCH)
    ]
    del stored
    if len(parts) == 1:
        return parts[0]
    return pd.concat(parts, axis=0).set_axis(labels.frame.index)


def _bar(progress: bool, **kwargs: object):
    """A tqdm bar on stderr when ``progress`` and stderr is a terminal (tqdm's ``disable=None``); else silent."""
    from tqdm import tqdm

    return tqdm(disable=None if progress else True, leave=False, dynamic_ncols=True, **kwargs)


class _Joiner:
    """``join(frame, row_label)``: the crosswalk's final columns attached to rows by label position.

    Text columns come out as pandas categoricals (a take of small integer codes, not a million
    Python strings), with the same categories for every batch of rows; ``ksco_level`` as integers.
    """

    def __init__(self, crosswalk: pd.DataFrame) -> None:
        self._columns: dict[str, tuple[np.ndarray, pd.CategoricalDtype | None]] = {}
        for col in OUTPUT_COLUMNS:
            values = crosswalk[_FROM_CROSSWALK.get(col, col)]
            if col == "ksco_level":
                self._columns[col] = (values.to_numpy(dtype="int64"), None)
                continue
            xw_codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=False)
            # codes of the width a categorical keeps (taken per row: a million int8 instead of int64)
            width = np.int8 if len(uniques) < 2**7 else np.int16 if len(uniques) < 2**15 else np.int32
            self._columns[col] = (xw_codes.astype(width), pd.CategoricalDtype(pd.Index(uniques, dtype=object)))

    def added(self, idx: np.ndarray) -> pd.DataFrame:
        """The added columns alone, for labels at positions ``idx`` (``np.arange(labels)``: one row per label)."""
        return pd.DataFrame(
            {  # the codes are factorize's, so pandas need not check them
                col: values[idx]
                if dtype is None
                else pd.Categorical.from_codes(values[idx], dtype=dtype, validate=False)
                for col, (values, dtype) in self._columns.items()
            }
        )

    def __call__(self, frame: pd.DataFrame, idx: np.ndarray) -> pd.DataFrame:
        return pd.concat([frame.reset_index(drop=True), self.added(idx)], axis=1)


def _join(frame: pd.DataFrame, labels: LabelTable, crosswalk: pd.DataFrame) -> pd.DataFrame:
    """Attach the crosswalk's final columns to every row by label position (see :class:`_Joiner`)."""
    return _Joiner(crosswalk)(frame, labels.row_label)


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
    bundled_rules: bool = True,
    status_rules: StatusRules | None = None,
    model: JobModel | str | Path | bool | None = None,
    fuzzy_k: int = 5,
    fuzzy_threshold: float | None = None,
    model_threshold: float | None = None,
    policy: DecisionPolicy | None = None,
    source: str = "input",
    progress: bool = False,
) -> CodingResult:
    """Code the ``text_col`` of a DataFrame; see the module docstring for the output.

    ``progress``: a bar of labels coded on stderr when it is a terminal.
    """
    return _code_rows(
        frame,
        lambda: _setup(codes, rules, status_rules, model, bundled_rules=bundled_rules),
        text_col=text_col,
        weight_col=weight_col,
        id_col=id_col,
        replace=replace,
        fuzzy_k=fuzzy_k,
        fuzzy_threshold=fuzzy_threshold,
        model_threshold=model_threshold,
        policy=policy,
        source=source,
        progress=progress,
    ).result


@dataclass(frozen=True, eq=False)
class _Rows:
    """A coded frame: the result, and what writes its rows without building them (:func:`_code_rows`)."""

    result: CodingResult
    labels: LabelTable
    join: _Joiner
    text: CsvText | None


def _code_rows(
    frame: pd.DataFrame,
    loaded: Callable[[], _Setup],
    *,
    text_col: str,
    weight_col: str | None,
    id_col: str | None,
    replace: bool,
    fuzzy_k: int,
    fuzzy_threshold: float | None,
    model_threshold: float | None,
    policy: DecisionPolicy | None,
    source: str,
    progress: bool,
    sep: str | None = None,
    lines: InputLines | None = None,
) -> _Rows:
    """:func:`code_frame` with the codes, rules and model from ``loaded()``, called once the columns are checked.

    The distinct labels are counted before ``loaded()`` is awaited (a setup error is still raised before a
    weight error): work done while threads load the rules and the model (:func:`code_file`).  With ``sep`` the
    rows' own columns are made CSV/TSV text (:func:`~coder.io.csv_text`, from the input's ``lines`` where they
    apply) on a thread while the labels are coded.
    """
    _check_columns(frame, text_col, weight_col, id_col, source)
    frame = _drop_output_columns(frame, replace, source)
    start = time.perf_counter()
    try:
        labels = tabulate_labels(
            frame[text_col], frame[weight_col] if weight_col else None, weight_name=weight_col or ""
        )
    except InputError:
        loaded().final()  # a setup error (the rules, the model) comes first, as when the setup was awaited first
        raise
    counted = time.perf_counter() - start
    setup = loaded()
    policy = make_policy(model_threshold=model_threshold, fuzzy_threshold=fuzzy_threshold, base=policy)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as beside:
        # the own columns' CSV text (a CSV/TSV input's own lines taken as they are where that is what rendering
        # writes: mostly numpy and Arrow) is made on a thread while the labels are coded
        rendering = beside.submit(csv_text, frame, sep, lines) if sep is not None and frame.shape[1] else None
        crosswalk = _code(labels, setup, (), fuzzy_k, policy, progress)
        text = rendering.result() if rendering is not None else None
    setup = setup.final()
    join = _Joiner(crosswalk)
    rows = join(frame, labels.row_label)
    seconds = counted + time.perf_counter() - start
    params = _params(text_col, weight_col, id_col, fuzzy_k, setup, policy)
    result = CodingResult(
        rows=rows,
        crosswalk=crosswalk,
        files=setup.files(),
        params=params,
        seconds=seconds,
        codes=setup.codes,
        policy=policy,
    )
    return _Rows(result, labels, join, text)


def _params(
    text_col: str, weight_col: str | None, id_col: str | None, fuzzy_k: int, setup: _Setup, policy: DecisionPolicy
) -> dict[str, object]:
    return {
        "text_col": text_col,
        "weight_col": weight_col,
        "id_col": id_col,
        "fuzzy_k": fuzzy_k,
        "model": None if setup.model is None else setup.model.metadata.get("name", "model"),
        "code_list": setup.codes.name,
        "policy": policy.as_dict(),
    }


def _check_columns(frame: pd.DataFrame, text_col: str, weight_col: str | None, id_col: str | None, source: str) -> None:
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


def _drop_output_columns(frame: pd.DataFrame, replace: bool, source: str) -> pd.DataFrame:
    clash = [c for c in OUTPUT_COLUMNS if c in [str(x) for x in frame.columns]]
    if clash and not replace:
        raise InputError(
            f"{source}: already has column(s) {', '.join(clash)} — rename them, or pass --replace to overwrite.",
            path=source,
        )
    return frame.drop(columns=clash) if clash else frame


def _read_input(
    input_path: str | Path, sheet: str | int | None, sha256: Callable[[], str] | None = None
) -> tuple[pd.DataFrame, dict[str, object], list[str]]:
    """The input table, what its sidecar entry says about it, and notes for the user (which sheet was read).

    ``sha256``: gives the file's sha256 (hashed elsewhere, e.g. in a thread), instead of hashing it here.
    """
    frame, record, notes, _ = _read_input_lines(input_path, sheet, sha256)
    return frame, record, notes


def _read_input_lines(
    input_path: str | Path, sheet: str | int | None, sha256: Callable[[], str] | None = None
) -> tuple[pd.DataFrame, dict[str, object], list[str], InputLines | None]:
    """:func:`_read_input`, and the bytes a CSV/TSV input's rows were parsed from (:func:`~coder.io.read_table_lines`)."""
    frame, lines = read_table_lines(input_path, sheet=sheet)
    record: dict[str, object] = {
        "path": str(input_path),
        "rows": len(frame),
        "columns": [str(c) for c in frame.columns],
    }
    notes = []
    if "sheet" in frame.attrs:
        record["sheet"] = frame.attrs["sheet"]
        sheets = frame.attrs.get("sheets", [])
        if sheet is None and len(sheets) > 1:
            others = ", ".join(repr(n) for n in sheets[1:])
            notes.append(
                f"{input_path} has {len(sheets)} sheets: read the first, {frame.attrs['sheet']!r} "
                f"(not {others}) — choose one with --sheet NAME|N"
            )
    if str(input_path) != "-":
        record["sha256"] = sha256() if sha256 is not None else file_sha256(input_path)
    return frame, record, notes, lines


@contextlib.contextmanager
def _system_allocator() -> Iterator[None]:
    """Arrow's buffers made while a file is read whole, coded and written come from the C library's allocator
    (:func:`pyarrow.system_memory_pool`), then the former pool again; the buffers keep their own pool.  pyarrow's
    default, mimalloc, gives the tens of megabytes a 1M-row file's read, own lines and written chunks take back
    to the system and faults them in again: ``bench/bench_code.py``'s run, 21 fresh processes interleaved,
    median 0.777 -> 0.711 s (four such comparisons: 0.04-0.14 s less).  A pool the user chose
    (``ARROW_DEFAULT_MEMORY_POOL``) is kept."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        yield
        return
    before = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(before)


@contextlib.contextmanager
def _gc_frozen() -> Iterator[None]:
    """The objects alive when a run starts (the imports' ~72,000: modules, functions, classes) left out of the
    garbage collector's full passes until it ends (:func:`gc.freeze`, then :func:`gc.unfreeze`, after which
    they are collected as before).  Such a pass came during the setup, under the GIL, scanning them all:
    0.05-0.25 s of a 1M-row NPK CSV -> CSV run, none with them frozen (``bench/bench_code.py``).  Garbage
    made during the run is collected as usual."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@_gc_frozen()
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
    bundled_rules: bool = True,
    model: str | Path | bool | None = None,
    fuzzy_k: int = 5,
    fuzzy_threshold: float | None = None,
    model_threshold: float | None = None,
    encoding: str = "utf-8",
    sheet: str | int | None = None,
    command: str = "coder code",
    progress: bool = False,
) -> CodingResult:
    """Read a table, code it, write the coded rows (and crosswalk) with sidecars.

    A Parquet input, or a UTF-8 CSV/TSV input of at least :data:`STREAM_CSV_BYTES`, written to a CSV,
    TSV or Parquet file streams (:func:`_code_stream`): rows are
    read in batches twice — to count the distinct labels, then to join the codes and write — so
    memory holds the distinct labels and a batch, not the rows; ``result.rows`` is then empty (the
    rows are in the output).  ``progress``: bars on stderr (rows read, labels coded, rows written)
    when it is a terminal.

    Every output is checked before anything is read (not the input, not each other, a known
    table extension, a folder that can be written) and the rows output once the input is read
    (an ``.xlsx`` must hold every row), so a bad path fails before the coding run.  Outputs are
    written only after coding succeeded, all together or none
    (:func:`~coder.crosswalk.stage.write_outputs`), so a failed run leaves earlier outputs as
    they were.  Coded rows are written in ``encoding`` (CSV/TSV); the crosswalk CSV is UTF-8
    with BOM.  Each output ``x.csv`` gets ``x.csv.meta.json`` with its own sha256.  ``sheet``:
    the sheet of an XLSX input (:func:`~coder.io.read_table`); the sidecar records the sheet read.

    Speed, for a file read whole: the rules, index and model load on two threads while the input is
    read, its labels counted and, for a CSV/TSV output, its own columns rendered as CSV text; after the
    coding, each label's added cells are made once and taken at the rows' labels
    (:class:`~coder.io.KeyedRows`), and the rows and the crosswalk are written side by side, each
    hashed as written (``bench/bench_code.py`` prints where the time goes).
    """
    outputs = {"the output (-o)": output_path, "--crosswalk": crosswalk_path}
    check_paths({"the input": input_path}, outputs)
    for label, path in outputs.items():
        if path is not None:
            check_output(path, what=label)
    options = {
        "text_col": text_col,
        "weight_col": weight_col,
        "id_col": id_col,
        "replace": replace,
        "rules": rules,
        "bundled_rules": bundled_rules,
        "model": model,
        "fuzzy_k": fuzzy_k,
        "fuzzy_threshold": fuzzy_threshold,
        "model_threshold": model_threshold,
        "source": str(input_path),
        "progress": progress,
    }
    stream = None
    notes: list[str] = []
    if _streams(input_path, output_path, sheet):
        try:
            result, inputs, stream = _code_stream(input_path, sep=_sep(output_path), **options)  # type: ignore[arg-type]
        except _ReadWhole:
            stream = None
    # a file read whole is coded and written with the system's allocator (see _system_allocator)
    with _system_allocator() if stream is None else contextlib.nullcontext():
        if stream is None:
            # the rules, index and model load on two threads, and the input is hashed on a third, while the input
            # is read (Arrow parses and hashlib hashes without the GIL)
            with ThreadPoolExecutor(max_workers=3) as pool:
                loading = _Loading(pool, rules, model, bundled_rules)
                hashed = str(input_path) != "-" and Path(input_path).is_file()
                hashing = pool.submit(file_sha256, input_path) if hashed else None
                frame, inputs, notes, lines = _read_input_lines(
                    input_path, sheet, hashing.result if hashing is not None else None
                )
                shape = frame.shape
                check_output(output_path, what="the output (-o)", rows=shape[0], columns=shape[1] + len(OUTPUT_COLUMNS))
                for name in ("rules", "bundled_rules", "model"):
                    del options[name]
                coded = _code_rows(frame, loading.early, policy=None, sep=_sep(output_path), lines=lines, **options)  # type: ignore[arg-type]
                del frame
            result = coded.result
        written = {"rows": str(output_path), "rows_encoding": encoding}
        files = (
            [] if stream is not None else [Output(output_path, _written_rows(coded), kind="table", encoding=encoding)]
        )
        if crosswalk_path is not None:
            written["crosswalk"] = str(crosswalk_path)
            files.append(Output(crosswalk_path, result.crosswalk, kind="crosswalk"))
        summary = {**result.summary(), **({"notes": notes} if notes else {})}
        meta = build_meta(
            command=command,
            params=result.params,
            files=result.files,
            inputs=inputs,
            outputs=written,
            summary=summary,
            code_list=code_list_record(result.codes) if result.codes is not None else None,
        )
        if stream is None:
            write_outputs(files, meta)
            return dataclasses.replace(result, notes=tuple(notes))
        with all_or_nothing():  # the rows stream into their file; every output lands together or none
            # the crosswalk is written beside them, in a copy of this context (the run's files)
            with ThreadPoolExecutor(max_workers=1) as pool:
                beside = pool.submit(contextvars.copy_context().run, write_outputs, files, meta)
                write_batches(stream, output_path, encoding=encoding)
                this = {**written, "this": str(output_path), "sha256": staged_sha256(output_path)}
                write_meta(output_path, {**meta, "outputs": this})
            beside.result()
        return result


def _sep(output_path: str | Path) -> str | None:
    """The delimiter of a CSV/TSV output file, whose rows' own columns are rendered ahead
    (:func:`~coder.io.csv_text`); None for any other output (standard output, Parquet, XLSX)."""
    if str(output_path) == "-":
        return None
    fmt = table_format(output_path)
    return {"csv": ",", "tsv": "\t"}.get(fmt)


def _written_rows(coded: _Rows) -> pd.DataFrame | KeyedRows:
    """What the rows output is written from: the coded rows, or, when their own columns were rendered ahead,
    that text and each label's added columns taken at the rows' labels (the same bytes; the text of 1M NPK
    rows made in 0.05 s of CPU after the coding instead of 0.20 s)."""
    if coded.text is None:
        return coded.result.rows
    added = coded.join.added(np.arange(len(coded.result.crosswalk)))
    return KeyedRows(coded.text, added, coded.labels.row_label)


STREAM_BATCH = 1 << 18
"""Rows per batch when a Parquet input streams (:func:`code_file`): 10^7 NPK-shaped rows Parquet -> Parquet
in 8.5 s at 581 MB peak, against 12.1 s at 746 MB in batches of 2^20."""

STREAM_CSV_BYTES = 1 << 26
"""A CSV/TSV input of at least this many bytes streams (:func:`code_file`); a smaller one is read
whole, which is faster and gives the same output."""


class _ReadWhole(Exception):
    """The input cannot stream exactly (a CSV that is not UTF-8, say): read it whole instead."""


def _streams(input_path: str | Path, output_path: str | Path, sheet: str | int | None) -> bool:
    """Whether :func:`code_file` streams: a Parquet input, or a CSV/TSV input of at least
    :data:`STREAM_CSV_BYTES` (no sheet), into a CSV, TSV or Parquet file."""
    if sheet is not None or str(input_path) == "-" or str(output_path) == "-":
        return False
    try:
        fmt = table_format(input_path)
        if table_format(output_path) not in ("csv", "tsv", "parquet"):
            return False
    except InputError:
        return False
    if fmt == "parquet":
        return True
    path = Path(input_path)
    return fmt in ("csv", "tsv") and path.is_file() and path.stat().st_size >= STREAM_CSV_BYTES


def _batches(
    input_path: str | Path,
) -> tuple[list[str], int | None, Callable[[list[str] | None], Iterator[pd.DataFrame]]]:
    """An input's column names, row count (None for a CSV: counted while read) and ``batches(columns)``, its rows
    in order as DataFrames; raises :class:`_ReadWhole` for a CSV/TSV that cannot stream exactly."""
    if table_format(input_path) == "parquet":
        names, n_rows, _ = read_batches(input_path)
        return names, n_rows, lambda columns: read_batches(input_path, rows=STREAM_BATCH, columns=columns)[2]
    source = csv_batches(input_path)
    if source is None:
        raise _ReadWhole
    return source.names, None, source.batches


def _code_stream(
    input_path: str | Path,
    *,
    text_col: str,
    weight_col: str | None,
    id_col: str | None,
    replace: bool,
    source: str,
    progress: bool,
    fuzzy_k: int,
    fuzzy_threshold: float | None,
    model_threshold: float | None,
    sep: str | None = None,
    **setup_options: object,
) -> tuple[CodingResult, dict[str, object], Iterator[pd.DataFrame | KeyedRows]]:
    """Code a Parquet or CSV/TSV file without holding its rows: the result (``rows`` empty), the input's
    sidecar record, and the coded rows as batches (the file read again, lazily).  With ``sep`` (a CSV/TSV
    output) each batch comes as :class:`~coder.io.KeyedRows`, its own columns rendered and each label's
    added cells made once for all batches, the bytes a coded frame's batch gives.

    The same checks as :func:`code_frame` run first: the columns exist, no output column is
    already there (or ``replace``), ids unique (the id column alone is read for that).  The
    distinct-label table counts the text column batch by batch (:class:`~coder.labels.LabelCounter`).
    A CSV/TSV input is checked block by block first (:func:`~coder.io.csv_batches`); one that
    cannot stream exactly (not UTF-8, a quote never closed, no rows) raises :class:`_ReadWhole`
    before anything is coded.
    """
    names, n_rows, batches = _batches(input_path)
    empty = pd.DataFrame(columns=names)
    _check_columns(empty, text_col, weight_col, None, source)
    kept = _drop_output_columns(empty, replace, source).columns
    clash = [c for c in names if c not in kept]
    if id_col is not None:
        _check_columns(empty, id_col, None, None, source)
        try:
            parts = list(batches([id_col]))
        except CsvBatchError:
            raise _ReadWhole from None
        ids = pd.concat(parts, ignore_index=True) if parts else empty[[id_col]]
        _check_ids(ids[id_col] if len(ids.columns) else pd.Series([], dtype=object), id_col, source)
        del ids
    policy = make_policy(model_threshold=model_threshold, fuzzy_threshold=fuzzy_threshold)
    counter = LabelCounter(weight_name=weight_col or "")
    read = list(dict.fromkeys([text_col] + ([weight_col] if weight_col else [])))
    # the rules, index and model get ready on two threads while the labels are counted
    with ThreadPoolExecutor(max_workers=2) as pool:
        loading = _Loading(
            pool,
            setup_options["rules"],  # type: ignore[arg-type]
            setup_options["model"],  # type: ignore[arg-type]
            bool(setup_options["bundled_rules"]),
        )
        with _bar(progress, total=n_rows, unit="row", unit_scale=True, desc="rows read") as bar:
            try:
                for batch in batches(read):
                    counter.add(batch[text_col], batch[weight_col] if weight_col else None)
                    bar.update(len(batch))
                    loading.check()  # a rules or model error stops the count at once
            except CsvBatchError:
                raise _ReadWhole from None
        if n_rows is None:
            if not counter.rows:
                raise _ReadWhole  # a header alone: the one-pass reading gives its column types
            n_rows = counter.rows
        setup = loading.result()
    start = time.perf_counter()
    labels = counter.table()
    crosswalk = _code(labels, setup, (), fuzzy_k, policy, progress)
    join = _Joiner(crosswalk)
    seconds = time.perf_counter() - start

    def rows() -> Iterator[pd.DataFrame | KeyedRows]:
        added = join.added(np.arange(len(crosswalk))) if sep is not None else None
        with _bar(progress, total=n_rows, unit="row", unit_scale=True, desc="rows written") as bar:
            for batch in batches(None):
                idx = counter.positions(batch[text_col])
                own = batch.drop(columns=clash) if clash else batch
                yield join(own, idx) if added is None else KeyedRows(csv_text(own, sep), added, idx)  # type: ignore[arg-type]
                bar.update(len(batch))
        if not n_rows:
            yield result.rows  # no rows: the header (CSV) or schema (Parquet) still written

    result = CodingResult(
        rows=join(empty[list(kept)], np.empty(0, dtype=np.int64)),
        crosswalk=crosswalk,
        files=setup.files(),
        params=_params(text_col, weight_col, id_col, fuzzy_k, setup, policy),
        seconds=seconds,
        codes=setup.codes,
        policy=policy,
    )
    record = {"path": str(input_path), "rows": n_rows, "columns": names, "sha256": file_sha256(input_path)}
    return result, record, rows()


def decide_file(
    crosswalk_path: str | Path,
    output_path: str | Path,
    *,
    policy: DecisionPolicy | None = None,
    changes: Mapping[str, object] | None = None,
    codes: CodeList | None = None,
    command: str = "coder decide",
) -> Crosswalk:
    """Re-decide a stored crosswalk (no rater runs) and write it with a sidecar; return it.

    ``policy``: decide with this policy (default: the crosswalk's own, from its sidecar).
    ``changes``: fields to change on that policy (:meth:`~coder.crosswalk.decide.DecisionPolicy.with_`;
    thresholds are merged), e.g. ``{"thresholds": {"model": 0.99}}`` keeps everything else the
    crosswalk was decided with.  The output's sidecar records the policy used.
    """

    def stage(crosswalk: Crosswalk) -> StageResult:
        base = policy if policy is not None else crosswalk.policy
        decided = crosswalk.decided(base.with_(**changes) if changes else base)
        before, after = crosswalk.frame, decided.frame
        changed = int((after["ksco_code"] != before["ksco_code"]).sum()) if "ksco_code" in before else len(after)
        summary = {"labels": len(after), "codes_changed": changed, "needs_review": int(after["needs_review"].sum())}
        return StageResult(decided, [Output(output_path, decided)], crosswalk=decided, summary=summary)

    outputs = {"the output (-o)": output_path}
    return run_stage(stage, crosswalk_path, outputs, command=command, codes=codes, tables=list(outputs))  # type: ignore[return-value]


@dataclass(frozen=True, eq=False)
class ApplyResult:
    """Rows with the crosswalk's codes joined by exact ``label_key``, and the labels it lacked."""

    rows: pd.DataFrame  # empty (the columns alone) when the rows streamed to their file (:func:`apply_file`)
    missing: pd.DataFrame  # label_key, label, n_rows of labels not in the crosswalk
    notes: tuple[str, ...] = ()  # what the user should know (which sheet of an XLSX was read)
    n_rows: int | None = None
    """Rows applied: ``len(rows)`` unless the rows streamed to their file and ``rows`` is empty."""

    def __post_init__(self) -> None:
        if self.n_rows is None:
            object.__setattr__(self, "n_rows", len(self.rows))


_APPLIED = ("status", "ksco_code", "ksco_level", "ksco_major", "ksco_title", "code_source", "rule_id", "former_code")
"""The crosswalk's final columns :func:`apply_crosswalk` joins to rows (``status`` becomes ``code_status``)."""


def _check_final_codes(crosswalk: pd.DataFrame, codes: CodeList) -> None:
    """Refuse a crosswalk with a final code that is not in ``codes``."""
    bad = sorted({c for c in crosswalk["ksco_code"].astype(str) if c and c not in codes})
    if bad:
        raise CrosswalkError(
            f"crosswalk: final code(s) {', '.join(bad[:10])} are not in {codes.name} — fix them or re-decide.",
        )


def _applied(
    labels: pd.DataFrame, crosswalk: pd.DataFrame, strict: bool, source: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The crosswalk's final columns for each label of a distinct-label frame (one row per label, in its
    order), and the labels the crosswalk lacks (``strict``: an error naming them)."""
    xw = crosswalk.set_index("label_key")
    known = labels["label_key"].isin(xw.index)
    # an empty or missing label is unknown by definition, not a label the crosswalk lacks
    absent = ~known & (labels["label_key"] != "")
    missing = labels.loc[absent, ["label_key", "label", "n_rows"]].reset_index(drop=True)
    if strict and len(missing):
        shown = ", ".join(repr(x) for x in missing["label"].head(10))
        raise InputError(
            f"{source}: {len(missing)} label(s) are not in the crosswalk ({int(missing['n_rows'].sum())} rows): {shown}"
            + (" …" if len(missing) > 10 else "")
            + " — code them (`coder code … --crosswalk`) or drop --strict.",
            path=source,
        )
    final = pd.DataFrame({"label_key": labels["label_key"]})
    for col in _APPLIED:
        stored = xw[col] if col in xw.columns else pd.Series("", index=xw.index)  # no former_code in older crosswalks
        values = stored.reindex(final["label_key"]).to_numpy()
        fill = 0 if col == "ksco_level" else ("unknown" if col == "status" else "")
        final[col] = pd.Series(values).where(known.to_numpy(), fill).to_numpy()
    final["ksco_level"] = final["ksco_level"].astype("int64")
    return final, missing


def apply_crosswalk(
    frame: pd.DataFrame,
    crosswalk: Crosswalk | pd.DataFrame,
    *,
    text_col: str,
    replace: bool = False,
    strict: bool = False,
    codes: CodeList | None = None,
    source: str = "input",
) -> ApplyResult:
    """Join a (reviewed) crosswalk's final columns to rows by exact ``label_key``.

    The codes are the crosswalk's as decided (nothing is decided again).  Labels the crosswalk
    lacks come out with status ``unknown`` and no code; they are listed in
    :attr:`ApplyResult.missing` (``strict=True`` makes them an error).  Every final code is
    checked against the code list (default: the crosswalk's).
    """
    xwalk = Crosswalk.of(crosswalk, codes=codes)
    codes = codes if codes is not None else xwalk.codes
    _check_columns(frame, text_col, None, None, source)
    frame = _drop_output_columns(frame, replace, source)
    _check_final_codes(xwalk.frame, codes)
    labels = tabulate_labels(frame[text_col])
    final, missing = _applied(labels.frame, xwalk.frame, strict, source)
    rows = _join(frame, labels, final)
    return ApplyResult(rows=rows, missing=missing)


def _label_batches(
    input_path: str | Path, text_col: str, batches: Callable[[list[str] | None], Iterator[pd.DataFrame]]
) -> Iterator[pd.DataFrame]:
    """The text column alone, batch by batch, for counting the labels (:func:`_apply_stream`).  A Parquet string
    column is read as stored, dictionary-encoded (:func:`~coder.io.read_batches`' ``categorical``): the
    categoricals factorize to the codes and the values, in order of first appearance, the strings do, so
    :class:`~coder.labels.LabelCounter` counts the same table (10^7 NPK rows: 0.37 s of CPU instead of
    0.77-0.95 s, no string made per row)."""
    if table_format(input_path) == "parquet":
        return read_batches(input_path, rows=STREAM_BATCH, columns=[text_col], categorical=[text_col])[2]
    return batches([text_col])


def _apply_stream(
    input_path: str | Path,
    output_path: str | Path,
    crosswalk: Crosswalk,
    *,
    text_col: str,
    replace: bool,
    strict: bool,
) -> tuple[ApplyResult, TableBatches]:
    """:func:`apply_crosswalk` on a Parquet or CSV/TSV file without holding its rows: the result (``rows``
    empty) and the joined rows as batches to write (the file read again, lazily, as they are written).

    The checks of the whole-file run come first, in its order: the output can hold the rows, the text
    column exists, no output column is already there (or ``replace``), every final code is in the code
    list.  The distinct labels are then counted from the text column alone, batch by batch
    (:class:`~coder.labels.LabelCounter`: the table :func:`~coder.labels.tabulate_labels` makes of the whole
    column), each label's final columns taken once (``strict`` refuses missing labels here, before anything
    is written), and each batch joined by its rows' label positions.  To a CSV/TSV output each batch comes as
    :class:`~coder.io.KeyedRows` (the bytes the joined frame gives, each label's added cells made once).
    Raises :class:`_ReadWhole`, before anything is written, for a CSV/TSV that cannot stream exactly and for
    an input with no rows (the whole-file reading gives its column types).
    """
    source = str(input_path)
    names, n_rows, batches = _batches(input_path)
    check_output(output_path, what="the output (-o)", rows=n_rows, columns=len(names) + len(OUTPUT_COLUMNS))
    empty = pd.DataFrame(columns=names)
    _check_columns(empty, text_col, None, None, source)
    kept = _drop_output_columns(empty, replace, source).columns
    clash = [c for c in names if c not in kept]
    _check_final_codes(crosswalk.frame, crosswalk.codes)
    counter = LabelCounter()
    try:
        for batch in _label_batches(input_path, text_col, batches):
            counter.add(batch[text_col])
    except CsvBatchError:
        raise _ReadWhole from None
    if not counter.rows:
        raise _ReadWhole
    final, missing = _applied(counter.table().frame, crosswalk.frame, strict, source)
    join = _Joiner(final)
    sep = _sep(output_path)

    def rows() -> Iterator[pd.DataFrame | KeyedRows]:
        added = join.added(np.arange(len(final))) if sep is not None else None
        for batch in batches(None):
            idx = counter.positions(batch[text_col])
            own = batch.drop(columns=clash) if clash else batch
            yield join(own, idx) if added is None else KeyedRows(csv_text(own, sep), added, idx)  # type: ignore[arg-type]

    result = ApplyResult(
        rows=join(empty[list(kept)], np.empty(0, dtype=np.int64)), missing=missing, n_rows=counter.rows
    )
    return result, TableBatches(rows(), (counter.rows, len(kept) + len(OUTPUT_COLUMNS)))


def apply_file(
    input_path: str | Path,
    crosswalk_path: str | Path,
    output_path: str | Path,
    *,
    text_col: str,
    replace: bool = False,
    strict: bool = False,
    encoding: str = "utf-8",
    sheet: str | int | None = None,
    command: str = "coder apply",
) -> ApplyResult:
    """Read rows and a crosswalk, join them (:func:`apply_crosswalk`), write the rows with a sidecar.

    The sidecar records the policy the crosswalk was decided with and the files that made it.
    ``sheet``: the sheet of an XLSX input (:func:`~coder.io.read_table`); the sidecar records it.

    A Parquet input, or a UTF-8 CSV/TSV input of at least :data:`STREAM_CSV_BYTES`, written to a CSV,
    TSV or Parquet file streams (:func:`_apply_stream`): the rows are read in batches twice — the text
    column to count the distinct labels, then every column to join and write — so memory holds the
    distinct labels and a batch, not the rows, and ``result.rows`` is empty (``result.n_rows`` counts
    them).  The output, its sidecar and the missing labels are those of the whole-file run.
    """

    def stage(crosswalk: Crosswalk) -> StageResult:
        streamed = None
        if _streams(input_path, output_path, sheet):
            with contextlib.suppress(_ReadWhole):
                streamed = _apply_stream(
                    input_path, output_path, crosswalk, text_col=text_col, replace=replace, strict=strict
                )
        if streamed is not None:
            result, table = streamed
            record: dict[str, object] = {}
            notes: list[str] = []
        else:
            frame, record, notes = _read_input(input_path, sheet)
            check_output(
                output_path, what="the output (-o)", rows=len(frame), columns=frame.shape[1] + len(OUTPUT_COLUMNS)
            )
            result = apply_crosswalk(
                frame, crosswalk, text_col=text_col, replace=replace, strict=strict, source=str(input_path)
            )
            result, table = dataclasses.replace(result, notes=tuple(notes)), result.rows
            del frame
        n_rows = result.n_rows
        return StageResult(
            result,
            [Output(output_path, table, kind="table", encoding=encoding)],
            params={"text_col": text_col, "strict": strict, "rows_encoding": encoding},
            inputs={"input": {"rows": n_rows, **({"sheet": record["sheet"]} if "sheet" in record else {})}},
            notes=notes,
            summary={
                "rows": n_rows,
                "labels_missing": len(result.missing),
                "rows_missing": int(result.missing["n_rows"].sum()),
            },
        )

    return run_stage(  # type: ignore[return-value]
        stage,
        crosswalk_path,
        {"the output (-o)": output_path},
        command=command,
        inputs={"the input": input_path},
        tables=["the output (-o)"],
    )
