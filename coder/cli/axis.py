"""``coder axis``: sex × KSCO axis metrics against a KOSIS reference (thin CLI over :func:`coder.axis.axis_file`)."""

from __future__ import annotations

import click

from . import CONTEXT
from .options import quiet_option

__all__ = ["axis_command"]


def _fmt(x, spec=".3f") -> str:
    return "—" if x is None else format(x, spec)


def _ci(ci, spec=".3f") -> str:
    return "—" if ci is None else f"[{ci[0]:{spec}}, {ci[1]:{spec}}]"


def _flag(x) -> str:
    return "—" if x is None else ("OUT" if x else "in")


def format_axis_table(result) -> str:
    """A readable plain-text report of an :class:`~coder.axis.metrics.AxisResult`."""
    from ..axis.metrics import MIN_PERSONS

    s = result.settings
    q, tau = s["q"], s["tau"]
    ref = result.reference
    ax = result.axis
    frame_line = (
        f"frame: {ax['n_respondents']:,} respondents, {ax['persons_weighted']:,.0f} weighted persons, "
        f"Kish n_eff {ax['n_effective']:,.1f}"
        if ax.get("weighted")
        else f"frame: {ax.get('n_respondents', result.n_persons):,} persons"
    )
    lines = [
        f"Sex × KSCO axis vs {ref['name']} ({ref['survey']}{', ' + ref['period'] if ref['period'] else ''})",
        frame_line
        + "   out of the comparison (respondents): "
        + ", ".join(f"{k}={v:,}" for k, v in result.excluded.items()),
        "",
        f"{'bucket':<7}{'persons':>10}{'women':>10}{'F data':>8}{'F ref':>8}{'gap pp':>8}{'r':>8}"
        f"  {'95% CI':<17}{'Bonf. CI':<17}{'band':>5}{'par d/r':>9}{'r_bucket':>9}  {'95% CI':<17}{'band':>5}",
    ]
    for b in result.buckets:
        lines.append(
            f"{b.bucket:<7}{b.persons:>10,.0f}{b.women:>10,.0f}{_fmt(b.female_share):>8}{b.ref_female_share:>8.3f}"
            f"{_fmt(b.gap_pp, '+.1f'):>8}{_fmt(b.r):>8}  {_ci(b.r_ci):<17}{_ci(b.r_ci_bonferroni):<17}"
            f"{_flag(b.out_of_band):>5}{_flag(b.parity_flag) + '/' + _flag(b.ref_parity_flag):>9}"
            f"{b.r_bucket:>9.3f}  {_ci(b.r_bucket_ci):<17}{_flag(b.bucket_out_of_band):>5}"
            + (f"   ({b.note})" if b.note else "")
        )
    k = len(result.buckets)
    lines += [
        "",
        f"r = female share data / reference; band [q, 1/q] = [{q:g}, {1 / q:.3g}]; OUT = 95% interval wholly outside.",
        f"out of band (r): {result.n_out_of_band}/{k} (point {result.n_out_of_band_point}, Bonferroni "
        f"{result.n_out_of_band_bonferroni});  r_bucket (bucket share data / reference): "
        f"{result.n_bucket_out_of_band}/{k} (point {result.n_bucket_out_of_band_point})",
        f"4/5 parity flagged: data {result.n_parity_flagged}/{k}, reference {result.n_ref_parity_flagged}/{k}",
        "",
        f"Cramér's V (Bergsma bias-corrected): data {result.v_data:.4f} (uncorrected {result.v_data_uncorrected:.4f}),"
        f" reference {result.v_ref:.4f} (uncorrected {result.v_ref_uncorrected:.4f})",
        f"ρ = V_data / V_ref = {_fmt(result.rho, '.4f')}  95% intervals: sampling {_ci(result.rho_ci, '.4f')}, "
        f"coding {_ci(result.rho_ci_coding, '.4f')}, total {_ci(result.rho_ci_total, '.4f')}",
        f"  → verdict ({'total' if result.rho_ci_total is not None else 'sampling'} interval): "
        + {
            "attenuated": "attenuated (ρ < τ, interval below τ)",
            "not_attenuated": "not_attenuated (ρ ≥ τ, interval above τ)",
        }.get(
            result.verdict,
            f"inconclusive (interval contains τ, ρ undefined, or n_eff below {MIN_PERSONS})",
        )
        + f" at τ = {tau:g}",
        f"  {result.tau_note}",
        f"permutation null (fixed margins, {result.permutation['draws']:,} draws): p = "
        f"{result.permutation['p_value']:.3g} (plus-one); null V mean {result.permutation['null_mean']:.4f}, "
        f"95th pct {result.permutation['null_q95']:.4f}",
        "distances data vs reference bucket distribution: "
        + "; ".join(
            f"{k_}: TV {d['total_variation']:.4f}, JSD {d['jensen_shannon']:.4f} nats "
            f"({d['jensen_shannon_normalised']:.4f} of ln 2)"
            for k_, d in result.distances.items()
        ),
        "",
        "robustness grid (τ × q): verdict (ATT attenuated, ok not attenuated, inc inconclusive) / "
        "out-of-band r / out-of-band r_bucket",
        "        " + "".join(f"q={x:<12g}" for x in s["qs"]),
    ]
    for t in s["taus"]:
        cells = [c for c in result.grid if c.tau == t]
        lines.append(
            f"τ={t:<5g} "
            + "".join(
                f"{_GRID_VERDICT[c.verdict]:<4}{c.n_out_of_band:>2}/{c.n_bucket_out_of_band:<2}     " for c in cells
            )
        )
    v = result.vintages
    if v is not None:
        lines += [
            "",
            f"vintage drift ({len(v.periods)} other periods of the same survey): largest change in a reference "
            f"female share {v.max_female_share_change_pp:.2f} pp ({v.max_female_share_change_at[0]}, bucket "
            f"{v.max_female_share_change_at[1]}); in a bucket share {v.max_bucket_share_change_pp:.2f} pp "
            f"({v.max_bucket_share_change_at[0]}, bucket {v.max_bucket_share_change_at[1]})",
            "  r flag changes: "
            + ("; ".join(f"bucket {b} in {', '.join(ps)}" for b, ps in v.flag_changes.items()) or "none"),
            f"  periods with a different verdict: {', '.join(v.periods_with_verdict_change) or 'none'}",
        ]
    a = result.age_standardisation
    if a is not None:
        lines += [
            "",
            f"age-standardised (reference age structure {a.age_reference_period}): ρ = {_fmt(a.rho, '.4f')} "
            f"{_ci(a.rho_ci, '.4f')}, out of band {a.n_out_of_band}/{k}, flags changed: "
            f"{', '.join(a.flags_changed) or 'none'}",
            f"  assumption: {a.assumption}",
        ]
        lines += [f"  note: {n}" for n in a.notes]
    for d in result.deff:
        lines.append(
            f"reference DEFF {d.deff:g} (n_eff {d.n_effective:,}): ρ CI {_ci(d.rho_ci, '.4f')}, out of band "
            f"{d.n_out_of_band}/{k}, flags changed: {', '.join(d.flags_changed) or 'none'}"
        )
    if ax.get("uncertain_labels"):
        lines += ["", "labels carrying most of the coding uncertainty (persons × P(bucket changes)):"]
        lines += [
            f"  {u['expected_persons_moved']:>12,.1f}  {u['label']} (bucket {u['bucket']}, {u['persons']:,.0f} persons, "
            f"p {u['p_change']:.3f})"
            for u in ax["uncertain_labels"][:10]
        ]
    notes = list(result.notes) + [n for n in ax.get("notes", []) if n not in result.notes]
    if notes:
        lines += [""] + [f"note: {n}" for n in notes]
    return "\n".join(lines) + "\n"


_GRID_VERDICT = {"attenuated": "ATT", "not_attenuated": "ok", "inconclusive": "inc"}


def _sex_map(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in values:
        if "=" not in item:
            raise click.BadParameter(f"{item!r}: use VALUE=female or VALUE=male", param_hint="--sex-map")
        key, target = item.rsplit("=", 1)
        out[key] = target
    return out


@click.command("axis", context_settings=CONTEXT)
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--reference",
    "reference",
    default="kosis-res:2025H2",
    show_default=True,
    help="Reference table: kosis-res:<YYYYH1|H2>, kosis-eaps:<YYYY>, or a CSV with bucket, sex, count|share.",
)
@click.option("--sex-col", default="sex", show_default=True, help="Column with the sex of each row.")
@click.option(
    "--code-col",
    default="ksco_major",
    show_default=True,
    help="Column with the KSCO major or a full KSCO code (its first character is the bucket).",
)
@click.option(
    "--status-col",
    default=None,
    help="Coded-rows status column (default: code_status when present); employed_unstated rows are counted apart.",
)
@click.option("--weight-col", default=None, help="Optional person weight column (rows input).")
@click.option("--age-col", default=None, help="Optional age column: enables direct age standardisation.")
@click.option("--count-col", default=None, help="Input is an aggregated long table: bucket, sex and this count column.")
@click.option("--n-col", default=None, help="Input is a wide bucket table: persons per bucket in this column ...")
@click.option("--female-share-col", default=None, help="... and the female share per bucket in this column.")
@click.option(
    "--sex-map",
    multiple=True,
    metavar="VALUE=female|male",
    help="Map an extra sex value (repeatable), e.g. --sex-map W=female.",
)
@click.option(
    "--exclude",
    default="0,A,unknown",
    show_default=True,
    help="Comma-separated buckets left out of the comparison and counted ('' keeps all).",
)
@click.option(
    "--q",
    "q",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.8,
    show_default=True,
    help="Band [q, 1/q] for the reference ratio.",
)
@click.option("--tau", type=float, default=0.7, show_default=True, help="Screen threshold: attenuated when ρ < τ.")
@click.option(
    "--bootstrap",
    "n_bootstrap",
    type=click.IntRange(1),
    default=2000,
    show_default=True,
    help="Bootstrap replicates (multinomial).",
)
@click.option(
    "--permutations",
    "n_permutations",
    type=click.IntRange(1),
    default=10000,
    show_default=True,
    help="Permutation draws (fixed margins).",
)
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    help="1 − interval level.",
)
@click.option(
    "--draws",
    "n_draws",
    type=click.IntRange(1),
    default=1000,
    show_default=True,
    help="Coding draws (whole mappings) for the coding and total intervals of ρ (needs the crosswalk).",
)
@click.option(
    "--crosswalk",
    "crosswalk",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="The crosswalk that coded INPUT: the labels' coding uncertainty enters ρ's interval "
    "[default: the one recorded in INPUT's .meta.json, if it is still there].",
)
@click.option(
    "--text-col",
    default=None,
    help="Occupation column of INPUT, to join the crosswalk [default: from INPUT's .meta.json].",
)
@click.option("--seed", type=int, default=20260101, show_default=True, help="Random seed.")
@click.option(
    "--ref-sample-size",
    type=click.IntRange(1),
    default=None,
    help="Sampled persons behind the reference, for the DEFF 1/1.5/2 sensitivity (no default: KOSIS does "
    "not publish it with these tables).",
)
@click.option("--no-vintages", is_flag=True, help="Skip the vintage-drift check over the survey's other periods.")
@click.option(
    "--json",
    "json_path",
    default=None,
    help="Write every number as JSON here ('-' = stdout), with a .meta.json sidecar. Not the input.",
)
@click.option(
    "--csv",
    "csv_path",
    default=None,
    help="Write the per-bucket table as CSV here, with a .meta.json sidecar. Not the input.",
)
@quiet_option(help="Do not print the table (stdout) nor progress bars (stderr).")
def axis_command(
    input_path,
    reference,
    sex_col,
    code_col,
    status_col,
    weight_col,
    age_col,
    count_col,
    n_col,
    female_share_col,
    sex_map,
    exclude,
    q,
    tau,
    n_bootstrap,
    n_permutations,
    alpha,
    n_draws,
    crosswalk,
    text_col,
    seed,
    ref_sample_size,
    no_vintages,
    json_path,
    csv_path,
    quiet,
):
    """Compare the sex × KSCO-major association of a dataset with KOSIS, bucket by bucket.

    \b
    Example:
        coder axis coded.parquet --sex-col sex --code-col ksco_major \\
            --reference kosis-res:2025H2 --json axis.json
        coder axis table.csv --code-col ksco_major --n-col n --female-share-col female_share
    """
    from ..axis.stage import axis_file

    if n_col and count_col:
        raise click.UsageError("--count-col and --n-col are mutually exclusive (long vs wide aggregated table).")
    if bool(n_col) != bool(female_share_col):
        raise click.UsageError("--n-col and --female-share-col go together.")
    result = axis_file(
        input_path,
        reference=reference,
        json_path=json_path,
        csv_path=csv_path,
        sex_col=sex_col,
        code_col=code_col,
        status_col=status_col,
        weight_col=weight_col,
        age_col=age_col,
        count_col=count_col,
        n_col=n_col,
        female_share_col=female_share_col,
        sex_map=_sex_map(sex_map),
        exclude=[e.strip() for e in exclude.split(",")] if exclude else [],
        q=q,
        tau=tau,
        n_bootstrap=n_bootstrap,
        n_permutations=n_permutations,
        alpha=alpha,
        seed=seed,
        ref_sample_size=ref_sample_size,
        vintages=not no_vintages,
        crosswalk=crosswalk,
        text_col=text_col,
        n_draws=n_draws,
        progress=not quiet,
    )
    if not quiet and json_path != "-":
        click.echo(format_axis_table(result), nl=False)
