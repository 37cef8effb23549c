"""Command-line interface: one thin command per stage (``coder --help``).

Every command parses options, calls one library function, and writes the
result; data goes to the output, progress and summaries to stderr.  A
:class:`~coder.errors.CoderError` becomes a one-line ``Error: …`` with exit
code 1 here, in one place.
"""

from __future__ import annotations

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


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        click.echo(text, err=True)


def _register() -> None:
    from .code import apply_command, code_command, decide_command, demo_command, explain_command
    from .rules import rules_group

    for command in (code_command, decide_command, apply_command, explain_command, demo_command, rules_group):
        cli.add_command(command)
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
    # Stage command modules over a stored crosswalk; each module defines the named click command.
    from importlib import import_module
    from importlib.util import find_spec

    for module, attr in _STAGES:
        if find_spec(f"{__name__}.{module}") is not None:
            cli.add_command(getattr(import_module(f"{__name__}.{module}"), attr))


_STAGES = (
    ("panel", "panel_group"),
    ("cache", "cache_group"),
    ("check", "check_command"),
    ("review", "review_group"),
    ("agree", "agree_command"),
    ("sensitivity", "sensitivity_command"),
    ("report", "report_command"),
)


_register()


def main() -> None:
    """Run the ``coder`` command line (the console script and ``python -m coder``)."""
    cli(prog_name="coder")
