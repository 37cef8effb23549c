"""Provenance sidecars: every output ``out.csv`` gets ``out.csv.meta.json``.

The sidecar records the toolkit version, a run id, the time, the command's
parameters, the input file (path, sha256, rows), the sha256 of every curated
file used (code list, rules, model, references) and a summary, so that a result
can be traced to exactly what produced it.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import uuid
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

from .errors import InputError
from .io import write_json

__all__ = ["build_meta", "check_paths", "meta_path", "toolkit_version", "write_meta"]


def toolkit_version() -> str:
    try:
        return metadata.version("ksco-coder")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def meta_path(output: str | Path) -> Path:
    """``out.csv`` → ``out.csv.meta.json``: the whole file name, so ``x.csv`` and ``x.parquet`` never share one."""
    p = Path(output)
    return p.with_name(f"{p.name}.meta.json")


def build_meta(
    *,
    command: str,
    params: Mapping[str, object],
    files: Mapping[str, str],
    inputs: Mapping[str, object] | None = None,
    outputs: Mapping[str, object] | None = None,
    summary: Mapping[str, object] | None = None,
    run_id: str | None = None,
    code_list: Mapping[str, str] | None = None,
) -> dict:
    """Assemble a provenance record (a plain dict, ready for JSON).

    ``code_list`` (``{"name", "file", "sha256"}``) names the code list a crosswalk was coded
    against; :func:`coder.crosswalk.store.read_crosswalk` refuses a crosswalk whose sidecar names
    another.
    """
    record = {
        "toolkit": "ksco-coder",
        "version": toolkit_version(),
        "run_id": run_id or uuid.uuid4().hex,
        "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "command": command,
        "params": dict(params),
        "inputs": dict(inputs or {}),
        "outputs": dict(outputs or {}),
        "files_sha256": dict(sorted(files.items())),
        "summary": dict(summary or {}),
    }
    if code_list is not None:
        record["code_list"] = dict(code_list)
    return record


def write_meta(output: str | Path, meta: Mapping[str, object]) -> Path:
    """Write the sidecar of ``output`` and return its path."""
    path = meta_path(output)
    write_json(dict(meta), path)
    return path


def _same_file(a: str | Path, b: str | Path) -> bool:
    if str(a) == "-" or str(b) == "-":
        return False
    pa_, pb = Path(a), Path(b)
    if pa_.exists() and pb.exists():
        return os.path.samefile(pa_, pb)
    return pa_.resolve() == pb.resolve()


def check_paths(inputs: Mapping[str, str | Path | None], outputs: Mapping[str, str | Path | None]) -> None:
    """Refuse an output path that is an input path or another output's path (it would destroy data)."""
    ins = {k: v for k, v in inputs.items() if v is not None}
    outs = {k: v for k, v in outputs.items() if v is not None}
    for o_name, o in outs.items():
        for i_name, i in ins.items():
            if _same_file(o, i):
                raise InputError(
                    f"{o}: {o_name} is the same file as {i_name} — writing it would overwrite the input. "
                    "Choose another output path.",
                    path=o,
                )
    names = list(outs)
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            if _same_file(outs[names[a]], outs[names[b]]):
                raise InputError(
                    f"{outs[names[a]]}: {names[a]} and {names[b]} are the same file — give each its own path.",
                    path=outs[names[a]],
                )
    for name, o in outs.items():
        for i_name, i in ins.items():
            if str(o) != "-" and meta_path(o) == Path(str(i)):
                raise InputError(f"{o}: the sidecar of {name} would overwrite {i_name}.", path=o)
