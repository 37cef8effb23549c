"""``coder report``: one HTML file (plots embedded) and a JSON with every number (thin CLI over :mod:`coder.report`)."""

from __future__ import annotations

import click

from . import CONTEXT, _say
from .agree import bootstrap_option
from .options import output_option, quiet_option
from .sensitivity import sensitivity_options, sweep_kwargs

__all__ = ["report_command"]


@click.command("report", context_settings=CONTEXT)
@click.argument("crosswalk_path", metavar="XWALK", type=click.Path(exists=True, dir_okay=False))
@click.argument("rows_path", metavar="[ROWS]", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--sex-col", default=None, help="Sex column of ROWS (needed with ROWS).")
@output_option(
    dest="html_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The report, ending in .html; the JSON goes beside it (report.json), each with a .meta.json sidecar.",
)
@sensitivity_options
@bootstrap_option
@quiet_option
def report_command(
    crosswalk_path,
    rows_path,
    sex_col,
    html_path,
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
    n_bootstrap,
    quiet,
):
    """The crosswalk report: coverage, agreement, axis metrics and sweeps, for a browser and for programs.

    Without ROWS the report has coverage and agreement only; with ROWS and --sex-col it adds the
    sex × KSCO axis metrics against --reference and every sweep (noise, leave one rule / rater
    out, threshold grid, each rater's mapping). The HTML opens with no network.

    \b
    Example:
      coder report xwalk.csv coded.parquet --sex-col sex -o report.html
      coder report xwalk_reviewed.csv -o report.html
    """
    from ..report import report_file
    from .axis import _sex_map

    if weight_col and count_col:
        raise click.UsageError("--weight-col and --count-col are mutually exclusive (person rows vs aggregated).")
    if sex_col and rows_path is None:
        raise click.UsageError("--sex-col needs ROWS: give the person rows after XWALK.")
    kwargs = sweep_kwargs(noise, replicates, model_thresholds, fuzzy_thresholds, q, tau, seed, n_draws)
    report = report_file(
        crosswalk_path,
        rows_path,
        html_path,
        sex_col=sex_col,
        text_col=text_col,
        weight_col=weight_col,
        count_col=count_col,
        sex_map=_sex_map(sex_map),
        reference=reference,
        rules=rules,
        n_bootstrap=n_bootstrap,
        progress=not quiet,
        log=None if quiet else (lambda text: click.echo(text, err=True)),
        replicates=kwargs.pop("replicates"),
        seed=kwargs.pop("seed"),
        q=kwargs.pop("q"),
        tau=kwargs.pop("tau"),
        **kwargs,
    )
    from pathlib import Path

    sections = ", ".join(k for k in report.data if k not in ("provenance", "title"))
    _say(
        quiet,
        f"report: {html_path} (open it in a browser) and {Path(html_path).with_suffix('.json')}; sections: {sections}",
    )
