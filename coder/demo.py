"""``coder demo``: code the bundled Nemotron-Personas-Korea label table.

The table (``coder/demo_data/npk_occupation.csv``; NVIDIA, CC BY 4.0) lists all
2,120 NPK occupation labels with their person counts; the counts are the
weights, so every figure is in persons.  Writes ``coded.csv`` (the label table
with the coded columns), ``crosswalk.csv`` (every rater side by side) and their
``.meta.json`` sidecars into the output folder, and returns the result.
"""

from __future__ import annotations

from pathlib import Path

from .pipeline import CodingResult, code_file

__all__ = ["DEMO_DATA", "demo_report", "run_demo"]

DEMO_DATA = Path(__file__).resolve().parent / "demo_data" / "npk_occupation.csv"


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
