"""Job-dictionary index (rater ``index``): known job names and KSCO-7 titles with their codes.

The index holds two kinds of entries, all keyed by :func:`coder.normalize.label_key`:

* every name in ``crosswalks/jobdict_index.csv`` — job names and their listed similar
  names from 한국고용정보원 「한국직업사전」, each with the KSCO-7 unit group (4-digit)
  the dictionary assigns (see ``crosswalks/jobdict_README.md`` for provenance and
  licence); source ``jobdict``, ref = the dictionary's ``job_id``;
* every KSCO-7 title at every level, with the title's own code; source ``ksco7``,
  ref = the code.

:func:`index_rater` answers a label key by exact key match.  When a key matches
several entries, their codes are reduced along the hierarchy: if all codes lie on
one lineage (``9411`` from the dictionary and ``94111`` from the title ``건물
청소원``) the deepest code wins, so a KSCO-7 title keeps its own 5-digit code;
if they disagree across lineages the key is left **ambiguous** — no code, and the
detail lists every candidate.  The shipped files have no such conflict, but a
user's own index may.

>>> r = index_rater(["병원청소원"])
>>> r.codes[0], r.details[0].split(":")[0]
('9411', 'jobdict')
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..codes import CodeList, load_codes
from ..errors import CrosswalkError
from ..normalize import label_key, normalize_label
from ..resources import data_path, file_identity, file_sha256, iter_csv_cells
from .base import RaterResult
from .rules import key_again

__all__ = ["JOBDICT_FILE", "IndexEntry", "JobIndex", "index_entries", "index_rater", "load_index"]

JOBDICT_FILE = "jobdict_index.csv"
"""The job-dictionary file inside ``crosswalks/``."""

_JOBDICT_COLUMNS = ("text", "ksco_code", "kind", "job_id", "inq_year")
_KINDS = ("job_name", "similar_name")


@dataclass(frozen=True)
class IndexEntry:
    """One known name: its text and key, its code, and where it is from.

    ``source`` is ``"jobdict"`` or ``"ksco7"``; ``ref`` is the dictionary's job id or
    the KSCO code; ``kind`` is ``job_name``, ``similar_name`` or ``title``.
    """

    text: str
    key: str
    code: str
    source: str
    ref: str
    kind: str = "title"

    @property
    def detail(self) -> str:
        """``jobdict:K000005200:job_name`` or ``ksco7:94111``."""
        return f"{self.source}:{self.ref}:{self.kind}" if self.source == "jobdict" else f"{self.source}:{self.ref}"


@dataclass(frozen=True)
class JobIndex:
    """The index: entries in file order (dictionary first, then titles) and a key lookup."""

    entries: tuple[IndexEntry, ...]
    by_key: Mapping[str, tuple[IndexEntry, ...]] = field(repr=False)
    sha256: Mapping[str, str] = field(default_factory=dict)
    """sha256 of each file the index was built from, by file name."""

    def __len__(self) -> int:
        return len(self.entries)

    def lookup(self, text: str) -> tuple[IndexEntry, ...]:
        """Every entry whose key equals ``label_key(text)``."""
        return self.by_key.get(label_key(text), ())


def read_jobdict(path: str | Path, codes: CodeList) -> list[IndexEntry]:
    """Read a job-dictionary CSV (``text,ksco_code,kind,job_id[,inq_year]``) into entries.

    Read by :func:`coder.resources.iter_csv_cells` (UTF-8, BOM or cp949).  Every
    bad row is collected and reported in one :class:`CrosswalkError`.
    """

    path = Path(path)
    if not path.is_file():
        raise CrosswalkError(
            f"{path}: job dictionary not found — restore crosswalks/{JOBDICT_FILE} or pass an existing file.", path=path
        )
    header, rows = iter_csv_cells(path, _JOBDICT_COLUMNS[:4], error=CrosswalkError, what="job dictionary")
    at = {name: i for i, name in enumerate(header)}  # a name's last column, as a DictReader row has it
    i_text, i_code, i_kind, i_id = (at[name] for name in _JOBDICT_COLUMNS[:4])
    units = {c.code for c in codes if c.level == 4}
    entries: list[IndexEntry] = []
    problems: list[str] = []
    for line, cells in rows:
        text = normalize_label(cells[i_text])
        code = (cells[i_code] or "").strip()
        kind = (cells[i_kind] or "").strip()
        job_id = (cells[i_id] or "").strip()
        if not text or not job_id:
            problems.append(f"line {line}: empty text or job_id")
            continue
        if code not in units:
            problems.append(f"line {line}: code {code!r} is not a 4-digit KSCO-7 unit group")
            continue
        if kind not in _KINDS:
            problems.append(f"line {line}: kind {kind!r} is not one of {', '.join(_KINDS)}")
            continue
        entries.append(IndexEntry(text, label_key(text), code, "jobdict", job_id, kind))
    if problems:
        raise CrosswalkError(
            f"{path}: bad job-dictionary rows — " + "; ".join(problems) + ". Fix the rows or remove them.",
            path=path,
        )
    return entries


def title_index_entries(codes: CodeList) -> list[IndexEntry]:
    """Every code-list title as an entry with its own code (all levels, code order)."""
    return [IndexEntry(c.title, label_key(c.title), c.code, codes.name, c.code) for c in codes]


def build_index(entries: Sequence[IndexEntry], *, sha256: Mapping[str, str] | None = None) -> JobIndex:
    """Build a :class:`JobIndex` from entries (order kept; a key may have several entries)."""
    by_key: dict[str, tuple[IndexEntry, ...]] = {}
    for e in entries:  # a tuple per key at once (most keys have one entry), no list per key to convert
        found = by_key.get(e.key)
        by_key[e.key] = (e,) if found is None else (*found, e)
    return JobIndex(tuple(entries), by_key, dict(sha256 or {}))


@functools.lru_cache(maxsize=4)
def _cached(jobdict: tuple[str, int, int], codes_key: tuple[str, int, int]) -> JobIndex:
    """Keyed by :func:`coder.resources.file_identity`, so an edited file is read again."""
    path, codes_path = jobdict[0], codes_key[0]
    codes = load_codes(codes_path)
    entries = read_jobdict(path, codes) + title_index_entries(codes)
    return build_index(entries, sha256={Path(path).name: file_sha256(path), Path(codes_path).name: codes.sha256})


def load_index(path: str | Path | None = None, *, codes: CodeList | None = None) -> JobIndex:
    """Load the index: a job dictionary (default: the bundled one) plus every title of ``codes``."""

    p = Path(path) if path is not None else data_path("crosswalks", JOBDICT_FILE)
    codes = load_codes() if codes is None else codes
    return _cached(file_identity(p), file_identity(codes.path))


def index_entries(path: str | Path | None = None) -> list[IndexEntry]:
    """Every index entry (job-dictionary names, then KSCO-7 titles), e.g. for a fuzzy shortlist."""
    return list(load_index(path).entries)


def _resolve(found: Sequence[IndexEntry], codes: CodeList) -> tuple[str, str]:
    """Reduce the entries matching one key to ``(code, detail)``; code ``""`` when ambiguous."""
    distinct = sorted({e.code for e in found}, key=lambda c: (-codes.level(c) if c in codes else -len(c), c))
    deepest = distinct[0]
    if all(codes.same_lineage(deepest, c) for c in distinct[1:]):
        deciding = [e for e in found if e.code == deepest]
        rest = [e for e in found if e.code != deepest]
        return deepest, ";".join(e.detail for e in deciding + rest)
    return "", "ambiguous:" + ";".join(f"{e.code}={e.detail}" for e in found)


def _answer(found: Sequence[IndexEntry], codes: CodeList) -> tuple[str, str, int, tuple, tuple]:
    """``(code, detail, entries, flags, candidates)`` of a key matching the entries ``found``."""
    if not found:
        return "", "", 0, (), ()
    if len(found) == 1:  # 886 of NPK's 1,139 core keys: what _resolve and the sorting give one entry
        code, detail, distinct = found[0].code, found[0].detail, [found[0].code]
    else:
        code, detail = _resolve(found, codes)
        distinct = sorted({e.code for e in found}, key=lambda c: (-codes.level(c), c))
    return code, detail, len(found), () if code else ("ambiguous",), tuple((c, 1.0) for c in distinct)


def index_rater(keys: Sequence[str], *, index: JobIndex | None = None, codes: CodeList | None = None) -> RaterResult:
    """Rater ``index``: exact normalised match against the job-dictionary index.

    Code = the matched entry's code (4-digit for dictionary names, the title's own
    code for KSCO-7 titles, the deepest when several entries agree along one lineage);
    score = 1.0 on a match, NaN otherwise; detail = the matched entries
    (``jobdict:<job_id>:<kind>`` / ``ksco7:<code>``, deciding entry first) or
    ``ambiguous:<code>=<entry>;...`` when the entries disagree (then no code).
    Extra column ``n_entries``: how many entries matched; flag ``ambiguous`` when they disagree across
    lineages; candidates = every distinct matched code, deepest first.
    """
    if index is None:
        index = load_index()
    if codes is None:
        codes = load_codes()
    out_codes, scores, details, counts, flags, cands = [], [], [], [], [], []
    memo: dict[str, tuple[str, str, int, tuple, tuple]] = {}
    for key in keys:
        if key not in memo:
            memo[key] = _answer(index.by_key.get(key_again(key), ()), codes)
        code, detail, n, flag, cand = memo[key]
        out_codes.append(code)
        scores.append(1.0 if code else math.nan)
        details.append(detail)
        counts.append(n)
        flags.append(flag)
        cands.append(cand)
    return RaterResult(
        "index",
        tuple(keys),
        tuple(out_codes),
        tuple(scores),
        tuple(details),
        {"n_entries": tuple(counts)},
        flags=tuple(flags),
        candidates=tuple(cands),
    )
