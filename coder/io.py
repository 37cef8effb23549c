"""Reading and writing tables: CSV (UTF-8, UTF-8 with BOM, cp949/EUC-KR), Parquet, XLSX.

CSV cells are read as strings exactly as written (``""`` stays ``""``, ``01`` stays
``01``): codes never become numbers.  Parquet and XLSX keep their own types (Parquet
integers with nulls as nullable ``Int64``, never rounded through floats).  A file that
cannot be read exactly is refused, naming the line: a quote that is never closed, a file
mixing UTF-8 and cp949, a UTF-8 BOM before cp949 bytes, an XLSX formula with no saved value.

Writes are all-or-nothing (:func:`all_or_nothing`): every file goes to a temporary file
beside its target (``.<name>.coder-tmp-<pid>-…``) and the files of one run are moved into
place together, only when all were written; a failure (disk full, a read-only folder) is
an :class:`InputError` naming the folder, and leaves every earlier output intact and no
temporary file behind.  CSV quotes any cell with a quote, delimiter, CR or LF, so values
read back exactly; XLSX text cells are always text, never formulas.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime
import decimal
import errno
import functools
import hashlib
import io
import json
import math
import os
import re
import sys
import tempfile
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .errors import InputError

__all__ = [
    "TEMP_MARK",
    "XLSX_MAX_COLUMNS",
    "XLSX_MAX_ROWS",
    "CsvBatchError",
    "CsvBatches",
    "CsvText",
    "InputLines",
    "KeyedRows",
    "TableBatches",
    "all_or_nothing",
    "check_output",
    "csv_batches",
    "csv_text",
    "decode_text",
    "detect_encoding",
    "file_delimiter",
    "frame_records",
    "json_ready",
    "read_batches",
    "read_table",
    "read_table_lines",
    "sniff_delimiter",
    "staged_path",
    "staged_sha256",
    "table_format",
    "write_batches",
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


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _not_utf8(data: bytes, start: int = 0) -> UnicodeDecodeError | None:
    if _valid_utf8(data, start):  # checked inside Arrow, without building a Python string
        return None
    try:
        data[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        exc.start += start
        return exc
    return None


def _valid_utf8(data: bytes, start: int = 0) -> bool:
    """Whether ``data[start:]`` is valid UTF-8 (Arrow validates the bytes in place)."""
    offsets = pa.py_buffer(np.array([start, len(data)], dtype=np.int64))
    arr = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        arr.cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


# A Hangul syllable (U+AC00–D7A3) as UTF-8: three bytes that a cp949 file almost never has in a
# line that is also valid UTF-8 (see _ks_x_1001).
_UTF8_HANGUL = re.compile(rb"[\xea-\xed][\x80-\xbf]{2}")


def _utf8_hangul_line(data: bytes) -> int | None:
    """The first line that is valid UTF-8 and has Hangul in it (evidence of UTF-8 in a non-UTF-8 file)."""
    checked = -1
    for m in _UTF8_HANGUL.finditer(data):
        start = data.rfind(b"\n", 0, m.start()) + 1
        if start == checked:
            continue
        checked = start
        end = data.find(b"\n", m.end())
        try:
            text = data[start : len(data) if end < 0 else end].decode("utf-8")
        except UnicodeDecodeError:
            continue
        syllables = [c for c in text if "\uac00" <= c <= "\ud7a3"]
        if syllables and all(c in _ks_x_1001() for c in syllables):
            return _line_of(data, start)
    return None


@functools.cache
def _ks_x_1001() -> frozenset[str]:
    """The 2,350 Hangul syllables of KS X 1001 (EUC-KR): real text is almost all of them, while cp949
    bytes that happen to be valid UTF-8 decode to rare syllables outside it."""
    return frozenset(chr(c) for c in range(0xAC00, 0xD7A4) if len(chr(c).encode("euc-kr")) == 2)


def detect_encoding(data: bytes, *, path: object = "input") -> str:
    """Return ``utf-8-sig``, ``utf-8`` or ``cp949`` for the bytes of a text file.

    A file must be in one encoding: a UTF-8 byte-order mark followed by bytes that are not
    UTF-8, and a file with both UTF-8 Hangul lines and cp949 lines, are refused
    (:class:`InputError` naming the first line that is not UTF-8) rather than decoded into
    mojibake.
    """
    if data.startswith(codecs.BOM_UTF8):
        bad = _not_utf8(data, len(codecs.BOM_UTF8))
        if bad is None:
            return "utf-8-sig"
        line = _line_of(data, bad.start)
        raise InputError(
            f"{path}:{line}: the file starts with a UTF-8 byte-order mark but line {line} is not UTF-8 "
            f"(bad byte at offset {bad.start}; cp949/EUC-KR?) — re-save the whole file as UTF-8.",
            path=path,
            line=line,
        )
    utf8_error = _not_utf8(data)
    if utf8_error is None:
        return "utf-8"
    line = _line_of(data, utf8_error.start)
    start = data.rfind(b"\n", 0, utf8_error.start) + 1
    end = data.find(b"\n", utf8_error.start)
    utf8_line = _utf8_hangul_line(data)
    if utf8_line is not None and _decodes(data[start : len(data) if end < 0 else end], "cp949"):
        raise InputError(
            f"{path}:{line}: the file mixes encodings — line {utf8_line} is UTF-8 but line {line} is not "
            f"(cp949/EUC-KR?), so either reading would garble one of them — re-save the whole file in one "
            "encoding (UTF-8).",
            path=path,
            line=line,
        )
    if not _decodes(data, "cp949"):
        raise InputError(
            f"{path}:{line}: text is neither UTF-8 nor cp949/EUC-KR (bad byte at offset {utf8_error.start}) — "
            "re-save the file as UTF-8.",
            path=path,
            line=line,
        )
    return "cp949"


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


def _open_quote(text: str | bytes, delimiter: str) -> int | None:
    """Offset of a quote that opens a field and is never closed, or None (``text`` as str or UTF-8 bytes).

    As the CSV parser reads it: a quote is special only at the start of a field; inside a quoted
    field ``""`` is a quote and a single ``"`` closes the field.
    """
    raw = isinstance(text, bytes)
    quote, twice = (b'"', b'""') if raw else ('"', '""')
    starts = tuple(c.encode() if raw else c for c in (delimiter, "\n", "\r"))
    pos = text.find(quote)  # type: ignore[arg-type]
    while pos >= 0:
        if pos == 0 or text[pos - 1 : pos] in starts:
            start = pos
            pos += 1
            while True:
                pos = text.find(quote, pos)  # type: ignore[arg-type]
                if pos < 0:
                    return start
                if text.startswith(twice, pos):  # type: ignore[arg-type]
                    pos += 2
                    continue
                break
        pos = text.find(quote, pos + 1)  # type: ignore[arg-type]
    return None


def _check_quotes(data: bytes, delimiter: str, path: object) -> tuple[np.ndarray, bool]:
    """Refuse UTF-8 ``data`` with a quote that opens a cell and is never closed, naming its line.  The offsets
    of its quotes (:func:`_line_layout` finds the rows they are in), and whether they plainly pair up
    (:func:`_quotes_paired`)."""
    quotes = _quote_offsets(data)
    if _quotes_paired(data, delimiter, quotes):
        return quotes, True
    start = _open_quote(data, delimiter)
    if start is None:
        return quotes, False
    line = data.count(b"\n", 0, start) + 1
    shown = data[start : start + 120].decode("utf-8", "ignore")[:30].split("\n", 1)[0]
    raise InputError(
        f"{path}:{line}: a quoted cell opens here ({shown}…) and is never closed, so every line after it "
        'would be read into that one cell — close the quote, or remove it (a quote inside a quoted cell is written "").',
        path=path,
        line=line,
    )


def _head_lines(data: bytes, n: int) -> str:
    """The first ``n`` lines of UTF-8 ``data`` as text (enough to sniff a delimiter)."""
    end = -1
    for _ in range(n):
        end = data.find(b"\n", end + 1)
        if end < 0:
            return data.decode("utf-8")
    return data[:end].decode("utf-8")


class _LineReads(io.RawIOBase):
    """A binary file whose reads end after a ``\\n`` (or, in a longer line, not between CR and LF).

    Arrow's CSV reader splits its input into blocks as it reads them, and a block ending between
    the CR and the LF of a quoted cell's CRLF loses the LF (pyarrow 26, any block size); reads
    that end at a line feed never cut a CRLF, and the blocks come out whole.
    """

    def __init__(self, fh) -> None:
        self._fh, self._carry = fh, b""

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            data, self._carry = self._carry + self._fh.read(), b""
            return data
        data = self._carry + self._fh.read(max(n - len(self._carry), 0))
        if len(data) < n:  # the end of the file
            self._carry = b""
            return data
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            cut = len(data) - 1 if data.endswith(b"\r") and len(data) > 1 else len(data)
        self._carry = data[cut:]
        return data[:cut]

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _parse_delimited(data: bytes, *, path: object, delimiter: str | None) -> tuple[pd.DataFrame, InputLines]:
    """The table of a delimited file's bytes, and the UTF-8 bytes Arrow parsed it from (:class:`InputLines`)."""
    encoding = detect_encoding(data, path=path)
    if encoding == "utf-8-sig":
        data = data[len(codecs.BOM_UTF8) :]
    elif encoding != "utf-8":
        data = data.decode(encoding).encode("utf-8")
    if delimiter is None:
        delimiter = file_delimiter(str(path), _head_lines(data, _SNIFF_LINES))
    quotes, paired = _check_quotes(data, delimiter, path)
    if not data or data.isspace():
        raise InputError(f"{path}: the file is empty — it needs a header row and data rows.", path=path)
    eol = data.find(b"\n")
    first = next(
        csv.reader(io.StringIO(data[: eol if eol >= 0 else len(data)].decode("utf-8")), delimiter=delimiter), []
    )
    names = [n.strip() for n in first]
    _check_columns(names, path)
    cr = b"\r" in data
    newlines = None if cr else np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
    # Arrow splits the bytes into blocks without reading quotes when no value may hold a line end: 0.02 s
    # less CPU for 1M NPK rows.  Sure when no CR, and no LF between a quote that opens a cell and the one that
    # closes it (the quotes paired plainly); else Arrow reads the quotes to split.
    multiline = newlines is None or (len(quotes) > 0 and (not paired or _quoted_lf(quotes, newlines)))

    def parse(newlines_in_values: bool) -> pa.Table:
        return pacsv.read_csv(
            pa.BufferReader(data) if not cr else pa.PythonFile(_LineReads(io.BytesIO(data)), mode="r"),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=_CSV_BLOCK),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=newlines_in_values),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                # the bytes are UTF-8, checked whole (detect_encoding) or made so (cp949), and so is every cell
                # of them: Arrow's own check of each cell found nothing more and cost 0.02 s of CPU (1M NPK rows)
                check_utf8=False,
            ),
        )

    try:
        try:
            table = parse(multiline)
        except pa.ArrowInvalid:
            if multiline:
                raise
            table = parse(True)  # a table Arrow refuses: refused (or read) as it always was
    except pa.ArrowInvalid as exc:
        kind = {",": "CSV", "\t": "TSV"}.get(delimiter, f"text delimited by {delimiter!r}")
        raise InputError(f"{path}: cannot parse as {kind} — {exc}", path=path) from None
    frame = table.to_pandas()
    return frame, InputLines(data, delimiter, frame, quotes, newlines)


def _quoted_lf(quotes: np.ndarray, newlines: np.ndarray) -> bool:
    """Whether a line feed (at offsets ``newlines``) lies inside a quoted cell, its quotes (at offsets
    ``quotes``) paired plainly (:func:`_quotes_paired`: each pair opens and closes a cell)."""
    opens, closes = quotes[0::2], quotes[1::2]
    return bool((np.searchsorted(newlines, opens) != np.searchsorted(newlines, closes)).any())


@dataclass(frozen=True, eq=False)
class InputLines:
    """The UTF-8 bytes a CSV/TSV ``frame`` was parsed from (BOM removed, cp949 re-encoded) and their
    ``delimiter`` (:func:`read_table_lines`): :func:`csv_text` takes the rows' own text from these bytes
    instead of rendering every cell, where that gives the same bytes (:meth:`layout`)."""

    data: bytes
    delimiter: str
    frame: pd.DataFrame
    quotes: np.ndarray  # the offsets of the quotes in data (found when the quotes were checked)
    newlines: np.ndarray | None  # the offsets of its line feeds; None when it has a CR (never taken)

    def __repr__(self) -> str:  # not the bytes, the frame and the offsets: a repr of 1M NPK rows took 0.5 s
        return f"InputLines({len(self.data):,} bytes, delimiter={self.delimiter!r}, rows={len(self.frame):,})"

    @functools.cached_property
    def _lines(self) -> tuple[np.ndarray, np.ndarray] | None:
        return None if self.newlines is None else _line_layout(self.data, len(self.frame), self.quotes, self.newlines)

    def layout(self, frame: pd.DataFrame, sep: str) -> tuple[np.ndarray, np.ndarray] | None:
        """Where ``frame``'s rows are in :attr:`data`, or None when their own text cannot be taken from it.

        ``ends``: row ``i`` is ``data[ends[i]:ends[i + 1]]``, the ``\\n`` ending the line before it (the
        header's, for the first row) then the row's line; ``quoted``: the rows whose line has a ``"``.

        Arrow parses every column as strings, a cell's value its text (:func:`_parse_delimited`), so a line
        with no ``"`` and no CR holds cells with no quote, CR, LF or delimiter, which the CSV writer writes
        as they are: the line is those cells joined by the delimiter, byte for byte.  That holds for the
        frame read from these bytes, unchanged (the very object, not a copy or a selection of its
        columns), written with the same delimiter, when each line after the header is one row: no CR in
        the file, no quote in the header, no blank line before the last row (Arrow skips blank lines), no
        quoted cell spanning lines (lines counted against rows).  The offsets of the line feeds and quotes
        come from the reading (:func:`_parse_delimited`: 0.015 s for the 27 MB of 1M NPK rows)."""
        if frame is not self.frame or sep != self.delimiter:
            return None
        return self._lines


def _line_layout(
    data: bytes, rows: int, quotes: np.ndarray, newlines: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """:meth:`InputLines.layout` of ``rows`` rows parsed from ``data`` (its quotes and line feeds at offsets
    ``quotes`` and ``newlines``), or None when the lines are not the rows."""
    if rows == 0:
        return None
    eol = data.find(b"\n")
    if eol <= 0 or (len(quotes) and quotes[0] < eol):
        return None  # no header line of its own, or a quoted column name (which may span lines)
    end = len(data)
    if data.endswith(b"\n\n"):
        end = len(data.rstrip(b"\n"))  # blank lines at the end (Arrow skips them)
    elif data.endswith(b"\n"):
        end -= 1
    if end <= eol:
        return None
    ends = newlines[: np.searchsorted(newlines, end)]  # from the header's line end (the first) to the last row's
    if len(ends) != rows:  # a blank line, or a quoted cell spanning lines: the lines are not the rows
        return None
    ends = np.append(ends, end)
    row = np.searchsorted(ends, quotes, side="right") - 1
    quoted = row[np.append(True, row[1:] != row[:-1])] if len(row) else row  # each row once (quotes in order)
    return ends, quoted


_CSV_BLOCK = 1 << 24
"""Bytes per block when a CSV/TSV file is parsed whole, or checked block by block (:func:`csv_batches`)."""
_CSV_BATCH_BYTES = 1 << 20
"""Bytes per batch when a CSV/TSV file is parsed in batches (:meth:`CsvBatches.batches`): small blocks keep
the reader's buffers small (16 MB blocks held ~0.5 GB more at peak on 10^7 rows) and cost no time."""


class CsvBatchError(Exception):
    """A CSV/TSV file read whole fine but not in batches (a row longer than a batch's bytes): read it whole."""


def _line_blocks(fh, block: int) -> Iterator[bytes]:
    """A binary file's bytes in blocks of about ``block`` bytes, each ending in ``\\n`` but the last: a
    block boundary never falls inside a character (UTF-8 never has ``\\n`` inside one), a ``""`` pair or a CRLF."""
    carry = b""
    while True:
        data = fh.read(block)
        if not data:
            if carry:
                yield carry
            return
        data = carry + data if carry else data
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            carry = data
            continue
        carry = data[cut:]
        yield data[:cut]


def _quote_offsets(data: bytes) -> np.ndarray:
    """The offsets of the quotes (``"``) in ``data``."""
    if b'"' not in data:
        return np.empty(0, dtype=np.intp)
    return np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord('"'))


def _quotes_paired(data: bytes, delimiter: str, quotes: np.ndarray | None = None) -> bool:
    """Whether every quote of ``data`` (a block starting outside any quoted field) plainly opens and closes
    a quoted field: quotes in pairs, each first one at the start of a field, no two quotes side by side (no
    ``""``).  Then :func:`_open_quote` finds every field closed; when False, ask it.  ``quotes``: their
    offsets, if known (:func:`_quote_offsets`)."""
    arr = np.frombuffer(data, dtype=np.uint8)
    q = _quote_offsets(data) if quotes is None else quotes
    if q.size % 2 or (q.size > 1 and (np.diff(q) == 1).any()):
        return False
    opens = q[0::2]
    before = arr[opens[opens > 0] - 1]
    starts = (before == ord(delimiter)) | (before == ord("\n")) | (before == ord("\r"))
    return bool(starts.all())


def _quotes_open(data: bytes, delimiter: str, inside: bool) -> bool:
    """Whether a quoted field is still open at the end of ``data`` (a block of :func:`_line_blocks`), reading
    the quotes as :func:`_open_quote` does; ``inside``: the block starts inside a quoted field."""
    if not inside and _quotes_paired(data, delimiter):
        return False
    starts = (delimiter.encode(), b"\n", b"\r")
    pos = 0
    while True:
        if inside:
            while True:  # to the closing quote ("" is a quote inside the field)
                pos = data.find(b'"', pos)
                if pos < 0:
                    return True
                if data.startswith(b'""', pos):
                    pos += 2
                    continue
                break
            inside = False
            pos += 1
        pos = data.find(b'"', pos)
        if pos < 0:
            return False
        if pos == 0 or data[pos - 1 : pos] in starts:
            inside = True
        pos += 1


class CsvBatches:
    """A UTF-8 CSV/TSV file read in batches: its column ``names`` and :meth:`batches` (see :func:`csv_batches`)."""

    def __init__(self, path: str | Path, names: list[str], delimiter: str, skip: int, block: int, cr: bool) -> None:
        self.path, self.names, self.delimiter, self._skip, self._block = path, names, delimiter, skip, block
        self._cr = cr  # the file has a CR somewhere

    def batches(self, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
        """The rows in order as DataFrames (string columns, as :func:`read_table` reads them), ``columns`` only
        if given.  A file Arrow cannot parse raises the :class:`InputError` :func:`read_table` raises; one
        that parses whole but not in batches raises :class:`CsvBatchError`."""
        names = self.names
        try:
            # Arrow reads the file itself unless a CR could be cut from its LF (see _LineReads)
            with open(self.path, "rb") if self._cr else pa.input_stream(str(self.path)) as fh:
                fh.read(self._skip)
                reader = pacsv.open_csv(
                    pa.PythonFile(_LineReads(fh), mode="r") if self._cr else fh,
                    read_options=pacsv.ReadOptions(
                        column_names=names, skip_rows=1, block_size=min(self._block, _CSV_BATCH_BYTES)
                    ),
                    parse_options=pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True),
                    convert_options=pacsv.ConvertOptions(
                        column_types={n: pa.string() for n in names},
                        strings_can_be_null=False,
                        quoted_strings_can_be_null=False,
                        include_columns=columns,
                    ),
                )
                for batch in reader:
                    yield pa.Table.from_batches([batch]).to_pandas()
        except pa.ArrowInvalid:
            read_table(self.path)  # raises the error the whole file gives
            raise CsvBatchError(f"{self.path}: cannot be read in batches; read it whole") from None


def csv_batches(path: str | Path, *, block: int | None = None) -> CsvBatches | None:
    """A CSV/TSV file to read in batches with exactly what :func:`read_table` reads whole, or None.

    The file is checked first block by block (memory: a block): it must be UTF-8 (with or without
    BOM), have a header with distinct column names, and close every quote it opens, as
    :func:`read_table` requires.  None for anything else (cp949, an unclosed quote, an empty
    file, standard input, …): :func:`read_table` then reads the file whole, decoding or refusing it
    as usual.  ``block``: bytes per block (default :data:`_CSV_BLOCK`).
    """
    if str(path) == "-" or table_format(path) not in ("csv", "tsv") or not Path(path).is_file():
        return None
    block = block or _CSV_BLOCK
    with open(path, "rb") as fh:
        blocks = _line_blocks(fh, block)
        first = next(blocks, b"")
        while first.count(b"\n") < _SNIFF_LINES and (more := next(blocks, None)) is not None:
            first += more  # the header and the lines a delimiter is sniffed from, in one block
        skip = len(codecs.BOM_UTF8) if first.startswith(codecs.BOM_UTF8) else 0
        head = first[skip:]
        if not head or head.isspace() or not _valid_utf8(head):
            return None
        delimiter = file_delimiter(str(path), _head_lines(head, _SNIFF_LINES))
        inside = _quotes_open(head, delimiter, False)
        cr = b"\r" in head
        for data in blocks:
            if not _valid_utf8(data):
                return None
            inside = _quotes_open(data, delimiter, inside)
            cr = cr or b"\r" in data
        if inside:
            return None
    eol = head.find(b"\n")
    first_line = head[: eol if eol >= 0 else len(head)].decode("utf-8")
    names = [n.strip() for n in next(csv.reader(io.StringIO(first_line), delimiter=delimiter), [])]
    if len(set(names)) != len(names):
        return None
    return CsvBatches(path, names, delimiter, skip, block, cr)


def read_table_lines(path: str | Path, *, sheet: str | int | None = None) -> tuple[pd.DataFrame, InputLines | None]:
    """:func:`read_table`, and for a CSV/TSV file the bytes its rows were parsed from (:class:`InputLines`; None
    for Parquet and XLSX), from which :func:`csv_text` takes the rows' own text as it is instead of rendering
    every cell of every row.  Same frame, same errors as :func:`read_table`."""
    return _read(path, sheet)


def read_table(path: str | Path, *, sheet: str | int | None = None) -> pd.DataFrame:
    """Read a CSV/TSV (encoding detected), Parquet or XLSX file into a DataFrame.

    ``.csv`` is comma-separated, ``.tsv`` tab-separated; for ``.txt`` the
    delimiter (tab, comma, semicolon or pipe) is sniffed from the first lines.
    Parquet columns keep their types: integers with missing values come back as
    pandas' nullable integers (``Int64``), not as floats that round large ids.

    ``sheet`` chooses the sheet of an XLSX file: its name, or its position (an ``int``
    counts from 0 as in pandas; a string of digits that is no sheet's name counts from 1,
    as ``coder code --sheet 2`` does).  Default: the first sheet.  ``frame.attrs["sheet"]``
    names the sheet read and ``frame.attrs["sheets"]`` lists them all.  A formula cell
    whose value was never saved is refused (it would read as an empty cell).

    ``-`` reads CSV from standard input.  Raises :class:`InputError` with the path
    and a fix for unreadable files, unknown formats, a quote that is never closed,
    mixed encodings and duplicated column names.
    """
    return _read(path, sheet)[0]


def _read(path: str | Path, sheet: str | int | None) -> tuple[pd.DataFrame, InputLines | None]:
    fmt = table_format(path)
    if str(path) != "-" and not Path(path).is_file():
        raise InputError(f"{path}: no such file — check the path.", path=path)
    if sheet is not None and fmt != "xlsx":
        raise InputError(
            f"{path}: a sheet ({sheet!r}) was chosen but this is not an .xlsx file — drop --sheet.", path=path
        )
    if fmt in ("csv", "tsv"):
        data = sys.stdin.buffer.read() if str(path) == "-" else Path(path).read_bytes()
        return _parse_delimited(data, path=path, delimiter=None)
    if fmt == "parquet":
        return _read_parquet(path), None
    return _read_xlsx(path, sheet), None


_NULLABLE_INTS = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
}


def _read_parquet(path: str | Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: cannot read as Parquet — {exc}", path=path) from None
    _check_columns(table.column_names, path)
    frame = table.to_pandas()
    for i, column in enumerate(table.columns):
        # pandas turns integers with nulls into float64, which rounds above 2**53: keep them exact
        if column.type in _NULLABLE_INTS and column.null_count:
            frame[frame.columns[i]] = column.to_pandas(types_mapper=_NULLABLE_INTS.get)
    return frame


def read_batches(
    path: str | Path, *, rows: int = 1 << 20, columns: list[str] | None = None, categorical: Sequence[str] = ()
) -> tuple[list[str], int, Iterator[pd.DataFrame]]:
    """A Parquet file's column names, row count and its rows as DataFrames of up to ``rows`` rows, in order.

    Each batch has the types :func:`read_table` gives (integers of a column that has nulls
    anywhere in the file as nullable ``Int64`` in every batch), so the batches put together are
    the frame :func:`read_table` reads, without holding it.  ``columns``: read only these.
    ``categorical``: string columns read as Parquet stores them, dictionary-encoded, as pandas
    categoricals of the same values (no string made per row; other types are read as usual).
    Raises :class:`InputError` like :func:`read_table`.
    """
    import pyarrow.parquet as pq

    if not Path(path).is_file():
        raise InputError(f"{path}: no such file — check the path.", path=path)
    try:
        # no pre-buffering: pyarrow keeps every pre-buffered column chunk until the file is read to the end
        # (8 MB more per 10^6 rows read, 0.67 GB at 10^8 rows)
        pf = pq.ParquetFile(path, pre_buffer=False)
        schema = pf.schema_arrow
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: cannot read as Parquet — {exc}", path=path) from None
    _check_columns(schema.names, path)
    strings = [n for n in categorical if n in schema.names and schema.field(n).type in (pa.string(), pa.large_string())]
    if strings:
        try:
            pf = pq.ParquetFile(path, pre_buffer=False, read_dictionary=strings)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"{path}: cannot read as Parquet — {exc}", path=path) from None
    nulls = set()
    for i, field in enumerate(schema):
        if field.type in _NULLABLE_INTS:
            try:
                counts = [pf.metadata.row_group(g).column(i).statistics for g in range(pf.metadata.num_row_groups)]
                if any(st is None or not st.has_null_count or st.null_count for st in counts):
                    nulls.add(field.name)
            except (IndexError, ValueError, OSError):
                nulls.add(field.name)

    def batches() -> Iterator[pd.DataFrame]:
        try:
            for batch in pf.iter_batches(batch_size=rows, columns=columns, use_pandas_metadata=True):
                frame = batch.to_pandas()
                for j, name in enumerate(batch.schema.names):
                    column = batch.column(j)
                    if name in nulls and column.null_count:
                        frame[frame.columns[j]] = column.to_pandas(types_mapper=_NULLABLE_INTS.get)
                    elif name in nulls:
                        frame[frame.columns[j]] = frame.iloc[:, j].astype(_NULLABLE_INTS[column.type])
                yield frame
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"{path}: cannot read as Parquet — {exc}", path=path) from None

    return list(schema.names), pf.metadata.num_rows, batches()


def _pick_sheet(wb: object, sheet: str | int | None, path: object) -> object:
    names = list(wb.sheetnames)  # type: ignore[attr-defined]
    if sheet is None:
        return wb.worksheets[0]  # type: ignore[attr-defined]
    if isinstance(sheet, str) and sheet in names:
        return wb[sheet]  # type: ignore[index]
    index = sheet if isinstance(sheet, int) else (int(sheet) - 1 if sheet.strip().isdigit() else None)
    if index is not None and 0 <= index < len(names):
        return wb.worksheets[index]  # type: ignore[attr-defined]
    listed = ", ".join(f"{i + 1} {n!r}" for i, n in enumerate(names))
    raise InputError(
        f"{path}: no sheet {sheet!r} — the sheets are {listed}. Choose one by name or position (--sheet NAME|N, 1 = first).",
        path=path,
    )


_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")


def _has_formulas(path: str | Path, part: str | None) -> bool:
    """Whether the sheet's XML (``part`` in the XLSX zip) has any formula element; True when unsure."""
    import zipfile

    if not part:
        return True
    try:
        with zipfile.ZipFile(path) as archive, archive.open(part.lstrip("/")) as fh:
            tail = b""
            while chunk := fh.read(1 << 20):
                if _FORMULA_TAG.search(tail + chunk):
                    return True
                tail = chunk[-16:]
    except (KeyError, OSError, zipfile.BadZipFile):
        return True
    return False


def _uncached_formulas(path: str | Path, title: str, rows: list[tuple], part: str | None) -> list[str]:
    """Cells of sheet ``title`` (``C5 =B5*2``) that hold a formula with no saved value."""
    import openpyxl
    from openpyxl.utils import get_column_letter

    if not any(v is None for row in rows for v in row) or not _has_formulas(path, part):
        return []
    wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        found = []
        for r, (values, formulas) in enumerate(zip(rows, wb[title].iter_rows(values_only=True), strict=False)):
            for c, (v, f) in enumerate(zip(values, formulas, strict=False)):
                if v is None and f is not None and (not isinstance(f, str) or f.startswith("=")):
                    found.append(f"{get_column_letter(c + 1)}{r + 1}" + (f" {f[:40]}" if isinstance(f, str) else ""))
        return found
    finally:
        wb.close()


def _read_xlsx(path: str | Path, sheet: str | int | None) -> pd.DataFrame:
    try:
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many unrelated types for bad files
        raise InputError(f"{path}: cannot read as XLSX — {exc}", path=path) from None
    try:
        ws = _pick_sheet(wb, sheet, path)
        title, sheets, part = ws.title, list(wb.sheetnames), getattr(ws, "_worksheet_path", None)
        rows = list(ws.iter_rows(values_only=True))
    finally:
        wb.close()
    if not rows:
        raise InputError(f"{path}: the sheet {title!r} is empty — it needs a header row.", path=path)
    formulas = _uncached_formulas(path, title, rows, part)
    if formulas:
        shown = "; ".join(formulas[:10]) + (f"; … ({len(formulas)} cells)" if len(formulas) > 10 else "")
        raise InputError(
            f"{path}: sheet {title!r} has formula cells with no saved value, which would read as empty: {shown} — "
            "open the file in Excel and save it (the values are stored then), or paste the cells as values.",
            path=path,
        )
    names = ["" if v is None else str(v).strip() for v in rows[0]]
    _check_columns(names, path)
    body = rows[1:]
    frame = pd.DataFrame.from_records(body, columns=names) if body else pd.DataFrame(columns=names)
    for i in range(frame.shape[1]):
        # whole numbers with empty cells become floats (3 → 3.0, 2**53 + 1 rounded): keep them integers
        if frame.dtypes.iloc[i] == np.float64 and frame.iloc[:, i].isna().any():
            raw = [row[i] if i < len(row) else None for row in body]
            if all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in raw):
                try:
                    frame.isetitem(i, pd.array(raw, dtype="Int64"))
                except (OverflowError, TypeError, ValueError):
                    pass
    frame.attrs.update(sheet=title, sheets=sheets)
    return frame


XLSX_MAX_ROWS = 1_048_576
"""Rows in an XLSX sheet, the header row included."""
XLSX_MAX_COLUMNS = 16_384
TEMP_MARK = ".coder-tmp-"
"""In the name of every temporary file: ``.<name>.coder-tmp-<pid>-<random>`` beside its target."""


def check_output(
    path: str | Path,
    *,
    what: str = "the output",
    table: bool = True,
    rows: int | None = None,
    columns: int | None = None,
) -> None:
    """Refuse an output path before anything is computed or written, naming ``what`` it is.

    Checks that a ``table`` has a known extension (:func:`table_format`), that the path is not a
    folder, that its folder (or the nearest existing folder above it) is a folder you can write
    into, and, given ``rows``/``columns``, that an ``.xlsx`` output can hold them.  ``-`` (stdout)
    passes.  Raises :class:`InputError`.
    """
    if str(path) == "-":
        return
    target = Path(path)
    if target.is_dir():
        raise InputError(f"{path}: {what} is a folder — give a file name in it, e.g. {target / 'out.csv'}.", path=path)
    if table:
        try:
            fmt = table_format(path)
        except InputError:
            suffix = Path(str(path)).suffix.lower() or "(no extension)"
            raise InputError(
                f"{path}: {what} has an unknown table format {suffix!r} — use .csv, .tsv, .parquet or .xlsx.", path=path
            ) from None
        if fmt == "xlsx":
            _check_xlsx_size(path, rows, columns, what)
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise InputError(
            f"{path}: {what} cannot be written — {folder} is a file, not a folder. Choose another path.", path=path
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(
            f"{path}: cannot write {what} into {folder}/ — the folder is not writable (permission denied or "
            "read-only). Choose a folder you can write to, or fix its permissions.",
            path=path,
        )


def _check_xlsx_size(path: str | Path, rows: int | None, columns: int | None, what: str) -> None:
    if rows is not None and rows + 1 > XLSX_MAX_ROWS:
        raise InputError(
            f"{path}: {what} would have {rows:,} rows, more than an XLSX sheet holds ({XLSX_MAX_ROWS - 1:,} "
            "below the header) — write .csv or .parquet instead.",
            path=path,
        )
    if columns is not None and columns > XLSX_MAX_COLUMNS:
        raise InputError(
            f"{path}: {what} would have {columns:,} columns, more than an XLSX sheet holds ({XLSX_MAX_COLUMNS:,}) "
            "— write .csv or .parquet instead.",
            path=path,
        )


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


def _write_error(path: Path, exc: OSError) -> InputError:
    """An OSError met while writing ``path``, as what went wrong — which folder — what to do."""
    folder = path.parent
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        why, fix = (
            "no space left on the device (disk full or over quota)",
            "free some space, or write to another folder",
        )
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = "the folder is not writable (permission denied or read-only)"
        fix = "choose a folder you can write to, or fix its permissions"
    else:
        why, fix = exc.strerror or str(exc), "check the folder, or write to another one"
    return InputError(
        f"{path}: cannot write into {folder}/ — {why}. Nothing of this run was written (earlier outputs are "
        f"unchanged); {fix}.",
        path=path,
        errno=exc.errno,
    )


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (True when it cannot be told, e.g. on Windows)."""
    if os.name != "posix":
        return True  # cannot tell: keep the file
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _sweep(folder: Path) -> None:
    """Remove temporary files left in ``folder`` by a run that was killed (its process is gone)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(".") or TEMP_MARK not in entry.name:
            continue
        pid = entry.name.rsplit(TEMP_MARK, 1)[1].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or pid_alive(int(pid)):
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
        except OSError:
            pass


class _Run:
    """The outputs of one run: temporary files beside their targets until all are moved into place."""

    def __init__(self) -> None:
        self.staged: dict[Path, Path] = {}
        self.stdout: list[str] = []
        self.made: list[Path] = []  # folders made for this run, outermost first
        self.swept: set[Path] = set()
        self.digests: dict[Path, str] = {}  # temporary file -> sha256 of its bytes, when hashed as written
        self.lock = threading.Lock()

    def stage(self, path: Path, writer: Callable[[Path], None]) -> Path:
        """Write ``path``'s temporary file through ``writer``; files of one run may be staged from several
        threads (:func:`coder.crosswalk.stage.write_outputs` writes a run's files side by side)."""
        folder = path.parent
        with self.lock:
            missing = []
            probe = folder
            while not probe.exists() and probe != probe.parent:
                missing.append(probe)
                probe = probe.parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise _write_error(path, exc) from None
            self.made.extend(reversed(missing))
            if folder not in self.swept:
                self.swept.add(folder)
                _sweep(folder)
            try:
                fd, name = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARK}{os.getpid()}-", dir=folder)
            except OSError as exc:
                raise _write_error(path, exc) from None
            os.close(fd)
        tmp = Path(name)
        try:
            writer(tmp)
            os.chmod(tmp, 0o666 & ~_umask())
        except BaseException as exc:
            tmp.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise _write_error(path, exc) from None
            raise
        with self.lock:
            earlier = self.staged.pop(path, None)  # written twice in one run: the last one counts
            if earlier is not None:
                earlier.unlink(missing_ok=True)
            self.staged[path] = tmp
        return tmp

    def commit(self) -> None:
        backups: dict[Path, Path] = {}
        moved: list[Path] = []
        target = None
        try:
            for target in self.staged:
                if target.is_file():  # a hard link keeps the earlier file, to restore it if a later move fails
                    backup = target.with_name(f".{target.name}{TEMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}.old")
                    try:
                        os.link(target, backup)
                        backups[target] = backup
                    except OSError:
                        pass
            for target, tmp in self.staged.items():
                os.replace(tmp, target)
                moved.append(target)
        except OSError as exc:
            for done in reversed(moved):
                try:
                    if done in backups:
                        os.replace(backups.pop(done), done)
                    else:
                        done.unlink()
                except OSError:
                    pass
            self.discard()
            raise _write_error(target, exc) from None  # type: ignore[arg-type]
        finally:
            for backup in backups.values():
                backup.unlink(missing_ok=True)
        self.staged.clear()
        self.digests.clear()
        for text in self.stdout:
            sys.stdout.write(text)

    def discard(self) -> None:
        for tmp in self.staged.values():
            tmp.unlink(missing_ok=True)
        self.staged.clear()
        self.digests.clear()
        for folder in reversed(self.made):
            try:
                folder.rmdir()
            except OSError:
                pass


_RUN: ContextVar[_Run | None] = ContextVar("coder_io_run", default=None)


@contextmanager
def all_or_nothing() -> Iterator[None]:
    """Write the outputs of one run together or not at all.

    Inside the block, every file written with :func:`write_table`, :func:`write_json` or
    :func:`write_text` goes to a temporary file beside its target (``.<name>.coder-tmp-<pid>-…``)
    and standard output is held back.  When the block ends without an error the files are moved
    into place (each move atomic; if one fails, the files already moved get their earlier content
    back) and standard output is written; when it raises, the temporary files and any folder made
    for them are removed and no target changes.  :func:`staged_path` gives the temporary file of a
    target (to hash it for a sidecar).  A nested block joins the outer one.

    A killed process cannot clean up: its temporary files keep their recognisable names, are
    ignored by every reader, and are removed by the next run that writes into that folder.
    """
    if _RUN.get() is not None:
        yield
        return
    run = _Run()
    token = _RUN.set(run)
    try:
        yield
    except BaseException:
        _RUN.reset(token)
        run.discard()
        raise
    _RUN.reset(token)
    run.commit()


def staged_path(path: str | Path) -> Path:
    """Where the bytes written to ``path`` are now: its temporary file inside :func:`all_or_nothing`, else ``path``."""
    run = _RUN.get()
    target = Path(path)
    return run.staged.get(target, target) if run is not None else target


def staged_sha256(path: str | Path) -> str:
    """The sha256 of the bytes written to ``path`` (at :func:`staged_path`): taken as they were written when
    the writer hashed them (CSV/TSV tables), else read back from the file."""
    run = _RUN.get()
    staged = staged_path(path)
    digest = run.digests.get(staged) if run is not None else None
    if digest is not None:
        return digest
    sha = hashlib.sha256()
    with open(staged, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def _atomic(path: Path, writer: Callable[[Path], None]) -> None:
    """Write ``path`` through ``writer(temporary path)``: all-or-nothing with the rest of the run (:func:`all_or_nothing`).

    The result has the usual ``0o666 & ~umask`` mode.
    """
    run = _RUN.get()
    if run is None:
        with all_or_nothing():
            _atomic(path, writer)
        return
    run.stage(Path(path), writer)


def _to_stdout(text: str) -> None:
    run = _RUN.get()
    if run is None:
        sys.stdout.write(text)
    else:
        run.stdout.append(text)


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
        values = [
            ("" if v is None or v is pd.NA or (isinstance(v, float) and v != v) else str(v)) for v in series.tolist()
        ]
        return pa.array(values, type=pa.string())


_CSV_ROWS = 1 << 16
"""Rows per batch when a table is written as CSV: memory stays a few batches, not the whole text."""
_CSV_SPECIAL = (ord('"'), ord("\r"), ord("\n"))


def _needs_quotes(arr: pa.Array, sep: str) -> bool:
    """Whether any cell of a string array holds a quote, ``sep``, CR or LF (a scan of its bytes: UTF-8
    never puts these ASCII bytes inside another character)."""
    if len(arr) == 0:
        return False
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64 if pa.types.is_large_string(arr.type) else np.int32)
    lo, hi = int(offsets[arr.offset]), int(offsets[arr.offset + len(arr)])
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[lo:hi] if arr.buffers()[2] is not None else np.empty(0)
    return any(bool((data == b).any()) for b in (*_CSV_SPECIAL, ord(sep)))


def _csv_cells(arr: pa.Array, sep: str, alone: bool) -> pa.Array:
    """Cells as CSV text: quoted (``"`` doubled) when they hold a quote, ``sep``, CR or LF (and, ``alone`` in
    their row, when empty, so the row is not a blank line)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not _needs_quotes(arr, sep):
        if not alone:
            return arr
        special = pc.equal(arr, "")
    else:
        if len(arr) > 1024:  # a column of repeated values (labels): each distinct value is quoted once
            encoded = pc.dictionary_encode(arr)
            if 2 * len(encoded.dictionary) < len(arr):
                return _csv_cells(encoded.dictionary, sep, alone).take(encoded.indices)
        special = pc.match_substring_regex(arr, f'["\r\n{re.escape(sep)}]')
        if alone:
            special = pc.or_(special, pc.equal(arr, ""))
    if not pc.any(special).as_py():
        return arr
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(arr, '"', '""'), '"', "")
    return pc.if_else(special, quoted, arr)


@dataclass(frozen=True)
class _Coded:
    """A column written by code: ``cells`` the CSV cells of each code, ``codes`` the rows' codes."""

    cells: pa.Array
    codes: np.ndarray


_CODED_INTS = 1 << 12
"""An integer column beside a categorical one is written by code when it has at most this many values."""


def _coded(series: pd.Series, sep: str, alone: bool, last: bool, ints: bool) -> _Coded | None:
    """A categorical column (or, ``ints``, a plain int64 column of few values) as cells taken by code."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        values = pd.Series(series.cat.categories, dtype=object)
        codes = series.cat.codes.to_numpy()
        cells = _csv_cells(_string_column(values), sep, alone)
        cells = pa.concat_arrays([cells.cast(pa.string()), _csv_cells(pa.array([""]), sep, alone).cast(pa.string())])
        codes = codes.astype(np.int32)  # a missing value (-1) takes the last cell
        codes[codes < 0] = len(values)
    elif ints and series.dtype == np.int64:
        codes, uniques = pd.factorize(series.to_numpy())
        if len(uniques) > _CODED_INTS:
            return None
        cells = _csv_cells(_string_column(pd.Series(uniques, dtype=np.int64)), sep, alone).cast(pa.string())
    else:
        return None
    if last:
        cells = pc.binary_join_element_wise(cells, "", "\n")
    return _Coded(cells, codes.astype(np.int32, copy=False))  # 4 bytes a row, not 8: a million rows, 8 columns


def _coded_run(run: list[_Coded], sep: str) -> Callable[[int, int], pa.Array] | None:
    """Adjacent coded columns' cells for rows ``[a, b)`` joined by ``sep``, built once per distinct combination
    of their codes in the rows (a code, its title, status, source… are one combination per label)."""
    sizes = [len(c.cells) for c in run]
    if math.prod(sizes) >= 1 << 62:
        return None
    strides = np.cumprod([1, *sizes[:0:-1]])[::-1]

    def cells(a: int, b: int) -> pa.Array:
        combined = run[0].codes[a:b].astype(np.int64) * int(strides[0])
        for c, s in zip(run[1:], strides[1:], strict=True):
            combined += c.codes[a:b].astype(np.int64) * int(s)
        which, combos = pd.factorize(combined)
        combos = np.asarray(combos, dtype=np.int64)
        parts = [c.cells.take(pa.array((combos // int(s)) % n)) for c, s, n in zip(run, strides, sizes, strict=True)]
        return pc.binary_join_element_wise(*parts, sep).take(pa.array(which))

    return cells


def _csv_column(series: pd.Series, sep: str, alone: bool, last: bool) -> Callable[[int, int], pa.Array]:
    """A column's CSV cells for rows ``[a, b)`` (the ``last`` column's ending in ``\\n``).  A categorical
    column's categories are written once and taken by code (a million rows of a few thousand labels are
    not quoted a million times)."""
    coded = _coded(series, sep, alone, last, ints=False)
    if coded is not None:
        return lambda a, b: coded.cells.take(pa.array(coded.codes[a:b]))
    if last:
        return lambda a, b: pc.binary_join_element_wise(
            _csv_cells(_string_column(series.iloc[a:b]), sep, alone), "", "\n"
        )
    return lambda a, b: _csv_cells(_string_column(series.iloc[a:b]), sep, alone)


def _csv_columns(frame: pd.DataFrame, sep: str, alone: bool, end: bool = True) -> list[Callable[[int, int], pa.Array]]:
    """The frame's columns as cell makers (:func:`_csv_column`); adjacent categorical columns, with the
    int64 columns of few values between them, as one (:func:`_coded_run`): the columns a crosswalk adds to
    rows are one combination per label, joined once per combination instead of once per row.  ``end``: the
    frame's last column ends the line (its cells end in ``\n``); False for columns more will follow."""
    n = frame.shape[1]
    categorical = [isinstance(frame.dtypes.iloc[i], pd.CategoricalDtype) for i in range(n)]
    out: list[Callable[[int, int], pa.Array]] = []
    i = 0
    while i < n:
        run: list[_Coded] = []
        j = i
        while j < n and (categorical[j] or (frame.dtypes.iloc[j] == np.int64 and any(categorical[j + 1 : j + 2]))):
            coded = _coded(frame.iloc[:, j], sep, alone, end and j == n - 1, ints=True)
            if coded is None:
                break
            run.append(coded)
            j += 1
        joined = _coded_run(run, sep) if len(run) > 1 else None
        if joined is not None:
            out.append(joined)
            i = j
        else:
            out.append(_csv_column(frame.iloc[:, i], sep, alone, end and i == n - 1))
            i += 1
    return out


def _csv_chunks(frame: pd.DataFrame, sep: str) -> Iterator[pa.Array]:
    """CSV (or TSV) text as Arrow string arrays of whole lines (each ending in ``\\n``), header first: a cell
    is quoted when it holds a quote, the delimiter, CR or LF, so every value reads back exactly."""
    alone = frame.shape[1] == 1
    names = _csv_cells(pa.array([str(c) for c in frame.columns], type=pa.string()), sep, alone)
    yield pa.array([sep.join(names.to_pylist()) + "\n"], pa.string())
    n = frame.shape[1]
    if n == 0:
        return
    columns = _csv_columns(frame, sep, alone)
    for a in range(0, len(frame), _CSV_ROWS):
        b = min(a + _CSV_ROWS, len(frame))
        cols = [c(a, b) for c in columns]
        yield pc.binary_join_element_wise(*cols, sep) if len(cols) > 1 else cols[0]


def _chunk_bytes(arr: pa.Array) -> memoryview:
    """The bytes of a string array's values, end to end (no copy)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64 if pa.types.is_large_string(arr.type) else np.int32)
    lo, hi = int(offsets[arr.offset]), int(offsets[arr.offset + len(arr)])
    data = arr.buffers()[2]
    return memoryview(data)[lo:hi] if data is not None else memoryview(b"")


def _csv_text(frame: pd.DataFrame, sep: str) -> str:
    """The whole CSV text of a frame (for standard output); see :func:`_csv_chunks`."""
    return "".join(bytes(_chunk_bytes(c)).decode("utf-8") for c in _csv_chunks(frame, sep))


@dataclass(frozen=True, eq=False)
class CsvText:
    """The CSV (or TSV) cells of a frame's columns, rendered ahead of the columns that follow them
    (:func:`csv_text`): ``lines`` holds, per batch of :data:`_CSV_ROWS` rows, each row's cells joined by
    ``sep`` (no line end); ``lead``: each row's text starts instead with the ``\\n`` ending the line before
    it (the header's, for the first row), as the rows taken from the input's bytes do."""

    names: tuple[str, ...]
    sep: str
    rows: int
    lines: tuple[pa.Array, ...]
    lead: bool = False


def _rendered_lines(frame: pd.DataFrame, sep: str) -> list[pa.Array]:
    columns = _csv_columns(frame, sep, alone=False, end=False)
    lines = []
    for a in range(0, len(frame), _CSV_ROWS):
        b = min(a + _CSV_ROWS, len(frame))
        cols = [c(a, b) for c in columns]
        lines.append(pc.binary_join_element_wise(*cols, sep) if len(cols) > 1 else cols[0])
    return lines


def csv_text(frame: pd.DataFrame, sep: str, lines: InputLines | None = None) -> CsvText:
    """The cells of ``frame`` (at least one column) as :func:`write_table` writes them in a CSV/TSV table
    (``sep``: ``,`` or tab) in which more columns follow: the part of the writing that does not need
    those columns, done ahead (``coder code`` renders the rows' own columns while the rules and the model
    load).

    ``lines``: the bytes ``frame`` was read from (:func:`read_table_lines`).  When each of its lines is
    one row (:meth:`InputLines.layout`), a row's text is taken from them as it is, without a copy, and
    only the rows whose line has a quote are rendered cell by cell (the same bytes either way: the
    writer would write the other lines' cells as they are).  The 1M-row NPK file (2.4% of its lines
    quoted), 9 fresh processes: 0.081/0.093 s of CPU (min/median) rendering every cell, 0.018/0.021 s so
    (the line feeds found by the reading)."""
    if frame.shape[1] == 0:
        raise ValueError("csv_text: a frame with no columns")
    names = tuple(str(c) for c in frame.columns)
    layout = lines.layout(frame, sep) if lines is not None else None
    taken = _taken_lines(lines.data, *layout, frame, sep) if lines is not None and layout is not None else None
    if taken is None:
        return CsvText(names, sep, len(frame), tuple(_rendered_lines(frame, sep)))
    return CsvText(names, sep, len(frame), taken, lead=True)


def _taken_lines(
    data: bytes, ends: np.ndarray, quoted: np.ndarray, frame: pd.DataFrame, sep: str
) -> tuple[pa.Array, ...] | None:
    """:attr:`CsvText.lines` (``lead``) taken from the input's bytes (:meth:`InputLines.layout`): per batch of
    rows, an Arrow string array over ``data`` itself.  The rows with a quote are rendered cell by cell; those
    whose line differs from it (a cell quoted that needs no quotes, say) take the rendered text instead (a
    copy of their batch).  None when more than half the rows are quoted (rendering them all is then as quick)
    or a batch is too long for an Arrow string array's 32-bit offsets."""
    rows = len(frame)
    bounds = ends[np.append(np.arange(0, rows, _CSV_ROWS), rows)]
    if 2 * len(quoted) > rows or (np.diff(bounds) >= 1 << 31).any():
        return None
    buffer = pa.py_buffer(data)
    differ, rendered = quoted[:0], None
    if len(quoted):
        own = pa.concat_arrays([c.cast(pa.string()) for c in _rendered_lines(frame.take(quoted), sep)])
        rendered = pc.binary_join_element_wise("\n", own, "")
        raw = pa.LargeStringArray.from_buffers(rows, pa.py_buffer(ends), buffer).take(pa.array(quoted))
        same = pc.equal(raw, rendered.cast(pa.large_string())).to_numpy(zero_copy_only=False)
        differ, rendered = quoted[~same], rendered.filter(pa.array(~same))
    out = []
    for a in range(0, rows, _CSV_ROWS):
        b = min(a + _CSV_ROWS, rows)
        base = int(ends[a])
        offsets = (ends[a : b + 1] - base).astype(np.int32)
        chunk = pa.StringArray.from_buffers(b - a, pa.py_buffer(offsets), buffer.slice(base, int(ends[b]) - base))
        lo, hi = np.searchsorted(differ, [a, b])
        if hi > lo:  # each differing row taken from the rendered ones, after the batch's own
            pick = np.arange(b - a, dtype=np.int32)
            pick[differ[lo:hi] - a] = np.arange(b - a, b - a + hi - lo, dtype=np.int32)
            chunk = pa.concat_arrays([chunk, rendered.slice(lo, hi - lo)]).take(pa.array(pick))
        out.append(chunk)
    return tuple(out)


@dataclass(frozen=True, eq=False)
class KeyedRows:
    """Rows to write as a CSV/TSV table: their own columns, rendered ahead (:class:`CsvText`), then the
    columns of ``added`` (one row per key) taken at each row's key ``index`` — the table
    ``pd.concat([frame, added.iloc[index]], axis=1)`` without building it.  :func:`write_table` writes
    the bytes it writes for that table, the added cells made once per key instead of once per row."""

    text: CsvText
    added: pd.DataFrame
    index: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return (self.text.rows, len(self.text.names) + self.added.shape[1])


@dataclass(frozen=True, eq=False)
class TableBatches:
    """A table to write batch by batch (:func:`write_batches`), never held whole: its ``batches`` in order
    (DataFrames, or :class:`KeyedRows` for a CSV/TSV file; read once, as they are written) and its ``shape``
    (rows, columns).  ``coder apply`` streams a Parquet input's coded rows to their file this way."""

    batches: Iterator[pd.DataFrame | KeyedRows]
    shape: tuple[int, int]


def _unlead(text: CsvText) -> CsvText:
    """``text`` (``lead``) with no ``\\n`` before each row: to follow rows whose last line is ended."""
    lines = tuple(pc.utf8_slice_codeunits(chunk, 1) for chunk in text.lines)
    return CsvText(text.names, text.sep, text.rows, lines)


def _keyed_chunks(rows: KeyedRows, sep: str) -> Iterator[pa.Array]:
    """:func:`_csv_chunks` of the table a :class:`KeyedRows` stands for: each key's added cells (with the
    line end) joined once, then per batch taken at the rows' keys and joined to the rows' own text."""
    if rows.text.sep != sep or rows.added.shape[1] == 0 or len(rows.index) != rows.text.rows:
        raise ValueError("KeyedRows: rendered with another delimiter, no added column, or not one key per row")
    names = [*rows.text.names, *(str(c) for c in rows.added.columns)]
    header = _csv_cells(pa.array(names, type=pa.string()), sep, False)
    lead = rows.text.lead  # each row's text starts with the line end of the line before: the last one comes after
    yield pa.array([sep.join(header.to_pylist()) + ("" if lead else "\n")], pa.string())
    cells = [c(0, len(rows.added)) for c in _csv_columns(rows.added, sep, alone=False, end=not lead)]
    ends = pc.binary_join_element_wise(*cells, sep) if len(cells) > 1 else cells[0]
    for line, a in zip(rows.text.lines, range(0, rows.text.rows, _CSV_ROWS), strict=True):
        taken = ends.take(pa.array(rows.index[a : a + _CSV_ROWS]))
        yield pc.binary_join_element_wise(line, taken, sep)
    if lead:
        yield pa.array(["\n"], pa.string())


class _Hashed:
    """A binary file that hashes (sha256) what is written to it: a sidecar's sha256 without reading the
    file again.  The bytes are hashed and written in order on a thread of their own (both release the
    GIL) while the caller makes the next ones, at most two writes behind: the 72 MB of 1M coded NPK rows
    cost 0.04 s to hash and 0.02 s to write, beside the 0.05 s of making them."""

    def __init__(self, fh, pool: ThreadPoolExecutor) -> None:
        self._fh, self._sha, self._pool = fh, hashlib.sha256(), pool
        self._pending: list[Future] = []

    def _put(self, data) -> None:
        self._sha.update(data)
        self._fh.write(data)

    def write(self, data) -> int:
        if len(self._pending) == 2:
            self._pending.pop(0).result()  # a write error is raised here, in the caller's thread
        self._pending.append(self._pool.submit(self._put, data))
        return len(data)

    def hexdigest(self) -> str:
        """The sha256 of every byte written, once they are all in the file."""
        while self._pending:
            self._pending.pop(0).result()
        return self._sha.hexdigest()

    def drain(self) -> None:
        """Wait for the writes still pending, their errors ignored (an error of the caller's is the one raised)."""
        for task in self._pending:
            task.exception()
        self._pending.clear()


def _hashed_write(tmp: Path, write: Callable[[_Hashed], None]) -> None:
    """Write ``tmp`` through ``write(file)``, its sha256 taken as the bytes go and kept for
    :func:`staged_sha256`."""
    with tmp.open("wb") as fh, ThreadPoolExecutor(max_workers=1) as pool:
        hashed = _Hashed(fh, pool)
        try:
            write(hashed)
        except BaseException:
            hashed.drain()  # no write left running once the file is closed and removed
            raise
        digest = hashed.hexdigest()
    run = _RUN.get()
    if run is not None:
        run.digests[tmp] = digest


def _write_csv(chunks: Iterator[pa.Array], tmp: Path, encoding: str, path: object) -> None:
    """Write CSV chunks (:func:`_csv_chunks`) batch by batch; UTF-8 bytes go straight from Arrow to the file."""

    def write(fh: _Hashed) -> None:
        enc = encoding
        if enc.lower().replace("_", "-") in ("utf-8-sig", "utf8-sig"):
            fh.write(codecs.BOM_UTF8)
            enc = "utf-8"
        plain = enc.lower().replace("_", "-") in ("utf-8", "utf8")
        _write_chunks(fh, chunks, plain, enc, path, 0)

    _hashed_write(tmp, write)


def _write_chunks(fh, chunks, plain: bool, encoding: str, path: object, lines: int) -> int:
    """Write CSV chunks to a binary file (UTF-8 as is, else re-encoded naming the line); the lines written so far."""
    for chunk in chunks:
        data = _chunk_bytes(chunk)
        if plain:
            fh.write(data)
            continue
        text = bytes(data).decode("utf-8")
        fh.write(_encode(text, encoding, path, lines))
        lines += text.count("\n")
    return lines


def _encode(text: str, encoding: str, path: object, before: int = 0) -> bytes:
    try:
        return text.encode(encoding)
    except UnicodeEncodeError as exc:
        line = before + text.count("\n", 0, exc.start) + 1
        raise InputError(
            f"{path}: line {line} has {text[exc.start]!r}, which {encoding} cannot hold — "
            "write with --encoding utf-8 (or utf-8-sig for Excel).",
            path=path,
            line=line,
        ) from None


def _xlsx_value(ws: object, value: object) -> object:
    """A cell for an XLSX sheet: text stays text (never a formula), missing values are empty."""
    from openpyxl.cell import WriteOnlyCell

    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str):
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"  # "=…", "+…", "-…", "@…" stay text, never a live formula
        return cell
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer) and abs(int(value)) > 2**53:
        return _xlsx_value(ws, str(int(value)))  # an XLSX number is a double: keep such an integer exact as text
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if value != value else (float(value) if math.isfinite(value) else str(value))
    if isinstance(value, pd.Timestamp):
        return value.isoformat() if value.tzinfo is not None else value.to_pydatetime()
    if isinstance(value, int | decimal.Decimal | datetime.date | datetime.time | datetime.timedelta):
        return value
    return _xlsx_value(ws, str(value))


_XLSX_ILLEGAL = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"  # openpyxl's ILLEGAL_CHARACTERS_RE


def _check_xlsx_text(frame: pd.DataFrame, path: object) -> None:
    """Refuse text an XLSX cell cannot hold (control characters) before a sheet is started."""
    columns = [str(c) for c in frame.columns]
    for name in columns:
        if re.search(_XLSX_ILLEGAL, name):
            raise InputError(
                f"{path}: the column name {name!r} has a control character an XLSX cell cannot hold — "
                "rename it, or write .csv or .parquet instead.",
                path=path,
            )
    for i, name in enumerate(columns):
        bad = pc.match_substring_regex(_string_column(frame.iloc[:, i]), _XLSX_ILLEGAL)
        if pc.any(bad).as_py():
            row = pc.index(bad, True).as_py()
            value = str(frame.iloc[row, i])
            raise InputError(
                f"{path}: column {name!r}, row {row + 1} has a control character an XLSX cell cannot hold "
                f"({value[:40]!r}) — write .csv or .parquet instead.",
                path=path,
            )


def _write_xlsx(frame: pd.DataFrame, tmp: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("Sheet1")
    try:
        ws.append([_xlsx_value(ws, str(c)) for c in frame.columns])
        for row in frame.itertuples(index=False, name=None):
            ws.append([_xlsx_value(ws, v) for v in row])
        wb.save(tmp)
    except BaseException:
        # close the sheet's row writer and remove its own temporary file, or both linger after a failure
        with contextlib.suppress(Exception):
            ws.close()
        with contextlib.suppress(Exception):
            os.remove(ws._writer.out)
        raise


def write_table(frame: pd.DataFrame | KeyedRows | TableBatches, path: str | Path, *, encoding: str = "utf-8") -> None:
    """Write a DataFrame by extension (``-`` writes CSV to standard output).

    CSV is written as UTF-8 (pass ``encoding="utf-8-sig"`` for files meant for Excel), a
    cell quoted when it has a quote, the delimiter, a CR or a LF, missing values as empty
    cells: values come back exactly as written (a value starting with ``=`` stays as it
    is: programs read these files back).  Parquet keeps the column types.  XLSX cells
    holding text are always text, never formulas; an integer beyond 2**53, which an XLSX
    number (a double) cannot hold, is written as text; a frame too big for a sheet is
    refused before anything is written.  The file is written all-or-nothing
    (:func:`all_or_nothing`); a CSV/TSV file's sha256 is taken as it is written (:func:`staged_sha256`).
    ``frame`` may be :class:`KeyedRows` for a CSV/TSV file, or :class:`TableBatches` for a CSV, TSV or
    Parquet file (:func:`write_batches`).
    """
    if isinstance(frame, TableBatches):
        write_batches(frame.batches, path, encoding=encoding)
        return
    fmt = table_format(path)
    if isinstance(frame, KeyedRows):
        if str(path) == "-" or fmt not in ("csv", "tsv"):
            raise ValueError(f"{path}: keyed rows are written to .csv or .tsv files only")
        sep = "," if fmt == "csv" else "\t"
        _atomic(Path(path), lambda tmp: _write_csv(_keyed_chunks(frame, sep), tmp, encoding, path))
        return
    if str(path) == "-":
        _to_stdout(_csv_text(frame, ","))
        return
    target = Path(path)
    if fmt in ("csv", "tsv"):
        sep = "," if fmt == "csv" else "\t"
        _atomic(target, lambda tmp: _write_csv(_csv_chunks(frame, sep), tmp, encoding, path))
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        _atomic(target, lambda tmp: pq.write_table(_arrow_table(frame), tmp))
    else:
        _check_xlsx_size(path, len(frame), frame.shape[1], "the table")
        _check_xlsx_text(frame, path)
        _atomic(target, lambda tmp: _write_xlsx(frame, tmp))


def write_batches(frames: Iterator[pd.DataFrame | KeyedRows], path: str | Path, *, encoding: str = "utf-8") -> int:
    """Write DataFrames one after another as one table (CSV/TSV or Parquet); return the rows written.

    What :func:`write_table` writes for the frames put together, without holding them: CSV
    batch by batch (one header), Parquet row group by row group (every batch cast to the first
    one's schema).  A CSV/TSV batch may be :class:`KeyedRows`.  All-or-nothing with the rest of
    the run (:func:`all_or_nothing`).
    """
    fmt = table_format(path)
    if str(path) == "-" or fmt not in ("csv", "tsv", "parquet"):
        raise InputError(f"{path}: tables are streamed to .csv, .tsv or .parquet files only.", path=path)
    written = [0]

    def csv(tmp: Path) -> None:
        sep = "," if fmt == "csv" else "\t"

        def write(fh: _Hashed) -> None:
            plain = encoding.lower().replace("_", "-") in ("utf-8", "utf8")
            lines = 0
            if encoding.lower().replace("_", "-") in ("utf-8-sig", "utf8-sig"):
                fh.write(codecs.BOM_UTF8)
                plain = True
            for i, frame in enumerate(frames):
                if i and isinstance(frame, KeyedRows) and frame.text.lead:
                    frame = KeyedRows(_unlead(frame.text), frame.added, frame.index)  # the line before is ended
                chunks = _keyed_chunks(frame, sep) if isinstance(frame, KeyedRows) else _csv_chunks(frame, sep)
                if i:
                    next(chunks)  # one header
                lines = _write_chunks(fh, chunks, plain, encoding, path, lines)
                written[0] += frame.shape[0]

        _hashed_write(tmp, write)

    def parquet(tmp: Path) -> None:
        import pyarrow.parquet as pq

        writer = None
        pending: Future | None = None
        # each row group is encoded and written on a thread (Arrow releases the GIL) while the next batch is
        # made on this one (read and joined, for a streamed run)
        with ThreadPoolExecutor(max_workers=1) as pool:
            try:
                for frame in frames:
                    table = _arrow_table(frame)
                    if writer is None:
                        writer = pq.ParquetWriter(tmp, table.schema)
                    elif not table.schema.equals(writer.schema, check_metadata=False):
                        table = table.cast(writer.schema)
                    if pending is not None:
                        pending.result()
                    pending = pool.submit(writer.write_table, table)
                    written[0] += len(frame)
                if pending is not None:
                    pending.result()
            finally:
                if pending is not None:
                    pending.exception()  # no row group left being written when the file is closed
                if writer is not None:
                    writer.close()

    _atomic(Path(path), csv if fmt in ("csv", "tsv") else parquet)
    return written[0]


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
        _to_stdout(text)
        return
    _atomic(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_text(text: str, path: str | Path, *, encoding: str = "utf-8") -> None:
    """Write text (an HTML report, say) atomically; ``-`` writes to stdout."""
    if str(path) == "-":
        _to_stdout(text)
        return
    _atomic(Path(path), lambda tmp: tmp.write_text(text, encoding=encoding))
