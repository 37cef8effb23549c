"""The crosswalk with its state: the frame, the policy it was decided with, the code list, the files.

A stored crosswalk is more than its table.  :func:`~coder.crosswalk.store.read_crosswalk` reads
it back with the provenance sidecar written beside it (``<file>.meta.json``) into a
:class:`Crosswalk`, and every stage over a stored crosswalk (decide, check, panel, review,
apply, agree, sensitivity, report) takes one and decides again only with its ``policy`` unless
the caller passes another: a choice made once (``coder decide --model-threshold 0.99``) is
never silently undone by a later stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from ..codes import CodeList, load_codes
from .decide import DecisionPolicy, decide

__all__ = ["Crosswalk", "code_list_record"]


def code_list_record(codes: CodeList) -> dict[str, str]:
    """How a sidecar names a code list: ``{"name", "file", "sha256"}`` (``file`` as ``crosswalks/<name>``)."""
    return {"name": codes.name, "file": f"crosswalks/{Path(codes.path).name}", "sha256": codes.sha256}


@dataclass(frozen=True, eq=False)
class Crosswalk:
    """A crosswalk (one row per label, every rater's columns, the decided code) and its state.

    ``frame``     the table (:mod:`coder.crosswalk.assemble`, :mod:`coder.crosswalk.decide`);
    ``policy``    the :class:`~coder.crosswalk.decide.DecisionPolicy` it was decided with;
    ``codes``     the :class:`~coder.codes.CodeList` it was coded against;
    ``files``     the files that made it (rules, code list, model, …) → their sha256;
    ``path``, ``sha256``  where it was read from and that file's sha256 (None when made in memory);
    ``notes``     what a user should know about it, in words (e.g. that it had no sidecar, so the
                  policy it was decided with is unknown and the default is used);
    ``audit``     the residual-error estimates of its blind audit samples, oldest first (each the
                  ``to_dict()`` of a :class:`~coder.review_audit.ResidualError`, written by
                  ``coder review import``); the sidecar keeps them (``audit``) and every later stage
                  carries them forward.

    >>> import pandas as pd
    >>> xw = Crosswalk.of(pd.DataFrame({"label_key": ["a"]}), policy=DecisionPolicy(thresholds={"model": 0.9}))
    >>> len(xw), xw.policy.threshold("model")
    (1, 0.9)
    """

    frame: pd.DataFrame
    policy: DecisionPolicy = field(default_factory=DecisionPolicy)
    codes: CodeList = field(default_factory=load_codes)
    files: Mapping[str, str] = field(default_factory=dict)
    path: str | None = None
    sha256: str | None = None
    notes: tuple[str, ...] = ()
    audit: tuple[Mapping[str, object], ...] = ()

    @classmethod
    def of(
        cls,
        crosswalk: Crosswalk | pd.DataFrame,
        *,
        codes: CodeList | None = None,
        policy: DecisionPolicy | None = None,
    ) -> Crosswalk:
        """A :class:`Crosswalk` from either a Crosswalk (returned as is) or a bare frame.

        A bare frame gets ``policy`` (default: :class:`~coder.crosswalk.decide.DecisionPolicy`)
        and ``codes`` (default: the toolkit's code list).  ``policy`` and ``codes`` do not
        change a Crosswalk: pass ``policy=`` to the stage to decide with another policy.
        """
        if isinstance(crosswalk, Crosswalk):
            return crosswalk
        if not isinstance(crosswalk, pd.DataFrame):
            raise TypeError(f"a crosswalk is a Crosswalk or a pandas DataFrame, not {type(crosswalk).__name__}")
        return cls(
            crosswalk,
            policy=policy if policy is not None else DecisionPolicy(),
            codes=codes if codes is not None else load_codes(),
        )

    def __len__(self) -> int:
        return len(self.frame)

    def with_frame(
        self,
        frame: pd.DataFrame,
        *,
        policy: DecisionPolicy | None = None,
        files: Mapping[str, str] | None = None,
    ) -> Crosswalk:
        """A new crosswalk made from this one: ``frame``, ``policy`` (default: this one's), ``files`` added.

        It is not the file this one was read from: ``path`` and ``sha256`` are cleared; notes are kept.
        """
        return replace(
            self,
            frame=frame,
            policy=policy if policy is not None else self.policy,
            files={**self.files, **(files or {})},
            path=None,
            sha256=None,
        )

    def decided(self, policy: DecisionPolicy | None = None) -> Crosswalk:
        """Decide again (:func:`~coder.crosswalk.decide.decide`) with ``policy``, default this crosswalk's own.

        The result carries the policy it was decided with.
        """
        policy = policy if policy is not None else self.policy
        return self.with_frame(decide(self.frame, policy, codes=self.codes), policy=policy)
