"""Options shared by the commands, defined once so they mean the same everywhere.

``-o/--output`` is where a command writes its result (a file, or a folder for the
commands that write several); ``-q/--quiet`` silences what a command prints to stderr
(progress, logs, summaries).  ``tests/test_house.py`` checks every command uses these
spellings and no other.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import click
from click.core import ParameterSource

__all__ = ["output_option", "quiet_option"]

QUIET_HELP = "No progress or summary on stderr."


def output_option(
    *,
    help: str,
    required: bool = False,
    type: click.ParamType | None = None,
    dest: str = "output",
    default: str | None = None,
    show_default: bool = False,
    old_name: str | None = None,
) -> Callable:
    """``-o/--output``: where the command writes its result; passed to the command as ``dest``.

    ``old_name`` (e.g. ``"--out"``) keeps a former spelling working as a hidden alias:
    it is not in ``--help``, and giving it together with ``-o`` is a usage error.
    """

    def decorator(f: Callable) -> Callable:
        if old_name is not None:
            f = _old_name(f, dest=dest, old_name=old_name, type=type)
        return click.option(
            "-o", "--output", dest, required=required, type=type, default=default, show_default=show_default, help=help
        )(f)

    return decorator


def _old_name(f: Callable, *, dest: str, old_name: str, type: click.ParamType | None) -> Callable:
    key = f"{dest}_old_name"

    @functools.wraps(f)  # copies __click_params__ (the options already applied below this one)
    def command(*args, **kwargs):
        value = kwargs.pop(key)
        if value is not None:
            if click.get_current_context().get_parameter_source(dest) is not ParameterSource.DEFAULT:
                raise click.UsageError(f"give -o/--output once ({old_name} is its old name).")
            kwargs[dest] = value
        return f(*args, **kwargs)

    return click.option(old_name, key, type=type, default=None, hidden=True, help="Old name of -o/--output.")(command)


def quiet_option(f: Callable | None = None, *, help: str = QUIET_HELP) -> Callable:
    """``-q/--quiet``: nothing on stderr but errors.  Use as ``@quiet_option`` or ``@quiet_option(help=...)``."""
    decorator = click.option("-q", "--quiet", is_flag=True, help=help)
    return decorator if f is None else decorator(f)
