"""ksco-coder: code Korean free-text occupations to KSCO-7 (7th revision) and audit the result.

Library first, thin CLI (``coder --help``).  The layout (see each module's docstring):

* ground floor — :mod:`coder.errors`, :mod:`coder.normalize`, :mod:`coder.patterns`,
  :mod:`coder.resources`, :mod:`coder.io`, :mod:`coder.provenance`
* :mod:`coder.codes`, :mod:`coder.labels`, :mod:`coder.status`, :mod:`coder.stats`
* :mod:`coder.raters` — the rater contract and every offline rater (title, rule, index, model, fuzzy)
* :mod:`coder.crosswalk` — assemble the rater columns, decide the final code, the crosswalk with its
  state (policy, code list, files), read and write it, the stage runner
* :mod:`coder.pipeline` — rows → labels → raters → crosswalk → rows, with provenance sidecars
* :mod:`coder.panel` — the LLM panel stage, its vendor adapters and the response cache
* :mod:`coder.consistency`, :mod:`coder.review`, :mod:`coder.agreement`, :mod:`coder.sensitivity` —
  stages over a stored crosswalk, side by side
* :mod:`coder.axis` — sex × KSCO metrics against KOSIS; :mod:`coder.report` — HTML + JSON report
* :mod:`coder.cli` — one thin command per stage

Nothing happens at import: names below are loaded on first use (PEP 562), so
``import coder.normalize`` loads neither pandas nor scipy.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "CacheError": "errors",
    "CodeList": "codes",
    "CoderError": "errors",
    "CodingResult": "pipeline",
    "Crosswalk": "crosswalk.model",
    "CrosswalkError": "errors",
    "DecisionPolicy": "crosswalk.decide",
    "apply_file": "pipeline",
    "assemble_crosswalk": "crosswalk.assemble",
    "decide": "crosswalk.decide",
    "decide_file": "pipeline",
    "read_crosswalk": "crosswalk.store",
    "write_crosswalk": "crosswalk.store",
    "apply_crosswalk": "pipeline",
    "FUZZY_THRESHOLD": "raters.fuzzy",
    "InputError": "errors",
    "LabelTable": "labels",
    "MODEL_THRESHOLD": "raters.model",
    "MissingKeyError": "errors",
    "OUTPUT_COLUMNS": "pipeline",
    "PRECEDENCE": "crosswalk.decide",
    "RaterResult": "raters.base",
    "REGISTRY": "raters.base",
    "RaterSpec": "raters.base",
    "axis_file": "axis.stage",
    "check_crosswalk": "consistency",
    "check_file": "consistency",
    "load_consistency_rules": "consistency",
    "run_stage": "crosswalk.stage",
    "ReviewError": "errors",
    "RuleError": "errors",
    "VendorError": "errors",
    "apply_rules": "raters.rules",
    "code_file": "pipeline",
    "code_frame": "pipeline",
    "code_labels": "pipeline",
    "fuzzy_shortlist": "raters.fuzzy",
    "index_rater": "raters.index",
    "label_key": "normalize",
    "load_codes": "codes",
    "load_index": "raters.index",
    "load_model": "raters.model",
    "load_reference": "axis.references",
    "load_rules": "raters.rules",
    "load_status_rules": "status",
    "lookup_titles": "raters.title",
    "measure_axis": "axis.metrics",
    "model_rater": "raters.model",
    "normalize_label": "normalize",
    "parse_status": "status",
    "read_table": "io",
    "tabulate_axis": "axis.metrics",
    "tabulate_labels": "labels",
    "write_table": "io",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'coder' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
