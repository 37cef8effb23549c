"""The crosswalk: one row per distinct label, every rater's columns, one decided code — and its state.

:mod:`coder.crosswalk.assemble` builds it from rater results, :mod:`coder.crosswalk.decide`
computes the final columns from the stored ones, :mod:`coder.crosswalk.model` holds it with the
policy it was decided with, the code list and the files that made it (:class:`Crosswalk`),
:mod:`coder.crosswalk.store` reads and writes it with its sidecar, and
:mod:`coder.crosswalk.stage` runs a stage over a stored crosswalk (:func:`run_stage`).

Names below load on first use (PEP 562): importing :mod:`coder.crosswalk.decide` does not load
the reader, the writer or the runner.  (The function ``decide`` is not exported here: the name
is its module's; import it from :mod:`coder.crosswalk.decide`.)
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Crosswalk": "model",
    "DecisionPolicy": "decide",
    "Output": "stage",
    "StageResult": "stage",
    "read_crosswalk": "store",
    "run_stage": "stage",
    "write_crosswalk": "store",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'coder.crosswalk' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
