"""``coder model``: train and evaluate the learned job-name rater (thin CLI over :mod:`coder.raters.model`)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from . import CONTEXT
from .options import output_option, quiet_option

__all__ = ["model_group"]


@click.group("model", context_settings=CONTEXT)
def model_group() -> None:
    """Train and evaluate the character n-gram model of job names (rater "model").

    \b
    Example:
      coder model evaluate
      coder model train -o my-model/
    """


@model_group.command("train", context_settings=CONTEXT)
@output_option(
    dest="out_dir",
    type=click.Path(file_okay=False),
    help="Directory to write jobdict_model.npz/.json into (load it with load_model(path)).",
    old_name="--out",
)
@click.option(
    "--ship",
    is_flag=True,
    help="Overwrite the model shipped inside the package (coder/models/) instead of -o DIR.",
)
@click.option("--seed", default=None, type=int, help="Random seed [default: 0].")
@click.option("--no-evaluate", is_flag=True, help="Skip the held-out evaluation stored in the metadata.")
@quiet_option
def train_command(out_dir: str | None, ship: bool, seed: int | None, no_evaluate: bool, quiet: bool) -> None:
    """Train the model on the shipped index (deterministic for a seed) and write it.

    Exactly one of -o DIR or --ship is required, so that the packaged model is
    only replaced on purpose. Prints the path of the metadata JSON on stdout.

    \b
    Example:
      coder model train -o my-model/
      coder model train --ship          # maintainers: refresh coder/models/
    """
    from ..raters import model as m

    if bool(out_dir) == ship:
        raise click.UsageError("give exactly one of -o/--output DIR or --ship.")
    seed = m.SEED if seed is None else seed
    if not quiet:
        click.echo(f"training (seed {seed}{', with held-out evaluation' if not no_evaluate else ''})…", err=True)
    model = m.train_model(seed=seed, evaluate=not no_evaluate)
    path = m.save_model(model, m.MODEL_DIR if ship else Path(out_dir))
    if not quiet:
        meta = model.metadata
        npz = path.parent / f"{m.MODEL_NAME}.npz"
        click.echo(
            f"{meta['classes']} unit groups, {meta['features']} features, {meta['nonzero_weights']} weights, "
            f"T={model.temperature:.3f}, {npz.stat().st_size / 1e6:.2f} MB, {meta['train_seconds']} s",
            err=True,
        )
        if meta.get("evaluation"):
            acc = meta["evaluation"]["accuracy"]
            click.echo("held-out accuracy " + ", ".join(f"{k}-digit {v:.3f}" for k, v in acc.items()), err=True)
    click.echo(str(path))


@model_group.command("evaluate", context_settings=CONTEXT)
@click.option("--seed", default=None, type=int, help="Seed of the job split and training [default: 0].")
@click.option(
    "--threshold",
    default=None,
    type=click.FloatRange(0, 1),
    help="Probability threshold to report [default: the shipped MODEL_THRESHOLD, see coder code --help].",
)
@click.option("--json", "json_path", default=None, type=click.Path(dir_okay=False, allow_dash=True),
              help="Also write the metrics as JSON (- for stdout instead of the table).")  # fmt: skip
def evaluate_command(seed: int | None, threshold: float | None, json_path: str | None) -> None:
    """Hold out 20 % of the dictionary's jobs, train on the rest, print held-out metrics.

    Prints accuracy at the major, 2-, 3- and 4-digit levels (micro, and macro over
    major groups), the expected calibration error per level, per-major accuracy,
    and per threshold the coverage, precision (code right at its own level) and
    mean level of the codes the model gives, held-out and out-of-fold.

    \b
    Example:
      coder model evaluate --json eval.json
    """
    from ..raters import model as m

    ev = m.evaluate_model(
        seed=m.SEED if seed is None else seed, threshold=m.MODEL_THRESHOLD if threshold is None else threshold
    )
    text = json.dumps(ev.as_dict(), ensure_ascii=False, indent=2)
    if json_path == "-":
        click.echo(text)
        return
    click.echo(ev.to_text())
    if json_path:
        Path(json_path).write_text(text + "\n", encoding="utf-8")
        click.echo(f"wrote {json_path}", err=True)
