"""Sex × KSCO axis metrics against KOSIS: :mod:`~coder.axis.metrics`, :mod:`~coder.axis.robust`,
:mod:`~coder.axis.references` (the reference tables), :mod:`~coder.axis.bands` (shared interval helpers),
:mod:`~coder.axis.stage` (:func:`axis_file`, the file twin of ``coder axis``).
"""

from .metrics import AxisResult, SexBucketTable, measure_axis, tabulate_axis
from .references import ReferenceTable, load_reference
from .stage import axis_file, buckets_frame

__all__ = [
    "AxisResult",
    "ReferenceTable",
    "SexBucketTable",
    "axis_file",
    "buckets_frame",
    "load_reference",
    "measure_axis",
    "tabulate_axis",
]
