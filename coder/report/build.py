"""Assemble the report (numbers first, then HTML) and write it."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..agreement import measure_agreement
from ..axis.references import load_reference
from ..crosswalk.decide import DecisionPolicy
from ..crosswalk.model import Crosswalk
from ..crosswalk.stage import Output, StageResult, run_stage
from ..errors import InputError
from ..io import _atomic, json_ready, write_json, write_table
from ..provenance import write_meta
from ..resources import file_sha256
from ..review_audit import AUDIT_DESIGN
from ..sensitivity import apply_rule_set, read_label_sex, run_sensitivity
from . import plots
from .findings import BUCKET_NAMES, COLUMN_NAMES, findings, verdict_changes
from .plots import nanum_gothic

__all__ = ["SECTIONS", "Report", "build_report", "report_file", "write_report"]

SECTIONS = (
    ("findings", "What this report found"),
    ("notes", "Caveats"),
    ("coverage", "Coding coverage by source, level and bucket"),
    ("audit", "Residual coding error (blind audit sample)"),
    ("agreement", "Agreement between raters"),
    ("axis", "Female share per bucket: data vs reference"),
    ("noise", "Label-noise stress test"),
    ("leave_one_out", "Leave one rule out, leave one rater out"),
    ("threshold", "Threshold grid"),
    ("mappings", "Mapping comparison"),
    ("provenance", "Provenance"),
)


@dataclass(frozen=True, eq=False)
class Report:
    """The report's numbers (``data``, JSON-ready), its HTML text, and its tables in full (name → frame, for CSVs)."""

    data: dict
    html: str
    images: dict[str, list[str]] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def _coverage(crosswalk: pd.DataFrame) -> dict[str, dict[str, float]]:

    w = crosswalk["weight"] if "weight" in crosswalk.columns else crosswalk["n_rows"]

    def by(col, fmt=str):
        sums = w.groupby(crosswalk[col].astype(str)).sum().sort_index()
        return {fmt(k): float(v) for k, v in sums.items()}

    return {
        "persons by code source": by("code_source", lambda k: k or "(none)"),
        "persons by KSCO level": by(
            "ksco_level", lambda k: f"level {k}" if k != "0" else "no code (incl. not employed)"
        ),
        "persons by bucket": by("ksco_major", lambda k: f"{k or '?'} {BUCKET_NAMES.get(k or 'unknown', '')}"),
    }


_RATIO_WORDS = ("kappa", "alpha", "agreement", "share", "rho", "ratio", "delta", "p_", "unchanged", "_lo", "_hi", "ci")
_COUNT_WORDS = ("persons", "labels", "respondents", "rows", "replicates", "count", "draws", "wrong", "hits")
_COLLAPSE_COLUMNS = 10  # wider tables, or longer than _COLLAPSE_ROWS, open on a click (<details>)
_COLLAPSE_ROWS = 12


def _is_count_column(name: str, values: pd.Series) -> bool:
    """Persons, labels and counts: numeric, named like a count (or whole numbers), not named like a ratio."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    lowered = name.lower()
    if any(w in lowered for w in _RATIO_WORDS) or lowered in ("p", "q", "tau", "level", "threshold"):
        return False
    if any(w in lowered for w in _COUNT_WORDS) or lowered.startswith("n_"):
        return True  # weighted persons (2,822.5) read as whole persons: 2,823
    finite = values.dropna()
    return bool(len(finite)) and bool((finite == finite.round()).all())


def column_name(name: str) -> str:
    """A column's name for people: ``persons_code_changed`` → ``persons whose code changed``."""
    return COLUMN_NAMES.get(name, name.replace("_", " "))


def _table(
    frame: pd.DataFrame,
    *,
    max_rows: int | None = None,
    float_format: str = "{:.4f}",
    name: str | None = None,
    caption: str | None = None,
    collapse: bool | None = None,
    stem: str = "report",
) -> str:
    """A table for people: counts as ``2,823``, columns named in words, wide or long tables collapsed.

    ``name``: the table's key in the JSON; its CSV beside the report is ``<stem>_<name>.csv``
    (:func:`table_path`), said in the collapsed summary.
    ``collapse``: None collapses tables wider than 10 columns or longer than 12 rows; False never.
    """
    shown = frame if max_rows is None else frame.head(max_rows)
    counts = [c for c in shown.columns if _is_count_column(str(c), shown[c])]
    if counts:  # persons and label counts read as 164,964, not 164964.0000
        shown = shown.astype({c: object for c in counts})
        for c in counts:
            shown[c] = [x if pd.isna(x) else f"{x:,.0f}" for x in shown[c]]
    shown = shown.rename(columns={c: column_name(str(c)) for c in shown.columns})
    out = shown.to_html(
        index=False,
        classes="sortable",
        border=0,
        na_rep="—",
        float_format=lambda x: float_format.format(x),
        escape=True,
    )
    cut = max_rows is not None and len(frame) > max_rows
    more = f"<p class='small'>first {max_rows:,} of {len(frame):,} rows; all rows are in the JSON.</p>" if cut else ""
    body = f"<div class='scroll'>{out}</div>{more}"
    if collapse is False or (
        collapse is None and len(frame.columns) <= _COLLAPSE_COLUMNS and len(frame) <= _COLLAPSE_ROWS
    ):
        return (f"<p class='caption'>{html.escape(caption)}</p>" if caption else "") + body
    where = (
        f" — every row and column is in the JSON and in the CSV <code>{html.escape(stem)}_{html.escape(name)}.csv</code>"
        if name
        else ""
    )
    label = html.escape(caption or "table")
    return (
        f"<details><summary>{label}: {len(frame):,} rows × {len(frame.columns)} columns (click to open){where}"
        f"</summary>{body}</details>"
    )


def _whole(x: float | None) -> float | None:
    """A weighted count shown as a whole number (the exact value is in the JSON's ``axis`` object)."""
    return None if x is None or not math.isfinite(x) else float(round(x))


def _img(b64: str, alt: str) -> str:
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{b64}'>"


def _axis_series(axis: Mapping[str, object]) -> dict[str, dict]:
    out = {}
    for name, res in axis.items():
        buckets = res.buckets
        out[name] = {
            "buckets": [b.bucket for b in buckets],
            "titles": [b.title for b in buckets],
            "ref": [b.ref_female_share for b in buckets],
            "share": [b.female_share if b.female_share is not None else math.nan for b in buckets],
            "lo": [b.r_ci[0] * b.ref_female_share if b.r_ci else math.nan for b in buckets],
            "hi": [b.r_ci[1] * b.ref_female_share if b.r_ci else math.nan for b in buckets],
        }
    return out


def build_report(
    crosswalk: Crosswalk | pd.DataFrame,
    *,
    agreement=None,
    axis: Mapping[str, object] | None = None,
    sensitivity=None,
    provenance: Mapping[str, object] | None = None,
    notes: Sequence[str] = (),
    title: str = "Crosswalk sensitivity report",
    stem: str = "report",
) -> Report:
    """Build the report from a decided crosswalk and the stage results (each optional but the crosswalk).

    ``axis``: ``{mapping name: AxisResult}``. Every number shown is also in ``Report.data``; the
    first section states the findings in sentences (:func:`coder.report.findings.findings`), the
    residual-error estimates come from the crosswalk's ``audit`` records. ``stem``: the HTML file's
    stem, which names the tables' CSVs beside it (``report.html`` → ``report_<name>.csv``).
    """

    audit = tuple(crosswalk.audit) if isinstance(crosswalk, Crosswalk) else ()
    if isinstance(crosswalk, Crosswalk):
        crosswalk = crosswalk.frame
    axis = dict(axis or {})
    images: dict[str, list[str]] = {k: [] for k, _ in SECTIONS}
    body: dict[str, list[str]] = {k: [] for k, _ in SECTIONS}
    tables: dict[str, pd.DataFrame] = {}

    def table(name: str, frame: pd.DataFrame, caption: str, **options) -> str:
        tables[name] = frame
        return _table(frame, name=name, caption=caption, stem=stem, **options)

    all_notes = list(notes)
    if sensitivity is not None:
        all_notes += list(sensitivity.notes)
    if agreement is not None:
        all_notes += list(agreement.notes)
    data: dict = {"title": title, "notes": all_notes}
    sentences = findings(crosswalk, axis=axis, sensitivity=sensitivity, audit=audit)
    data["findings"] = sentences
    data["verdict_changes"] = verdict_changes(sensitivity)
    body["findings"].append("".join(f"<p class='finding'>{html.escape(t)}</p>" for t in sentences))

    body["notes"].append(
        "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in all_notes) + "</ul>"
        if all_notes
        else "<p>No caveats.</p>"
    )

    cov = _coverage(crosswalk)
    data["coverage"] = cov
    images["coverage"].append(plots.coverage_bars(cov))
    body["coverage"].append(
        f"<p>{len(crosswalk):,} labels, {sum(cov['persons by code source'].values()):,.0f} persons.</p>"
    )
    body["coverage"].append(_img(images["coverage"][0], "coverage"))
    cov_rows = [{"group": g, "value": k, "persons": v} for g, d in cov.items() for k, v in d.items()]
    body["coverage"].append(table("coverage", pd.DataFrame(cov_rows), "Persons by source, level and bucket"))

    data["audit"] = [dict(a) for a in audit]
    body["audit"] += _audit_section(audit, table)

    if agreement is not None:
        data["agreement"] = agreement.to_dict()
        levels = agreement.settings["levels"]
        for weighting in ("labels", "persons"):
            mats = {lv: agreement.matrix(lv, stat="kappa", weighting=weighting) for lv in levels}
            images["agreement"].append(
                plots.agreement_heatmaps(mats, f"Cohen's κ by KSCO level, weighted by {weighting}")
            )
        body["agreement"] += [
            "<p>Cohen's κ per rater pair and level (1 = perfect, 0 = chance). Codes are cut to the level; a "
            "rater that answers only majors appears at level 1 only. Weighted by labels, then by persons.</p>",
            *[_img(b, "agreement heatmap") for b in images["agreement"]],
            table(
                "agreement_levels", agreement.levels, "Fleiss' κ, unanimity and majority, Krippendorff's α per level"
            ),
            table(
                "agreement_pairs",
                agreement.pairs,
                "Rater pairs: percent agreement and κ with bootstrap 95% intervals",
                max_rows=200,
            ),
        ]
    else:
        body["agreement"].append("<p>Not computed.</p>")

    if axis:
        data["axis"] = {k: v.to_dict() for k, v in axis.items()}
        images["axis"].append(plots.female_share_plot(_axis_series(axis)))
        summary = pd.DataFrame(
            [
                {
                    "mapping": k,
                    "respondents": v.n_respondents or v.n_persons,
                    "persons in frame": _whole(v.persons_weighted),
                    "effective n": _whole(v.n_effective),
                    "rho": v.rho,
                    "rho_sampling_lo": v.rho_ci[0] if v.rho_ci else None,
                    "rho_sampling_hi": v.rho_ci[1] if v.rho_ci else None,
                    "rho_coding_lo": v.rho_ci_coding[0] if v.rho_ci_coding else None,
                    "rho_coding_hi": v.rho_ci_coding[1] if v.rho_ci_coding else None,
                    "rho_total_lo": v.rho_ci_total[0] if v.rho_ci_total else None,
                    "rho_total_hi": v.rho_ci_total[1] if v.rho_ci_total else None,
                    "verdict": v.verdict,
                    "parity flags": v.n_parity_flagged,
                    "out of band (r)": v.n_out_of_band,
                    "reference": v.reference["name"],
                }
                for k, v in axis.items()
            ]
        )
        per_bucket = pd.DataFrame(
            [
                {
                    "mapping": k,
                    "bucket": b.bucket,
                    "title": b.title,
                    "persons": b.persons,
                    "female share": b.female_share,
                    "reference": b.ref_female_share,
                    "gap pp": b.gap_pp,
                    "r": b.r,
                    "r lo": b.r_ci[0] if b.r_ci else None,
                    "r hi": b.r_ci[1] if b.r_ci else None,
                    "parity flag": b.parity_flag,
                }
                for k, v in axis.items()
                for b in v.buckets
            ]
        )
        body["axis"] += [
            "<p>Bars: female share per KSCO major bucket; whiskers: 95% bootstrap interval (r interval × reference "
            "share). ρ = V_data / V_ref (Bergsma bias-corrected Cramér's V); ρ &lt; τ fails the screen.</p>",
            _img(images["axis"][0], "female share per bucket"),
            table("axis_summary", summary, "ρ and verdict per mapping", collapse=False),
            table("axis_buckets", per_bucket, "Per bucket: female share, reference, ratio r and flags"),
        ]
    else:
        body["axis"].append("<p>Not computed.</p>")

    if sensitivity is not None:
        s = sensitivity
        data["sensitivity"] = s.to_dict()
        tag = " <b class='imputed'>[IMPUTED label × sex]</b>" if s.imputed else ""
        images["noise"].append(
            plots.noise_plot(s.noise_rho, {m: float(g["rho_base"].iloc[0]) for m, g in s.noise.groupby("mapping")})
        )
        body["noise"] += [
            "<p>A share p of the persons in each bucket × sex cell moved uniformly to another bucket, "
            f"{s.settings['replicates']} seeded replicates per p. Mappings ending in <code>_imputed</code> use the "
            "imputed label × sex table.</p>",
            _img(images["noise"][0], "noise"),
            table("noise", s.noise, "ρ under label noise, per mapping and noise share"),
        ]
        if len(s.rules) and float(s.rules["delta_rho"].abs().max()) > 0:  # no plot of 162 empty bars
            images["leave_one_out"].append(plots.rule_plot(s.rules))
        summ = s.summary()
        claim = (
            f"{summ.get('rules', 0)} rules left out one at a time; the largest |Δρ| is "
            f"{summ.get('rules_max_abs_delta_rho', 0):.5f} ({summ.get('rules_max_abs_delta_rho_id', '—')}); "
            f"{summ.get('rules_changing_verdict', 0)} change the screen verdict and "
            f"{summ.get('rules_changing_parity_flags', 0)} change a parity flag."
        )
        body["leave_one_out"] += [
            f"<p>{html.escape(claim)}{tag}</p>",
            *[_img(b, "leave one rule out") for b in images["leave_one_out"]],
            table("rules", s.rules, "Every rule left out (sorted by |Δρ|)", max_rows=400),
            table("raters", s.raters, "Every rater left out"),
        ]
        if len(s.thresholds):
            images["threshold"].append(plots.threshold_plot(s.thresholds))
        body["threshold"] += [
            f"<p>Model × fuzzy thresholds through <code>decide</code>.{tag}</p>",
            *[_img(b, "threshold grid") for b in images["threshold"]],
            table("thresholds", s.thresholds, "ρ and verdict per model × fuzzy threshold"),
        ]
        body["mappings"] += [
            "<p>The axis metrics (point values) under each rater's own mapping, the decided mapping and any given "
            f"bucket tables; flags that differ from the decided mapping; sign agreement of the gaps.{tag}</p>",
            table("mappings", s.mappings, "Axis metrics under each mapping"),
        ]
    else:
        for key in ("noise", "leave_one_out", "threshold", "mappings"):
            body[key].append("<p>Not computed (no label × sex counts).</p>")

    prov = json_ready(dict(provenance or {}))
    data["provenance"] = prov
    body["provenance"].append(
        "<details><summary>The provenance record (toolkit, command, parameters, files with sha256)</summary>"
        f"<pre>{html.escape(json.dumps(prov, ensure_ascii=False, indent=2, sort_keys=True))}</pre></details>"
    )
    data = json_ready(data)
    text = _html(title, body)
    return Report(data=data, html=text, images=images, tables=tables)


def _audit_section(audit: Sequence[Mapping[str, object]], table: Callable[..., str]) -> list[str]:
    """The residual-error estimates of the crosswalk's audit samples: per level, and the labels judged wrong."""
    if not audit:
        return [
            "<p>No blind audit sample has been reviewed for this crosswalk. <code>coder review export --audit 30</code> "
            "adds 30 draws (by persons) from the labels the machine coded without review, shown without the machine's "
            "code; after <code>coder review import</code> the share of persons whose code is wrong is estimated here.</p>"
        ]
    out = [
        f"<p>{html.escape(AUDIT_DESIGN)}. A code is wrong at level L when its first L characters differ from the "
        "reviewer's (a code stopping above L is wrong at L, counted as shallow); a draw whose reviewer code stops "
        "above L is not counted at L.</p>"
    ]
    rows, wrong = [], []
    for rec in audit:
        for lv in rec.get("levels", []):  # type: ignore[union-attr]
            ci = lv.get("ci") or [None, None]
            pci = lv.get("persons_wrong_ci") or [None, None]
            rows.append(
                {
                    "batch": rec.get("batch"),
                    "level": lv["level"],
                    "draws": lv["draws"],
                    "wrong": lv["wrong"],
                    "of which shallow": lv.get("shallow", 0),
                    "share wrong": lv.get("share"),
                    "share 2.5%": ci[0],
                    "share 97.5%": ci[1],
                    "persons wrong": lv.get("persons_wrong"),
                    "persons wrong 2.5%": pci[0],
                    "persons wrong 97.5%": pci[1],
                }
            )
        wrong += [{"batch": rec.get("batch"), **w} for w in rec.get("wrong_labels", [])]  # type: ignore[union-attr]
        out += [f"<p class='small'>{html.escape(n)}</p>" for n in rec.get("notes", [])]  # type: ignore[union-attr]
    out.append(
        table("audit_levels", pd.DataFrame(rows), "Share of persons whose code is wrong, per level", collapse=False)
    )
    if wrong:
        out.append(table("audit_wrong_labels", pd.DataFrame(wrong), "Labels the reviewer coded otherwise"))
    else:
        out.append("<p>The reviewer agreed with the machine's code on every audited label.</p>")
    return out


_CSS = """
body{font-family:'NanumGothic','Noto Sans CJK KR','Malgun Gothic',sans-serif;margin:0;background:#fafafa;color:#222}
main{max-width:1200px;margin:0 auto;padding:16px 24px;background:#fff}
h1{font-size:1.6em}h2{border-bottom:2px solid #4c72b0;padding-bottom:4px;margin-top:2em}
nav a{margin-right:12px}img{max-width:100%;height:auto;display:block;margin:8px 0}
.scroll{overflow-x:auto;max-height:520px;overflow-y:auto;margin:8px 0}
table{border-collapse:collapse;font-size:12px}th,td{padding:3px 6px;border-bottom:1px solid #ddd;text-align:right}
th{background:#eef;position:sticky;top:0;cursor:pointer}td:first-child,th:first-child{text-align:left}
.imputed{color:#b00}.small{font-size:11px;color:#666}pre{font-size:11px;background:#f4f4f4;padding:8px;overflow-x:auto}
pre,code{font-family:ui-monospace,'DejaVu Sans Mono',monospace,'NanumGothic'}
#findings p.finding{font-size:1.05em;line-height:1.5;margin:.5em 0}
#findings{background:#f3f6fb;padding:4px 16px 12px;border-left:4px solid #4c72b0}
details{margin:8px 0}summary{cursor:pointer;color:#2a4f8f}.caption{font-weight:bold;margin:12px 0 4px}
"""
_JS = """
document.querySelectorAll('table.sortable th').forEach(function(th){th.addEventListener('click',function(){
var t=th.closest('table'),b=t.tBodies[0],i=Array.prototype.indexOf.call(th.parentNode.children,th),
d=th.dataset.dir==='asc'?-1:1;th.dataset.dir=d===1?'asc':'desc';
var r=Array.prototype.slice.call(b.rows);r.sort(function(x,y){var a=x.cells[i].innerText,c=y.cells[i].innerText,
na=parseFloat(a.replace(/,/g,'')),nc=parseFloat(c.replace(/,/g,''));
if(!isNaN(na)&&!isNaN(nc))return d*(na-nc);return d*a.localeCompare(c);});r.forEach(function(x){b.appendChild(x);});});});
"""


def _font_face(text: str) -> str:
    """NanumGothic (OFL, shipped by koreanize-matplotlib) subset to the characters of the page, as a data URL.

    The page then renders Hangul with no network and no installed Korean font. Empty when the
    font or fontTools is unavailable (the CSS falls back to system fonts).
    """
    import base64
    import io
    import string

    font = nanum_gothic()
    try:
        from fontTools import subset
    except ImportError:
        return ""
    if font is None:
        return ""
    import logging

    from fontTools.ttLib import TTFont

    logging.getLogger("fontTools").setLevel(logging.ERROR)  # "TSI3 NOT subset; … dropped" is expected noise
    options = subset.Options()
    buf = io.BytesIO()
    with TTFont(str(font)) as loaded:  # lazy loading: 0.1 s instead of 1.4 s for decompiling every glyph
        sub = subset.Subsetter(options)
        sub.populate(text="".join(sorted(set(text) | set(string.printable.strip()) | set("—–…×ρτΔκα≥≤→·%"))))
        sub.subset(loaded)
        subset.save_font(loaded, buf, options)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f"@font-face{{font-family:'NanumGothic';src:url(data:font/ttf;base64,{data}) format('truetype');}}"


def _html(title: str, body: dict[str, list[str]]) -> str:
    text = title + "".join("".join(v) for v in body.values())
    face = _font_face("".join(set(ch for ch in text if ord(ch) > 127)))
    nav = " ".join(f"<a href='#{k}'>{html.escape(t)}</a>" for k, t in SECTIONS)
    parts = [
        "<!DOCTYPE html><html lang='ko'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{html.escape(title)}</title><style>{face}{_CSS}</style></head><body><main>",
        f"<h1>{html.escape(title)}</h1><nav>{nav}</nav>",
    ]
    for key, heading in SECTIONS:
        parts.append(f"<section id='{key}'><h2>{html.escape(heading)}</h2>{''.join(body[key])}</section>")
    parts.append(f"</main><script>{_JS}</script></body></html>")
    return "\n".join(parts)


def table_path(html_path: str | Path, name: str) -> Path:
    """Where a report table's CSV goes: ``report.html`` → ``report_<name>.csv`` beside it."""
    html_path = Path(html_path)
    return html_path.with_name(f"{html_path.stem}_{name}.csv")


def write_report(report: Report, html_path: str | Path, *, meta: Mapping[str, object] | None = None) -> Path:
    """Write ``report.html``, ``report.json`` and every table as ``report_<name>.csv`` beside it
    (atomically, with sidecars); return the JSON path."""

    html_path = Path(html_path)
    if html_path.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"{html_path}: the report is HTML — give a path ending in .html (the JSON goes beside it).")
    json_path = html_path.with_suffix(".json")
    html_path.parent.mkdir(parents=True, exist_ok=True)
    _atomic(html_path, lambda tmp: tmp.write_text(report.html, encoding="utf-8"))
    write_json(report.data, json_path)
    csvs = []
    for name, frame in report.tables.items():
        csvs.append(table_path(html_path, name))
        write_table(frame, csvs[-1], encoding="utf-8-sig")
    if meta is not None:
        for p in (html_path, json_path, *csvs):
            write_meta(p, {**meta, "outputs": {**meta.get("outputs", {}), "this": str(p), "sha256": file_sha256(p)}})
    return json_path


def report_file(
    crosswalk_path: str | Path,
    rows_path: str | Path | None,
    html_path: str | Path,
    *,
    sex_col: str | None = None,
    text_col: str | None = None,
    weight_col: str | None = None,
    count_col: str | None = None,
    sex_map: Mapping[str, str] | None = None,
    reference: str = "kosis-res:2025H2",
    rules: str | Path | None = None,
    n_bootstrap: int = 500,
    replicates: int = 100,
    seed: int = 20260101,
    q: float = 0.8,
    tau: float = 0.7,
    policy: DecisionPolicy | None = None,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
    command: str = "coder report",
    **sweep_options,
) -> Report:
    """Read a crosswalk (and rows with sex), run agreement, axis and sweeps, write the HTML + JSON report.

    Without rows the report has coverage and agreement only. ``rules``: a consistency rule set
    (bundled name or TOML path) applied first (:func:`coder.sensitivity.apply_rule_set`).
    Everything is decided with ``policy``, default the crosswalk's own (from its sidecar).
    ``sweep_options`` go to :func:`coder.sensitivity.run_sensitivity` (noise levels, threshold
    grids). ``log`` gets one line per step. Nothing is written unless every step succeeded.
    """
    import time

    say = log or (lambda text: None)
    clock = [time.perf_counter()]

    def step(text: str) -> None:
        now = time.perf_counter()
        say(f"{text} ({now - clock[0]:.1f} s)")
        clock[0] = now

    html_path = Path(html_path)
    if html_path.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"{html_path}: the report is HTML — give a path ending in .html (the JSON goes beside it).")
    json_path = html_path.with_suffix(".json")
    if rows_path is not None and not sex_col:
        raise InputError("rows given without --sex-col — name the sex column, e.g. --sex-col sex.")
    ref = load_reference(reference)

    def stage(crosswalk: Crosswalk) -> StageResult:
        inputs: dict[str, dict] = {}
        label_sex = None
        if rows_path is not None:
            label_sex, info = read_label_sex(
                rows_path,
                sex_col=sex_col,
                text_col=text_col,
                weight_col=weight_col,
                count_col=count_col,
                sex_map=sex_map,
            )
            inputs["rows"] = info
        step(f"read {len(crosswalk):,} labels" + (f" and {inputs['rows']['rows']:,} rows" if label_sex else ""))
        if rules is not None:
            crosswalk, loaded = apply_rule_set(crosswalk, rules, policy=policy)
            inputs["consistency_rules"] = {"path": str(loaded.path), "sha256": loaded.sha256}
            step(f"applied the consistency rules {Path(loaded.path).name}")
        decided = crosswalk.decided(policy)
        agreement = measure_agreement(decided, n_bootstrap=n_bootstrap, seed=seed, progress=progress)
        step(f"agreement between {len(agreement.raters)} raters")
        axis, sens = {}, None
        if label_sex is not None:
            sens = run_sensitivity(
                decided,
                label_sex,
                ref,
                replicates=replicates,
                seed=seed,
                q=q,
                tau=tau,
                progress=progress,
                **sweep_options,
            )
            # the axis is measured once, over the audit frame, inside run_sensitivity (measure_crosswalk_axis)
            axis["decided"] = sens.axis
            step("axis (audit frame, ρ with sampling, coding and total intervals) and sweeps")
        notes = list(decided.notes)
        if label_sex is None:
            notes.append("no rows with sex were given: the axis metrics and the sweeps are not computed")
        built: dict[str, Report] = {}

        def report(meta: dict) -> Report:
            if "report" not in built:
                built["report"] = build_report(
                    decided,
                    agreement=agreement,
                    axis=axis,
                    sensitivity=sens,
                    provenance=meta,
                    notes=notes,
                    stem=Path(html_path).stem,
                )
            return built["report"]

        names = ["coverage"]
        if decided.audit:
            names.append("audit_levels")
            if any(a.get("wrong_labels") for a in decided.audit):
                names.append("audit_wrong_labels")
        names += ["agreement_levels", "agreement_pairs"]
        if axis:
            names += ["axis_summary", "axis_buckets"]
        if sens is not None:
            names += ["noise", "rules", "raters", "thresholds", "mappings"]
        csvs = [
            Output(
                table_path(html_path, n), lambda meta, n=n: report(meta).tables[n], kind="table", encoding="utf-8-sig"
            )
            for n in names
        ]
        return StageResult(
            report,
            [
                Output(html_path, lambda meta: report(meta).html, kind="text"),
                Output(json_path, lambda meta: report(meta).data, kind="json"),
                *csvs,
            ],
            crosswalk=decided,
            params={
                "reference": reference,
                "consistency_rules": str(rules) if rules is not None else None,
                "n_bootstrap": n_bootstrap,
                "replicates": replicates,
                "seed": seed,
                "q": q,
                "tau": tau,
                **{k: list(v) if isinstance(v, tuple) else v for k, v in sweep_options.items()},
            },
            files={f"references/{ref.name}": ref.sha256},
            inputs=inputs,
        )

    result = run_stage(
        stage,
        crosswalk_path,
        {"the output (-o)": html_path, "the report JSON": json_path},
        command=command,
        inputs={"the rows": rows_path},
    )
    step(f"wrote {html_path} and {json_path}")
    return result  # type: ignore[return-value]
