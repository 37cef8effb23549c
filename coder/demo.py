"""``coder demo``: code the bundled Nemotron-Personas-Korea label table.

The table (``coder/demo_data/npk_occupation.csv``; NVIDIA, CC BY 4.0) lists all
2,120 NPK occupation labels with their person counts; the counts are the
weights, so every figure is in persons.  Writes ``coded.csv`` (the label table
with the coded columns), ``crosswalk.csv`` (every rater side by side) and their
``.meta.json`` sidecars into the output folder, and returns the result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from .agreement import agree_file
from .axis.metrics import measure_axis, tabulate_axis
from .axis.references import load_reference
from .consistency import check_file
from .crosswalk.model import code_list_record
from .errors import CrosswalkError, InputError
from .io import read_table
from .normalize import label_key
from .pipeline import CodingResult, code_file
from .provenance import build_meta
from .report import build_report, write_report
from .resources import file_sha256
from .sensitivity import impute_label_sex, label_sex_table, run_sensitivity

__all__ = ["DEMO_DATA", "FullDemo", "demo_report", "full_demo_summary", "run_demo", "run_full_demo"]

DEMO_DATA = Path(__file__).resolve().parent / "demo_data" / "npk_occupation.csv"
NPK_BUCKETS = DEMO_DATA.with_name("npk_sex_by_ksco_major_audit2026.csv")
"""Table 3 of the 2026 NPK audit paper (arXiv 2606.12433v1): persons and female share per KSCO major
under the rule mapping and the reviewed mapping; copied byte for byte from
shared/data/npk/sex_by_ksco_major_audit2026.csv (see its README there)."""
NPK_SEX_TOP20 = DEMO_DATA.with_name("npk_contingency_sex_by_occupation.csv")
"""NPK sex × occupation for the 20 most frequent labels plus 기타 (all other labels); copied byte for
byte from shared/data/npk/contingency_sex__x__occupation.csv (eopchang/nemotron-personas-korea-audit@99b064bc)."""
DEMO_SHA256 = {
    NPK_BUCKETS.name: "3274afbef29e892ca8fdd9985d670c70b05cba8747a7d6dc7b4ea93315d6ce9f",
    NPK_SEX_TOP20.name: "81e7440728ba73b658bbe6f0bd21ef80eb823ba6820284fcc0f6f391d63bc835",
}
REFERENCE = "kosis-res:2025H2"
IMPUTATION_NOTE = (
    "NPK publishes sex by label only for its 20 most frequent labels (contingency_sex__x__occupation.csv); "
    "those 20 keep their published counts, and every other label gets the female share of the published "
    "'기타' (all other labels) column, 188,107 of 448,487 = 41.9 %, i.e. sex independent of occupation outside "
    "the top 20. Figures on this table are NOT NPK's: they show how the sweeps work, and the flat share "
    "attenuates the association by construction. The exact NPK figures are the published bucket tables."
)


def run_demo(out_dir: str | Path = "coder-demo") -> CodingResult:
    """Code the bundled NPK labels into ``out_dir`` (created if needed)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return code_file(
        DEMO_DATA,
        out / "coded.csv",
        text_col="occupation",
        weight_col="count",
        crosswalk_path=out / "crosswalk.csv",
        command="coder demo",
    )


def demo_report(result: CodingResult, *, top: int = 10) -> str:
    """A short plain-text summary: persons by source and bucket, largest uncoded labels."""
    s = result.summary()
    total = float(s["persons"]) or 1.0
    lines = [f"{s['labels']:,} labels, {s['persons']:,} persons coded in {result.seconds:.2f} s"]
    for title, key in (("by source", "by_source"), ("by major bucket", "by_major"), ("by status", "by_status")):
        lines.append(f"persons {title}:")
        for k, v in sorted(s[key].items(), key=lambda kv: -kv[1]):
            lines.append(f"  {k:<14} {v:>10,.0f}  {100 * v / total:5.1f}%")
    xw = result.crosswalk
    employed = xw["status"].isin(["employed", "job_seeker", "military"]) & (xw["ksco_code"] != "")
    level5 = xw.loc[employed & (xw["ksco_level"] >= 5), "weight"].sum()
    not_muj = xw.loc[xw["status"] != "not_employed", "weight"].sum()
    lines.append(
        f"persons not 'not employed' with a level-5 code: {level5:,.0f} of {not_muj:,.0f} ({100 * level5 / max(not_muj, 1):.2f}%)"
    )
    short = xw[(xw["status"] != "not_employed") & (xw["ksco_level"] < 5)]
    short = short.sort_values(["weight", "label_key"], ascending=[False, True]).head(top)
    lines.append(f"labels without a level-5 code, most persons first (top {top}):")
    if short.empty:
        lines.append("  (none)")
    for row in short.itertuples():
        code = row.ksco_code or "-"
        lines.append(f"  {row.weight:>8,.0f}  {row.label}  → {code} ({row.code_source or 'uncoded'})")
    return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class FullDemo:
    """What :func:`run_full_demo` produced: file paths, stage results, timings and notes."""

    out_dir: Path
    report_html: Path
    report_json: Path
    coding: CodingResult
    agreement: object
    axis: dict
    sensitivity: object
    seconds: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def _checked_demo_file(path: Path) -> Path:

    digest = file_sha256(path)
    if digest != DEMO_SHA256[path.name]:
        raise CrosswalkError(
            f"{path}: sha256 {digest[:12]}… differs from the recorded {DEMO_SHA256[path.name][:12]}… — "
            "restore the file from the repository.",
            path=path,
        )
    return path


def _npk_imputed_label_sex(crosswalk):
    import pandas as pd

    top = pd.read_csv(_checked_demo_file(NPK_SEX_TOP20), index_col=0)
    known = pd.DataFrame(
        {
            "label_key": [label_key(c) for c in top.columns if c != "기타"],
            "women": [top.loc["여자", c] for c in top.columns if c != "기타"],
            "men": [top.loc["남자", c] for c in top.columns if c != "기타"],
        }
    )
    rest = float(top.loc["여자", "기타"]) / float(top["기타"].sum())
    labels = pd.DataFrame({"label_key": crosswalk["label_key"], "persons": crosswalk["weight"].astype(float)})
    return impute_label_sex(labels, known, rest_female_share=rest, note=IMPUTATION_NOTE)


def _published_npk():
    import numpy as np

    frame = read_table(_checked_demo_file(NPK_BUCKETS))
    tables = {}
    for mapping in ("rule_mapping", "reviewed_mapping"):
        n = frame[f"n_{mapping}"].astype(float).to_numpy()
        women = np.round(n * frame[f"female_share_{mapping}"].astype(float).to_numpy())
        tables[f"npk_published_{mapping}"] = np.stack([women, n - women], axis=1)
    return frame, tables


def run_full_demo(
    out_dir: str | Path = "coder-demo",
    *,
    input: str | Path | None = None,
    text_col: str | None = None,
    sex_col: str | None = None,
    weight_col: str | None = None,
    replicates: int = 100,
    n_bootstrap: int = 500,
    seed: int = 20260101,
    progress: bool = False,
) -> FullDemo:
    """The whole pipeline, offline: code, check, agreement, axis metrics, sweeps, report.

    Without ``input`` it runs on the bundled NPK labels: axis metrics on the published NPK
    bucket table (both mappings) against KOSIS RES 2025 H2, and the label sweeps on an
    **imputed** label × sex table (see :data:`IMPUTATION_NOTE`). With ``input`` (a person-level
    file with ``text_col`` and ``sex_col``) everything is computed exactly on the user's rows.
    Writes ``coded.csv``, ``crosswalk.csv``, ``crosswalk.checked.csv`` (consistency rules applied),
    ``agreement/``, ``report.html`` and ``report.json``, each with a ``.meta.json`` sidecar.
    """

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    notes: list[str] = []
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = round(now - clock, 3)
        clock = now

    if input is not None:
        if not text_col or not sex_col:
            raise InputError("demo --input needs --text-col and --sex-col (the occupation text and the sex columns).")
        coding = code_file(
            input,
            out / "coded.csv",
            text_col=text_col,
            weight_col=weight_col,
            crosswalk_path=out / "crosswalk.csv",
            command="coder demo --input",
        )
    else:
        coding = run_demo(out)
    lap("code")
    crosswalk = coding.as_crosswalk()
    rated = out / "crosswalk.csv"
    rated = out / "crosswalk.checked.csv"
    checked = check_file(out / "crosswalk.csv", rated, command="coder demo (check)")
    crosswalk = checked.crosswalk  # decided with the policy crosswalk.csv's sidecar records
    notes.append(
        f"consistency rules ({Path(checked.rules.path).name}) checked: {len(checked.violations)} violation(s); "
        "the rater 'consistency' is in the agreement tables"
    )
    lap("check")
    agreement = agree_file(rated, out / "agreement", n_bootstrap=n_bootstrap, seed=seed, progress=progress)
    lap("agreement")
    ref = load_reference(REFERENCE)
    axis = {}
    inputs: dict[str, object] = {"labels": {"path": str(input or DEMO_DATA), "sha256": file_sha256(input or DEMO_DATA)}}
    if input is None:
        frame, published = _published_npk()
        for mapping in ("rule_mapping", "reviewed_mapping"):
            table = tabulate_axis(
                frame, code_col="ksco_major", n_col=f"n_{mapping}", female_share_col=f"female_share_{mapping}"
            )
            axis[f"npk_published_{mapping}"] = measure_axis(table, ref, seed=seed)
        label_sex = _npk_imputed_label_sex(crosswalk.frame)
        inputs["npk_bucket_table"] = {"path": str(NPK_BUCKETS), "sha256": DEMO_SHA256[NPK_BUCKETS.name]}
        inputs["npk_sex_top20"] = {"path": str(NPK_SEX_TOP20), "sha256": DEMO_SHA256[NPK_SEX_TOP20.name]}
        notes.append(
            "NPK's public data has sex by label only for its 20 most frequent labels, so the sweeps that need "
            "label × sex (leave-one-out, threshold grid, mapping comparison, noise on 'decided_imputed') cannot be "
            "computed exactly for NPK; they are shown on an IMPUTED table (how: see the next note). The axis metrics "
            "and the noise test on the published NPK bucket tables (npk_published_*) are exact."
        )
    else:
        published = {}
        label_sex = label_sex_table(read_table(input), text_col=text_col, sex_col=sex_col, weight_col=weight_col)
    lap("axis")
    sens = run_sensitivity(
        crosswalk,
        label_sex,
        ref,
        bucket_tables=published,
        replicates=replicates,
        seed=seed,
        progress=progress,
    )
    # the axis of the decided mapping over the audit frame (the same as coder axis/sensitivity/report)
    axis["decided" if input is not None else "decided_imputed"] = sens.axis
    lap("sweeps")
    meta = build_meta(
        command="coder demo",
        params={
            "reference": REFERENCE,
            "replicates": replicates,
            "n_bootstrap": n_bootstrap,
            "seed": seed,
            "policy": crosswalk.policy.as_dict(),
        },
        files={**crosswalk.files, f"references/{ref.name}": ref.sha256},
        inputs=inputs,
        outputs={"html": str(out / "report.html"), "json": str(out / "report.json")},
        code_list=code_list_record(crosswalk.codes),
    )
    report = build_report(
        crosswalk,
        agreement=agreement,
        axis=axis,
        sensitivity=sens,
        provenance=meta,
        notes=notes,
        title="coder demo: Nemotron-Personas-Korea" if input is None else f"coder demo: {Path(input).name}",
    )
    json_path = write_report(report, out / "report.html", meta=meta)
    lap("report")
    return FullDemo(out, out / "report.html", json_path, coding, agreement, axis, sens, seconds, tuple(notes))


def full_demo_summary(demo: FullDemo, *, top: int = 5) -> str:
    """A plain-text summary of :func:`run_full_demo` (``top`` largest labels short of level 5), ending with the report's path."""
    lines = [demo_report(demo.coding, top=top), ""]

    def ci(x) -> str:
        return "—" if x is None else f"[{x[0]:.3f}, {x[1]:.3f}]"

    for name, res in demo.axis.items():
        frame = f"{res.n_respondents:,} respondents" + (
            f", {res.axis['persons_weighted']:,.0f} weighted persons, Kish n_eff {res.n_effective:,.1f}"
            if res.axis.get("weighted")
            else ""
        )
        lines.append(
            f"axis {name} vs {res.reference['name']} ({frame}): ρ = {res.rho:.3f}, 95% intervals sampling "
            f"{ci(res.rho_ci)}, coding {ci(res.rho_ci_coding)}, total {ci(res.rho_ci_total)} → {res.verdict}; "
            f"parity flags {res.n_parity_flagged}/9"
        )
    s = demo.sensitivity.summary()
    if "rules" in s:
        lines.append(
            f"leave one rule out{' (IMPUTED label × sex)' if s['imputed'] else ''}: {s['rules']} rules, largest |Δρ| "
            f"{s['rules_max_abs_delta_rho']:.5f} ({s['rules_max_abs_delta_rho_id']}), "
            f"{s['rules_changing_verdict']} change the verdict, {s['rules_changing_parity_flags']} a parity flag"
        )
    for row in demo.sensitivity.noise.itertuples():
        lines.append(
            f"noise {row.mapping} p={row.p:g}: verdict unchanged in {100 * row.verdict_unchanged:.0f}% of "
            f"{row.replicates} replicates, ρ 95% range [{row.rho_lo:.3f}, {row.rho_hi:.3f}]"
        )
    lines += [f"note: {n}" for n in demo.notes]
    lines.append("steps (s): " + ", ".join(f"{k} {v:.1f}" for k, v in demo.seconds.items()))
    lines.append(f"report: {demo.report_html} (numbers: {demo.report_json})")
    return "\n".join(lines)
