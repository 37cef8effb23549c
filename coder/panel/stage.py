"""The panel as a stage over a stored crosswalk: ``coder panel XWALK -o OUT``.

:func:`panel_crosswalk` adds each member's votes as rater ``panel_<id>`` (columns ``_code``,
``_score`` = ``_confidence``, ``_valid``, ``_reason``, …; keyed by core key, so every label with
that core key gets the vote) and re-decides.  Votes a member gave earlier for labels this run
did not send are kept.  :func:`panel_file` reads, plans, runs, decides and writes the crosswalk
with its ``.meta.json`` (panel members, prompt hashes, the price table's sha256); it writes
nothing when the run fails or is stopped, and answers received stay cached.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..codes import CodeList
from ..crosswalk.assemble import add_raters
from ..crosswalk.decide import DecisionPolicy
from ..crosswalk.model import Crosswalk
from ..crosswalk.stage import Output, StageResult, run_stage
from ..raters.base import RaterResult
from .cache import ResponseCache
from .config import Member, PriceTable, load_panel, load_prices, select_members
from .prompt import Prompts, load_prompts
from .run import PanelPlan, PanelRun, panel_votes, plan_panel, run_panel

__all__ = ["PanelOutcome", "panel_crosswalk", "panel_file"]


@dataclass(frozen=True, eq=False)
class PanelOutcome:
    """A panel stage run: the plan, the run (None for a plan only) and the decided :class:`~coder.crosswalk.model.Crosswalk` (None for a plan)."""

    plan: PanelPlan
    run: PanelRun | None
    crosswalk: Crosswalk | None


def _keep_stored(crosswalk, result: RaterResult) -> RaterResult:
    """``result`` plus the stored votes of the same rater for core keys it does not cover."""
    name = result.rater
    if f"{name}_code" not in crosswalk.columns:
        return result
    have = set(result.keys)
    cols = {f: f"{name}_{f}" for f in ("code", "score", "detail", "confidence", "valid", "reason", "flags")}
    extra_keys, codes_, scores, details, conf, valid, reason, flags = [], [], [], [], [], [], [], []
    seen = set()
    for rec in crosswalk.to_dict("records"):
        core = str(rec["core_key"])
        if (
            not core
            or core in have
            or core in seen
            or (not str(rec.get(cols["code"], "") or "") and not rec.get(cols["reason"]))
        ):
            continue
        seen.add(core)
        extra_keys.append(core)
        codes_.append(str(rec.get(cols["code"], "") or ""))
        s = rec.get(cols["confidence"], rec.get(cols["score"], math.nan))
        s = math.nan if s is None or s == "" else float(s)
        scores.append(s)
        conf.append(s)
        details.append(str(rec.get(cols["detail"], "") or ""))
        valid.append(bool(rec.get(cols["valid"], False)))
        reason.append(str(rec.get(cols["reason"], "") or ""))
        flags.append(tuple(x for x in str(rec.get(cols["flags"], "") or "").split(";") if x))
    if not extra_keys:
        return result
    ex = dict(result.extra)
    return RaterResult(
        name,
        (*result.keys, *extra_keys),
        (*result.codes, *codes_),
        (*result.scores, *scores),
        (*result.details, *details),
        extra={
            "confidence": (*ex["confidence"], *conf),
            "valid": (*ex["valid"], *valid),
            "reason": (*ex["reason"], *reason),
        },
        flags=(*result.flags, *flags),
        candidates=(*result.candidates, *(() for _ in extra_keys)),
    )


def panel_crosswalk(
    crosswalk: Crosswalk | pd.DataFrame,
    run: PanelRun,
    *,
    codes: CodeList | None = None,
    policy: DecisionPolicy | None = None,
) -> Crosswalk:
    """The crosswalk with the run's votes as ``panel_<id>`` raters, decided again.

    Decided with ``policy``, default the crosswalk's own (a bare frame has the default policy).
    """
    xwalk = Crosswalk.of(crosswalk, codes=codes)
    codes = codes if codes is not None else xwalk.codes
    results = [_keep_stored(xwalk.frame, r) for r in panel_votes(run, codes)]
    with_votes = add_raters(xwalk.frame, results, on="core_key")
    return xwalk.with_frame(with_votes).decided(policy)


def member_record(m: Member) -> dict:
    """A member as recorded in the sidecar (the key variable's name, never its value; the base URL without credentials)."""
    return {"id": m.id, "api_key_env": m.api_key_env, "samples": m.samples, **m.sampling()}


def panel_file(
    crosswalk_path: str | Path,
    output_path: str | Path,
    *,
    panel: str | Path | None = None,
    members: Sequence[str] | None = None,
    only: str = "review",
    samples: int | None = None,
    plan_only: bool = False,
    offline: bool = False,
    max_calls: int | None = None,
    max_cost: float | None = None,
    allow_unknown_price: bool = False,
    prices: str | Path | None = None,
    prompts: str | Path | None = None,
    cache: ResponseCache | None = None,
    policy: DecisionPolicy | None = None,
    progress: bool = False,
    env: Mapping[str, str] | None = None,
    command: str = "coder panel",
    notify: Callable[[str], None] | None = None,
) -> PanelOutcome:
    """Plan (and unless ``plan_only``, run) the panel on a stored crosswalk and write the re-decided crosswalk.

    Decided with ``policy``, default the one the crosswalk's sidecar records.  With ``plan_only``
    nothing is written.  ``notify(message)`` is told at once when a member stops (see
    :func:`~coder.panel.run.run_panel`).  The sidecar records the members with their base URLs
    without credentials.
    """
    panel_members, panel_sha = load_panel(panel)
    chosen = select_members(panel_members, members)
    price_table: PriceTable = load_prices(prices)
    templates: Prompts = load_prompts(prompts)

    def stage(stored: Crosswalk) -> StageResult:
        codes = stored.codes
        nonlocal cache
        own_cache = cache is None
        cache = cache if cache is not None else ResponseCache()
        try:
            plan = plan_panel(
                stored.frame,
                chosen,
                codes=codes,
                prompts=templates,
                cache=cache,
                prices=price_table,
                only=only,
                samples=samples,
                env=env,
            )
            if plan_only:
                return StageResult(PanelOutcome(plan, None, None))
            run = run_panel(
                plan,
                codes=codes,
                cache=cache,
                prices=price_table,
                offline=offline,
                max_calls=max_calls,
                max_cost=max_cost,
                allow_unknown_price=allow_unknown_price,
                progress=progress,
                env=env,
                notify=notify,
            )
        finally:
            if own_cache:
                cache.close()
        decided = panel_crosswalk(stored, run, policy=policy)
        before, after = stored.frame, decided.frame
        changed = int((after["ksco_code"] != before["ksco_code"]).sum()) if "ksco_code" in before else len(after)
        used = {
            "rules/panel.toml" if panel is None else f"panel/{Path(panel).name}": panel_sha,
            "rules/prices.toml" if prices is None else f"prices/{Path(prices).name}": price_table.sha256,
            **{f"rules/prompts/{n}": h for n, h in templates.files.items()},
        }
        return StageResult(
            PanelOutcome(plan, run, decided),
            [Output(output_path, decided)],
            crosswalk=decided,
            params={
                "only": only,
                "samples": samples,
                "offline": offline,
                "max_calls": max_calls,
                "max_cost": max_cost,
                "members": [member_record(mp.member) for mp in plan.members],
                "prompt_template_sha256": templates.sha256,
                "prices": {"path": price_table.path, "sha256": price_table.sha256},
            },
            files=used,
            summary={
                "labels_sent": plan.labels,
                "texts_rated": len(plan.cores),
                "members": {k: v.as_dict() for k, v in run.stats.items()},
                "codes_changed": changed,
                "coded": int((after["ksco_code"] != "").sum()),
                "needs_review": int(after["needs_review"].sum()),
            },
        )

    return run_stage(
        stage, crosswalk_path, {"the output (-o)": output_path}, command=command, tables=["the output (-o)"]
    )  # type: ignore[return-value]
