"""``coder code``, ``decide``, ``apply``, ``explain``, ``demo``: thin commands over :mod:`coder.pipeline`."""

from __future__ import annotations

import click

from . import CONTEXT, _say
from .options import output_option, quiet_option

__all__ = ["apply_command", "code_command", "decide_command", "demo_command", "explain_command", "rules_option"]

# Defaults shown in --help as values; kept equal to the library constants by tests/test_cli.py.
MODEL_THRESHOLD_DEFAULT = 0.6
FUZZY_THRESHOLD_DEFAULT = 0.95
CORROBORATE_THRESHOLD_DEFAULT = 0.6
MODEL_DEPTH_THRESHOLD_DEFAULT = 0.85

rules_option = click.option(
    "--rules",
    "rules_path",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="Your own mapper rules CSV; its rules rank ahead of the bundled rules/mapper.csv.",
)
no_bundled_option = click.option(
    "--no-bundled-rules", is_flag=True, help="With --rules: use only your rules, not the bundled ones."
)


def _threshold_options(f):
    f = click.option(
        "--fuzzy-threshold",
        default=None,
        type=click.FloatRange(0, 1),
        help=f"Minimum fuzzy score for the fuzzy top code to be final [default: {FUZZY_THRESHOLD_DEFAULT}].",
    )(f)
    f = click.option(
        "--model-threshold",
        default=None,
        type=click.FloatRange(0, 1),
        help=f"Minimum model probability for its code to be final [default: {MODEL_THRESHOLD_DEFAULT}].",
    )(f)
    return f


def _thresholds(model_threshold, fuzzy_threshold):
    from ..raters.fuzzy import FUZZY_THRESHOLD
    from ..raters.model import MODEL_THRESHOLD

    return (
        MODEL_THRESHOLD if model_threshold is None else model_threshold,
        FUZZY_THRESHOLD if fuzzy_threshold is None else fuzzy_threshold,
    )  # the --help values are checked against these by tests/test_cli.py


def _model_options(f):
    f = click.option("--no-model", is_flag=True, help="Leave the learned job-name model out.")(f)
    f = click.option(
        "--model",
        "model_path",
        default=None,
        type=click.Path(exists=True),
        help="A job-name model directory (or its .json) to use instead of the packaged one.",
    )(f)
    f = click.option("--fuzzy-k", default=5, show_default=True, type=click.IntRange(1, 50), help="Shortlist length.")(f)
    return _threshold_options(f)


_encoding_option = click.option(
    "--encoding",
    default="utf-8",
    show_default=True,
    type=click.Choice(["utf-8", "utf-8-sig", "cp949"]),
    help="Encoding of CSV/TSV row output (utf-8-sig for Excel). The crosswalk CSV is always UTF-8 with BOM.",
)


_sheet_option = click.option(
    "--sheet",
    default=None,
    metavar="NAME|N",
    help="The sheet of an XLSX input to read: its name, or its position (1 = first) [default: the first; "
    "a note on stderr says which was read when there are several].",
)


@click.command("code", context_settings=CONTEXT)
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--text-col", required=True, help="Column with the free-text occupation.")
@_sheet_option
@click.option("--weight-col", default=None, help="Numeric weight column; persons are weight sums.")
@click.option("--id-col", default=None, help="Row id column; checked to be a unique, non-empty key.")
@output_option(
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Coded rows; format by extension (.csv .tsv .parquet .xlsx), - for CSV on stdout. Not the input.",
)
@click.option(
    "--crosswalk",
    "crosswalk_path",
    default=None,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Also write the crosswalk: one row per distinct label with every rater's answer (CSV: UTF-8 with BOM).",
)
@rules_option
@no_bundled_option
@click.option("--replace", is_flag=True, help="Overwrite ksco_* columns the input already has.")
@_model_options
@_encoding_option
@quiet_option(help="No progress bars or summary on stderr.")
def code_command(
    input_path,
    text_col,
    sheet,
    weight_col,
    id_col,
    output,
    crosswalk_path,
    rules_path,
    no_bundled_rules,
    replace,
    fuzzy_k,
    model_path,
    no_model,
    model_threshold,
    fuzzy_threshold,
    encoding,
    quiet,
):
    """Code every row of a table to KSCO-7, offline.

    INPUT is CSV (UTF-8, UTF-8 with BOM or cp949), TSV, Parquet or XLSX, or - for
    CSV on stdin. Every column and row is kept in order; added are ksco_code,
    ksco_level, ksco_major, ksco_title, code_status, code_source, rule_id,
    former_code.

    A Parquet input, or a UTF-8 CSV/TSV of 64 MB or more, written to .csv, .tsv or
    .parquet is read in batches, twice (labels counted, then rows joined and
    written): memory holds the distinct labels and a batch, not the rows. A cp949
    CSV, standard input and XLSX are read whole.

    \b
    Example:
      coder code personas.parquet --text-col occupation -o coded.parquet --crosswalk xwalk.csv
    """
    from ..pipeline import code_file

    if model_path and no_model:
        raise click.UsageError("--model and --no-model cannot be used together.")
    if no_bundled_rules and not rules_path:
        raise click.UsageError("--no-bundled-rules needs --rules FILE.")
    mt, ft = _thresholds(model_threshold, fuzzy_threshold)
    result = code_file(
        input_path,
        output,
        text_col=text_col,
        weight_col=weight_col,
        id_col=id_col,
        crosswalk_path=crosswalk_path,
        replace=replace,
        rules=rules_path,
        bundled_rules=not no_bundled_rules,
        fuzzy_k=fuzzy_k,
        fuzzy_threshold=ft,
        model=False if no_model else model_path,
        model_threshold=mt,
        encoding=encoding,
        sheet=sheet,
        progress=not quiet,
    )
    for note in result.notes:
        _say(quiet, f"note: {note}")
    s = result.summary()
    _say(
        quiet,
        f"coded {s['rows']:,} rows ({s['labels']:,} distinct labels) in {result.seconds:.2f} s; "
        f"{s['needs_review_labels']:,} labels need review",
    )


@click.command("decide", context_settings=CONTEXT)
@click.argument("crosswalk_path", metavar="XWALK", type=click.Path(exists=True, dir_okay=False))
@output_option(required=True, type=click.Path(dir_okay=False, allow_dash=True), help="The re-decided crosswalk.")
@_threshold_options
@click.option(
    "--precedence",
    default=None,
    help="Comma-separated slots in order, e.g. review,consistency,title,rule,index,panel,model,fuzzy.",
)
@click.option(
    "--corroborate-threshold",
    default=None,
    type=click.FloatRange(0, 1),
    help="Take the model's deepest code at this probability when the fuzzy top candidate agrees "
    f"(1 turns it off) [default: {CORROBORATE_THRESHOLD_DEFAULT}].",
)
@click.option(
    "--model-depth-threshold",
    default=None,
    type=click.FloatRange(0, 1),
    help="A model code below the major group also needs this probability (0: the deepest code at "
    f"--model-threshold) [default: {MODEL_DEPTH_THRESHOLD_DEFAULT}].",
)
@quiet_option(help="No summary on stderr.")
def decide_command(
    crosswalk_path,
    output,
    model_threshold,
    fuzzy_threshold,
    precedence,
    corroborate_threshold,
    model_depth_threshold,
    quiet,
):
    """Re-decide a stored crosswalk's final codes without running any rater.

    Starts from the policy the crosswalk was decided with (its .meta.json sidecar) and changes
    only the options given; the defaults shown apply to a crosswalk without a sidecar. Later
    stages (check, panel, review import, …) keep the policy this writes into the sidecar.

    \b
    Example:
      coder decide xwalk.csv -o xwalk_strict.csv --model-threshold 0.8
    """
    from ..crosswalk.decide import PRECEDENCE
    from ..pipeline import decide_file

    order = None
    if precedence:
        order = tuple(x.strip() for x in precedence.split(",") if x.strip())
        bad = [x for x in order if x not in PRECEDENCE]
        if bad:
            raise click.BadParameter(
                f"unknown slot(s) {', '.join(bad)}; slots are {', '.join(PRECEDENCE)}", param_hint="--precedence"
            )
    changes: dict[str, object] = {}
    thresholds = {k: v for k, v in (("model", model_threshold), ("fuzzy", fuzzy_threshold)) if v is not None}
    if thresholds:
        changes["thresholds"] = thresholds
    if order is not None:
        changes["precedence"] = order
    if corroborate_threshold is not None:
        changes["corroborate_threshold"] = corroborate_threshold
    if model_depth_threshold is not None:
        changes["model_depth_threshold"] = model_depth_threshold
    decided = decide_file(crosswalk_path, output, changes=changes)
    for note in decided.notes:
        _say(quiet, f"note: {note}")
    xw = decided.frame
    coded = int((xw["ksco_code"] != "").sum())
    _say(quiet, f"decided {len(xw):,} labels: {coded:,} coded, {int(xw['needs_review'].sum()):,} need review")


@click.command("apply", context_settings=CONTEXT)
@click.argument("input_path", metavar="ROWS", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--crosswalk",
    "crosswalk_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="A (reviewed) crosswalk.",
)
@click.option("--text-col", required=True, help="Column with the free-text occupation.")
@_sheet_option
@output_option(required=True, type=click.Path(dir_okay=False, allow_dash=True), help="Coded rows; format by extension.")
@click.option("--strict", is_flag=True, help="Exit 1 when a label is not in the crosswalk.")
@click.option("--replace", is_flag=True, help="Overwrite ksco_* columns the rows already have.")
@_encoding_option
@quiet_option(help="No summary on stderr.")
def apply_command(input_path, crosswalk_path, text_col, sheet, output, strict, replace, encoding, quiet):
    """Join a (reviewed) crosswalk to rows by exact label_key; no rater runs.

    Labels the crosswalk lacks come out with status unknown, and are counted and listed.

    A Parquet input, or a UTF-8 CSV/TSV of 64 MB or more, written to .csv, .tsv or
    .parquet is read in batches, twice (labels counted, then rows joined and
    written): memory holds the distinct labels and a batch, not the rows.

    \b
    Example:
      coder apply personas.parquet --crosswalk xwalk_reviewed.csv --text-col occupation -o coded.parquet
    """
    from ..pipeline import apply_file

    result = apply_file(
        input_path,
        crosswalk_path,
        output,
        text_col=text_col,
        replace=replace,
        strict=strict,
        encoding=encoding,
        sheet=sheet,
    )
    for note in result.notes:
        _say(quiet, f"note: {note}")
    miss = result.missing
    _say(
        quiet,
        f"applied to {result.n_rows:,} rows; {len(miss):,} labels ({int(miss['n_rows'].sum()):,} rows) not in the crosswalk",
    )
    for row in miss.head(20).itertuples():
        _say(quiet, f"  not in crosswalk: {row.label!r} ({row.n_rows} rows)")


@click.command("demo", context_settings=CONTEXT)
@output_option(
    dest="out_dir",
    default="coder-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for coded.csv, crosswalk.csv, crosswalk.checked.csv, agreement/, report.html and report.json.",
    old_name="--out",
)
@click.option(
    "--top",
    default=10,
    show_default=True,
    type=click.IntRange(0, 1000),
    help="How many of the largest labels without a level-5 code to list.",
)
@click.option(
    "--input",
    "input_path",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="Run the same pipeline on your own person-level file (with --text-col and --sex-col) "
    "[default: the bundled NPK labels].",
)
@click.option("--text-col", default=None, help="Occupation column of --input.")
@click.option("--sex-col", default=None, help="Sex column of --input.")
@click.option("--weight-col", default=None, help="Person weight column of --input.")
@click.option(
    "--replicates", default=100, show_default=True, type=click.IntRange(1), help="Noise-test replicates per level."
)
@click.option(
    "--bootstrap",
    "n_bootstrap",
    default=500,
    show_default=True,
    type=click.IntRange(1),
    help="Bootstrap replicates for the agreement intervals.",
)
@quiet_option
def demo_command(out_dir, top, input_path, text_col, sex_col, weight_col, replicates, n_bootstrap, quiet):
    """The whole pipeline, offline, on the bundled Nemotron-Personas-Korea labels (2,120 labels, 1M persons).

    Codes the labels, checks them with the default consistency rules, measures agreement
    between the raters, the sex × KSCO axis metrics on the published NPK bucket table
    against KOSIS RES 2025 H2 (both published mappings), the sweeps, and writes the report.
    NPK publishes sex by label only for its 20 largest labels: the label × sex sweeps run
    on an IMPUTED table, labelled as such everywhere. With --input the same pipeline runs
    exactly on your rows.

    Data: NVIDIA Nemotron-Personas-Korea, CC BY 4.0 (label counts from the
    Nemotron-Personas-Korea audit).

    \b
    Example:
      coder demo -o coder-demo
      coder demo --input personas.csv --text-col occupation --sex-col sex -o my-demo
    """
    from ..demo import full_demo_summary, run_full_demo

    if input_path is None and (text_col or sex_col or weight_col):
        raise click.UsageError("--text-col, --sex-col and --weight-col go with --input FILE.")
    if input_path is not None and not (text_col and sex_col):
        raise click.UsageError("--input needs --text-col and --sex-col (the occupation text and the sex columns).")
    result = run_full_demo(
        out_dir,
        input=input_path,
        text_col=text_col,
        sex_col=sex_col,
        weight_col=weight_col,
        replicates=replicates,
        n_bootstrap=n_bootstrap,
        progress=not quiet,
    )
    _say(quiet, full_demo_summary(result, top=top))


@click.command("explain", context_settings=CONTEXT)
@click.argument("labels", nargs=-1, required=True)
@rules_option
@no_bundled_option
@_model_options
@click.option("-v", "--verbose", is_flag=True, help="Also list every rater's answer under each label.")
def explain_command(
    labels, rules_path, no_bundled_rules, fuzzy_k, model_path, no_model, model_threshold, fuzzy_threshold, verbose
):
    """Show how each LABEL is coded: one line per label, in the order given.

    \b
    Example:
      coder explain "택시 기사" "전직 건물 경비원, 현재 구직중" 무직
    """
    import pandas as pd

    from ..crosswalk.decide import rater_names
    from ..labels import tabulate_labels
    from ..normalize import label_key
    from ..pipeline import code_labels

    if model_path and no_model:
        raise click.UsageError("--model and --no-model cannot be used together.")
    mt, ft = _thresholds(model_threshold, fuzzy_threshold)
    table = tabulate_labels(pd.Series(list(labels), dtype=object))
    xw = code_labels(
        table,
        rules=rules_path,
        bundled_rules=not no_bundled_rules,
        model=False if no_model else model_path,
        fuzzy_k=fuzzy_k,
        model_threshold=mt,
        fuzzy_threshold=ft,
    ).set_index("label_key")
    names = rater_names(xw)
    for text in labels:
        row = xw.loc[label_key(text)]
        final = f"{row['ksco_code']} {row['ksco_title']}" if row["ksco_code"] else f"(no code, {row['status']})"
        why = row["code_source"] or "no rater"
        if row["rule_id"]:
            why += f" {row['rule_id']}"
        note = f"; {row['code_note']}" if row["code_note"] else ""
        review = "  [review]" if row["needs_review"] else ""
        click.echo(f"{text}: final {final} — because {why}{note}{review}")
        if verbose:
            for n in names:
                c = row[f"{n}_code"]
                if not c:
                    continue
                score = row.get(f"{n}_score")
                s = f" ({score:.2f})" if isinstance(score, float) and score == score else ""
                click.echo(f"    {n:<8} {c}{s}")
