"""Reading and writing tables: CSV (UTF-8, UTF-8 with BOM, cp949/EUC-KR), Parquet, XLSX.

CSV cells are read as strings exactly as written (``""`` stays ``""``, ``01`` stays
``01``): codes never become numbers.  Parquet and XLSX keep their own types.
Writes go to a temporary file beside the target and are moved into place only when
complete, so a failed run leaves an earlier output intact.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import os
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .errors import InputError

__all__ = [
    "decode_text",
    "detect_encoding",
    "file_delimiter",
    "frame_records",
    "json_ready",
    "read_table",
    "sniff_delimiter",
    "table_format",
    "write_json",
    "write_table",
    "write_text",
]

_FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx"}


def table_format(path: str | Path) -> str:
    """``csv``, ``tsv``, ``parquet`` or ``xlsx`` from the file name (``-`` is CSV)."""
    if str(path) == "-":
        return "csv"
    suffix = Path(str(path)).suffix.lower()
    if suffix in _FORMATS:
        return _FORMATS[suffix]
    raise InputError(
        f"{path}: unknown table format {suffix or '(no extension)'!r} — use .csv, .tsv, .parquet or .xlsx.",
        path=path,
    )


def detect_encoding(data: bytes, *, path: object = "input") -> str:
    """Return ``utf-8-sig``, ``utf-8`` or ``cp949`` for the bytes of a text file."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        data.decode("cp949")
        return "cp949"
    except UnicodeDecodeError:
        pass
    line = data[: utf8_error.start].count(b"\n") + 1
    raise InputError(
        f"{path}:{line}: text is neither UTF-8 nor cp949/EUC-KR (bad byte at offset {utf8_error.start}) — "
        "re-save the file as UTF-8.",
        path=path,
        line=line,
    )


def decode_text(data: bytes, *, path: object = "input") -> str:
    """The text of a file's bytes, encoding detected by :func:`detect_encoding` (BOM removed)."""
    return data.decode(detect_encoding(data, path=path))


_SNIFF_DELIMITERS = "\t,;|"
_SNIFF_LINES = 20


def sniff_delimiter(text: str) -> str:
    """The delimiter of delimited text: tab, comma, semicolon or pipe.

    :class:`csv.Sniffer` looks at the first lines; when it cannot decide, the
    candidate that occurs most often in the header line wins (tab when none
    occurs: a one-column file).
    """
    sample = "\n".join(text.splitlines()[:_SNIFF_LINES])
    try:
        return csv.Sniffer().sniff(sample, delimiters=_SNIFF_DELIMITERS).delimiter
    except csv.Error:
        header = sample.split("\n", 1)[0]
        counts = {d: header.count(d) for d in _SNIFF_DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else "\t"


def file_delimiter(path: str | Path, text: str) -> str:
    """Delimiter for a text table: ``.tsv`` tab, ``.txt`` sniffed (:func:`sniff_delimiter`), otherwise comma."""
    suffix = Path(str(path)).suffix.lower() if str(path) != "-" else ".csv"
    if suffix == ".tsv":
        return "\t"
    if suffix == ".txt":
        return sniff_delimiter(text)
    return ","


def _check_columns(names: list[str], path: object) -> None:
    dupes = [n for n, c in Counter(names).items() if c > 1]
    if dupes:
        where = "; ".join(
            f"{n!r} at columns {', '.join(str(i + 1) for i, m in enumerate(names) if m == n)}" for n in dupes
        )
        raise InputError(
            f"{path}: duplicated column name(s): {where} — rename them so every column name is unique.",
            path=path,
        )


def _read_delimited(data: bytes, *, path: object, delimiter: str | None) -> pd.DataFrame:
    text = decode_text(data, path=path)
    if delimiter is None:
        delimiter = file_delimiter(str(path), text)
    data = text.encode("utf-8")
    if not data.strip():
        raise InputError(f"{path}: the file is empty — it needs a header row and data rows.", path=path)
    first = next(csv.reader(io.StringIO(data.split(b"\n", 1)[0].decode("utf-8")), delimiter=delimiter), [])
    names = [n.strip() for n in first]
    _check_columns(names, path)
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        kind = {",": "CSV", "\t": "TSV"}.get(delimiter, f"text delimited by {delimiter!r}")
        raise InputError(f"{path}: cannot parse as {kind} — {exc}", path=path) from None
    return table.to_pandas()


def read_table(path: str | Path, *, sheet: str | int = 0) -> pd.DataFrame:
    """Read a CSV/TSV (encoding detected), Parquet or XLSX file into a DataFrame.

    ``.csv`` is comma-separated, ``.tsv`` tab-separated; for ``.txt`` the
    delimiter (tab, comma, semicolon or pipe) is sniffed from the first lines.

    ``-`` reads CSV from standard input.  Raises :class:`InputError` with the path
    and a fix for unreadable files, unknown formats and duplicated column names.
    """
    fmt = table_format(path)
    if str(path) != "-" and not Path(path).is_file():
        raise InputError(f"{path}: no such file — check the path.", path=path)
    if fmt in ("csv", "tsv"):
        data = sys.stdin.buffer.read() if str(path) == "-" else Path(path).read_bytes()
        return _read_delimited(data, path=path, delimiter=None)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"{path}: cannot read as Parquet — {exc}", path=path) from None
        _check_columns(table.column_names, path)
        return table.to_pandas()
    try:
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many unrelated types for bad files
        raise InputError(f"{path}: cannot read as XLSX — {exc}", path=path) from None
    try:
        ws = wb[sheet] if isinstance(sheet, str) else wb.worksheets[sheet]
        rows = ws.iter_rows(values_only=True)
        first = next(rows, None)
        if first is None:
            raise InputError(f"{path}: the sheet {ws.title!r} is empty — it needs a header row.", path=path)
        names = ["" if v is None else str(v).strip() for v in first]
        _check_columns(names, path)
        body = list(rows)
    finally:
        wb.close()
    frame = pd.DataFrame.from_records(body, columns=names) if body else pd.DataFrame(columns=names)
    return frame


def _umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux ``/proc``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:  # os.umask can only be read by setting it; restore at once
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


_UMASK_LOCK = threading.Lock()


def _atomic(path: Path, writer: Callable[[Path], None]) -> None:
    """Write through a temporary file moved into place; the result has the usual ``0o666 & ~umask`` mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        writer(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _arrow_table(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)


def _string_column(series: pd.Series) -> pa.Array:
    """A column as Arrow strings: missing values as "", numbers as Arrow prints them."""
    try:
        arr = pa.array(series, from_pandas=True)
        if pa.types.is_boolean(arr.type):
            arr = pc.if_else(arr, "True", "False")
        return pc.fill_null(pc.cast(arr, pa.string()), "")
    except pa.ArrowException:  # mixed or exotic types: fall back to str()
        values = [("" if v is None or (isinstance(v, float) and v != v) else str(v)) for v in series.tolist()]
        return pa.array(values, type=pa.string())


def _string_table(frame: pd.DataFrame) -> pa.Table:
    names = [str(c) for c in frame.columns]
    return pa.Table.from_arrays([_string_column(frame.iloc[:, i]) for i in range(frame.shape[1])], names=names)


def write_table(frame: pd.DataFrame, path: str | Path, *, encoding: str = "utf-8") -> None:
    """Write a DataFrame by extension (``-`` writes CSV to standard output).

    CSV is written as UTF-8 (pass ``encoding="utf-8-sig"`` for files meant for
    Excel), every value quoted only where needed, missing values as empty cells.
    """
    fmt = table_format(path)
    if str(path) == "-":
        sys.stdout.write(frame.to_csv(index=False, lineterminator="\n"))
        return
    target = Path(path)
    if fmt in ("csv", "tsv"):

        def write(tmp: Path) -> None:
            sep = "," if fmt == "csv" else "\t"
            if encoding == "utf-8":
                options = pacsv.WriteOptions(delimiter=sep, quoting_style="needed")
                pacsv.write_csv(_string_table(frame), tmp, write_options=options)
            else:
                frame.to_csv(tmp, index=False, encoding=encoding, sep=sep, lineterminator="\n")

        _atomic(target, write)
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        _atomic(target, lambda tmp: pq.write_table(_arrow_table(frame), tmp))
    else:
        _atomic(target, lambda tmp: frame.to_excel(tmp, index=False, engine="openpyxl"))


def json_ready(obj: object) -> object:
    """``obj`` with NumPy scalars and arrays as Python values and NaN/inf as None, recursively (for JSON).

    >>> import numpy as np
    >>> json_ready({"a": np.int64(3), "b": [np.float64("nan"), 1.5], 2: (np.bool_(True),)})
    {'a': 3, 'b': [None, 1.5], '2': [True]}
    """
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_ready(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "tolist") and not isinstance(obj, str):  # NumPy scalars and arrays
        try:
            return json_ready(obj.tolist())
        except (ValueError, AttributeError, TypeError):
            return obj
    return obj


def frame_records(frame: pd.DataFrame) -> list[dict]:
    """A frame's rows as JSON-ready dicts (see :func:`json_ready`), columns named by ``str``."""
    return json_ready(frame.to_dict("records"))  # type: ignore[return-value]


def write_json(obj: object, path: str | Path) -> None:
    """Write JSON (UTF-8, sorted keys, indented) atomically; ``-`` writes to stdout."""
    text = json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True, default=str) + "\n"
    if str(path) == "-":
        sys.stdout.write(text)
        return
    _atomic(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_text(text: str, path: str | Path, *, encoding: str = "utf-8") -> None:
    """Write text (an HTML report, say) atomically; ``-`` writes to stdout."""
    if str(path) == "-":
        sys.stdout.write(text)
        return
    _atomic(Path(path), lambda tmp: tmp.write_text(text, encoding=encoding))
