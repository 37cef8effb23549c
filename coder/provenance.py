"""Provenance sidecars: every output ``out.csv`` gets ``out.csv.meta.json``.

The sidecar records the toolkit version, a run id, the time, the command's
parameters, the input file (path, sha256, rows), the sha256 of every curated
file used (code list, rules, model, references) and a summary, so that a result
can be traced to exactly what produced it.
"""

from __future__ import annotations

import datetime as _dt
import platform
import uuid
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

from .io import write_json

__all__ = ["build_meta", "meta_path", "toolkit_version", "write_meta"]


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
) -> dict:
    """Assemble a provenance record (a plain dict, ready for JSON)."""
    return {
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


def write_meta(output: str | Path, meta: Mapping[str, object]) -> Path:
    """Write the sidecar of ``output`` and return its path."""
    path = meta_path(output)
    write_json(dict(meta), path)
    return path
