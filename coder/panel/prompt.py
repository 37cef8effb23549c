"""Prompts: Korean templates (``rules/prompts/``) rendered with a label, its status and its candidates.

The candidates come from the stored crosswalk — title lookup, the rule mapper's hits, the
job-dictionary index, the model's top-k and the fuzzy shortlist — each with its KSCO-7 code,
title and which rater proposed it (with its score).  The member may answer outside them.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

from ..codes import CodeList
from ..errors import RuleError
from ..raters.base import REGISTRY, decode_candidates
from ..resources import data_path

__all__ = ["MAX_CANDIDATES", "Prompts", "candidates_for", "load_prompts", "render", "status_text"]

MAX_CANDIDATES = 12
_FIELDS = ("label", "status", "candidates")
_HIT = re.compile(r"(R\d+)=(\S+)")


@dataclass(frozen=True)
class Prompts:
    """The system and user templates and their hash (``sha256`` over both files, part of every cache key)."""

    system: str
    user: Template
    sha256: str
    files: Mapping[str, str]  # name -> sha256 of each template file


def load_prompts(directory: str | Path | None = None) -> Prompts:
    """Read ``system.txt`` and ``user.txt`` (default ``rules/prompts/``); the user template needs $label, $status, $candidates."""
    d = Path(directory) if directory is not None else data_path("rules", "prompts")
    texts = {}
    for name in ("system.txt", "user.txt"):
        try:
            texts[name] = (d / name).read_bytes()
        except FileNotFoundError:
            raise RuleError(
                f"{d / name}: prompt template missing — restore it (see rules/prompts/README.md).", path=d / name
            ) from None
    user = texts["user.txt"].decode("utf-8")
    template = Template(user)
    names = {m.group("named") or m.group("braced") for m in template.pattern.finditer(user)} - {None}
    missing = [f for f in _FIELDS if f not in names]
    unknown = sorted(names - set(_FIELDS))
    if missing or unknown:
        raise RuleError(
            f"{d / 'user.txt'}: the template must use ${', $'.join(_FIELDS)}"
            + (f"; missing ${', $'.join(missing)}" if missing else "")
            + (f"; unknown ${', $'.join(unknown)}" if unknown else "")
            + " — fix the template.",
            path=d / "user.txt",
        )
    h = hashlib.sha256()
    for name in ("system.txt", "user.txt"):
        h.update(name.encode() + b"\0" + texts[name] + b"\0")
    files = {name: hashlib.sha256(b).hexdigest() for name, b in texts.items()}
    return Prompts(texts["system.txt"].decode("utf-8").strip(), template, h.hexdigest(), files)


def _score(s: float) -> str:
    return "" if s is None or (isinstance(s, float) and math.isnan(s)) else f" {float(s):.2f}"


def candidates_for(
    row: Mapping[str, object], codes: CodeList, *, limit: int = MAX_CANDIDATES
) -> list[tuple[str, list[str]]]:
    """Candidate codes of one crosswalk row, in rater order, each with the raters (and scores) that gave it.

    Which raters offer candidates, and how, is the registry's ``candidates`` (:data:`~coder.raters.base.REGISTRY`).

    Codes not in the code list are left out (a candidate must come with its title).
    """
    found: dict[str, list[str]] = {}

    def add(code: object, source: str) -> None:
        c = str(code or "")
        if c and c in codes and source not in found.setdefault(c, []):
            found[c].append(source)

    for spec in REGISTRY:  # the registry says which raters offer candidates, and how
        if spec.candidates == "code":
            hits = _HIT.findall(str(row.get(f"{spec.name}_hits", "") or ""))
            for rid, c in hits:
                add(c, f"{spec.label} {rid}")
            if not hits:
                rid = str(row.get(f"{spec.name}_rule_id", "") or "") if spec.name == "rule" else ""
                add(row.get(f"{spec.name}_code"), f"{spec.label} {rid}".strip())
        elif spec.candidates == "ranked":
            try:
                pairs = decode_candidates(row.get(f"{spec.name}_candidates", ""))
            except (ValueError, TypeError):
                pairs = ()
            for c, s in pairs:
                add(c, f"{spec.label}{_score(s)}")
    return list(found.items())[:limit]


_STATUS = {
    "job_seeker": "현재 구직중 (전직 직업을 분류하세요)",
    "employed_unstated": "취업자 (직업명 없음)",
}


def status_text(statuses: Sequence[str]) -> str:
    """The status line of a core key from the parsed statuses of its labels."""
    kinds = sorted({s for s in statuses})
    if kinds == ["job_seeker"]:
        return _STATUS["job_seeker"]
    return "응답에 표시 없음 (직업명만 응답)"


def render(
    prompts: Prompts, label: str, status: str, candidates: Sequence[tuple[str, Sequence[str]]], codes: CodeList
) -> str:
    """The user prompt of one label."""
    lines = [f"- {c} {codes.title(c)} ({', '.join(src)})" for c, src in candidates] or ["- (후보 없음)"]
    return prompts.user.substitute(label=label, status=status, candidates="\n".join(lines)).strip()
