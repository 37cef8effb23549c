"""``coder agree``: agreement between a crosswalk's raters per KSCO level (thin CLI over :mod:`coder.agreement`)."""

from __future__ import annotations

from pathlib import Path

import click

from . import CONTEXT, _say
from .options import output_option, quiet_option

__all__ = ["agree_command", "bootstrap_option", "levels_option", "parse_levels"]


def parse_levels(text: str) -> tuple[int, ...]:
    """``"1,2,5"`` or ``"1-5"`` → ``(1, 2, 5)`` / ``(1, 2, 3, 4, 5)``; KSCO levels are 1–5."""
    out: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError:
            raise click.BadParameter(f"{text!r}: give levels 1–5 as e.g. 1,2,5 or 1-5", param_hint="--levels") from None
        if not (1 <= a <= b <= 5):
            raise click.BadParameter(f"{text!r}: KSCO levels are 1–5, e.g. 1,2,5 or 1-5", param_hint="--levels")
        out += [x for x in range(a, b + 1) if x not in out]
    if not out:
        raise click.BadParameter(f"{text!r}: give at least one level, e.g. 1-5", param_hint="--levels")
    return tuple(sorted(out))


levels_option = click.option(
    "--levels",
    default="1-5",
    show_default=True,
    help="KSCO levels to compare at (codes cut to the level), e.g. 1,2 or 1-5.",
)


bootstrap_option = click.option(
    "--bootstrap",
    "n_bootstrap",
    default=500,
    show_default=True,
    type=click.IntRange(1),
    help="Bootstrap replicates over labels for the agreement's 95% intervals.",
)


@click.command("agree", context_settings=CONTEXT)
@click.argument("crosswalk_path", metavar="XWALK", type=click.Path(exists=True, dir_okay=False))
@output_option(
    dest="out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for agreement_{pairs,levels,coverage,matrices}.csv and agreement.json (+ .meta.json each).",
)
@levels_option
@click.option(
    "--raters",
    default=None,
    help="Comma-separated raters (<rater>_code columns) to compare [default: every rater the crosswalk stores].",
)
@bootstrap_option
@click.option("--seed", default=20260101, show_default=True, type=int, help="Random seed of the bootstrap.")
@quiet_option
def agree_command(crosswalk_path, out_dir, levels, raters, n_bootstrap, seed, quiet):
    """Agreement between every pair of raters in a crosswalk, at KSCO levels 1–5.

    Percent agreement and Cohen's κ per rater pair, Fleiss' κ with unanimity and majority
    counts, Krippendorff's α (nominal, missing allowed); weighted by labels and by persons,
    with bootstrap 95% intervals over labels. Raters are every <rater>_code column: title,
    rule, index, model, fuzzy, each panel member, consistency, review, and any you add.

    \b
    Example:
      coder agree xwalk.csv -o agreement/
      coder agree xwalk_checked.csv -o agreement/ --levels 1,2 --bootstrap 200
    """
    from ..agreement import agree_file

    chosen = [r.strip() for r in raters.split(",") if r.strip()] if raters else None
    result = agree_file(
        crosswalk_path,
        out_dir,
        raters=chosen,
        levels=parse_levels(levels),
        n_bootstrap=n_bootstrap,
        seed=seed,
        progress=not quiet,
    )
    s = result.settings
    _say(
        quiet,
        f"agreement between {len(result.raters)} raters ({', '.join(result.raters)}) over {s['labels']:,} labels, "
        f"{s['persons']:,.0f} persons; {n_bootstrap} bootstrap replicates",
    )
    _say(
        quiet, f"{'level':>5} {'Fleiss κ (labels)':>18} {'(persons)':>10} {'α (labels)':>11} {'unanimous':>10}  raters"
    )
    for r in result.levels.itertuples():
        _say(
            quiet,
            f"{r.level:>5} {_f(r.fleiss_kappa_labels):>18} {_f(r.fleiss_kappa_persons):>10} "
            f"{_f(r.alpha_labels):>11} {_n(r.unanimous_labels):>10}  {r.fleiss_raters or '-'}",
        )
    for note in result.notes:
        _say(quiet, f"note: {note}")
    _say(
        quiet,
        f"wrote {Path(out_dir)}/agreement_{{pairs,levels,coverage,matrices}}.csv and agreement.json (+ .meta.json)",
    )


def _f(x: float) -> str:
    return "—" if x != x else f"{x:.3f}"


def _n(x: float) -> str:
    return "—" if x != x else f"{x:,.0f}"
