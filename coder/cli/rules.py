"""``coder rules``: check the rule files (thin CLI over :mod:`coder.raters.rules`)."""

from __future__ import annotations

import sys

import click

from . import CONTEXT
from .code import rules_option

__all__ = ["rules_group"]


@click.group("rules", context_settings=CONTEXT)
def rules_group():
    """Check the rule files.

    \b
    Example:
      coder rules check --strict
      coder rules check --rules my_rules.csv
    """


@rules_group.command("check", context_settings=CONTEXT)
@rules_option
@click.option("--strict", is_flag=True, help="Exit 1 when any example or counterexample fails.")
def rules_check_command(rules_path, strict):
    """Load the mapper, then run every rule's examples and counterexamples.

    \b
    Example:
      coder rules check --strict
    """
    from ..raters.rules import check_examples, load_rules

    # a user's file is checked on its own: its examples must be won by its own rules
    rules = load_rules(rules_path, bundled=False) if rules_path else load_rules()
    failures = check_examples(rules)
    for line in failures:
        click.echo(line)
    click.echo(f"{len(rules.active)} active rules, {len(failures)} example problem(s)", err=True)
    if failures and strict:
        sys.exit(1)
