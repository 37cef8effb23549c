"""The review round trip: export the labels that need a person, import their decisions.

**Export** (:func:`export_review`, file twin :func:`export_review_file`) selects labels whose
raters disagree at ``level`` (default 1 = major), where a consistency rule overrode something,
a check fired (``violations``), the panel split, decide flagged them (``needs_review``) or
nothing coded them; labels a reviewer already decided are left out.  ``order="impact"`` (default)
puts first the labels whose candidate codes span several major buckets (their persons could
move the sex × KSCO metrics), most persons first; labels whose candidates share one major go
last.  ``order="persons"`` sorts by persons only.

Columns: ``review_id``, ``batch``, ``label_key``, ``label``, ``persons`` (at most 2 decimals),
``why``, each rater's ``<rater>_code`` / ``<rater>_title`` (``--blind``: the distinct suggestions
as ``option_A_code`` … in code order, who said what in the sidecar ``<file>.key.json``),
``suggested_code`` / ``suggested_title`` (the current final code), ``crosswalk_id``, then the
reviewer's ``decision_code``, ``decision_note``, ``reviewer``, and ``checksum``.  CSV is UTF-8
with BOM; ``.xlsx`` when the output name says so.

- ``review_id`` is ``<batch>-<hex>``: 16 hex digits of the sha256 of the label key, more for
  labels of the crosswalk that share those 16 (each colliding id is lengthened until they differ),
  so ids are unique and stay the same for the same label, batch and crosswalk.
- ``crosswalk_id`` (``x-`` and 16 hex digits) names the crosswalk's set of label keys; an import
  into a crosswalk with other labels is refused.
- ``checksum`` (``c-`` and 16 hex digits; letters first, so that no spreadsheet reads it as a
  number) is a sha256 over every protected column by name (all but the three decision columns):
  edit none of them.
- A text cell that a spreadsheet would run as a formula (first character ``= + - @``, tab, CR,
  LF or NUL) is written with a leading ``'``, as OWASP advises against CSV injection; so is a cell
  that starts with ``'``, so that both come back exactly.  The checksum and the ids are computed on
  the cells as they were, before the ``'`` (:mod:`coder.review_sheet`).

**Audit** (``audit=N``, ``--audit N --seed S``): the sheet also holds the labels of a residual-error
sample, N draws with probability proportional to persons, with replacement, seeded, from the labels
the machine coded that no reviewer decided and that are not already on the sheet
(:mod:`coder.review_audit`; a label drawn twice is one row that counts twice).  An audit row is
**blind**: its rater (or option) columns, ``suggested_code``/``suggested_title`` and ``why`` are
empty, so the reviewer sees only the label and its persons and cannot anchor on the machine's
code; the audit rows sit at seeded random places among the others.  A reviewer can still tell an
audit row by its empty cells (a review row always has a ``why``), but not what the machine said;
for a sheet where every row looks the same, export the audit alone (``--limit 0``).  Nothing in the
sheet names the audit: an audit row's checksum also covers a hidden cell with its number of
draws, so the sheet itself says which rows are the audit's wherever it is saved.  The sidecar
records the seed, the draws and the eligible labels and persons (not the machine's codes).

**Import** (:func:`import_review`, file twin :func:`import_review_file`) accepts what Excel
writes back (BOM, CRLF, cp949, blank trailing rows, ``.xlsx``, columns in any order, columns
added — ignored unless named ``*_code``/``*_title`` — and neutralised cells with or without the
leading ``'``).  It matches rows by ``review_id`` and checks the ``checksum``; a missing column or
a sheet of another crosswalk is named once (a sheet with no rows changes nothing); otherwise it
checks every row and raises one :class:`~coder.errors.ReviewError` listing every problem with its
line (a changed protected cell by column, what it was and what it is now); nothing is written then.  ``decision_code`` is read
after NFKC, spaces removed and upper case (``４３１`` → ``431``, ``a0200`` → ``A0200``).  Rows
with no code and no note are skipped and counted; a note without a code is kept (``review_note``,
``review_reviewer``, ``review_batch``, no code: the label goes to the next batch) and counted.
Decisions become the rater ``review`` (extras ``reviewer``, ``note``, ``batch``; earlier batches'
decisions are kept) and the crosswalk is re-decided.  A decision ``0`` (not in employment) sets
the label's ``status_parsed`` to ``not_employed``; a code on a label parsed as not employed /
occupation unstated / unknown sets it to ``""`` (decided by the code); ``status_rule = review``
records both.  The decision on an audit label is final like any other; the residual error
(share of persons whose machine code is wrong, per KSCO level, 95 % Wilson interval) compares it
with the code the crosswalk had before the import, and is kept in the crosswalk's ``audit`` records
(sidecar key ``audit``, carried forward by every later stage; see :mod:`coder.review_audit`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .codes import BUCKET_NOT_EMPLOYED, CodeList
from .crosswalk.assemble import add_raters
from .crosswalk.decide import DecisionPolicy, decide, rater_names
from .crosswalk.model import Crosswalk
from .crosswalk.stage import Output, StageResult, run_stage
from .errors import InputError, ReviewError
from .io import read_table
from .provenance import meta_path
from .raters.base import RaterResult, rater_spec
from .review_audit import AuditDraw, ResidualError, audit_eligible, draw_audit, residual_error
from .review_sheet import (
    audit_cell,
    audit_draws,
    cell_text,
    checksum,
    checksum_fits,
    crosswalk_id,
    neutralise,
    normal_code,
    review_ids,
    sheet_cell,
)
from .status import parse_status

__all__ = [
    "DECISION_COLUMNS",
    "ReviewExport",
    "ReviewImport",
    "export_review",
    "export_review_file",
    "import_review",
    "import_review_file",
]

DECISION_COLUMNS = ("decision_code", "decision_note", "reviewer")
_FIRST = ("review_id", "batch", "label_key", "label", "persons", "why")
_LAST = ("suggested_code", "suggested_title", "crosswalk_id")
_REQUIRED = (*_FIRST, *_LAST, *DECISION_COLUMNS, "checksum")
_ORDERS = ("impact", "persons")
_CODE_RE = re.compile(r"[0-9]{1,5}|A[0-9]{0,4}")
_PAIR = re.compile(r"(.+)_(code|title)")
_UNSTATED = ("not_employed", "unknown", "employed_unstated")
_RETYPED = (
    "Protected cells must come back as exported. A spreadsheet that opens a CSV re-types cells such as "
    "02, 1/2, 3-4 or 1e5: open the CSV with every column as Text (Excel: Data > From Text/CSV), "
    "or export the sheet as .xlsx."
)


@dataclass(frozen=True, eq=False)
class ReviewExport:
    """The review sheet and (``blind``) the key: review_id → {option letter: [raters]}."""

    frame: pd.DataFrame
    key: dict
    batch: str
    audit: AuditDraw | None = None


def _rater_codes(crosswalk: pd.DataFrame) -> list[str]:
    """The machine raters whose answers a reviewer sees (the registry's human raters are the reviewers)."""

    return [n for n in rater_names(crosswalk) if not rater_spec(n).human]


def _persons(row: Mapping[str, object]) -> float:
    return float(row["weight"] if "weight" in row else row["n_rows"])  # type: ignore[arg-type]


def _why(row: Mapping[str, object], sugg: Mapping[str, str], codes: CodeList, level: int) -> str:
    """Why a label needs a person (``disagree@<level>;overrode;check;…``), '' when it does not."""
    valid = [c for c in sugg.values() if c and c in codes]
    why = []
    if len({codes.truncate(c, level) for c in valid}) > 1:
        why.append(f"disagree@{level}")
    if cell_text(row.get("consistency_overrode", "")):
        why.append("overrode")
    if cell_text(row.get("violations", "")):
        why.append("check")
    reasons = [r for r in cell_text(row.get("review_reasons", "")).split(";") if r]
    why.extend(r for r in reasons if r not in why)
    coded = cell_text(row.get("ksco_code", "")) or cell_text(row.get("former_code", ""))  # 은퇴한 교사: its former code
    if not coded and "no_code" not in why:
        why.append("no_code")
    return ";".join(why)


def _record(
    row: Mapping[str, object],
    sugg: Mapping[str, str],
    *,
    rid: str,
    batch: str,
    why: str,
    crosswalk_id: str,
    names: Iterable[str],
    blind: bool,
    codes: CodeList,
    audit: bool = False,
) -> dict[str, str]:
    """One label's protected cells as exported (before :func:`neutralise`); an audit row shows no code and no why."""
    final = "" if audit else cell_text(row.get("ksco_code", "")) or cell_text(row.get("former_code", ""))
    if audit:
        why, sugg = "", dict.fromkeys(sugg, "")
    rec = {
        "review_id": rid,
        "batch": batch,
        "label_key": str(row["label_key"]),
        "label": str(row["label"]),
        "persons": cell_text(round(_persons(row), 2)),
        "why": why,
    }
    if blind:
        for j, c in enumerate(sorted({sugg[n] for n in names if sugg[n]})):
            rec[f"option_{chr(ord('A') + j)}_code"] = c
            rec[f"option_{chr(ord('A') + j)}_title"] = codes.title(c)
    else:
        for n in names:
            rec[f"{n}_code"] = sugg[n]
            rec[f"{n}_title"] = codes.title(sugg[n])
    rec["suggested_code"] = final
    rec["suggested_title"] = codes.title(final)
    rec["crosswalk_id"] = crosswalk_id
    return rec


def export_review(
    crosswalk: Crosswalk | pd.DataFrame,
    *,
    batch: str = "b1",
    level: int = 1,
    min_persons: float = 0,
    limit: int | None = None,
    order: str = "impact",
    blind: bool = False,
    codes: CodeList | None = None,
    audit: int = 0,
    seed: int = 20260101,
) -> ReviewExport:
    """Select and order the labels that need a person (see the module docstring).

    ``audit``: add the labels of a residual-error sample of that many draws, seeded by ``seed``
    (:func:`coder.review_audit.draw_audit`), shown blind at random places among the others.

    The crosswalk's codes are taken as decided (nothing is decided again).  The frame is the
    sheet as written: cells a spreadsheet would run as formulas carry a leading ``'``.
    """
    if order not in _ORDERS:
        raise ValueError(f"order must be one of {_ORDERS}, not {order!r}")
    xwalk = Crosswalk.of(crosswalk, codes=codes)
    codes = codes if codes is not None else xwalk.codes
    crosswalk = xwalk.frame
    names = _rater_codes(crosswalk)
    keys = crosswalk["label_key"].astype(str).tolist()
    ids, xid = review_ids(keys), crosswalk_id(keys)
    rows = []
    for row in crosswalk.to_dict("records"):
        if cell_text(row.get("review_code", "")):
            continue
        if row["status_parsed"] in _UNSTATED:
            continue
        sugg = {n: cell_text(row.get(f"{n}_code", "")) for n in names}
        why = _why(row, sugg, codes, level)
        p = _persons(row)
        if not why or p < min_persons:
            continue
        final = cell_text(row.get("ksco_code", ""))
        majors = {codes.major(c) for c in [*(c for c in sugg.values() if c in codes), final] if c}
        rows.append((row, sugg, why, p, len(majors) > 1))
    if order == "impact":
        rows.sort(key=lambda r: (not r[4], -r[3], str(r[0]["label_key"])))
    else:
        rows.sort(key=lambda r: (-r[3], str(r[0]["label_key"])))
    if limit is not None:
        rows = rows[:limit]
    used = [n for n in names if any(r[1][n] for r in rows)]
    drawn = None
    if audit:
        drawn = draw_audit(audit_eligible(crosswalk, exclude={str(r[0]["label_key"]) for r in rows}), audit, seed=seed)
        records = crosswalk.set_index(crosswalk["label_key"].astype(str), drop=False)
        sampled = [
            (records.loc[k].to_dict(), dict.fromkeys(names, ""), "", 0.0, False, d) for k, d in drawn.draws.items()
        ]
        rows = [(*r, 0) for r in rows]
        at = set(
            np.random.default_rng([seed, 1]).choice(len(rows) + len(sampled), len(sampled), replace=False).tolist()
        )
        regular, extra = iter(rows), iter(sampled)
        rows = [next(extra) if i in at else next(regular) for i in range(len(rows) + len(sampled))]
    else:
        rows = [(*r, 0) for r in rows]
    out, key, draws = [], {}, []
    n_opts = 0
    for row, sugg, why, _, _, n_draws in rows:
        rid = f"{batch}-{ids[str(row['label_key'])]}"
        out.append(
            _record(
                row,
                sugg,
                rid=rid,
                batch=batch,
                why=why,
                crosswalk_id=xid,
                names=used,
                blind=blind,
                codes=codes,
                audit=bool(n_draws),
            )
        )
        draws.append(n_draws)
        if blind:
            opts: dict[str, list[str]] = {}
            for n in used:
                if sugg[n]:
                    opts.setdefault(sugg[n], []).append(n)
            key[rid] = {chr(ord("A") + j): opts[c] for j, c in enumerate(sorted(opts))}
            n_opts = max(n_opts, len(opts))
    cols = list(_FIRST)
    if blind:
        for j in range(n_opts):
            cols += [f"option_{chr(ord('A') + j)}_code", f"option_{chr(ord('A') + j)}_title"]
    else:
        for n in used:
            cols += [f"{n}_code", f"{n}_title"]
    cols += _LAST
    frame = pd.DataFrame(out, columns=cols).fillna("")
    frame = frame.astype(str) if len(frame) else frame
    checksums = [
        checksum({c: cell_text(v) for c, v in zip(cols, r)} | audit_cell(d))
        for r, d in zip(frame[cols].itertuples(index=False), draws)
    ]
    for c in cols:
        frame[c] = frame[c].map(neutralise) if len(frame) else frame[c]
    for c in DECISION_COLUMNS:
        frame[c] = ""
    frame["checksum"] = checksums
    return ReviewExport(frame=frame, key=key, batch=batch, audit=drawn)


def export_review_file(
    crosswalk_path: str | Path,
    output_path: str | Path,
    *,
    batch: str | None = None,
    command: str = "coder review export",
    **options: object,
) -> ReviewExport:
    """Read a crosswalk, export its review sheet (CSV with BOM or .xlsx), the key (blind) and a sidecar.

    ``batch`` defaults to the output's folder name (``review/b1/to_review.csv`` → ``b1``).  The
    sidecar records the policy the crosswalk was decided with (the sheet's suggested codes).
    """
    key_path = Path(output_path).with_name(Path(output_path).name + ".key.json")
    if batch is None:
        parent = Path(output_path).resolve().parent.name
        batch = parent if parent and re.fullmatch(r"[\w.-]+", parent) else Path(output_path).stem

    def stage(crosswalk: Crosswalk) -> StageResult:
        result = export_review(crosswalk, batch=batch, **options)  # type: ignore[arg-type]
        outputs = [Output(output_path, result.frame, kind="table", encoding="utf-8-sig")]
        if options.get("blind"):
            outputs.append(Output(key_path, {"batch": batch, "options": result.key}, kind="json"))
        summary: dict[str, object] = {"rows": len(result.frame)}
        if result.audit is not None:
            summary["audit"] = result.audit.to_dict()
        return StageResult(result, outputs, params={**options, "batch": batch}, summary=summary)

    targets = {"the output (-o)": output_path, "the key": key_path if options.get("blind") else None}
    return run_stage(stage, crosswalk_path, targets, command=command, tables=["the output (-o)"])  # type: ignore[return-value]


@dataclass(frozen=True, eq=False)
class ReviewImport:
    """The re-decided crosswalk (a :class:`~coder.crosswalk.model.Crosswalk`) and counts.

    ``applied`` decisions, ``skipped`` rows with no code and no note, ``changed`` final codes,
    ``notes_kept`` notes without a code (kept in ``review_note``; no code was set).
    """

    crosswalk: Crosswalk
    applied: int
    skipped: int
    changed: int
    notes_kept: int = 0
    residual: ResidualError | None = None


@dataclass(frozen=True, eq=False)
class _Read:
    """What :func:`_read_sheet` found: every problem, the decisions and notes to apply, the rows skipped."""

    problems: list[str]
    decisions: list[tuple[str, str, str, str, str]]  # key, code, reviewer, note, batch
    notes: list[tuple[str, str, str, str]]  # key, reviewer, note, batch
    skipped: int
    cells_changed: bool
    audit: dict[str, int] = field(default_factory=dict)  # label key → draws, for the audit rows
    regular: frozenset[str] = frozenset()  # the label keys of the sheet's other rows


def _sheet_columns(columns: list[str], where: str) -> list[str]:
    """The protected columns of a sheet (read by name, in any order); a missing one is refused once."""
    present = set(columns)
    missing = [c for c in _REQUIRED if c not in present]
    protected = [c for c in columns if c in _FIRST or c in _LAST]
    for c in columns:
        m = _PAIR.fullmatch(c)
        if m and c not in _REQUIRED:
            protected.append(c)
            other = f"{m.group(1)}_{'title' if m.group(2) == 'code' else 'code'}"
            if other not in present and other not in missing:
                missing.append(other)
    if missing:
        raise ReviewError(
            f"{where}: missing column(s) {', '.join(missing)} — import the file `coder review export` wrote, "
            "with every column it has (in any order).",
            path=where,
        )
    return protected


class _Exported:
    """What :func:`export_review` wrote for a label, rebuilt from the crosswalk: to name what changed."""

    def __init__(self, crosswalk: pd.DataFrame, codes: CodeList, xid: str, sheet: pd.DataFrame, protected: list[str]):
        self.frame, self.codes, self.xid, self.protected = crosswalk, codes, xid, protected
        self.pos = {k: i for i, k in enumerate(crosswalk["label_key"].astype(str))}
        self.names = _rater_codes(crosswalk)
        shown = " ".join(sheet["why"].map(cell_text))
        self.level = int(m.group(1)) if (m := re.search(r"disagree@([1-5])", shown)) else 1
        raters = any(_PAIR.fullmatch(c) and c not in _REQUIRED for c in protected)
        self.blinds = (any(c.startswith("option_") for c in protected),) if raters else (False, True)

    def record(self, key: str, rid: str, *, blind: bool, audit: bool = False) -> tuple[dict[str, str], set[str]]:
        """The label's cells as exported, and every ``why`` it could have had (one per level)."""
        row = self.frame.iloc[self.pos[key]].to_dict()
        sugg = {n: cell_text(row.get(f"{n}_code", "")) for n in self.names}
        why = _why(row, sugg, self.codes, self.level)
        rec = _record(
            row,
            sugg,
            rid=rid,
            batch=rid.rpartition("-")[0],
            why=why,
            crosswalk_id=self.xid,
            names=self.names,
            blind=blind,
            codes=self.codes,
            audit=audit,
        )
        whys = {""} if audit else {_why(row, sugg, self.codes, lv) for lv in range(1, 6)}
        return {c: cell_text(v) for c, v in rec.items()}, whys

    def explain(self, key: str, rid: str, raw: Mapping[str, object], cells: Mapping[str, str]):
        """Why a row's checksum does not fit: ``(lost, [])``, columns the sheet lost (putting them back
        fits the checksum), or ``([], changed)``, the cells that changed as ``(column, was, now)``."""
        audit = not cells.get("why", "")  # an audit row has no why (a regular row always has one)
        for blind in self.blinds:
            exp, whys = self.record(key, rid, blind=blind, audit=audit)
            lost = [c for c, v in exp.items() if v and c not in cells and _PAIR.fullmatch(c)]
            if lost and checksum_fits(raw, cells, self.protected, {c: exp[c] for c in lost}):
                return lost, []
        changed = [
            (c, exp[c], cells[c])
            for c in self.protected
            if c in exp and exp[c] != cells[c] and not (c == "why" and cells[c] in whys)
        ]
        return [], changed


def _read_sheet(sheet: pd.DataFrame, crosswalk: pd.DataFrame, codes: CodeList, where: str) -> _Read:
    rows = []
    for i, raw in enumerate(sheet.to_dict("records")):
        cells = {str(c): sheet_cell(v) for c, v in raw.items()}
        if any(cells.values()):  # else a blank (trailing) row
            rows.append((i + 2, {str(c): v for c, v in raw.items()}, cells))
    if not rows:  # nothing to import: a sheet with no rows changes nothing, whatever its header
        return _Read([], [], [], 0, False)
    protected = _sheet_columns([str(c) for c in sheet.columns], where)
    keys = crosswalk["label_key"].astype(str).tolist()
    by_hex = {h: k for k, h in review_ids(keys).items()}
    xid = crosswalk_id(keys)
    found = sorted({cells["crosswalk_id"] for _, _, cells in rows})
    if xid not in found:
        theirs = ", ".join(x or "(empty)" for x in found)
        raise ReviewError(
            f"{where}: the sheet was exported from another crosswalk (crosswalk_id {theirs}; the crosswalk given, "
            f"--into, is {xid}) — import it --into the crosswalk it was exported from.",
            path=where,
        )
    decided = dict(zip(keys, crosswalk["review_code"].map(cell_text))) if "review_code" in crosswalk else {}
    exported = _Exported(crosswalk, codes, xid, sheet, protected)
    problems: list[str] = []
    decisions, notes, dropped, skipped, cells_changed = [], [], [], 0, False
    seen: dict[str, int] = {}
    seen_key: dict[str, int] = {}
    audit: dict[str, int] = {}
    for line, raw, cells in rows:
        rid = cells["review_id"]
        tag = f"line {line} ({rid or 'no review_id'})"
        bad = []
        batch, _, hexpart = rid.rpartition("-")
        key = by_hex.get(hexpart) if batch else None
        if not rid:
            bad.append("review_id is empty")
        elif rid in seen:
            bad.append(f"review_id {rid} is duplicated (first on line {seen[rid]})")
        else:
            seen[rid] = line
            if key is None:
                bad.append(f"unknown review_id {rid} — it is not a label of this crosswalk's export")
            elif key in seen_key:
                bad.append(f"its label is also on line {seen_key[key]} (another batch?) — keep one of the two rows")
            else:
                seen_key[key] = line
        n_draws = 0
        if not checksum_fits(raw, cells, protected) and not (n_draws := audit_draws(raw, cells, protected)):
            lost, changed = exported.explain(key, rid, raw, cells) if key is not None else ([], [])
            dropped.extend(c for c in lost if c not in dropped)
            bad.extend(f"protected cell {c} was {was!r}, is now {now!r}" for c, was, now in changed)
            cells_changed = cells_changed or bool(changed)
            if not lost and not changed:
                bad.append(
                    "a protected field was edited (checksum mismatch) — change only decision_code, decision_note, reviewer"
                )
        elif cells["crosswalk_id"] != xid:
            bad.append(f"the row comes from a sheet of another crosswalk ({cells['crosswalk_id']}) — remove it")
        typed = cells["decision_code"]
        code = normal_code(typed)
        if code:
            if not _CODE_RE.fullmatch(code):
                bad.append(
                    f"decision_code {typed!r} is malformed — a KSCO-7 code is 1-5 digits, or A…; 0 = not employed"
                )
            elif code != BUCKET_NOT_EMPLOYED and code not in codes:
                bad.append(f"decision_code {code} is not in {codes.name} (nor 0 / A…)")
        elif cells["decision_note"] and key is not None and decided.get(key):
            bad.append(
                f"a decision_note without a decision_code, on a label already decided ({decided[key]}) — "
                "add a decision_code to change the decision, or clear the note"
            )
        if n_draws and key is not None and not bad:
            audit[key] = n_draws
        if bad:
            problems.extend(f"{tag}: {b}" for b in bad)
        elif code:
            decisions.append((key, code, cells["reviewer"], cells["decision_note"], cells["batch"]))
        elif cells["decision_note"]:
            notes.append((key, cells["reviewer"], cells["decision_note"], cells["batch"]))
        else:
            skipped += 1
    if dropped:
        raise ReviewError(
            f"{where}: missing column(s) {', '.join(dropped)} — the sheet was exported with them and every row's "
            "checksum covers them; put them back as exported and import again.",
            path=where,
        )
    regular = frozenset(k for k in seen_key if k not in audit)
    return _Read(problems, decisions, notes, skipped, cells_changed, audit, regular)  # type: ignore[arg-type]


def import_review(
    sheet: pd.DataFrame,
    crosswalk: Crosswalk | pd.DataFrame,
    *,
    codes: CodeList | None = None,
    policy: DecisionPolicy | None = None,
    where: str = "review sheet",
    seed: int | None = None,
) -> ReviewImport:
    """Apply a reviewed sheet to a crosswalk as the rater ``review`` and re-decide (see the module docstring).

    ``crosswalk``: a :class:`~coder.crosswalk.model.Crosswalk` (a bare frame is one with the
    default policy); it is decided again with ``policy``, default its own.  When the sheet has audit
    rows, the residual error (:func:`coder.review_audit.estimate_residual_error`; ``seed``: the
    export's, recorded) is estimated against the crosswalk's codes before this sheet and added to
    the crosswalk's ``audit`` records.
    """

    xwalk = Crosswalk.of(crosswalk, codes=codes)
    codes = codes if codes is not None else xwalk.codes
    if policy is None:
        policy = xwalk.policy
    crosswalk = xwalk.frame
    read = _read_sheet(sheet, crosswalk, codes, where)
    if read.problems:
        raise ReviewError(
            f"{where}: {len(read.problems)} problem(s), nothing was written:\n  "
            + "\n  ".join(read.problems)
            + "\nFix these rows and import again."
            + (f" {_RETYPED}" if read.cells_changed else ""),
            path=where,
            problems=read.problems,
        )
    residual = (
        residual_error(crosswalk, read.audit, {k: (c, b) for k, c, _, _, b in read.decisions}, read.regular, seed=seed)
        if read.audit
        else None
    )
    if residual is not None and residual.judged_draws:
        xwalk = replace(xwalk, audit=(*xwalk.audit, residual.to_dict()))
    if not read.decisions and not read.notes:
        return ReviewImport(
            crosswalk=xwalk.decided(policy), applied=0, skipped=read.skipped, changed=0, residual=residual
        )
    frame = crosswalk.copy()
    keys = frame["label_key"].astype(str).tolist()
    cur = {
        f: (frame[f"review_{f}"].map(cell_text).tolist() if f"review_{f}" in frame else [""] * len(frame))
        for f in ("code", "detail", "reviewer", "note", "batch")
    }
    pos = {k: i for i, k in enumerate(keys)}
    for key, reviewer, note, batch in read.notes:
        i = pos[key]
        cur["reviewer"][i], cur["note"][i], cur["batch"][i] = reviewer, note, batch
        cur["detail"][i] = f"{batch}: {reviewer or 'reviewer'}, no code — {note}"
    st_parsed = frame["status_parsed"].astype(str).tolist()
    st_rule = frame["status_rule"].astype(str).tolist()
    for key, code, reviewer, note, batch in read.decisions:
        i = pos[key]
        cur["code"][i], cur["reviewer"][i], cur["note"][i], cur["batch"][i] = code, reviewer, note, batch
        cur["detail"][i] = f"{batch}: {reviewer or 'reviewer'}" + (f" — {note}" if note else "")
        if code == BUCKET_NOT_EMPLOYED:
            st_parsed[i], st_rule[i] = "not_employed", "review"
        elif st_parsed[i] in _UNSTATED:
            st_parsed[i], st_rule[i] = "", "review"
        elif st_rule[i] == "review":  # an earlier batch's 0, now a code: the words' status again
            st = parse_status([key])[0]
            st_parsed[i], st_rule[i] = (st.status if st.status not in ("not_employed",) else ""), st.status_id or ""
    frame["status_parsed"], frame["status_rule"] = st_parsed, st_rule
    n = len(keys)
    result = RaterResult(
        "review",
        tuple(keys),
        tuple("" if c == BUCKET_NOT_EMPLOYED else c for c in cur["code"]),
        (math.nan,) * n,
        tuple(cur["detail"]),
        extra={"reviewer": tuple(cur["reviewer"]), "note": tuple(cur["note"]), "batch": tuple(cur["batch"])},
        rule_ids=tuple(b if c else "" for b, c in zip(cur["batch"], cur["code"])),
    )
    decided = decide(add_raters(frame, [result]), policy, codes=codes)
    # keep the reviewer's 0 visible in review_code (decide gives these labels no code)
    decided["review_code"] = cur["code"]
    before = crosswalk["ksco_code"].astype(str) if "ksco_code" in crosswalk else pd.Series([""] * n)
    changed = int((decided["ksco_code"].astype(str).to_numpy() != before.to_numpy()).sum())
    return ReviewImport(
        crosswalk=xwalk.with_frame(decided, policy=policy),
        applied=len(read.decisions),
        skipped=read.skipped,
        changed=changed,
        notes_kept=len(read.notes),
        residual=residual,
    )


def _export_seed(review_path: str | Path) -> int | None:
    """The audit seed the sheet's export recorded in its sidecar (None when the sidecar is not beside it)."""
    side = meta_path(review_path)
    try:
        seed = json.loads(side.read_text(encoding="utf-8"))["params"]["seed"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return seed if isinstance(seed, int) else None


def import_review_file(
    review_path: str | Path,
    into_path: str | Path,
    output_path: str | Path,
    *,
    policy: DecisionPolicy | None = None,
    command: str = "coder review import",
) -> ReviewImport:
    """Read a reviewed sheet (CSV in any encoding Excel writes, or .xlsx) and a crosswalk; write the reviewed crosswalk.

    The crosswalk is decided again with ``policy``, default the one its sidecar records.
    Nothing is written when any row has a problem.
    """

    def stage(crosswalk: Crosswalk) -> StageResult:
        try:
            sheet = read_table(review_path)
        except InputError as exc:
            raise ReviewError(str(exc), path=review_path) from None
        sheet.columns = [str(c).strip() for c in sheet.columns]
        result = import_review(sheet, crosswalk, policy=policy, where=str(review_path), seed=_export_seed(review_path))
        summary: dict[str, object] = {
            "applied": result.applied,
            "skipped_empty": result.skipped,
            "notes_kept": result.notes_kept,
            "codes_changed": result.changed,
        }
        if result.residual is not None:
            summary["residual_error"] = result.residual.to_dict()
        return StageResult(result, [Output(output_path, result.crosswalk)], crosswalk=result.crosswalk, summary=summary)

    return run_stage(  # type: ignore[return-value]
        stage,
        into_path,
        {"the output (-o)": output_path},
        command=command,
        inputs={"the review file": review_path},
        input_label="--into",
        tables=["the output (-o)"],
    )
