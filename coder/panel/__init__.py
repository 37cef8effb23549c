"""The multi-vendor LLM panel: members as data, Korean prompts, cached answers, votes as raters.

Modules: :mod:`.config` (``rules/panel.toml`` members, ``rules/prices.toml``), :mod:`.prompt`
(``rules/prompts/`` templates, candidates from the stored crosswalk), :mod:`.parse` (strict
answer parsing), :mod:`.vendor` (the adapter contract; adapters are looked up by vendor
name), one adapter per vendor (:mod:`.anthropic`, :mod:`.gemini`, :mod:`.openai`,
:mod:`.openai_compatible`), :mod:`.run` (plan, budget guards, votes), :mod:`.execute`
(concurrent calls with retries, deadlines, leases and the running budget), :mod:`.cache` (the
response cache: JSON in SQLite), :mod:`.entries` (cache keys and the check of every entry read),
:mod:`.migrate` (old pickled caches, read as plain data only), :mod:`.stage` (``coder panel``:
read a crosswalk, add votes, re-decide, write) and :mod:`.evaluate` (``coder panel evaluate``).
Nothing is read or imported from a vendor SDK at import time.
"""

from __future__ import annotations

from .config import Member, Price, PriceTable, load_panel, load_prices, select_members
from .evaluate import PanelEvaluation, evaluate_panel
from .parse import ANSWER_SCHEMA, ParsedAnswer, parse_answer
from .prompt import Prompts, candidates_for, load_prompts, render
from .run import BudgetError, MemberStats, PanelPlan, PanelRun, panel_votes, plan_panel, run_panel
from .stage import PanelOutcome, panel_crosswalk, panel_file
from .vendor import CallError, Reply, adapter_class

__all__ = [
    "ANSWER_SCHEMA",
    "BudgetError",
    "CallError",
    "Member",
    "MemberStats",
    "PanelEvaluation",
    "PanelOutcome",
    "PanelPlan",
    "PanelRun",
    "ParsedAnswer",
    "Price",
    "PriceTable",
    "Prompts",
    "Reply",
    "adapter_class",
    "candidates_for",
    "evaluate_panel",
    "load_panel",
    "load_prices",
    "load_prompts",
    "panel_crosswalk",
    "panel_file",
    "panel_votes",
    "parse_answer",
    "plan_panel",
    "render",
    "run_panel",
    "select_members",
]
