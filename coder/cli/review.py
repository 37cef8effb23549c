"""``coder review export`` / ``import``: the CSV review round trip (thin CLI over :mod:`coder.review`)."""

from __future__ import annotations

import click

from . import CONTEXT, _say
from .options import output_option, quiet_option

__all__ = ["review_group"]


@click.group("review", context_settings=CONTEXT)
def review_group():
    """Send the labels that need a person to a reviewer, and bring their decisions back.

    \b
    Example:
      coder review export xwalk_checked.csv -o review/b1/to_review.csv --limit 200
      coder review import review/b1/to_review.csv --into xwalk_checked.csv -o xwalk_reviewed.csv
    """


@review_group.command("export", context_settings=CONTEXT)
@click.argument("crosswalk_path", metavar="XWALK", type=click.Path(exists=True, dir_okay=False))
@output_option(required=True, type=click.Path(dir_okay=False), help="Review sheet: .csv (UTF-8 with BOM) or .xlsx.")
@click.option(
    "--level", default=1, show_default=True, type=click.IntRange(1, 5), help="KSCO level at which raters must agree."
)
@click.option(
    "--min-persons",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Leave out labels with fewer persons.",
)
@click.option(
    "--limit",
    default=None,
    type=click.IntRange(0),
    help="At most this many labels (after ordering); 0 = the audit only.",
)
@click.option(
    "--order",
    default="impact",
    show_default=True,
    type=click.Choice(["impact", "persons"]),
    help="impact: labels whose candidates span several major buckets first; persons: most persons first.",
)
@click.option("--blind", is_flag=True, help="Hide who said what: options A, B, C; the key goes to <output>.key.json.")
@click.option("--batch", default=None, help="Batch name [default: the output's folder name].")
@click.option(
    "--audit",
    default=0,
    show_default=True,
    type=click.IntRange(0, 10_000),
    help="Add a blind residual-error sample of N draws (PPS by persons) from the labels the machine coded without review.",
)
@click.option("--seed", default=20260101, show_default=True, type=int, help="Seed of the --audit draw (recorded).")
@quiet_option(help="No summary on stderr.")
def review_export_command(crosswalk_path, output, level, min_persons, limit, order, blind, batch, audit, seed, quiet):
    """Write the labels that need a person as a sheet a reviewer edits in Excel.

    The reviewer fills decision_code (a KSCO-7 code, A… for military, 0 for not employed),
    decision_note and reviewer, and edits nothing else (a checksum guards the other columns).
    With --audit N the sheet also holds the labels of N random draws from the machine-coded
    labels, with no code, candidate or reason shown; after import the share of persons whose code
    is wrong (per KSCO level, 95% interval) goes into the crosswalk's sidecar and the report.

    \b
    Example:
      coder review export xwalk_checked.csv -o review/b1/to_review.csv --limit 200
      coder review export xwalk_checked.csv -o review/a1/audit.csv --limit 0 --audit 30 --seed 7
    """
    from ..review import export_review_file

    options = {"audit": audit, "seed": seed} if audit else {}
    result = export_review_file(
        crosswalk_path,
        output,
        batch=batch,
        level=level,
        min_persons=min_persons,
        limit=limit,
        order=order,
        blind=blind,
        **options,
    )
    _say(quiet, f"wrote {len(result.frame):,} labels to review to {output} (batch {result.batch})")
    if result.audit is not None:
        a = result.audit
        _say(
            quiet,
            f"audit: {a.n:,} draws (seed {a.seed}) → {len(a.draws):,} labels, shown blind among the others, from "
            f"{a.eligible_labels:,} labels the machine coded without review ({a.eligible_persons:,.0f} persons)",
        )


@review_group.command("import", context_settings=CONTEXT)
@click.argument("review_path", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--into",
    "into_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The crosswalk the sheet was exported from.",
)
@output_option(required=True, type=click.Path(dir_okay=False), help="The reviewed crosswalk. Not an input.")
@quiet_option(help="No summary on stderr.")
def review_import_command(review_path, into_path, output, quiet):
    """Apply a reviewer's decisions (rater review) and re-decide; nothing is written on any error.

    The crosswalk is decided again with the policy its sidecar records (set it with coder decide).

    \b
    Example:
      coder review import review/b1/to_review.csv --into xwalk_checked.csv -o xwalk_reviewed.csv
    """
    from ..review import import_review_file
    from ..review_audit import summary_sentence

    r = import_review_file(review_path, into_path, output)
    for note in r.crosswalk.notes:
        _say(quiet, f"note: {note}")
    if r.residual is not None:
        _say(quiet, summary_sentence(r.residual.to_dict()))
        for note in r.residual.notes:
            _say(quiet, f"note: {note}")
    kept = f"; {r.notes_kept:,} notes without a code kept in review_note, no code set" if r.notes_kept else ""
    _say(
        quiet,
        f"applied {r.applied:,} decisions ({r.skipped:,} empty rows skipped{kept}); {r.changed:,} final codes changed; "
        f"wrote {output}",
    )
