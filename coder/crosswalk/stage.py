"""The stage runner: what every stage's file twin does, written once.

A stage over a stored crosswalk is a function ``f(crosswalk, …)`` of a
:class:`~coder.crosswalk.model.Crosswalk`.  Its file twin (``decide_file``, ``check_file``,
``panel_file``, ``import_review_file``, ``export_review_file``, ``apply_file``, ``agree_file``,
``sensitivity_file``, ``report_file``) hands :func:`run_stage` a function of the crosswalk that
returns a :class:`StageResult`, and :func:`run_stage`

1. refuses an output path that would overwrite an input or another output
   (:func:`coder.provenance.check_paths`), or that cannot be written (:func:`coder.io.check_output`:
   a folder that is not writable, a table with an unknown extension);
2. reads the crosswalk with its sidecar (:func:`~coder.crosswalk.store.read_crosswalk`: the
   policy it was decided with, the files that made it; a crosswalk of another code list is refused);
3. calls the stage;
4. builds the provenance record: toolkit version, the command, its parameters with the policy
   the output was decided with (``params.policy``), the code list (``code_list``), every file
   used with its sha256 (the input's ``files_sha256`` carried forward), every input with its
   sha256, the outputs, the summary and the notes;
5. renders every output, then writes them all with their sidecars ``<file>.meta.json`` (each with
   its file's own sha256, taken as a CSV/TSV file is written) through :func:`write_outputs`: side by
   side, all together or none.

Nothing is written when any of 1–4, the rendering of any output, or the writing of any file
(disk full, say) fails: the outputs of one run land together or not at all.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..codes import CodeList
from ..io import (
    KeyedRows,
    TableBatches,
    all_or_nothing,
    check_output,
    staged_sha256,
    write_json,
    write_table,
    write_text,
)
from ..provenance import build_meta, check_paths, write_meta
from ..resources import file_sha256
from .model import Crosswalk, code_list_record
from .store import read_crosswalk, write_crosswalk

__all__ = ["OUTPUT_KINDS", "Output", "StageResult", "run_stage", "write_outputs"]

OUTPUT_KINDS = ("crosswalk", "table", "json", "text")
"""What an :class:`Output` can be: a crosswalk (CSV with BOM), a table, a JSON document, text (HTML)."""


@dataclass(frozen=True, eq=False)
class Output:
    """One file a stage writes.

    ``value`` is the data — a :class:`~coder.crosswalk.model.Crosswalk` or DataFrame
    (``kind="crosswalk"``), a DataFrame or, for a CSV/TSV file, :class:`~coder.io.KeyedRows`, or, for
    a CSV/TSV/Parquet file, :class:`~coder.io.TableBatches` written batch by batch
    (``"table"``, written in ``encoding``), a JSON-ready
    object (``"json"``) or a string (``"text"``) — or a function of the provenance record that
    returns it (for outputs that embed their own provenance, like a report).
    """

    path: str | Path
    value: object
    kind: str = "crosswalk"
    encoding: str = "utf-8"

    def __post_init__(self) -> None:
        if self.kind not in OUTPUT_KINDS:
            raise ValueError(f"output kind {self.kind!r}: one of {', '.join(OUTPUT_KINDS)}")


@dataclass(frozen=True, eq=False)
class StageResult:
    """What a stage hands :func:`run_stage`.

    ``value``      what the file twin returns (or a function of the provenance record returning it);
    ``outputs``    the files to write (none: nothing is written, e.g. a panel plan);
    ``crosswalk``  the crosswalk the stage made, if any: its policy and files are recorded
                   (default: the input's, for stages that decide nothing);
    ``params``, ``files``, ``summary``  go to the sidecar (``files``: extra files used → sha256);
    ``inputs``     more about each extra input (e.g. rows read), merged into its sidecar entry;
    ``notes``      what a user should know, added to the input crosswalk's notes in the summary.
    """

    value: object
    outputs: Sequence[Output] = ()
    crosswalk: Crosswalk | None = None
    params: Mapping[str, object] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)
    summary: Mapping[str, object] = field(default_factory=dict)
    inputs: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    notes: Sequence[str] = ()


def _key(label: str) -> str:
    """A sidecar key from a path's label in messages: ``the review file`` → ``review_file``, ``--json`` → ``json``."""
    text = re.sub(r"\s*\(.*?\)", "", label).strip()
    text = re.sub(r"^(the|-o)\s+", "", text).lstrip("-").strip()
    return re.sub(r"\s+", "_", text).lower() or label


def run_stage(
    stage: Callable[[Crosswalk], StageResult],
    crosswalk_path: str | Path,
    outputs: Mapping[str, str | Path | None],
    *,
    command: str,
    inputs: Mapping[str, str | Path | None] | None = None,
    codes: CodeList | None = None,
    input_label: str = "the crosswalk",
    tables: Sequence[str] = (),
) -> object:
    """Run one stage over the crosswalk at ``crosswalk_path`` and write its outputs (see the module docstring).

    ``outputs`` and ``inputs`` (other files the stage reads) map the name a message uses (``the
    output (-o)``, ``the rows``) to a path; every one is checked before anything is read.
    ``tables``: the names (keys of ``outputs``) of outputs that are tables, whose extension is
    checked then too (every table's is checked again before anything is written).
    ``codes``: the code list the crosswalk must have been coded against (default: the toolkit's).
    Returns the stage's value.
    """
    others = {k: v for k, v in (inputs or {}).items() if v is not None}
    check_paths({input_label: crosswalk_path, **others}, outputs)
    for label, path in outputs.items():
        if path is not None:
            check_output(path, what=label, table=label in tables)
    crosswalk = read_crosswalk(crosswalk_path, codes=codes)
    result = stage(crosswalk)
    made = result.crosswalk if result.crosswalk is not None else crosswalk
    record = code_list_record(crosswalk.codes)
    input_records: dict[str, object] = {
        "crosswalk": {"path": str(crosswalk_path), "sha256": crosswalk.sha256, "labels": len(crosswalk)}
    }
    for label, path in others.items():
        key = _key(label)
        entry: dict[str, object] = {"path": str(path)}
        if str(path) != "-" and Path(path).is_file():
            entry["sha256"] = file_sha256(path)
        input_records[key] = {**entry, **result.inputs.get(key, {})}
    for key, more in result.inputs.items():
        input_records.setdefault(key, dict(more))
    stated = result.summary.get("notes", [])
    notes = list(dict.fromkeys([*crosswalk.notes, *result.notes, *(stated if isinstance(stated, list) else [])]))
    meta = build_meta(
        command=command,
        params={**result.params, "policy": made.policy.as_dict()},
        files={**crosswalk.files, **made.files, record["file"]: record["sha256"], **result.files},
        inputs=input_records,
        outputs={_key(k): str(v) for k, v in outputs.items() if v is not None},
        summary={**result.summary, **({"notes": notes} if notes else {})},
        code_list=record,
    )
    if made.audit:  # the residual-error estimates go with the crosswalk (coder.review_audit)
        meta["audit"] = [dict(a) for a in made.audit]
    value = result.value(meta) if callable(result.value) else result.value
    write_outputs(result.outputs, meta)
    return value


def write_outputs(outputs: Sequence[Output], meta: Mapping[str, object]) -> None:
    """Write ``outputs``, each with its sidecar ``<file>.meta.json``, all together or none.

    ``meta`` is the run's provenance record (:func:`coder.provenance.build_meta`); each sidecar
    adds ``outputs.this`` (the file) and ``outputs.sha256`` (its sha256).  Every output is
    rendered (an ``Output.value`` that is a function gets ``meta``) and every table is checked
    (its extension; an ``.xlsx`` must hold its rows) before anything is written; then every
    file goes to a temporary file beside its target and all are moved into place only when all
    were written (:func:`coder.io.all_or_nothing`).  On any failure — disk full, a folder that
    is not writable — no output changes and no temporary file is left.
    """
    rendered = [(out, out.value(meta) if callable(out.value) else out.value) for out in outputs]
    for out, data in rendered:
        if out.kind in ("crosswalk", "table"):
            frame = data.frame if isinstance(data, Crosswalk) else data
            shape = frame.shape if isinstance(frame, pd.DataFrame | KeyedRows | TableBatches) else (None, None)
            check_output(out.path, what="the output", rows=shape[0], columns=shape[1])
    outs = meta.get("outputs", {})

    def write(out: Output, data: object) -> None:
        _write(out, data)
        if str(out.path) != "-":
            this = {**outs, "this": str(out.path), "sha256": staged_sha256(out.path)}  # type: ignore[dict-item]
            write_meta(out.path, {**meta, "outputs": this})

    paths = [str(out.path) for out, _ in rendered]
    with all_or_nothing():
        if len(rendered) < 2 or "-" in paths or len(set(paths)) < len(paths):
            for out, data in rendered:
                write(out, data)
            return
        # files side by side (Arrow's kernels, file writes and sha256 release the GIL): the NPK crosswalk
        # (0.03 s of CPU) is written while the 1M coded rows (0.11 s) are; each task runs in a copy of this
        # context (the run's files)
        with ThreadPoolExecutor(max_workers=2) as pool:
            tasks = [pool.submit(contextvars.copy_context().run, write, out, data) for out, data in rendered]
        for task in tasks:
            task.result()


def _write(out: Output, data: object) -> None:
    if out.kind == "crosswalk":
        write_crosswalk(data, out.path)  # type: ignore[arg-type]
    elif out.kind == "table":
        frame = data.frame if isinstance(data, Crosswalk) else data
        if not isinstance(frame, pd.DataFrame | KeyedRows | TableBatches):
            raise TypeError(f"{out.path}: a table output needs a DataFrame, not {type(data).__name__}")
        write_table(frame, out.path, encoding=out.encoding)
    elif out.kind == "json":
        write_json(data, out.path)
    else:
        write_text(str(data), out.path, encoding=out.encoding)
