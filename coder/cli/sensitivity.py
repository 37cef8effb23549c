"""``coder sensitivity``: how the sex × KSCO axis conclusions move with the coding (thin CLI over :mod:`coder.sensitivity`)."""

from __future__ import annotations

from pathlib import Path

import click

from . import CONTEXT, _say
from .options import output_option, quiet_option

__all__ = ["axis_lines", "float_list", "sensitivity_command", "sensitivity_options"]

NOISE_DEFAULT = "0.01,0.05,0.1"
MODEL_THRESHOLDS_DEFAULT = "0.5,0.6,0.7,0.75,0.8,0.9,0.95"
FUZZY_THRESHOLDS_DEFAULT = "0.85,0.9,0.95,0.99"


def float_list(text: str, option: str) -> tuple[float, ...]:
    """``"0.01,0.05"`` → ``(0.01, 0.05)``; every value a share in [0, 1]."""
    try:
        values = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: give comma-separated numbers, e.g. {option_example(option)}", param_hint=option
        ) from None
    if not values or any(not 0 <= v <= 1 for v in values):
        raise click.BadParameter(f"{text!r}: give shares in [0, 1], e.g. {option_example(option)}", param_hint=option)
    return values


def option_example(option: str) -> str:
    return {"--noise": NOISE_DEFAULT, "--model-thresholds": "0.7,0.8", "--fuzzy-thresholds": "0.9,0.95"}.get(
        option, "0.1,0.2"
    )


def sensitivity_options(f):
    """The options ``coder sensitivity`` and ``coder report`` share (rows, reference, sweeps)."""
    for decorator in reversed(
        [
            click.option(
                "--text-col", default=None, help="Occupation column of ROWS [default: from ROWS' .meta.json]."
            ),
            click.option("--weight-col", default=None, help="Person weight column of ROWS."),
            click.option("--count-col", default=None, help="ROWS is aggregated: persons per row in this column."),
            click.option(
                "--sex-map",
                multiple=True,
                metavar="VALUE=female|male",
                help="Map an extra sex value (repeatable), e.g. --sex-map W=female.",
            ),
            click.option(
                "--reference",
                default="kosis-res:2025H2",
                show_default=True,
                help="Reference table: kosis-res:<YYYYH1|H2>, kosis-eaps:<YYYY>, or a CSV with bucket, sex, count|share "
                "(as for coder axis).",
            ),
            click.option(
                "--rules",
                "rules",
                default=None,
                metavar="NAME|TOML",
                help="Apply this consistency rule set first (default, npk-audit-2026, or a TOML path), so "
                "leave-one-rule-out covers its rules [default: the crosswalk as stored].",
            ),
            click.option(
                "--noise",
                default=NOISE_DEFAULT,
                show_default=True,
                help="Label-noise levels: shares of persons moved to another bucket.",
            ),
            click.option(
                "--replicates",
                default=100,
                show_default=True,
                type=click.IntRange(1),
                help="Seeded replicates per noise level.",
            ),
            click.option(
                "--model-thresholds",
                default=MODEL_THRESHOLDS_DEFAULT,
                show_default=True,
                help="Model thresholds of the threshold grid.",
            ),
            click.option(
                "--fuzzy-thresholds",
                default=FUZZY_THRESHOLDS_DEFAULT,
                show_default=True,
                help="Fuzzy thresholds of the threshold grid.",
            ),
            click.option(
                "--q",
                "q",
                type=click.FloatRange(0, 1, min_open=True, max_open=True),
                default=0.8,
                show_default=True,
                help="Band [q, 1/q] for the reference ratio.",
            ),
            click.option(
                "--tau", type=float, default=0.7, show_default=True, help="Screen threshold: attenuated when ρ < τ."
            ),
            click.option(
                "--draws",
                "n_draws",
                default=1000,
                show_default=True,
                type=click.IntRange(1),
                help="Coding draws (whole mappings from each label's coding distribution) behind ρ's coding "
                "and total intervals.",
            ),
            click.option("--seed", default=20260101, show_default=True, type=int, help="Random seed."),
        ]
    ):
        f = decorator(f)
    return f


def sweep_kwargs(noise, replicates, model_thresholds, fuzzy_thresholds, q, tau, seed, n_draws=1000) -> dict:
    return {
        "n_draws": n_draws,
        "noise_levels": float_list(noise, "--noise"),
        "replicates": replicates,
        "model_thresholds": float_list(model_thresholds, "--model-thresholds"),
        "fuzzy_thresholds": float_list(fuzzy_thresholds, "--fuzzy-thresholds"),
        "q": q,
        "tau": tau,
        "seed": seed,
    }


@click.command("sensitivity", context_settings=CONTEXT)
@click.argument("crosswalk_path", metavar="XWALK", type=click.Path(exists=True, dir_okay=False))
@click.argument("rows_path", metavar="ROWS", type=click.Path(dir_okay=False))
@click.option("--sex-col", required=True, help="Sex column of ROWS (female/male, 여자/남자, F/M, …).")
@output_option(
    dest="out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for noise, rules, raters, thresholds, mappings .csv and sensitivity.json (+ .meta.json each).",
)
@sensitivity_options
@quiet_option
def sensitivity_command(
    crosswalk_path,
    rows_path,
    sex_col,
    out_dir,
    text_col,
    weight_col,
    count_col,
    sex_map,
    reference,
    rules,
    noise,
    replicates,
    model_thresholds,
    fuzzy_thresholds,
    q,
    tau,
    n_draws,
    seed,
    quiet,
):
    """Sweeps: how much the axis metrics depend on the coding of XWALK, on the persons in ROWS.

    ROWS are person rows (or an aggregated table with --count-col) with the occupation text
    and sex; they are tabulated to label × sex counts and joined to XWALK by label_key.
    Sweeps: label noise, leave one rule out, leave one rater out, the model × fuzzy threshold
    grid, and each rater's own mapping side by side (ρ, screen verdict, parity flags).

    \b
    Example:
      coder sensitivity xwalk.csv coded.parquet --sex-col sex --reference kosis-res:2025H2 -o sens/
      coder sensitivity xwalk.csv rows.csv --sex-col sex --text-col occupation --rules npk-audit-2026 -o sens/
    """
    from ..sensitivity import sensitivity_file
    from .axis import _sex_map

    if weight_col and count_col:
        raise click.UsageError("--weight-col and --count-col are mutually exclusive (person rows vs aggregated).")
    result = sensitivity_file(
        crosswalk_path,
        rows_path,
        out_dir,
        sex_col=sex_col,
        text_col=text_col,
        weight_col=weight_col,
        count_col=count_col,
        sex_map=_sex_map(sex_map),
        reference=reference,
        rules=rules,
        progress=not quiet,
        **sweep_kwargs(noise, replicates, model_thresholds, fuzzy_thresholds, q, tau, seed, n_draws),
    )
    for line in summary_lines(result):
        _say(quiet, line)
    _say(
        quiet,
        f"wrote {Path(out_dir)}/{{noise,rules,raters,thresholds,mappings}}.csv and sensitivity.json (+ .meta.json)",
    )


def summary_lines(result) -> list[str]:
    """Plain-text headline of a :class:`~coder.sensitivity.SensitivityResult` (shared with ``coder report``)."""
    b, s = result.baseline, result.summary()
    tag = " (IMPUTED label × sex)" if result.imputed else ""
    lines = axis_lines(result.axis.axis, tag=tag) if result.axis is not None else []
    lines += [
        f"sweeps' baseline{tag} vs {result.settings['reference']}: ρ = {b['rho']:.4f} → {b['verdict']}; "
        f"parity flags {b['parity_flags']}/9 ({b['parity_flagged'] or 'none'}); {b['persons_in_frame']:,.0f} persons in frame",
    ]
    for row in result.noise.itertuples():
        lines.append(
            f"noise {row.mapping} p={row.p:g}: verdict unchanged in {100 * row.verdict_unchanged:.0f}%, "
            f"parity-flag count unchanged in {100 * row.parity_count_unchanged:.0f}% of {row.replicates}; "
            f"ρ 95% range [{row.rho_lo:.4f}, {row.rho_hi:.4f}]"
        )
    if "rules" in s:
        lines.append(
            f"leave one rule out{tag}: {s['rules']} rules, largest |Δρ| {s['rules_max_abs_delta_rho']:.5f} "
            f"({s['rules_max_abs_delta_rho_id']}); {s['rules_changing_verdict']} change the verdict, "
            f"{s['rules_changing_parity_flags']} a parity flag"
        )
    if len(result.raters):
        worst = result.raters.iloc[result.raters["delta_rho"].abs().argmax()]
        lines.append(
            f"leave one rater out{tag}: {len(result.raters)} raters; largest |Δρ| {abs(worst['delta_rho']):.5f} "
            f"({worst['rater']}); {int(result.raters['verdict_changed'].sum())} change the verdict"
        )
    if len(result.thresholds):
        t = result.thresholds
        lines.append(
            f"threshold grid{tag}: {len(t)} cells, ρ {t['rho'].min():.4f} – {t['rho'].max():.4f}; "
            f"{int(t['verdict_changed'].sum())} change the verdict"
        )
    lines += [f"note: {n}" for n in result.notes]
    return lines


def axis_lines(axis: dict, *, tag: str = "") -> list[str]:
    """The audit frame and ρ with its three intervals, from an ``axis`` object (shared with ``coder demo``)."""

    def ci(x) -> str:
        return "—" if x is None else f"[{x[0]:.4f}, {x[1]:.4f}]"

    frame = f"{axis['n_respondents']:,} respondents"
    if axis.get("weighted"):
        frame += f", {axis['persons_weighted']:,.0f} weighted persons, Kish n_eff {axis['n_effective']:,.1f}"
    rho = "undefined" if axis["rho"] is None else f"{axis['rho']:.4f}"
    return [
        f"axis{tag}: frame {frame}; ρ = {rho}, 95% intervals: sampling {ci(axis['rho_ci'])}, "
        f"coding {ci(axis['rho_ci_coding'])}, total {ci(axis['rho_ci_total'])} → {axis['verdict']} "
        f"(on {axis.get('verdict_interval', 'rho_ci')}, τ = {axis['tau']:g})"
    ]
