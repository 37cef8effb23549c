"""The axis stage over files: read a table, measure the sex × KSCO axis, write JSON and CSV with sidecars.

:func:`axis_file` is the library twin of ``coder axis``: it refuses an output path
that is an input or cannot be written, measures (:func:`~coder.axis.metrics.tabulate_axis` then
:func:`~coder.axis.metrics.measure_axis`), and only then writes the outputs, each with its
``<output>.meta.json`` provenance sidecar, all together or none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from ..crosswalk.stage import Output, write_outputs
from ..errors import InputError
from ..io import check_output, read_table
from ..provenance import build_meta, check_paths
from ..resources import file_sha256
from .frame import DEFAULT_DRAWS
from .metrics import DEFAULT_EXCLUDE, AxisResult, measure_axis, tabulate_axis
from .references import AGE_TABLE, load_age_structure, load_reference

__all__ = ["axis_file", "buckets_frame"]

_INTERVALS = ("r_ci", "r_ci_bonferroni", "r_bucket_ci", "r_bucket_ci_bonferroni")


def buckets_frame(result: AxisResult) -> pd.DataFrame:
    """One row per bucket with every per-bucket figure (intervals split into ``_lo``/``_hi`` columns)."""
    rows = []
    for b in result.to_dict()["buckets"]:
        row = {}
        for key, value in b.items():
            if key in _INTERVALS:
                row[f"{key}_lo"], row[f"{key}_hi"] = value if value is not None else (None, None)
            else:
                row[key] = value
        rows.append(row)
    return pd.DataFrame(rows)


def _crosswalk_of(input_path, crosswalk, text_col, aggregated) -> tuple[str | Path | None, str | None, bool]:
    """The crosswalk and text column for the coding intervals: given, or recorded in the input's sidecar."""
    import json

    from ..provenance import meta_path

    if aggregated:
        if crosswalk is not None:
            raise InputError("--crosswalk needs coded rows (one respondent per row), not an aggregated table.")
        return None, text_col, False
    found = False
    side = meta_path(input_path) if str(input_path) != "-" else None
    meta = {}
    if side is not None and side.is_file():
        try:
            meta = json.loads(side.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = {}
    if crosswalk is None:
        recorded = (meta.get("outputs") or {}).get("crosswalk")
        if recorded and Path(recorded).is_file():
            crosswalk, found = recorded, True
    if crosswalk is not None and not text_col:
        text_col = (meta.get("params") or {}).get("text_col")
        if not text_col:
            raise InputError(
                f"{input_path}: which column holds the occupation text (to join the crosswalk {crosswalk})? "
                "No sidecar records it — pass --text-col."
            )
    return crosswalk, text_col, found


def axis_file(
    input_path: str | Path,
    *,
    reference: str | Path = "kosis-res:2025H2",
    json_path: str | Path | None = None,
    csv_path: str | Path | None = None,
    sex_col: str = "sex",
    code_col: str = "ksco_major",
    status_col: str | None = None,
    weight_col: str | None = None,
    age_col: str | None = None,
    count_col: str | None = None,
    n_col: str | None = None,
    female_share_col: str | None = None,
    sex_map: Mapping[str, str] | None = None,
    exclude: Iterable[str] = DEFAULT_EXCLUDE,
    q: float = 0.8,
    tau: float = 0.7,
    n_bootstrap: int = 2000,
    n_permutations: int = 10000,
    alpha: float = 0.05,
    seed: int = 20260101,
    ref_sample_size: int | None = None,
    vintages: bool = True,
    crosswalk: str | Path | None = None,
    text_col: str | None = None,
    n_draws: int = DEFAULT_DRAWS,
    progress: bool = False,
    command: str = "coder axis",
) -> AxisResult:
    """Read ``input_path``, compare it with ``reference``, write ``json_path`` and ``csv_path``.

    ``json_path`` gets every number (:meth:`AxisResult.to_dict`, ``-`` for stdout);
    ``csv_path`` one row per bucket (:func:`buckets_frame`).  An output path equal to
    the input, to a reference CSV, or to the other output is refused before anything
    is read, and so is a folder that cannot be written or a ``--csv`` that is not a table.
    Nothing is written unless the measurement succeeded; the files are written all together
    or none, and each gets ``<output>.meta.json`` with its own sha256, the input's
    sha256 and the reference tables' sha256.  The column and option arguments are
    those of :func:`~coder.axis.metrics.tabulate_axis` and
    :func:`~coder.axis.metrics.measure_axis`.

    ``crosswalk``: the crosswalk that coded the rows (default: the one ``coder code`` recorded in
    the input's ``.meta.json``, when that file is still there); with it the frame's units are the
    labels of ``text_col`` (default: the column the sidecar records) and ρ gets its coding and
    total intervals (``n_draws`` whole mappings) — the same frame as ``coder sensitivity`` and
    ``coder report`` build from the crosswalk and these rows.
    """

    ref_file = str(reference) if Path(str(reference)).is_file() else None
    check_paths({"the input": input_path, "the reference": ref_file}, {"--json": json_path, "--csv": csv_path})
    for label, path, table in (("--json", json_path, False), ("--csv", csv_path, True)):
        if path is not None:
            check_output(path, what=label, table=table)
    ref = load_reference(reference)
    crosswalk, text_col, found = _crosswalk_of(input_path, crosswalk, text_col, count_col or n_col)
    frame = read_table(input_path)
    exclude = tuple(exclude)
    coding, coding_note, xwalk_info = None, "", None
    if crosswalk is not None:
        from ..crosswalk.store import read_crosswalk
        from .coding import CODING_BUCKETS, coding_probabilities
        from .coding import coding_note as describe

        xw = read_crosswalk(crosswalk)
        decided = xw.decided().frame
        probs, record = coding_probabilities(decided)
        coding = ({str(k): probs[i] for i, k in enumerate(decided["label_key"].astype(str))}, CODING_BUCKETS)
        coding_note = describe(record) + (f"; crosswalk {crosswalk} (recorded in the rows' sidecar)" if found else "")
        xwalk_info = {"path": str(crosswalk), "sha256": xw.sha256}
    table = tabulate_axis(
        frame,
        sex_col=sex_col,
        code_col=code_col,
        weight_col=weight_col,
        age_col=age_col,
        count_col=count_col,
        n_col=n_col,
        female_share_col=female_share_col,
        sex_map=sex_map,
        exclude=exclude,
        status_col=status_col,
        label_col=text_col if crosswalk is not None else None,
        coding=coding,
        coding_note=coding_note,
    )
    result = measure_axis(
        table,
        ref,
        q=q,
        tau=tau,
        n_bootstrap=n_bootstrap,
        n_permutations=n_permutations,
        alpha=alpha,
        seed=seed,
        ref_sample_size=ref_sample_size,
        vintages=vintages,
        n_draws=n_draws,
        progress=progress,
    )
    if json_path is None and csv_path is None:
        return result
    files = {f"references/{ref.name}": ref.sha256}
    if result.age_standardisation is not None:
        files[f"references/{AGE_TABLE}"] = load_age_structure(ref.period).sha256
    inputs: dict[str, object] = {"path": str(input_path), "rows": len(frame)}
    if str(input_path) != "-":
        inputs["sha256"] = file_sha256(input_path)
    if xwalk_info is not None:
        inputs = {"rows": inputs, "crosswalk": xwalk_info}
    columns = {"sex_col": sex_col, "code_col": code_col, "status_col": status_col, "weight_col": weight_col}
    columns |= {"text_col": text_col if crosswalk is not None else None}
    columns |= {"age_col": age_col, "count_col": count_col, "n_col": n_col, "female_share_col": female_share_col}
    meta = build_meta(
        command=command,
        params={
            **columns,
            "reference": str(reference),
            "sex_map": dict(sex_map or {}),
            "exclude": list(exclude),
            "vintages": vintages,
            **result.settings,
        },
        files=files,
        inputs=inputs,
        outputs={k: str(v) for k, v in (("json", json_path), ("csv", csv_path)) if v is not None},
        summary={"verdict": result.verdict, "rho": result.rho, "n_persons": result.n_persons},
    )
    outputs = []
    if json_path is not None:
        outputs.append(Output(json_path, result.to_dict(), kind="json"))
    if csv_path is not None:
        outputs.append(Output(csv_path, buckets_frame(result), kind="table"))
    write_outputs(outputs, meta)
    return result
