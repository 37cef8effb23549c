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
from ..io import check_output, read_table
from ..provenance import build_meta, check_paths
from ..resources import file_sha256
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
    """

    ref_file = str(reference) if Path(str(reference)).is_file() else None
    check_paths({"the input": input_path, "the reference": ref_file}, {"--json": json_path, "--csv": csv_path})
    for label, path, table in (("--json", json_path, False), ("--csv", csv_path, True)):
        if path is not None:
            check_output(path, what=label, table=table)
    ref = load_reference(reference)
    frame = read_table(input_path)
    exclude = tuple(exclude)
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
    )
    if json_path is None and csv_path is None:
        return result
    files = {f"references/{ref.name}": ref.sha256}
    if result.age_standardisation is not None:
        files[f"references/{AGE_TABLE}"] = load_age_structure(ref.period).sha256
    inputs: dict[str, object] = {"path": str(input_path), "rows": len(frame)}
    if str(input_path) != "-":
        inputs["sha256"] = file_sha256(input_path)
    columns = {"sex_col": sex_col, "code_col": code_col, "status_col": status_col, "weight_col": weight_col}
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
