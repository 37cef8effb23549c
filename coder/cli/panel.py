"""``coder panel``: send labels to the LLM panel, cache every answer, vote, re-decide; ``coder panel evaluate``."""

from __future__ import annotations

import contextlib

import click

from . import CONTEXT, _say
from .options import output_option, quiet_option

__all__ = ["panel_group"]


class _DefaultRun(click.Group):
    """A group whose first argument, when it is not a subcommand, is the crosswalk of ``run``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


def _common(f):
    """Options shared by ``run`` and ``evaluate`` (applied bottom-up)."""
    opts = [
        quiet_option(help="No progress bar or summary on stderr."),
        click.option(
            "--offline", is_flag=True, help="Answer only from the cache; fail listing the labels it cannot answer."
        ),
        click.option(
            "--allow-unknown-price",
            is_flag=True,
            help="Run members whose model has no price (their cost is reported as unknown).",
        ),
        click.option(
            "--max-cost",
            type=click.FloatRange(min=0),
            default=None,
            help="Budget in USD: refuse a run that may cost more; stop sending before the spend the vendors "
            "report, plus the calls in flight, would pass it.",
        ),
        click.option(
            "--max-calls", type=click.IntRange(min=0), default=None, help="Refuse a run that needs more calls."
        ),
        click.option(
            "--plan", "plan_only", is_flag=True, help="Show labels, cache hits, calls, tokens and cost; send nothing."
        ),
        click.option(
            "--prices",
            "prices_path",
            default=None,
            type=click.Path(exists=True, dir_okay=False),
            help="Price table instead of rules/prices.toml.",
        ),
        click.option("--members", default=None, help="Comma-separated member ids to use (default: all)."),
        click.option(
            "--panel",
            "panel_path",
            default=None,
            type=click.Path(exists=True, dir_okay=False),
            help="Panel file instead of rules/panel.toml.",
        ),
    ]
    for o in opts:
        f = o(f)
    return f


@contextlib.contextmanager
def _on_interrupt():
    """Ctrl-C during a panel run: say what was kept, exit 130 (the shell's code for SIGINT)."""
    try:
        yield
    except KeyboardInterrupt:
        click.echo(
            "panel: interrupted — every answer received (and those in flight) is cached; "
            "run the same command again to pay only for the rest. No output written.",
            err=True,
        )
        raise click.exceptions.Exit(130) from None


def _notifier(quiet):
    """What the run says at once (a member stopped): on stderr, unless --quiet."""
    return None if quiet else (lambda message: click.echo(message, err=True))


def _ids(members):
    return [x.strip() for x in members.split(",") if x.strip()] if members else None


@click.group("panel", cls=_DefaultRun, context_settings=CONTEXT, invoke_without_command=False)
def panel_group() -> None:
    """Ask a panel of LLMs (several vendors) to code the labels the offline raters left open.

    Every answer is cached (CODER_CACHE_DIR, default ./cache): a re-run pays nothing, a stopped
    run pays only for the rest. Keys come only from the environment variables in the panel file.

    \b
    Example:
      coder panel xwalk.csv -o xwalk_panel.csv --plan
      coder panel xwalk.csv -o xwalk_panel.csv --max-cost 5 --allow-unknown-price
      coder panel evaluate --n 300
    """


@panel_group.command("run", context_settings=CONTEXT)
@click.argument("crosswalk_path", metavar="XWALK", type=click.Path(exists=True, dir_okay=False))
@output_option(required=True, type=click.Path(dir_okay=False), help="The crosswalk with the panel's votes.")
@click.option(
    "--only",
    type=click.Choice(["review", "uncoded", "all"]),
    default="review",
    show_default=True,
    help="Labels to send: review = no final code or needs_review; uncoded = no final code; all.",
)
@click.option(
    "--samples",
    type=click.IntRange(min=1),
    default=None,
    help="Answers per label and member (overrides the panel file).",
)
@_common
def run_command(
    crosswalk_path,
    output,
    only,
    samples,
    panel_path,
    members,
    prices_path,
    plan_only,
    max_calls,
    max_cost,
    allow_unknown_price,
    offline,
    quiet,
):
    """Send the labels of XWALK to the panel, add each member's vote (panel_<id>_*), re-decide, write -o.

    \b
    Example:
      coder panel xwalk.csv -o xwalk_panel.csv --plan
      coder panel xwalk.csv -o xwalk_panel.csv --members claude,gemini --max-cost 2
    """
    from ..panel import panel_file

    with _on_interrupt():
        outcome = panel_file(
            crosswalk_path,
            output,
            panel=panel_path,
            members=_ids(members),
            only=only,
            samples=samples,
            plan_only=plan_only,
            offline=offline,
            max_calls=max_calls,
            max_cost=max_cost,
            allow_unknown_price=allow_unknown_price,
            prices=prices_path,
            progress=not quiet,
            notify=_notifier(quiet),
        )
    if plan_only:
        click.echo(outcome.plan.to_text())
        return
    run, xw = outcome.run, outcome.crosswalk.frame
    _say(quiet, run.to_text())
    coded = int((xw["ksco_code"] != "").sum())
    by_panel = int((xw["code_source"] == "panel").sum())
    _say(
        quiet,
        f"panel: {len(outcome.plan.cores):,} texts rated in {run.seconds:.1f} s; {len(xw):,} labels: {coded:,} coded "
        f"({by_panel:,} by the panel), {int(xw['needs_review'].sum()):,} need review; wrote {output}",
    )
    for note in outcome.crosswalk.notes:
        _say(quiet, f"note: {note}")


@panel_group.command("evaluate", context_settings=CONTEXT)
@click.option(
    "--n", "n", type=click.IntRange(min=1), default=300, show_default=True, help="Held-out job names to send."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the stratified sample.")
@click.option(
    "--json", "json_path", default=None, type=click.Path(dir_okay=False), help="Also write the scores as JSON."
)
@_common
def evaluate_command(
    n,
    seed,
    json_path,
    panel_path,
    members,
    prices_path,
    plan_only,
    max_calls,
    max_cost,
    allow_unknown_price,
    offline,
    quiet,
):
    """What the panel is worth: its score on job names the offline model never saw, next to the offline coder.

    A stratified sample (by major group, seeded) of the 한국직업사전 names that `coder model evaluate`
    holds out is coded offline (model and index without those jobs; about a minute of training) and
    sent through the panel. Reported per member and for the majority: accuracy at each KSCO level,
    validity, calls, cost.

    \b
    Example:
      coder panel evaluate --n 300 --plan
      coder panel evaluate --n 300 --max-cost 3 --allow-unknown-price
    """
    from ..io import write_json
    from ..panel import evaluate_panel, load_panel, load_prices, load_prompts, select_members
    from ..panel.cache import ResponseCache

    chosen = select_members(load_panel(panel_path)[0], _ids(members))
    with ResponseCache() as cache, _on_interrupt():
        result = evaluate_panel(
            chosen,
            n=n,
            seed=seed,
            prompts=load_prompts(),
            cache=cache,
            prices=load_prices(prices_path),
            plan_only=plan_only,
            offline=offline,
            max_calls=max_calls,
            max_cost=max_cost,
            allow_unknown_price=allow_unknown_price,
            progress=not quiet,
            notify=_notifier(quiet),
        )
    if plan_only:
        click.echo(result.plan.to_text())
        return
    click.echo(result.to_text())
    if json_path:
        write_json(result.as_dict(), json_path)
