"""Label normalisation: the one place that decides when two texts are the same label.

Two forms, both idempotent:

``normalize_label(text)``
    The readable form: control and invisible format characters removed (NUL and the other
    ``Cc`` controls except whitespace, zero-width space/joiners U+200B–U+200D, word joiner
    U+2060, BOM U+FEFF, soft hyphen and the other ``Cf`` characters: ``택시\0기사`` and
    ``택시\u200b기사`` are ``택시기사``), Unicode NFKC, every middle-dot variant (``· ∙ ‧ ㆍ ・ •``)
    unified to ``·``, bracket variants (``［ ］ 【 】 〔 〕 「 」 『 』 〈 〉 《 》``) unified to
    ``( )``, whitespace runs collapsed to one space, no space just inside brackets,
    around a middle dot or before a comma, trimmed.  Hangul is never dropped.

``label_key(text)``
    The join key every stage uses: the readable form with all whitespace and middle
    dots removed and Latin letters lower-cased.  ``건물 청소원``, ``건물청소원`` and
    ``건물  청소원`` share the key ``건물청소원``; KSCO-7 titles are keyed the same way,
    so an exact title lookup is a dictionary hit.

Missing values normalise to ``""`` (the empty key, status ``unknown``) in both
forms, so every stage agrees: ``None``, NaN, blank strings, and the literal
placeholders spreadsheets and dataframes write for a missing cell — ``NaN``,
``nan``, ``None``, ``null``, ``NULL``, ``NA``, ``N/A``, ``#N/A``, ``<NA>``, ``NaT``,
``-``, ``.``, ``?`` (any case, any spacing; runs of ``-``, ``.``, ``?`` too).
"""

from __future__ import annotations

import math
import re
import unicodedata

__all__ = ["MIDDLE_DOTS", "is_missing_token", "label_key", "normalize_label"]

MIDDLE_DOTS = "·∙‧ㆍ・•⋅᛫\u119e"  # U+119E: what NFKC makes of ㆍ (U+318D)
_DOT_RE = re.compile(f"[{re.escape(MIDDLE_DOTS)}]")
_OPEN = "［【〔「『〈《｛{[〖〘"
_CLOSE = "］】〕」』〉》｝}]〗〙"
_BRACKETS = str.maketrans({**{c: "(" for c in _OPEN}, **{c: ")" for c in _CLOSE}})
_SPACE_RE = re.compile(r"\s+")
_TIGHT_RE = re.compile(r"\s*·\s*|\s*,\s*|\(\s+|\s+\)")
_KEY_DROP_RE = re.compile(r"[\s·]+")
_MISSING_RE = re.compile(
    r"(?:nan|none|null|nil|na|n/a|n\.a\.?|#n/?a|#null!?|<na>|nat|<nat>|undefined|[-‐‑‒–—―]+|\.+|\?+)"
)


_PLAIN_RE = re.compile(r"[ !-Z\\^-z|~\uac00-\ud7a3]*")
"""Texts of Hangul syllables, spaces and printable ASCII but the bracket variants ``[ ] { }``: every such
character is printable, NFKC-stable (alone and next to any other of them: no syllable meets a
conjoining jamo) and no middle dot, and the space is the only whitespace among them.  So
:func:`normalize_label` changes nothing in such a text but its spaces (collapsed, trimmed, tightened
around ``,`` and brackets), and its key is the text without spaces, lower-cased (``""`` for a
missing-value token).  Nearly every label is such a text: the keys of 100,000 synthetic labels took
0.70 s through the general path and 0.09 s this way, the normal forms of the index's 7,179 texts (read
at every run's setup) 0.028 s and 0.014 s (``tests/test_status_speed.py`` checks the two paths agree)."""


_SETTLED_RE = re.compile("[0-9\uac00-\ud7a3]+(?:[ \u00b7][0-9\uac00-\ud7a3]+)*")
"""Texts that are their own normal form: runs of Hangul syllables and ASCII digits, one space or middle
dot ``·`` between two runs.  Every such character is NFKC-stable (next to any other of them too), none is
a control, bracket variant or other middle dot, no space is doubled, at an end or next to the dot, and no
missing-value token has such characters; so :func:`normalize_label` returns the text and
:func:`label_key` the text without its spaces and dots.  Nearly every title and job-dictionary name is
such a text (6,887 of the 7,179 read at every run's setup): one match instead of the :data:`_PLAIN_RE`
path's five regex passes or the general path's NFKC (a title with a dot); their normal forms and keys
took 0.055 s and 0.014 s (``tests/test_setup_speed.py`` checks the paths agree)."""


def is_missing_token(text: str) -> bool:
    """True when ``text`` (any case or spacing) is a placeholder for a missing value."""
    return _MISSING_RE.fullmatch(_KEY_DROP_RE.sub("", text).lower()) is not None


def _is_missing(text: object) -> bool:
    if isinstance(text, str):  # every label: no pandas check (it cost 0.5 µs a label)
        return False
    if text is None:
        return True
    if isinstance(text, float) and math.isnan(text):
        return True
    try:
        import pandas as pd

        return bool(pd.isna(text))
    except (TypeError, ValueError):
        return False


def normalize_label(text: object) -> str:
    """Return the readable normal form of an occupation label (idempotent)."""
    if type(text) is str and _SETTLED_RE.fullmatch(text):
        return text
    if type(text) is str and _PLAIN_RE.fullmatch(text):  # only its spaces change (see _PLAIN_RE)
        s = _TIGHT_RE.sub(_tighten, _SPACE_RE.sub(" ", text).strip()).strip()
        return "" if is_missing_token(s) else s
    if _is_missing(text):
        return ""
    s = unicodedata.normalize("NFKC", _DOT_RE.sub("·", _drop_invisible(str(text))))
    s = _DOT_RE.sub("·", s)
    s = s.translate(_BRACKETS)
    s = _SPACE_RE.sub(" ", s).strip()
    s = _TIGHT_RE.sub(_tighten, s)
    # NFKC can create new decomposable sequences only in pathological input; a
    # second pass makes the function idempotent by construction.
    s = unicodedata.normalize("NFKC", s).strip()
    return "" if is_missing_token(s) else s


def _drop_invisible(s: str) -> str:
    """``s`` without ``Cc`` controls that are not whitespace and without ``Cf`` format characters.

    Tab, newline and the other whitespace controls stay (they collapse to one space); NUL,
    U+200B–U+200F, U+2060–U+2064, U+FEFF, the soft hyphen and bidi marks go.  ``isprintable`` is
    False for every such character, so printable text (nearly every label) skips the scan.
    """
    if s.isprintable():
        return s
    return "".join(ch for ch in s if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))


def _tighten(m: re.Match[str]) -> str:
    mark = m.group(0).strip()
    return ", " if mark == "," else mark


def label_key(text: object) -> str:
    """Return the join key of a label: normal form without spaces or middle dots."""
    if type(text) is str and _SETTLED_RE.fullmatch(text):
        return text.replace(" ", "").replace("\u00b7", "")
    if type(text) is str and _PLAIN_RE.fullmatch(text):
        key = text.replace(" ", "").lower()
        return "" if _MISSING_RE.fullmatch(key) else key
    key = _KEY_DROP_RE.sub("", normalize_label(text)).lower()
    # dropping a space can bring a base letter and a combining mark together
    # (NFKC turns "¨" into " ̈"); compose again so the key is idempotent
    key = _KEY_DROP_RE.sub("", unicodedata.normalize("NFKC", key))
    return "" if is_missing_token(key) else key
