"""Official reference tables (KOSIS) for the sex × KSCO axis metrics.

The curated tables live in ``references/`` (``coder/_data/references`` in a wheel),
each listed with source, survey, unit, licence and sha256 in
``references/manifest.json``; their provenance is in ``references/SOURCES.md``.

A reference is named ``<source>:<period>``:

- ``kosis-res:2025H2`` — 지역별고용조사 (Regional Employment Survey), national
  employed persons by sex × KSCO major, half-years ``2015H1`` … ``2025H2``;
- ``kosis-eaps:2025`` — 경제활동인구조사 (EAPS), annual employed persons by
  sex × KSCO major, ``2016`` … ``2025``;
- or the path of a user CSV with columns ``bucket, sex`` and ``count`` or
  ``share`` (shares are taken within the whole table).

Surveys and vintages are never mixed: a named reference reads one survey and one
period; :func:`list_reference_periods` gives the other periods *of the same
survey* for vintage-drift checks.

>>> ref = load_reference("kosis-res:2025H2")
>>> ref.buckets[0], int(ref.counts[0, 0]), int(ref.counts[0, 1]), ref.unit
('1', 74000, 319000, 'thousand persons')
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CrosswalkError, InputError
from ..resources import data_path, file_identity, file_sha256, load_manifest, read_csv_rows

__all__ = [
    "AGE_BANDS",
    "KSCO_MAJORS",
    "AgeStructure",
    "ReferenceTable",
    "build_reference_tables",
    "list_reference_periods",
    "list_references",
    "load_age_structure",
    "load_reference",
]

KSCO_MAJORS = ("1", "2", "3", "4", "5", "6", "7", "8", "9")
AGE_BANDS = ("15-29", "30-39", "40-49", "50-59", "60+")
SEX_TABLE = "kosis_sex_by_ksco_major.csv"
AGE_TABLE = "kosis_res_ksco_major_by_age.csv"
_SOURCES = {"kosis-res": "res", "kosis-eaps": "eaps"}
_SURVEY_NAMES = {"res": "지역별고용조사 (Regional Employment Survey)", "eaps": "경제활동인구조사 (EAPS)"}
_UNIT_MULTIPLIER = {"thousand persons": 1000.0, "persons": 1.0}


@dataclass(frozen=True)
class ReferenceTable:
    """A bucket × sex reference table.

    ``counts`` has one row per bucket (order of ``buckets``) and two columns
    (women, men), in persons (KOSIS thousands are multiplied out). For a
    share-only user reference ``counts`` holds the shares and ``n`` is ``None``
    (no finite sample size: bias corrections vanish).
    """

    name: str
    source: str  # "kosis-res", "kosis-eaps" or "file"
    survey: str
    period: str
    unit: str
    buckets: tuple[str, ...]
    counts: np.ndarray
    n: float | None
    sha256: str
    flags: tuple[str, ...] = ()

    @property
    def female_share(self) -> np.ndarray:
        """Female share within each bucket."""
        return self.counts[:, 0] / self.counts.sum(axis=1)

    def subset(self, buckets: tuple[str, ...]) -> np.ndarray:
        """Rows of ``counts`` for ``buckets`` in that order (each must be present)."""
        index = {b: i for i, b in enumerate(self.buckets)}
        return self.counts[[index[b] for b in buckets]]


@dataclass(frozen=True)
class AgeStructure:
    """Reference occupation × age-band counts (no sex split), rows = buckets."""

    name: str
    period: str
    buckets: tuple[str, ...]
    bands: tuple[str, ...]
    counts: np.ndarray
    sha256: str


def _read_rows(name: str) -> list[dict[str, str]]:
    path = data_path("references", name)
    if not path.is_file():
        raise CrosswalkError(
            f"references/{name}: file missing — restore it from the repository (see references/manifest.json).",
            path=path,
        )
    return [row for _, row in read_csv_rows(path, error=CrosswalkError, what="reference table")]


@functools.lru_cache(maxsize=4)
def _checked_at(name: str, identity: tuple[str, int, int]) -> tuple[tuple[dict[str, str], ...], str]:
    entry = load_manifest("references").get("files", {}).get(name)
    path = data_path("references", name)
    if entry is None:
        raise CrosswalkError(
            f"references/{name} is not listed in references/manifest.json — restore the manifest from the repository.",
            path=path,
        )
    rows = _read_rows(name)
    digest = file_sha256(path)
    if digest != entry.get("sha256"):
        raise CrosswalkError(
            f"references/{name}: sha256 {digest[:12]}… differs from manifest {str(entry.get('sha256'))[:12]}… — "
            "restore the file, or if the change is deliberate update manifest.json with the new sha256 and provenance.",
            path=path,
        )
    return tuple(rows), digest


def _checked(name: str) -> tuple[tuple[dict[str, str], ...], str]:
    """Rows of a curated file after checking its sha256 against the manifest.

    Cached by :func:`coder.resources.file_identity` of the file and of the
    manifest, so an edited file is read (and checked) again.
    """
    return _checked_at(
        name, file_identity(data_path("references", name)) + file_identity(data_path("references", "manifest.json"))
    )


def list_references() -> dict[str, tuple[str, ...]]:
    """``{"kosis-res": ("2015H1", …), "kosis-eaps": ("2016", …)}`` — every named reference."""
    rows, _ = _checked(SEX_TABLE)
    out: dict[str, list[str]] = {}
    for source, survey in _SOURCES.items():
        periods = sorted({r["period"] for r in rows if r["survey"] == survey})
        out[source] = periods
    return {k: tuple(v) for k, v in out.items()}


def list_reference_periods(name: str) -> tuple[str, ...]:
    """All periods of the survey behind the named reference ``name`` (same survey only)."""
    source = name.split(":", 1)[0]
    if source not in _SOURCES:
        return ()
    return list_references()[source]


def load_reference(name: str | Path) -> ReferenceTable:
    """Load a reference table by name (``kosis-res:2025H2``) or from a user CSV path."""
    text = str(name)
    match = re.fullmatch(r"(kosis-[a-z]+):(\S+)", text)
    if match is None:
        if ":" in text and text.split(":", 1)[0].startswith("kosis") and not Path(text).exists():
            raise InputError(
                f"unknown reference source {text.split(':', 1)[0]!r} in {text!r} — use "
                + " or ".join(f"{s}:<period>" for s in _SOURCES)
                + ", or the path of a CSV with columns bucket, sex, count (or share)."
            )
        return _load_user_reference(Path(text))
    source, period = match.groups()
    if source not in _SOURCES:
        raise InputError(
            f"unknown reference source {source!r} in {text!r} — use "
            + " or ".join(f"{s}:<period>" for s in _SOURCES)
            + ", or the path of a CSV with columns bucket, sex, count (or share)."
        )
    available = list_references()[source]
    if period not in available:
        raise InputError(
            f"reference {text} does not exist — {source} has the periods {', '.join(available)}. "
            f"Pick one of those, e.g. {source}:{available[-1]}."
        )
    survey = _SOURCES[source]
    rows, digest = _checked(SEX_TABLE)
    cells: dict[tuple[str, str], float] = {}
    flags: list[str] = []
    unit = ""
    for r in rows:
        if r["survey"] != survey or r["period"] != period or r["bucket"] not in KSCO_MAJORS:
            continue
        unit = r["unit"]
        if r["count"] == "":
            flags.append(f"bucket {r['bucket']} {r['sex']}: no value (KOSIS flag {r['flag']!r})")
            continue
        cells[(r["bucket"], r["sex"])] = float(r["count"])
    missing = [f"{b}/{s}" for b in KSCO_MAJORS for s in ("female", "male") if (b, s) not in cells]
    if missing:
        raise CrosswalkError(
            f"references/{SEX_TABLE}: {text} has no value for {', '.join(missing)} — "
            "the curated table is incomplete; restore it from the repository.",
        )
    mult = _UNIT_MULTIPLIER.get(unit, 1.0)
    counts = np.array([[cells[(b, "female")], cells[(b, "male")]] for b in KSCO_MAJORS]) * mult
    return ReferenceTable(
        name=text,
        source=source,
        survey=_SURVEY_NAMES[survey],
        period=period,
        unit=unit,
        buckets=KSCO_MAJORS,
        counts=counts,
        n=float(counts.sum()),
        sha256=digest,
        flags=tuple(flags),
    )


_FEMALE = {"female", "f", "여", "여자", "여성", "2", "w", "woman", "women"}
_MALE = {"male", "m", "남", "남자", "남성", "1", "man", "men"}


def _load_user_reference(path: Path) -> ReferenceTable:
    if not path.is_file():
        raise InputError(
            f"reference {str(path)!r} is neither a named reference nor an existing file — use kosis-res:<period>, "
            "kosis-eaps:<period>, or the path of a CSV with columns bucket, sex, count (or share)."
        )
    return _user_reference(file_identity(path), str(path))


@functools.lru_cache(maxsize=8)
def _user_reference(identity: tuple[str, int, int], name: str) -> ReferenceTable:
    """A user reference CSV, cached by :func:`coder.resources.file_identity`."""
    path = Path(identity[0])
    numbered = read_csv_rows(path, ("bucket", "sex"), error=InputError, what="reference CSV", one_of=("count", "share"))
    if not numbered:
        raise InputError(f"{path}: reference CSV has a header but no rows — add one row per bucket and sex.", path=path)
    value_col = "count" if "count" in numbered[0][1] else "share"
    cells: dict[tuple[str, int], float] = {}
    problems = []
    for line, r in numbered:
        sex = (r["sex"] or "").strip().lower()
        col = 0 if sex in _FEMALE else 1 if sex in _MALE else None
        try:
            value = float(r[value_col] or "")
        except ValueError:
            value = float("nan")
        if col is None or not np.isfinite(value) or value < 0:
            problems.append(f"line {line}: sex={r['sex']!r} {value_col}={r[value_col]!r}")
            continue
        bucket = (r["bucket"] or "").strip().upper()
        cells[(bucket, col)] = cells.get((bucket, col), 0.0) + value
    if problems:
        raise InputError(
            f"{path}: unusable reference rows — "
            + "; ".join(problems)
            + ". Sex must be female/male (여자/남자, F/M, 2/1) and the value a non-negative number.",
            path=path,
        )
    buckets = tuple(sorted({b for b, _ in cells}))
    counts = np.array([[cells.get((b, 0), 0.0), cells.get((b, 1), 0.0)] for b in buckets])
    return ReferenceTable(
        name=name,
        source="file",
        survey="user reference",
        period="",
        unit=value_col,
        buckets=buckets,
        counts=counts,
        n=float(counts.sum()) if value_col == "count" else None,
        sha256=file_sha256(path),
    )


def load_age_structure(period: str) -> AgeStructure:
    """RES occupation × age band counts (no sex split) for the nearest RES half-year at or before ``period``.

    ``period`` is a RES half-year (``2024H1``) or a year; the table covers
    2014H1–2024H1, so later periods fall back to 2024H1 (the returned
    ``period`` says which one was used). An empty ``period`` (a user
    reference) takes the latest half-year.
    """
    rows, digest = _checked(AGE_TABLE)
    periods = sorted({r["period"] for r in rows})
    key = period if "H" in period else f"{period}H2" if period else periods[-1]
    usable = [p for p in periods if p <= key] or periods[:1]
    chosen = usable[-1]
    cells = {(r["bucket"], r["age_band"]): float(r["count"]) for r in rows if r["period"] == chosen}
    counts = np.array([[cells.get((b, a), 0.0) for a in AGE_BANDS] for b in KSCO_MAJORS]) * 1000.0
    return AgeStructure(AGE_TABLE, chosen, KSCO_MAJORS, AGE_BANDS, counts, digest)


# --- curation: rebuild the tidy tables from the shared KOSIS downloads -------------------------

_RES_SEX = "res_halfyear_sex_ksco_major_national_2015H1_2025H2.csv"
_EAPS_SEX = "eaps_annual_sex_ksco_major_2016_2025_vintage0531.csv"
_RES_AGE = "res_halfyear_ksco_occupation_by_age_education_2014H1_2024H1.csv"
_AGE_LABELS = {"15~29세": "15-29", "30~39세": "30-39", "40~49세": "40-49", "50~59세": "50-59", "60세 이상": "60+"}


def _res_period(label: str) -> str:
    year, half = label.split(".")
    return f"{year}H{half[0]}"


def build_reference_tables(source_dir: str | Path, out_dir: str | Path) -> dict[str, Path]:
    """Rebuild the tidy tables in ``out_dir`` from the KOSIS CSVs in ``source_dir``.

    Curation helper (not used at run time): keeps only the rows the axis metrics
    need, renames RES periods ``2025.2/2`` → ``2025H2``, and writes
    ``survey,period,source_period,sex,bucket,count,unit,flag`` (and
    ``…,age_band,…`` for the age table). The output is deterministic.
    """
    src, out = Path(source_dir), Path(out_dir)
    written = {}
    sex_rows = []
    for survey, fname in (("res", _RES_SEX), ("eaps", _EAPS_SEX)):
        for _, r in read_csv_rows(src / fname, error=CrosswalkError, what="KOSIS download"):
            if r["row_type"] not in ("major", "total"):
                continue
            bucket = r["ksco_code"] if r["row_type"] == "major" else "total"
            period = _res_period(r["period"]) if survey == "res" else r["period"]
            sex_rows.append((survey, period, r["period"], r["sex"], bucket, r["value"], r["unit"], r["flag"]))
    order = {"total": 0, "female": 1, "male": 2}
    sex_rows.sort(key=lambda t: (t[0] != "res", t[1], order[t[3]], t[4] == "total", t[4]))
    written[SEX_TABLE] = _write(
        out / SEX_TABLE, ("survey", "period", "source_period", "sex", "bucket", "count", "unit", "flag"), sex_rows
    )
    age_rows = []
    for _, r in read_csv_rows(src / _RES_AGE, error=CrosswalkError, what="KOSIS download"):
        if r["breakdown"] != "age" or r["level"] not in ("major", "total"):
            continue
        bucket = r["ksco_code"] if r["level"] == "major" else "total"
        age_rows.append(
            (
                "res",
                _res_period(r["period"]),
                r["period"],
                bucket,
                _AGE_LABELS[r["band"]],
                r["value"],
                r["unit"],
                r["flag"],
            )
        )
    age_rows.sort(key=lambda t: (t[1], t[3] == "total", t[3], AGE_BANDS.index(t[4])))
    written[AGE_TABLE] = _write(
        out / AGE_TABLE, ("survey", "period", "source_period", "bucket", "age_band", "count", "unit", "flag"), age_rows
    )
    return written


def _write(path: Path, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path
