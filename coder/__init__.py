"""ksco-coder: code Korean free-text occupations to KSCO-7 (7th revision) and audit the result.

Library first, thin CLI (``coder --help``).  The stages, each a module:

* :mod:`coder.normalize` — label normal form and the ``label_key`` join key
* :mod:`coder.labels` — the distinct-label table (code labels, not rows)
* :mod:`coder.status` — employed / job-seeker / not employed / military / unknown
* :mod:`coder.lookup`, :mod:`coder.rules`, :mod:`coder.fuzzy` — offline raters
* :mod:`coder.crosswalk` — every rater side by side, final code by precedence
* :mod:`coder.coding` — rows → labels → crosswalk → rows, with provenance sidecars

Nothing happens at import: no file is read until a function asks for it.
"""

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
from .labels import LabelTable, tabulate_labels
from .lookup import lookup_titles
from .normalize import label_key, normalize_label
from .raters import RaterResult
from .rules import apply_rules, load_rules
from .status import load_status_rules, parse_status

__all__ = [
    "FUZZY_THRESHOLD",
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
    "label_key",
    "load_codes",
    "load_rules",
    "load_status_rules",
    "lookup_titles",
    "normalize_label",
    "parse_status",
    "read_table",
    "tabulate_labels",
    "write_table",
]
