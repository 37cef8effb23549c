"""``coder cache``: what the LLM response cache holds; export, import and prune it."""

from __future__ import annotations

import click

from . import CONTEXT, _say
from .options import quiet_option

__all__ = ["cache_group"]


@click.group("cache", context_settings=CONTEXT)
def cache_group() -> None:
    """The LLM panel's response cache (CODER_CACHE_DIR, default ./cache).

    \b
    Example:
      coder cache stats
      coder cache export panel-cache.jsonl.gz
      coder cache import panel-cache.jsonl.gz
      coder cache migrate
    """


@cache_group.command("stats", context_settings=CONTEXT)
def stats_command():
    """Entries, size and answers per vendor/model.

    \b
    Example:
      coder cache stats
    """
    from ..panel.cache import ResponseCache

    with ResponseCache(create=False) as cache:
        click.echo(cache.stats().to_text())


@cache_group.command("export", context_settings=CONTEXT)
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))
@quiet_option(help="No summary on stderr.")
def export_command(path, quiet):
    """Write every cached answer to FILE (gzip JSONL: key, request, response, usage, model, time; no keys).

    Publish it with your crosswalk: `coder cache import FILE` then `coder panel … --offline` reproduces the panel.

    \b
    Example:
      coder cache export panel-cache.jsonl.gz
    """
    from ..panel.cache import ResponseCache

    with ResponseCache(create=False) as cache:
        n = cache.export(path)
    _say(quiet, f"exported {n:,} answers to {path}")


@cache_group.command("import", context_settings=CONTEXT)
@click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@quiet_option(help="No summary on stderr.")
def import_command(path, quiet):
    """Load a bundle written by `coder cache export` (every key is checked against its request).

    \b
    Example:
      coder cache import panel-cache.jsonl.gz
    """
    from ..panel.cache import ResponseCache

    with ResponseCache() as cache:
        added, present = cache.import_(path)
    _say(quiet, f"imported {added:,} answers from {path} ({present:,} already cached)")


@cache_group.command("prune", context_settings=CONTEXT)
@click.option(
    "--older-than", "days", type=click.FloatRange(min=0), default=None, help="Delete answers older than DAYS."
)
@click.option("--model", default=None, help="Delete answers of this model only.")
@click.option("--all", "everything", is_flag=True, help="Delete every answer.")
@quiet_option(help="No summary on stderr.")
def prune_command(days, model, everything, quiet):
    """Delete cached answers: older than DAYS, of one model, or all (--all).

    \b
    Example:
      coder cache prune --older-than 90
      coder cache prune --model HCX-005
    """
    from ..panel.cache import ResponseCache

    if everything and (days is not None or model is not None):
        raise click.UsageError("--all cannot be combined with --older-than or --model.")
    if not everything and days is None and model is None:
        raise click.UsageError("say what to delete: --older-than DAYS, --model MODEL or --all.")
    with ResponseCache(create=False) as cache:
        n = cache.prune(older_than_days=days, model=model)
    _say(quiet, f"deleted {n:,} cached answers")


@cache_group.command("migrate", context_settings=CONTEXT)
@quiet_option(help="No summary on stderr.")
def migrate_command(quiet):
    """Convert an old cache folder (diskcache, pickled values) to the JSON cache, reading plain data only.

    Anything in the old cache that names a class or function (how a pickle runs code) is skipped and
    listed, never loaded. The old cache.db is left in place.

    \b
    Example:
      coder cache migrate
    """
    from ..panel.cache import cache_dir, migrate_cache

    n, problems = migrate_cache()
    for problem in problems:
        _say(quiet, f"skipped {problem}")
    _say(quiet, f"migrated {n:,} answers into {cache_dir()}; {len(problems):,} skipped")
