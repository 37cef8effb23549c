"""The KSCO-7 code list: codes, titles, levels, parents, and a title index.

Codes are strings at levels 1–5 (``9``, ``94``, ``941``, ``9411``, ``94111``);
military is the letter group ``A`` (``A``, ``A0``, ``A01``, ``A011``, ``A0110``).
The *major bucket* of a code is its first character.  Two project buckets sit
beside the KSCO majors: ``0`` (not in employment) and ``A`` (military); an empty
string is the unknown bucket.

>>> codes = load_codes()
>>> codes.title("94111"), codes.level("94111"), codes.parent("94111"), codes.major("94111")
('건물 청소원', 5, '9411', '9')
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from .errors import CrosswalkError
from .normalize import label_key, normalize_label
from .resources import data_path, file_identity, file_sha256, iter_csv_cells

__all__ = ["BUCKET_MILITARY", "BUCKET_NOT_EMPLOYED", "Code", "CodeList", "load_codes"]

BUCKET_NOT_EMPLOYED = "0"
BUCKET_MILITARY = "A"
_COLUMNS = ("level", "code", "title_ko", "parent_code")


@dataclass(frozen=True)
class Code:
    """One KSCO code."""

    code: str
    title: str
    level: int
    parent: str  # "" for a major group

    @property
    def major(self) -> str:
        return self.code[0]


@dataclass(frozen=True, eq=False)
class CodeList:
    """A code list with a title index; immutable and cheap to share."""

    name: str
    path: str
    sha256: str
    codes: Mapping[str, Code]
    by_title_key: Mapping[str, tuple[str, ...]] = field(repr=False)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code in self.codes

    def __iter__(self) -> Iterator[Code]:
        return iter(self.codes.values())

    def __len__(self) -> int:
        return len(self.codes)

    def get(self, code: str) -> Code | None:
        return self.codes.get(code)

    def title(self, code: str) -> str:
        return self.codes[code].title if code in self.codes else ""

    def level(self, code: str) -> int:
        return self.codes[code].level if code in self.codes else 0

    def parent(self, code: str) -> str:
        return self.codes[code].parent if code in self.codes else ""

    @staticmethod
    def major(code: str) -> str:
        """The major bucket: first character of the code ('' for no code)."""
        return code[:1]

    @cached_property
    def _lineage(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, tuple[str, ...]] = {}
        for code in self.codes:
            chain = []
            c = code
            while c and len(chain) <= len(self.codes):
                chain.append(c)
                c = self.codes[c].parent if c in self.codes else ""
            out[code] = tuple(chain)
        return out

    def ancestors(self, code: str) -> tuple[str, ...]:
        """The code and its ancestors, deepest first (``(code,)`` for a code not in the list)."""
        found = self._lineage.get(code)
        if found is not None:
            return found
        return (code,) if code else ()

    def truncate(self, code: str, level: int) -> str:
        """The ancestor of ``code`` at ``level`` (the code itself if not deeper)."""
        for c in self.ancestors(code):
            if self.level(c) <= level:
                return c
        return ""

    def same_lineage(self, a: str, b: str) -> bool:
        """True when one code is an ancestor of (or equal to) the other."""
        return a in self.ancestors(b) or b in self.ancestors(a)

    def lookup_title(self, text: str) -> tuple[str, ...]:
        """Codes whose title has the same :func:`label_key` as ``text``, deepest first."""
        return self.by_title_key.get(label_key(text), ())

    def at_level(self, level: int) -> list[str]:
        return [c.code for c in self.codes.values() if c.level == level]


def _read(path: Path, name: str) -> CodeList:
    problems: list[str] = []
    codes: dict[str, Code] = {}
    header, rows = iter_csv_cells(path, _COLUMNS, error=CrosswalkError, what="code list")
    at = {name: i for i, name in enumerate(header)}  # a name's last column, as a DictReader row has it
    i_level, i_code, i_title, i_parent = (at[name] for name in _COLUMNS)
    for line, cells in rows:
        code = (cells[i_code] or "").strip()
        title = normalize_label(cells[i_title])
        try:
            level = int(cells[i_level])  # type: ignore[arg-type]
        except ValueError:
            problems.append(f"line {line}: level {cells[i_level]!r} is not a number")
            continue
        if not code or not title:
            problems.append(f"line {line}: empty code or title")
            continue
        if len(code) != level:
            problems.append(f"line {line}: code {code} has {len(code)} characters but level {level}")
        if code in codes:
            problems.append(f"line {line}: code {code} appears twice")
            continue
        codes[code] = Code(code, title, level, (cells[i_parent] or "").strip())
    for c in codes.values():
        if c.level > 1 and c.parent not in codes:
            problems.append(f"code {c.code}: parent {c.parent or '(none)'} is not in the list")
        elif c.level > 1 and not c.code.startswith(c.parent):
            problems.append(f"code {c.code}: parent {c.parent} is not its prefix")
    if problems:
        raise CrosswalkError(f"{path}: bad code list — " + "; ".join(problems) + ".", path=path)
    index: dict[str, list[str]] = {}
    for c in codes.values():
        index.setdefault(label_key(c.title), []).append(c.code)
    by_key = {k: tuple(sorted(v, key=lambda x: (-codes[x].level, x))) for k, v in index.items()}
    return CodeList(name=name, path=str(path), sha256=file_sha256(path), codes=codes, by_title_key=by_key)


@functools.lru_cache(maxsize=8)
def _cached(identity: tuple[str, int, int], name: str) -> CodeList:
    return _read(Path(identity[0]), name)


def load_codes(path: str | Path | None = None, *, name: str = "ksco7") -> CodeList:
    """Load a code list (default: the bundled KSCO-7 list in ``crosswalks/``).

    Cached by :func:`coder.resources.file_identity` (path, mtime, size): an edited
    file is read again, with its new sha256.
    """
    p = Path(path) if path is not None else data_path("crosswalks", "ksco7.csv")
    return _cached(file_identity(p), name)
