"""ksco-coder: code Korean free-text occupations to KSCO-7 (7th revision) and audit the result.

Library first, thin CLI (``coder --help``).  The stages, each a module:

* :mod:`coder.normalize` — label normal form and the ``label_key`` join key
* :mod:`coder.labels` — the distinct-label table (code labels, not rows)
* :mod:`coder.status` — employed / job-seeker / not employed / military / unknown
* :mod:`coder.lookup`, :mod:`coder.rules`, :mod:`coder.fuzzy` — offline raters
* :mod:`coder.crosswalk` — every rater side by side, final code by precedence
* :mod:`coder.jobindex`, :mod:`coder.model` — job-dictionary index and the learned job-name rater
* :mod:`coder.coding` — rows → labels → crosswalk → rows, with provenance sidecars
* :mod:`coder.axis`, :mod:`coder.references`, :mod:`coder.stats` — sex × KSCO metrics against KOSIS

Nothing happens at import: no file is read until a function asks for it.
"""

from .axis import measure_axis, tabulate_axis
from .codes import CodeList, load_codes
from .coding import OUTPUT_COLUMNS, CodingResult, code_file, code_frame, code_labels
from .crosswalk import PRECEDENCE, build_crosswalk
from .errors import (
    CacheError,
    CoderError,
    CrosswalkError,
    InputError,
    MissingKeyError,
    ReviewError,
    RuleError,
    VendorError,
)
from .fuzzy import FUZZY_THRESHOLD, fuzzy_shortlist
from .io import read_table, write_table
from .jobindex import index_rater, load_index
from .labels import LabelTable, tabulate_labels
from .lookup import lookup_titles
from .model import MODEL_THRESHOLD, load_model, model_rater
from .normalize import label_key, normalize_label
from .raters import RaterResult
from .references import load_reference
from .rules import apply_rules, load_rules
from .status import load_status_rules, parse_status

__all__ = [
    "FUZZY_THRESHOLD",
    "MODEL_THRESHOLD",
    "OUTPUT_COLUMNS",
    "PRECEDENCE",
    "CacheError",
    "CodeList",
    "CoderError",
    "CodingResult",
    "CrosswalkError",
    "InputError",
    "LabelTable",
    "MissingKeyError",
    "RaterResult",
    "ReviewError",
    "RuleError",
    "VendorError",
    "apply_rules",
    "build_crosswalk",
    "code_file",
    "code_frame",
    "code_labels",
    "fuzzy_shortlist",
    "index_rater",
    "label_key",
    "load_codes",
    "load_index",
    "load_model",
    "load_reference",
    "load_rules",
    "load_status_rules",
    "lookup_titles",
    "measure_axis",
    "model_rater",
    "normalize_label",
    "parse_status",
    "read_table",
    "tabulate_axis",
    "tabulate_labels",
    "write_table",
]
