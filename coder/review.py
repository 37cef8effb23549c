"""The review round trip: export the labels that need a person, import their decisions.

**Export** (:func:`export_review`, file twin :func:`export_review_file`) selects labels whose
raters disagree at ``level`` (default 1 = major), where a consistency rule overrode something,
a check fired (``violations``), the panel split, decide flagged them (``needs_review``) or
nothing coded them; labels a reviewer already decided are left out.  ``order="impact"`` (default)
puts first the labels whose candidate codes span several major buckets (their persons could
move the sex × KSCO metrics), most persons first; labels whose candidates share one major go
last.  ``order="persons"`` sorts by persons only.

Columns: ``review_id`` (``<batch>-<8 hex of the label key>``), ``batch``, ``label_key``,
``label``, ``persons``, ``why``, each rater's ``<rater>_code`` / ``<rater>_title`` (``--blind``:
the distinct suggestions as ``option_A_code`` … in code order, who said what in the sidecar
``<file>.key.json``), ``suggested_code`` / ``suggested_title`` (the current final code), then
the reviewer's ``decision_code``, ``decision_note``, ``reviewer``, and ``checksum`` (sha256 over
every column before ``decision_code``: edit none of them).  CSV is UTF-8 with BOM; ``.xlsx``
when the output name says so.

**Import** (:func:`import_review`, file twin :func:`import_review_file`) accepts what Excel
writes back (BOM, CRLF, cp949, blank trailing rows, ``.xlsx``), checks every row and raises
one :class:`~coder.errors.ReviewError` listing every problem with its line; nothing is written
then.  Empty decisions are skipped and counted.  Decisions become the rater ``review`` (extras
``reviewer``, ``note``, ``batch``; earlier batches' decisions are kept) and the crosswalk is
re-decided.  A decision ``0`` (not in employment) sets the label's ``status_parsed`` to
``not_employed``; a code on a label parsed as not employed / occupation unstated / unknown sets it
to ``""`` (decided by the code); ``status_rule = review`` records both.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .codes import BUCKET_NOT_EMPLOYED, CodeList
from .crosswalk.assemble import add_raters
from .crosswalk.decide import DecisionPolicy, decide, rater_names
from .crosswalk.model import Crosswalk
from .crosswalk.stage import Output, StageResult, run_stage
from .errors import InputError, ReviewError
from .io import read_table
from .raters.base import RaterResult, rater_spec
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
_ORDERS = ("impact", "persons")
_CODE_RE = re.compile(r"[0-9]{1,5}|A[0-9]{0,4}")
_INT_FLOAT = re.compile(r"(-?\d+)\.0+")


def _cell(v: object) -> str:
    """A cell as the text a reviewer saw: None/NaN → '', 9421.0 → '9421' (Excel numbers)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    s = str(v).strip()
    m = _INT_FLOAT.fullmatch(s)
    return m.group(1) if m else s


def _checksum(values: list[str]) -> str:
    return hashlib.sha256(json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()[:16]


def review_id(batch: str, key: str) -> str:
    return f"{batch}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


@dataclass(frozen=True, eq=False)
class ReviewExport:
    """The review sheet and (``blind``) the key: review_id → {option letter: [raters]}."""

    frame: pd.DataFrame
    key: dict
    batch: str


def _rater_codes(crosswalk: pd.DataFrame) -> list[str]:
    """The machine raters whose answers a reviewer sees (the registry's human raters are the reviewers)."""

    return [n for n in rater_names(crosswalk) if not rater_spec(n).human]


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
) -> ReviewExport:
    """Select and order the labels that need a person (see the module docstring).

    The crosswalk's codes are taken as decided (nothing is decided again).
    """
    if order not in _ORDERS:
        raise ValueError(f"order must be one of {_ORDERS}, not {order!r}")
    xwalk = Crosswalk.of(crosswalk, codes=codes)
    codes = codes if codes is not None else xwalk.codes
    crosswalk = xwalk.frame
    names = _rater_codes(crosswalk)
    persons = crosswalk["weight"].astype(float) if "weight" in crosswalk else crosswalk["n_rows"].astype(float)
    rows = []
    for i, row in enumerate(crosswalk.to_dict("records")):
        if _cell(row.get("review_code", "")):
            continue
        if row["status_parsed"] in ("not_employed", "unknown", "employed_unstated"):
            continue
        sugg = {n: _cell(row.get(f"{n}_code", "")) for n in names}
        valid = {n: c for n, c in sugg.items() if c and c in codes}
        final = _cell(row.get("ksco_code", ""))
        why = []
        if len({codes.truncate(c, level) for c in valid.values()}) > 1:
            why.append(f"disagree@{level}")
        if _cell(row.get("consistency_overrode", "")):
            why.append("overrode")
        if _cell(row.get("violations", "")):
            why.append("check")
        reasons = [r for r in _cell(row.get("review_reasons", "")).split(";") if r]
        why.extend(r for r in reasons if r not in why)
        if not final:
            why.append("no_code") if "no_code" not in why else None
        if not why or persons.iloc[i] < min_persons:
            continue
        majors = {codes.major(c) for c in [*valid.values(), final] if c}
        rows.append((row, sugg, final, ";".join(why), float(persons.iloc[i]), len(majors) > 1))
    if order == "impact":
        rows.sort(key=lambda r: (not r[5], -r[4], str(r[0]["label_key"])))
    else:
        rows.sort(key=lambda r: (-r[4], str(r[0]["label_key"])))
    if limit is not None:
        rows = rows[:limit]
    used = [n for n in names if any(r[1][n] for r in rows)]
    out, key = [], {}
    n_opts = 0
    for row, sugg, final, why, p, _ in rows:
        rid = review_id(batch, str(row["label_key"]))
        rec = {
            "review_id": rid,
            "batch": batch,
            "label_key": str(row["label_key"]),
            "label": str(row["label"]),
            "persons": _cell(p),
            "why": why,
        }
        if blind:
            opts: dict[str, list[str]] = {}
            for n in used:
                if sugg[n]:
                    opts.setdefault(sugg[n], []).append(n)
            letters = {}
            for j, c in enumerate(sorted(opts)):
                letters[chr(ord("A") + j)] = c
                rec[f"option_{chr(ord('A') + j)}_code"] = c
                rec[f"option_{chr(ord('A') + j)}_title"] = codes.title(c)
            n_opts = max(n_opts, len(opts))
            key[rid] = {k: opts[c] for k, c in letters.items()}
        else:
            for n in used:
                rec[f"{n}_code"] = sugg[n]
                rec[f"{n}_title"] = codes.title(sugg[n])
        rec["suggested_code"] = final
        rec["suggested_title"] = codes.title(final)
        out.append(rec)
    cols = ["review_id", "batch", "label_key", "label", "persons", "why"]
    if blind:
        for j in range(n_opts):
            cols += [f"option_{chr(ord('A') + j)}_code", f"option_{chr(ord('A') + j)}_title"]
    else:
        for n in used:
            cols += [f"{n}_code", f"{n}_title"]
    cols += ["suggested_code", "suggested_title"]
    frame = pd.DataFrame(out, columns=cols).fillna("")
    frame = frame.astype(str) if len(frame) else frame
    for c in DECISION_COLUMNS:
        frame[c] = ""
    frame["checksum"] = [_checksum([_cell(v) for v in r]) for r in frame[cols].itertuples(index=False)]
    return ReviewExport(frame=frame, key=key, batch=batch)


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
        return StageResult(result, outputs, params={**options, "batch": batch}, summary={"rows": len(result.frame)})

    targets = {"the output (-o)": output_path, "the key": key_path if options.get("blind") else None}
    return run_stage(stage, crosswalk_path, targets, command=command)  # type: ignore[return-value]


@dataclass(frozen=True, eq=False)
class ReviewImport:
    """The re-decided crosswalk (a :class:`~coder.crosswalk.model.Crosswalk`) and counts: decisions applied, empty rows skipped."""

    crosswalk: Crosswalk
    applied: int
    skipped: int
    changed: int


def _problem_rows(sheet: pd.DataFrame, crosswalk: pd.DataFrame, codes: CodeList, where: str):
    required = ("review_id", "batch", "label_key", *DECISION_COLUMNS, "checksum")
    missing = [c for c in required if c not in sheet.columns]
    if missing:
        raise ReviewError(
            f"{where}: missing column(s) {', '.join(missing)} — import the file `coder review export` wrote, "
            "with its header row unchanged.",
            path=where,
        )
    cols = list(sheet.columns)
    protected = cols[: cols.index("decision_code")]
    known_keys = set(crosswalk["label_key"].astype(str))
    problems, decisions, skipped = [], [], 0
    seen: dict[str, int] = {}
    for i, rec in enumerate(sheet.to_dict("records")):
        cells = {c: _cell(v) for c, v in rec.items()}
        if not any(cells.values()):
            continue  # blank (trailing) row
        line = i + 2
        rid = cells["review_id"]
        tag = f"line {line} ({rid or 'no review_id'})"
        bad = []
        key = cells["label_key"]
        if not rid:
            bad.append("review_id is empty")
        elif rid in seen:
            bad.append(f"review_id {rid} is duplicated (first on line {seen[rid]})")
        else:
            seen[rid] = line
            if rid != review_id(cells["batch"], key) or key not in known_keys:
                bad.append(f"unknown review_id {rid} — it is not a label of this crosswalk's export")
        if _checksum([cells[c] for c in protected]) != cells["checksum"]:
            bad.append(
                "a protected field was edited (checksum mismatch) — change only decision_code, decision_note, reviewer"
            )
        code = cells["decision_code"]
        if code:
            if not _CODE_RE.fullmatch(code):
                bad.append(
                    f"decision_code {code!r} is malformed — a KSCO-7 code is 1-5 digits, or A…; 0 = not employed"
                )
            elif code != BUCKET_NOT_EMPLOYED and code not in codes:
                bad.append(f"decision_code {code} is not in {codes.name} (nor 0 / A…)")
        if bad:
            problems.extend(f"{tag}: {b}" for b in bad)
        elif not code:
            skipped += 1
        else:
            decisions.append((key, code, cells["reviewer"], cells["decision_note"], cells["batch"]))
    return problems, decisions, skipped


def import_review(
    sheet: pd.DataFrame,
    crosswalk: Crosswalk | pd.DataFrame,
    *,
    codes: CodeList | None = None,
    policy: DecisionPolicy | None = None,
    where: str = "review sheet",
) -> ReviewImport:
    """Apply a reviewed sheet to a crosswalk as the rater ``review`` and re-decide (see the module docstring).

    ``crosswalk``: a :class:`~coder.crosswalk.model.Crosswalk` (a bare frame is one with the
    default policy); it is decided again with ``policy``, default its own.
    """

    xwalk = Crosswalk.of(crosswalk, codes=codes)
    codes = codes if codes is not None else xwalk.codes
    if policy is None:
        policy = xwalk.policy
    crosswalk = xwalk.frame
    problems, decisions, skipped = _problem_rows(sheet, crosswalk, codes, where)
    if problems:
        raise ReviewError(
            f"{where}: {len(problems)} problem(s), nothing was written:\n  "
            + "\n  ".join(problems)
            + "\nFix these rows and import again.",
            path=where,
            problems=problems,
        )
    if not decisions:
        return ReviewImport(crosswalk=xwalk.decided(policy), applied=0, skipped=skipped, changed=0)
    frame = crosswalk.copy()
    keys = frame["label_key"].astype(str).tolist()
    cur = {
        f: (frame[f"review_{f}"].astype(str).tolist() if f"review_{f}" in frame else [""] * len(frame))
        for f in ("code", "detail", "reviewer", "note", "batch")
    }
    pos = {k: i for i, k in enumerate(keys)}
    st_parsed = frame["status_parsed"].astype(str).tolist()
    st_rule = frame["status_rule"].astype(str).tolist()
    for key, code, reviewer, note, batch in decisions:
        i = pos[key]
        cur["code"][i], cur["reviewer"][i], cur["note"][i], cur["batch"][i] = code, reviewer, note, batch
        cur["detail"][i] = f"{batch}: {reviewer or 'reviewer'}" + (f" — {note}" if note else "")
        if code == BUCKET_NOT_EMPLOYED:
            st_parsed[i], st_rule[i] = "not_employed", "review"
        elif st_parsed[i] in ("not_employed", "unknown", "employed_unstated"):
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
        rule_ids=tuple(cur["batch"]),
    )
    decided = decide(add_raters(frame, [result]), policy, codes=codes)
    # keep the reviewer's 0 visible in review_code (decide gives these labels no code)
    decided["review_code"] = cur["code"]
    before = crosswalk["ksco_code"].astype(str) if "ksco_code" in crosswalk else pd.Series([""] * n)
    changed = int((decided["ksco_code"].astype(str).to_numpy() != before.to_numpy()).sum())
    return ReviewImport(
        crosswalk=xwalk.with_frame(decided, policy=policy), applied=len(decisions), skipped=skipped, changed=changed
    )


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
        result = import_review(sheet, crosswalk, policy=policy, where=str(review_path))
        return StageResult(
            result,
            [Output(output_path, result.crosswalk)],
            crosswalk=result.crosswalk,
            summary={"applied": result.applied, "skipped_empty": result.skipped, "codes_changed": result.changed},
        )

    return run_stage(  # type: ignore[return-value]
        stage,
        into_path,
        {"the output (-o)": output_path},
        command=command,
        inputs={"the review file": review_path},
        input_label="--into",
    )
