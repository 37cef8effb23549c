"""Command-line interface: one thin command per stage (``coder --help``).

Every command parses options, calls one library function, and writes the
result; data goes to the output, progress and summaries to stderr.  A
:class:`~coder.errors.CoderError` becomes a one-line ``Error: …`` with exit
code 1 here, in one place.
"""

from __future__ import annotations

import sys

import click

from ..errors import CoderError

__all__ = ["cli", "main"]


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except CoderError as exc:
            raise click.ClickException(str(exc)) from exc


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=_Group, context_settings=CONTEXT)
@click.version_option(package_name="ksco-coder", prog_name="coder")
def cli() -> None:
    """Code Korean free-text occupations to KSCO-7 and audit the result.

    \b
    Example:
      coder demo
      coder code personas.parquet --text-col occupation -o coded.parquet --crosswalk xwalk.csv
    """


_rules_option = click.option(
    "--rules",
    "rules_path",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="Mapper rules CSV instead of the bundled rules/mapper.csv.",
)


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        click.echo(text, err=True)


@cli.command("code")
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--text-col", required=True, help="Column with the free-text occupation.")
@click.option("--weight-col", default=None, help="Numeric weight column; persons are weight sums.")
@click.option("--id-col", default=None, help="Row id column; checked to be a unique, non-empty key.")
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Coded rows; format by extension (.csv .tsv .parquet .xlsx), - for CSV on stdout.",
)
@click.option(
    "--crosswalk",
    "crosswalk_path",
    default=None,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Also write the crosswalk: one row per distinct label with every rater's answer.",
)
@_rules_option
@click.option("--replace", is_flag=True, help="Overwrite ksco_* columns the input already has.")
@click.option("--fuzzy-k", default=5, show_default=True, type=click.IntRange(1, 50), help="Shortlist length.")
@click.option(
    "--fuzzy-threshold",
    default=None,
    type=click.FloatRange(0, 1),
    help="Minimum fuzzy score to accept the fuzzy top code as final [default: coder.fuzzy.FUZZY_THRESHOLD].",
)
@click.option(
    "--model",
    "model_path",
    default=None,
    type=click.Path(exists=True),
    help="A job-name model directory (or its .json) to use instead of the packaged one.",
)
@click.option("--no-model", is_flag=True, help="Leave the learned job-name model out.")
@click.option(
    "--model-threshold",
    default=None,
    type=click.FloatRange(0, 1),
    help="Minimum model probability to accept its top code as final [default: coder.model.MODEL_THRESHOLD].",
)
@click.option("-q", "--quiet", is_flag=True, help="No summary on stderr.")
def code_command(
    input_path,
    text_col,
    weight_col,
    id_col,
    output,
    crosswalk_path,
    rules_path,
    replace,
    fuzzy_k,
    fuzzy_threshold,
    model_path,
    no_model,
    model_threshold,
    quiet,
):
    """Code every row of a table to KSCO-7, offline.

    Reads CSV (UTF-8, UTF-8 with BOM or cp949), TSV, Parquet or XLSX; keeps every
    column and row in order and adds ksco_code, ksco_level, ksco_major,
    ksco_title, code_status, code_source, rule_id.

    \b
    Example:
      coder code personas.parquet --text-col occupation -o coded.parquet --crosswalk xwalk.csv
    """
    from ..pipeline import code_file
    from ..raters.fuzzy import FUZZY_THRESHOLD
    from ..raters.model import MODEL_THRESHOLD

    if model_path and no_model:
        raise click.UsageError("--model and --no-model cannot be used together.")
    result = code_file(
        input_path,
        output,
        text_col=text_col,
        weight_col=weight_col,
        id_col=id_col,
        crosswalk_path=crosswalk_path,
        replace=replace,
        rules=rules_path,
        fuzzy_k=fuzzy_k,
        fuzzy_threshold=FUZZY_THRESHOLD if fuzzy_threshold is None else fuzzy_threshold,
        model=False if no_model else model_path,
        model_threshold=MODEL_THRESHOLD if model_threshold is None else model_threshold,
    )
    s = result.summary()
    _say(
        quiet,
        f"coded {s['rows']:,} rows ({s['labels']:,} distinct labels) in {result.seconds:.2f} s; "
        f"{s['needs_review_labels']:,} labels need review",
    )


@cli.command("demo")
@click.option(
    "--out",
    "out_dir",
    default="coder-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for coded.csv, crosswalk.csv and their .meta.json sidecars.",
)
@click.option(
    "--top",
    default=10,
    show_default=True,
    type=click.IntRange(0, 1000),
    help="How many of the largest labels without a level-5 code to list.",
)
@click.option("-q", "--quiet", is_flag=True, help="No summary on stderr.")
def demo_command(out_dir, top, quiet):
    """Code the bundled Nemotron-Personas-Korea labels (2,120 labels, 1M persons).

    Data: NVIDIA Nemotron-Personas-Korea, CC BY 4.0 (label counts from the
    Nemotron-Personas-Korea audit).

    \b
    Example:
      coder demo --out coder-demo
    """
    from ..demo import demo_report, run_demo

    result = run_demo(out_dir)
    _say(quiet, demo_report(result, top=top))
    _say(quiet, f"wrote {out_dir}/coded.csv and {out_dir}/crosswalk.csv (+ .meta.json)")


@cli.command("explain")
@click.argument("labels", nargs=-1, required=True)
@_rules_option
def explain_command(labels, rules_path):
    """Show how each LABEL is coded: every rater's answer and the final code.

    \b
    Example:
      coder explain "택시 기사" "전직 건물 경비원, 현재 구직중" 무직
    """
    import pandas as pd

    from ..labels import tabulate_labels
    from ..pipeline import code_labels

    table = tabulate_labels(pd.Series(list(labels), dtype=object))
    xw = code_labels(table, rules=rules_path)
    for row in xw.to_dict("records"):
        click.echo(f"{row['label']}")
        for col, value in row.items():
            if col == "label" or value in ("", None) or (isinstance(value, float) and value != value):
                continue
            click.echo(f"  {col:<16} {value}")


@cli.group("rules", context_settings=CONTEXT)
def rules_group():
    """Check the rule files."""


@rules_group.command("check")
@_rules_option
@click.option("--strict", is_flag=True, help="Exit 1 when any example or counterexample fails.")
def rules_check_command(rules_path, strict):
    """Load the mapper, then run every rule's examples and counterexamples.

    \b
    Example:
      coder rules check --strict
    """
    from ..raters.rules import check_examples, load_rules

    rules = load_rules(rules_path)
    failures = check_examples(rules)
    for line in failures:
        click.echo(line)
    click.echo(f"{len(rules.active)} active rules, {len(failures)} example problem(s)", err=True)
    if failures and strict:
        sys.exit(1)


def _register() -> None:
    try:
        from .axis import axis_command
    except ImportError:  # pragma: no cover - stage not installed
        pass
    else:
        cli.add_command(axis_command)
    try:
        from .model import model_group
    except ImportError:  # pragma: no cover
        pass
    else:
        cli.add_command(model_group)


_register()


def main() -> None:
    cli(prog_name="coder")
