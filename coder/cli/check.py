"""``coder check``: KSCO-7 consistency rules and checks over a stored crosswalk (thin CLI over :mod:`coder.consistency`)."""

from __future__ import annotations

import sys

import click

from . import CONTEXT, _say
from .options import output_option, quiet_option

__all__ = ["check_command"]


@click.command("check", context_settings=CONTEXT)
@click.argument("crosswalk_path", metavar="XWALK", type=click.Path(exists=True, dir_okay=False))
@output_option(
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="The checked crosswalk (consistency_* and violations columns added, re-decided). Not the input.",
)
@click.option(
    "--rules",
    "rules_path",
    default=None,
    metavar="NAME|TOML",
    help="Consistency rule set: a bundled name (default, npk-audit-2026) or a TOML path [default: default].",
)
@click.option("--strict", is_flag=True, help="Exit 1 when any check finds a violation (for CI).")
@quiet_option(help="No impact table or violation summary on stderr.")
def check_command(crosswalk_path, output, rules_path, strict, quiet):
    """Apply the KSCO-7 consistency rules to a crosswalk, re-decide it, and run the checks.

    The crosswalk is decided again with the policy its sidecar records (set it with
    coder decide).  Prints each rule's impact (labels and persons it fired on and changed,
    from which codes) and every violation to stderr; the output is written even when there
    are violations.

    \b
    Example:
      coder check xwalk.csv -o xwalk_checked.csv
      coder check xwalk.csv --rules npk-audit-2026 -o audit.csv --strict
    """
    from ..consistency import check_file

    result = check_file(crosswalk_path, output, rules=rules_path)
    for note in result.crosswalk.notes:
        _say(quiet, f"note: {note}")
    _say(quiet, f"rules: {result.rules.path} ({len(result.rules.active)} active)")
    _say(
        quiet, f"{'rule':<7} {'code':>5} {'labels':>7} {'persons':>10} {'changed':>8} {'ch.persons':>10}  changed from"
    )
    for r in result.impact.itertuples():
        printed = (
            f"  [printed {r.printed_persons:,}]"
            if isinstance(r.printed_persons, int | float) and r.printed_persons != ""
            else ""
        )
        blocked = f"  blocked {r.blocked_labels} ({r.blocked_persons:,.0f})" if r.blocked_labels else ""
        _say(
            quiet,
            f"{r.rule_id:<7} {r.code:>5} {r.labels:>7,} {r.persons:>10,.0f} {r.changed_labels:>8,} "
            f"{r.changed_persons:>10,.0f}  {r.changed_from or '-'}{blocked}{printed}",
        )
    v = result.violations
    _say(quiet, f"{len(v):,} violation(s)" + (":" if len(v) else ""))
    for row in v.itertuples():
        where = f"{row.label} ({row.persons:,.0f} persons): " if row.label_key else ""
        _say(quiet, f"  {row.check}: {where}{row.message}")
    _say(quiet, f"wrote {output}")
    if strict and len(v):
        sys.exit(1)
