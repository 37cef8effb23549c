"""Status parsing: employed, employed (occupation not stated), job-seeker, not employed, military, unknown.

Rules live in ``rules/status.csv`` (``status_id, status, pattern, match, example,
counterexample, note``), applied to the label key (see :mod:`coder.normalize`)
in file order: the first rule that matches decides.

* ``not_employed`` — 무직, students, homemakers, retired: bucket ``0``, no code.
* ``job_seeker`` — ``전직 X, 현재 구직중``: the pattern's ``core`` group is X, which
  the raters code as if it stood alone; without a ``core`` group the label is a
  job-seeker with no former occupation (bucket ``0``).
* ``employed_unstated`` — 자영업(자), 알바(생), 아르바이트, 프리랜서, 직장인 on their
  own: the person works but the label names no occupation; ``core_key`` is ``""`` so
  no rater codes it.  Phrases that name the work (``편의점 알바``) are not matched
  (the rules are ``full`` matches) and are coded by the raters.
* ``unknown`` — 모름, 무응답, 해당 없음, an empty label (incl. ``NaN``, ``none``, ``-``, ``N/A``,
  see :mod:`coder.normalize`): no code, unknown bucket.  ``없음`` given as the occupation is
  ``not_employed`` (a person who says they have none), not ``unknown``.
* ``former`` — 전직/퇴직/은퇴(한)/前/예전 X and ``X 출신 / X 퇴직 / X 은퇴``: the person no longer
  works (final status ``not_employed``, bucket ``0``); the pattern's ``core`` group X is coded by
  the raters as if it stood alone and kept apart as the *former* code (``former_code`` in the
  crosswalk and the coded rows), never as the person's occupation.  The rule only fires when the
  whole label names no occupation itself (``전직지원 전문가`` is a job), and rows of status
  ``former_named`` (``전 X``: 전 also starts 전기공, 전문가) only when X names one by an exact title,
  job-dictionary name or mapper rule.  은퇴 or 퇴직 on its own is ``not_employed`` with no former
  code.  ``전직 X, 현재 구직중`` is a job-seeker (the job-seeker rules come first).

A label key longer than :data:`~coder.patterns.MAX_MATCH_CHARS` (200) characters matches no
status rule, and a pattern that can backtrack exponentially (``(a+)+``) is refused at load time
(see :mod:`coder.patterns`).

Labels no status rule matches are coded by the raters; their status is then
``military`` when the final code is in group ``A``, ``employed`` when there is
a code, ``unknown`` when there is none.

**Survey wording** (:func:`read_wording`).  A label (or the X of a job-seeker or former label)
that names no occupation as a whole — no exact KSCO-7 title, job-dictionary name or mapper rule —
is read apart before the raters see it; the part they code becomes ``core_key`` and what was set
aside goes to ``core_note``:

* a bracket or comma qualifier: ``간호사(대학병원)`` → ``간호사`` (note ``qualifier: 대학병원``),
  ``회사원, 과장`` → ``회사원``; the part that names an occupation wins, the deeper one when
  both do (``공무원(교사)`` → ``교사``: 교사 is coded at 25, 공무원 at 3; ``회사원(사무직)`` →
  ``사무직``); on a tie a bracket wins (it clarifies its head), a comma's head wins.  A part that
  is a status word (``학생(대학원)``) is read as that status; a former or job-seeking qualifier
  gives the occupation read its status (``교사(퇴직)``, ``회사원, 은퇴`` are former,
  ``간호사(구직중)`` a job-seeker whose X is 간호사).  When no part names an occupation the label
  stays whole;
* a workplace or field before an occupation: ``현대자동차 생산직`` → ``생산직``, note
  ``prefix: 현대자동차`` (cut only at a space of the readable label: ``게임관리자`` is one job name;
  the longest tail that names an occupation, when what comes before it
  names none; at least two characters before it and three in it: ``서울디지털트윈엔지니어업`` is
  not ``어업`` after a workplace);
* a one-jamo typo of a very frequent answer (``rules/frequent_answers.csv``): ``회사언`` →
  ``회사원``, ``공무언`` → ``공무원``, ``전엄주부`` → ``전업주부`` — one jamo substituted, inserted
  or deleted, all-Hangul labels of 3–12 syllables (two-syllable words are too dense: 기사 is one
  jamo from 교사, 이사 from 의사, 간사 and 감사 from 강사), and only when exactly one frequent
  answer is that close; note ``typo: 회사언 → 회사원``, and the decision sends the label to
  review (reason ``typo``).

"Names an occupation" asks the title list, the job dictionary and the mapper
(:func:`occupation_oracle`); :func:`parse_status` builds the default one from the bundled files
(the mapper and the index are imported when first needed: this module sits below the raters).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import re
import unicodedata
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .codes import CodeList, load_codes
from .errors import RuleError
from .normalize import _MISSING_RE, label_key
from .patterns import MATCH_MODES, MAX_MATCH_CHARS, pattern_problem, split_cell
from .resources import data_path, file_identity, file_sha256, read_csv_rows

__all__ = [
    "STATUSES",
    "LabelStatus",
    "StatusRule",
    "StatusRules",
    "frequent_answers",
    "load_status_rules",
    "occupation_oracle",
    "parse_status",
    "read_wording",
]

STATUSES = ("employed", "employed_unstated", "job_seeker", "not_employed", "military", "unknown")
_RULE_STATUSES = ("job_seeker", "not_employed", "employed_unstated", "unknown", "former", "former_named")
_FORMER = ("former", "former_named")
_COLUMNS = ("status_id", "status", "pattern", "match", "example", "counterexample", "note")


@dataclass(frozen=True)
class StatusRule:
    status_id: str
    status: str
    pattern: str
    match: str
    examples: tuple[str, ...]
    counterexamples: tuple[str, ...]
    note: str
    line: int
    regex: re.Pattern[str]

    @functools.cached_property
    def _suffix_regex(self) -> re.Pattern[str]:
        return re.compile(f"(?:{self.regex.pattern})$")

    @functools.cached_property
    def _method(self) -> Callable[[str], re.Match[str] | None]:
        """The regex method of the rule's match mode (see :meth:`find`)."""
        if self.match == "full":
            return self.regex.fullmatch
        if self.match == "prefix":
            return self.regex.match
        if self.match == "suffix":
            return self._suffix_regex.search
        return self.regex.search

    @functools.cached_property
    def ends(self) -> tuple[frozenset[str] | None, frozenset[str] | None]:
        """The characters a match can begin and end with (None: any), from the pattern's parse tree
        (:func:`~coder.raters.rules.end_chars`, a safe over-estimate): a key that begins or ends
        otherwise is not tried."""
        from .raters.rules import end_chars

        first = end_chars(self.pattern) if self.match in ("full", "prefix") else None
        last = end_chars(self.pattern, last=True) if self.match in ("full", "suffix") else None
        return first, last

    def find(self, key: str) -> re.Match[str] | None:
        if len(key) > MAX_MATCH_CHARS:
            return None
        first, last = self.ends
        if key and (
            (first is not None and key[0] not in first)
            or (last is not None and key[-1] != "\n" and key[-1] not in last)
        ):
            return None
        if self.match == "full":
            return self.regex.fullmatch(key)
        if self.match == "prefix":
            return self.regex.match(key)
        if self.match == "suffix":
            return self._suffix_regex.search(key)
        return self.regex.search(key)


@dataclass(frozen=True)
class StatusRules:
    path: str
    sha256: str
    rules: tuple[StatusRule, ...]

    @functools.cached_property
    def _by_first(self) -> tuple[dict[str, tuple[StatusRule, ...]], tuple[StatusRule, ...]]:
        """``(by first character, the rest)``: the rules, in file order, that can match a key beginning
        with a character (:attr:`StatusRule.ends`); a character under no rule's first set gets the rest."""
        firsts = [r.ends[0] for r in self.rules]
        chars = set().union(*(f for f in firsts if f is not None))
        by_first = {c: tuple(r for r, f in zip(self.rules, firsts, strict=True) if f is None or c in f) for c in chars}
        return by_first, tuple(r for r, f in zip(self.rules, firsts, strict=True) if f is None)

    def candidates(self, key: str) -> tuple[StatusRule, ...]:
        """The rules that may match ``key`` (non-empty), in file order."""
        by_first, rest = self._by_first
        return by_first.get(key[0], rest)

    @functools.cached_property
    def _tries(self) -> tuple[dict[str, tuple], tuple]:
        """:attr:`_by_first` with each rule as ``(rule, last characters or None, matching method)``: what
        :meth:`StatusRule.find` does but the checks :meth:`candidates` made already, without a call per rule."""
        by_first, rest = self._by_first

        def tries(rules: tuple[StatusRule, ...]) -> tuple:
            return tuple((r, r.ends[1], r._method) for r in rules)

        return {c: tries(rs) for c, rs in by_first.items()}, tries(rest)


@dataclass(frozen=True)
class LabelStatus:
    """Status of one label key; ``core_key`` is what the raters code ('' = nothing).

    ``note`` says how the wording was read (``qualifier: 대학병원``, ``prefix: 현대자동차``,
    ``typo: 회사언 → 회사원``; '' when the core is the label or the status rule's group).
    """

    status: str  # job_seeker | former | not_employed | employed_unstated | unknown | "" (decided after coding)
    core_key: str
    status_id: str
    note: str = ""


def load_status_rules(path: str | Path | None = None) -> StatusRules:
    """Load and validate ``rules/status.csv``; one :class:`RuleError` lists every bad row."""
    p = Path(path) if path is not None else data_path("rules", "status.csv")
    return _load(file_identity(p))


@functools.lru_cache(maxsize=8)
def _load(identity: tuple[str, int, int]) -> StatusRules:
    # keyed by (path, mtime_ns, size): an edited file is read again
    path = identity[0]
    problems: list[str] = []
    rules: list[StatusRule] = []
    rows = read_csv_rows(path, _COLUMNS, error=RuleError, what="status rules file")
    seen: set[str] = set()
    for line, row in rows:
        sid = (row["status_id"] or "").strip()
        where = f"{path}:{line} ({sid or 'no id'})"
        if not sid or sid in seen:
            problems.append(f"{where}: status_id is empty or repeated")
        seen.add(sid)
        status = (row["status"] or "").strip()
        if status not in _RULE_STATUSES:
            problems.append(f"{where}: status {status!r} is not one of {', '.join(_RULE_STATUSES)}")
        match = (row["match"] or "").strip()
        if match not in MATCH_MODES:
            problems.append(f"{where}: match {match!r} is not one of {', '.join(MATCH_MODES)}")
        try:
            regex = re.compile(row["pattern"] or "")
        except re.error as exc:
            problems.append(f"{where}: pattern {row['pattern']!r} does not compile ({exc})")
            continue
        if not row["pattern"]:
            problems.append(f"{where}: empty pattern")
            continue
        slow = pattern_problem(row["pattern"], match) if match in MATCH_MODES else None
        if slow:
            problems.append(f"{where}: {slow}")
            continue
        rules.append(
            StatusRule(
                sid,
                status,
                row["pattern"],
                match,
                split_cell(row["example"]),
                split_cell(row["counterexample"]),
                row["note"] or "",
                line,
                regex,
            )
        )
    if problems:
        raise RuleError(
            f"{path}: {len(problems)} bad row(s) — " + "; ".join(problems) + ". Fix them or delete the rows.",
            path=path,
            problems=problems,
        )
    return StatusRules(path=path, sha256=file_sha256(path), rules=tuple(rules))


def parse_status(
    keys: Sequence[str],
    rules: StatusRules | None = None,
    *,
    occupation: Callable[..., str] | None = None,
    codes: CodeList | None = None,
    labels: Sequence[str] | None = None,
) -> list[LabelStatus]:
    """Status, core key and wording note for each label key (see the module docstring).

    ``labels``: the readable label of each key (:func:`~coder.normalize.normalize_label`), whose
    spaces are the only places a workplace before an occupation is cut off (``현대자동차 생산직``);
    without them no key is cut so (``게임관리자`` is one job name, not 게임 + 관리자).

    ``occupation(key, exact=False)`` gives the code a key names by an exact title, job-dictionary
    name or mapper rule ('' for none; ``exact`` = titles and job-dictionary names only); default
    :func:`occupation_oracle` over the bundled files (the pipeline passes one over the run's own
    code list, mapper and index).  ``codes``: the code list that gives a code's depth (default bundled).
    """
    if rules is None:
        rules = load_status_rules()
    if occupation is None or getattr(occupation, _MEMOISED, False):
        occ = occupation or occupation_oracle(codes)  # the module's oracles keep their own answers
    else:
        occ = _memo(occupation)
    codes = codes if codes is not None else load_codes()
    frequent = _frequent(file_identity(data_path("rules", FREQUENT_FILE)))
    out = []
    with _collector_paused():
        for n, key in enumerate(keys):
            st = _match_status(key, rules, occ)
            core = st.core_key
            # The wording of a core that names no occupation is read (read_wording).  It is read only when
            # reading can give something (a bracket, one comma, a cut at a space, a typo: each looked for
            # once, and only when the one before gave nothing), and first: whether the core names an
            # occupation is asked only when the reading set something aside.  The same answers, with the
            # oracle asked about 127,000 questions instead of 195,000 on 100,000 synthetic labels (a reading
            # asks nothing about the core itself, and a core read as itself stays as it is).
            if core and len(core) <= _MAX_WORDING_CHARS and st.status in ("", "job_seeker", "former"):
                typo: str | None = None  # not looked for yet
                if "(" in core or "," in core:  # no cut, and no typo: not all Hangul syllables
                    cuts: tuple[int, ...] = ()
                    typo = ""
                    readable = core.count(",") == 1 or _BRACKET_RE.fullmatch(core) is not None
                else:  # cuts only count in a core without brackets or commas (read_wording)
                    cuts = _cuts(labels[n], key, core) if labels is not None and len(core) >= 5 else ()
                    if not cuts:
                        typo = _typo(core, frequent)
                    readable = bool(cuts or typo)
                if readable:
                    read, note = _wording(core, occ, codes, rules, frequent, cuts, typo)
                    if note and not occ(core):
                        st = _noted(st, read, note, rules, occ)
            out.append(st)
    return out


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for the block (back on after, unless it was off before).

    The status pass makes some 300,000 objects a 100,000 labels and no reference cycle; the
    collector's passes over them took a tenth of its time (1.12 s -> 1.00 s of CPU, best of 4).
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _cuts(label: str, key: str, core: str) -> tuple[int, ...]:
    """The :func:`_word_cuts` where :func:`read_wording` may cut (at least 2 characters before, 3 after), in order."""
    if " " not in label:
        return ()
    at = key.find(core)
    if at < 0:
        return ()
    if not _PLAIN_WORDS_RE.fullmatch(label, 0, label.rfind(" ")):
        return tuple(c for c in _word_cuts(label, key, core) if 2 <= c <= len(core) - 3)
    # every word but the last is plain (nearly every label): the key of the words up to each space
    # is them joined as _word_cuts joins them, a length that only grows, so the cuts come in order;
    # a space after a missing-value token (key '') is no cut.  0.25 s on 100,000 synthetic labels
    # through _word_cuts, 0.16 s so
    lo, hi = at + 2, at + len(core) - 3
    cuts: list[int] = []
    joined = ""
    for w in label.split(" ")[:-1]:
        joined += w.replace("·", "").lower()
        e = len(joined)
        if e > hi:
            break
        if e >= lo and (not cuts or cuts[-1] != e - at) and not _MISSING_RE.fullmatch(joined):
            cuts.append(e - at)
    return tuple(cuts)


_QUALIFIER, _PREFIX = "qualifier: ", "prefix: "


def _noted(st: LabelStatus, core: str, note: str, rules: StatusRules, occ: Callable[..., str]) -> LabelStatus:
    """``st`` once :func:`read_wording` of its core gave ``(core, note)``, ``note`` not empty (see :func:`parse_status`)."""
    if st.status:  # the X of a job-seeker or former label: the status stays
        return LabelStatus(st.status, core, st.status_id, note)
    # the part read may be a status word itself (학생(대학원), 전엄주부 → 전업주부)
    again = _match_status(core, rules, occ)
    st = LabelStatus(again.status, again.core_key, again.status_id, note)
    aside = next((note[len(p) :] for p in (_QUALIFIER, _PREFIX) if note.startswith(p)), "")
    if not st.status and aside:
        st = _status_aside(aside, st, rules, occ)
    return st


def _status_aside(aside: str, st: LabelStatus, rules: StatusRules, occ: Callable[..., str]) -> LabelStatus:
    """The status a set-aside qualifier gives the occupation read: ``교사(퇴직)``, ``퇴직(교사)`` and
    ``회사원, 은퇴`` are former (read as ``퇴직 교사``, or ``공무원 퇴직자`` for ``공무원(퇴직자)``); ``간호사(구직중)`` is a job-seeker whose X is
    간호사 (as ``전직 간호사, 현재 구직중``); any other qualifier leaves the status to the code."""
    for moved in (_match_status(aside + st.core_key, rules, occ), _match_status(st.core_key + aside, rules, occ)):
        if moved.status == "former":
            return LabelStatus("former", moved.core_key, moved.status_id, st.note)
    alone = _match_status(aside, rules, occ)
    if alone.status == "job_seeker" and not alone.core_key:
        return LabelStatus("job_seeker", st.core_key, alone.status_id, st.note)
    return st


def _match_status(key: str, rules: StatusRules, occ: Callable[..., str]) -> LabelStatus:
    if not key:
        return LabelStatus("unknown", "", "")
    if len(key) > MAX_MATCH_CHARS:  # no rule is tried (StatusRule.find)
        return LabelStatus("", key, "")
    by_first, rest = rules._tries
    last = key[-1]
    for rule, lasts, method in by_first.get(key[0], rest):  # the rules StatusRule.find would try, in order
        if lasts is not None and last not in lasts and last != "\n":
            continue
        m = method(key)
        if m is None:
            continue
        core = ""
        if rule.status in ("job_seeker", *_FORMER) and "core" in rule.regex.groupindex:
            core = label_key(m.group("core") or "")
        if rule.status in _FORMER:
            # the whole label is a job (전직지원 전문가, or 전기공사 by a full rule — not 전 + 기공사), or 전 X
            # whose X names none (전기공): not former
            if (
                not core
                or occ(key, True)
                or (rule.status == "former_named" and not occ(core))
                or _named_anchored(occ, key)
            ):
                continue
            return LabelStatus("former", core, rule.status_id)
        return LabelStatus(rule.status, core, rule.status_id)
    return LabelStatus("", key, "")


def _named_anchored(occ: Callable[..., str], key: str) -> str:
    """What ``key`` names by a title, dictionary name or full/prefix rule; '' for an oracle without the
    ``anchored`` keyword (its plain answer would count suffix rules: 퇴직교사 is not a job by …교사)."""
    try:
        return occ(key, anchored=True)
    except TypeError:
        return ""


def _memo(fn: Callable[..., str]) -> Callable[..., str]:
    return functools.lru_cache(maxsize=65536)(fn)


_MEMOISED = "_coder_memoised"
"""The attribute that marks an oracle of :func:`occupation_oracle`: it keeps its own answers, and
:func:`parse_status` asks it directly (a second cache in front cost 0.15 s on 100,000 labels)."""


# ---------------------------------------------------------------- survey wording

_BRACKET_RE = re.compile(r"([^()]+)\(([^()]+)\)")
_MAX_WORDING_CHARS = 40
"""Keys longer than this are not read apart (the longest NPK label has 40 characters)."""


def read_wording(
    key: str,
    occupation: Callable[..., str],
    *,
    codes: CodeList | None = None,
    rules: StatusRules | None = None,
    frequent: _Frequent | None = None,
    cuts: Collection[int] = (),
) -> tuple[str, str]:
    """``(core, note)``: the part of ``key`` the raters should code, and what was set aside.

    ``occupation`` maps a key to the code it names ('' for none), see :func:`occupation_oracle`.
    ``cuts``: the positions in ``key`` where the readable label had a space (see :func:`parse_status`);
    a workplace before an occupation is cut off only there.
    Returns ``(key, "")`` when the wording gives nothing to read apart (see the module docstring).
    """
    # longest tail first: ≥ 2 chars before, 3 in it
    return _wording(key, occupation, codes, rules, frequent, sorted(c for c in cuts if 2 <= c <= len(key) - 3), None)


def _wording(
    key: str,
    occupation: Callable[..., str],
    codes: CodeList | None,
    rules: StatusRules | None,
    frequent: _Frequent | None,
    cuts: Collection[int],
    typo: str | None,
) -> tuple[str, str]:
    """:func:`read_wording` with ``cuts`` sorted and where a cut is allowed (:func:`_cuts`), and ``typo``
    (:func:`_typo` of ``key``) when already looked for."""
    if not key or len(key) > _MAX_WORDING_CHARS:
        return key, ""
    if "(" in key or "," in key:
        parts: list[str] = []
        m = _BRACKET_RE.fullmatch(key)
        if m:
            parts = [m.group(1), m.group(2)]
        elif key.count(",") == 1:
            parts = [p for p in key.split(",") if p]
        if len(parts) == 2:
            codes = codes if codes is not None else load_codes()
            head, qual = parts
            dh, dq = _depth(occupation, codes, head), _depth(occupation, codes, qual)
            # a bracket clarifies its head: it wins at equal depth too; after a comma the head does
            if dq > dh or (m and dq and dq == dh):
                return qual, f"qualifier: {head}"
            if dh or (not dq and _is_status_word(head, rules or load_status_rules())):
                return head, f"qualifier: {qual}"
            return key, ""
    else:
        for i in cuts:
            tail = key[i:]
            # what the tail names by a title, dictionary name or full/prefix rule (a suffix rule that fired
            # on the tail would have fired on the whole key, unless its look-behind keeps it off there:
            # 콘크리트 조립원)
            try:
                named = occupation(tail, anchored=True)
            except TypeError:  # an oracle without the anchored keyword
                named = occupation(tail)
            if named and not occupation(key[:i]):
                return tail, f"prefix: {key[:i]}"
    fixed = _typo(key, frequent) if typo is None else typo
    if fixed:
        return fixed, f"typo: {key} → {fixed}"
    return key, ""


def _depth(occupation: Callable[..., str], codes: CodeList, part: str) -> int:
    """The level of the code ``part`` names (0: none)."""
    c = occupation(part)
    return codes.level(c) if c in codes else (1 if c else 0)


def _word_cuts(label: str, key: str, core: str) -> tuple[int, ...]:
    """Positions in ``core`` (a part of ``key``) where the readable ``label`` has a space between words."""
    at = key.find(core)
    if at < 0 or " " not in label:
        return ()
    words = label.split(" ")
    ends = set()
    joined, plain = "", True
    for i, w in enumerate(words[:-1], 1):
        plain = plain and _PLAIN_RE.fullmatch(w) is not None
        if plain:  # characters normalisation keeps so far: the key of the words up to here is them
            joined += w.replace("·", "").lower()  # joined, lower-cased, without dots; '' for a missing-value token
            ends.add(0 if _MISSING_RE.fullmatch(joined) else len(joined))
        else:
            ends.add(len(label_key(" ".join(words[:i]))))
    return tuple(sorted(e - at for e in ends if at < e < at + len(core)))


_PLAIN_RE = re.compile("[0-9A-Za-z\uac00-\ud7a3\u4e00-\u9fff,·()&:/.'+_#?!\\-]*")
"""Words whose characters normalisation keeps as they are (NFKC-stable, no bracket variant, no other
dot or whitespace) but for case, the middle dot (dropped from a key) and the spaces around a comma,
dot or bracket (dropped from a key too): Hangul syllables, CJK unified ideographs, ASCII letters,
digits and some punctuation."""
_PLAIN_WORDS_RE = re.compile(_PLAIN_RE.pattern.replace("]*", " ]*"))
"""Plain words (:data:`_PLAIN_RE`) with the spaces between them."""


def _is_status_word(key: str, rules: StatusRules) -> bool:
    st = _match_status(key, rules, lambda *_a: "")
    return bool(st.status) and not st.core_key


def occupation_oracle(
    codes: CodeList | None = None, *, rules: object | None = None, index: object | None = None
) -> Callable[..., str]:
    """A function key → the code the key names by an exact KSCO-7 title or job-dictionary name
    (the index rater's lookup) or a mapper rule ('' when none); with ``exact=True`` by a title
    or job-dictionary name only (a suffix rule such as ``…교사`` also fires on ``은퇴한 교사``).

    Defaults: the bundled code list, mapper and job dictionary.  Imported lazily: the mapper and
    the index are raters, one layer above this module.  One oracle (with its cache) is kept per
    (code list, mapper, index).  ``anchored=True``: only ``full`` and ``prefix`` rules count (the
    tail of a key, see :func:`read_wording`).
    """
    from .raters.index import load_index
    from .raters.rules import load_rules

    codes = codes if codes is not None else load_codes()
    rule_set = rules if rules is not None else load_rules(codes=codes)
    job_index = index if index is not None else load_index(codes=codes)
    ident = (id(codes), id(rule_set), id(job_index))
    kept = _ORACLES.get(ident)
    if kept is None or kept[0] is not codes or kept[1] is not rule_set or kept[2] is not job_index:
        if len(_ORACLES) >= 8:
            _ORACLES.clear()
        kept = (codes, rule_set, job_index, _make_oracle(codes, rule_set, job_index))
        _ORACLES[ident] = kept
    return kept[3]


_ORACLES: dict[tuple[int, int, int], tuple] = {}


def _make_oracle(codes: CodeList, rule_set: object, job_index: object) -> Callable[..., str]:
    from .raters.rules import match_rules

    def answer(key: str, exact: bool, anchored: bool) -> str:
        found = job_index.by_key.get(key, ())  # type: ignore[attr-defined]
        named = max((e.code for e in found), key=lambda c: (codes.level(c), c)) if found else ""
        if exact:
            return named
        hits = match_rules(key, rule_set, anchored=anchored)  # type: ignore[arg-type]
        best = hits[0].code if hits else ""
        if not named:  # level 0 (a level is a code's length), never above best's: nearly every key
            return best
        return named if codes.level(named) > codes.level(best) else best

    # the answers by key, one table per kind of question (``exact`` makes ``anchored`` moot), each
    # emptied when it holds _ORACLE_KEPT keys: a dictionary look-up, where the former
    # functools.lru_cache cost 0.9 µs a new key (its keyword arguments and evictions)
    kept: tuple[dict[str, str], dict[str, str], dict[str, str]] = ({}, {}, {})

    def occupation(key: str, exact: bool = False, anchored: bool = False) -> str:
        table = kept[2] if exact else kept[1] if anchored else kept[0]
        code = table.get(key)
        if code is None:
            if len(table) >= _ORACLE_KEPT:
                table.clear()
            code = table[key] = answer(key, exact, anchored)
        return code

    setattr(occupation, _MEMOISED, True)
    return occupation


_ORACLE_KEPT = 65536


# ---------------------------------------------------------------- one-jamo typos

_MIN_TYPO_SYLLABLES, _MAX_TYPO_SYLLABLES = 3, 12


def _jamo(text: str) -> str | None:
    """The key as a string of conjoining jamo, or None when it holds anything but Hangul syllables.

    A syllable's canonical decomposition (NFD) is its leading consonant U+1100+, vowel U+1161+ and,
    when it has one, trailing consonant U+11A8+ (Unicode's arithmetic decomposition).
    """
    if not _SYLLABLES_RE.fullmatch(text):
        return None
    return unicodedata.normalize("NFD", text)


_SYLLABLES_RE = re.compile("[\uac00-\ud7a3]*")


def _deletions(s: str) -> set[str]:
    return {s} | {s[:i] + s[i + 1 :] for i in range(len(s))}


def _one_edit(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by exactly one substitution, insertion or deletion."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1 :] == b[i + 1 :]
    return a[i:] == b[i + 1 :]


@dataclass(frozen=True)
class _Frequent:
    path: str
    sha256: str
    answers: tuple[str, ...]
    by_deletion: dict[str, frozenset[str]]  # jamo string with ≤ 1 deletion → answer keys

    @functools.cached_property
    def answer_set(self) -> frozenset[str]:
        return frozenset(self.answers)

    @functools.cached_property
    def halves(self) -> frozenset[tuple[int, str]]:
        """``(length, first half)`` and ``(length, second half)`` of each answer (the first half: ``length // 2``
        syllables).  A key that differs from an answer at one syllable keeps one of its halves, so a key
        with neither half here has no answer one jamo off (the gate that skips the :attr:`by_blank`
        look-ups, one a syllable, for nearly every key)."""
        return frozenset(
            half for a in self.answers for half in ((len(a), a[: len(a) // 2]), (len(a), a[len(a) // 2 :]))
        )

    @functools.cached_property
    def by_blank(self) -> dict[str, frozenset[str]]:
        """Each answer with one syllable blanked (NUL) → the answers that read so."""
        out: dict[str, set[str]] = {}
        for a in self.answers:
            for i in range(len(a)):
                out.setdefault(a[:i] + "\0" + a[i + 1 :], set()).add(a)
        return {k: frozenset(v) for k, v in out.items()}


def frequent_answers(path: str | Path | None = None) -> tuple[str, ...]:
    """The label keys of ``rules/frequent_answers.csv`` (the targets of the typo step)."""
    return _frequent(file_identity(Path(path) if path is not None else data_path("rules", FREQUENT_FILE))).answers


FREQUENT_FILE = "frequent_answers.csv"


@functools.lru_cache(maxsize=4)
def _frequent(identity: tuple[str, int, int]) -> _Frequent:
    path = identity[0]
    rows = read_csv_rows(path, ("answer", "source"), error=RuleError, what="frequent answers file")
    answers, index, bad = [], {}, []
    for line, row in rows:
        key = label_key(row["answer"] or "")
        jamo = _jamo(key)
        if not key or jamo is None:
            bad.append(f"line {line}: {row['answer']!r} is not a Hangul answer")
            continue
        answers.append(key)
        for d in _deletions(jamo):
            index.setdefault(d, set()).add(key)
    if bad:
        raise RuleError(f"{path}: {len(bad)} bad row(s) — " + "; ".join(bad) + ". Fix or delete them.", path=path)
    return _Frequent(
        path, file_sha256(path), tuple(dict.fromkeys(answers)), {k: frozenset(v) for k, v in index.items()}
    )


def _typo(key: str, freq: _Frequent | None = None) -> str:
    """The one frequent answer one jamo away from ``key`` ('' when none or more than one)."""
    if not _MIN_TYPO_SYLLABLES <= len(key) <= _MAX_TYPO_SYLLABLES:
        return ""
    if not _SYLLABLES_RE.fullmatch(key):  # _jamo(key) is None
        return ""
    if freq is None:
        freq = _frequent(file_identity(data_path("rules", FREQUENT_FILE)))
    if key in freq.answer_set:
        return ""
    half = len(key) // 2
    if (len(key), key[:half]) not in freq.halves and (len(key), key[half:]) not in freq.halves:
        return ""  # no answer of its length shares its first or second half: none is one syllable off
    jamo = _jamo(key) or ""
    # one jamo edit between two strings of Hangul syllables changes one syllable and keeps their number
    # (a leading consonant, vowel and trailing consonant are different code points, so any other edit
    # leaves a string that is no syllables): only the answers equal to the key but at one syllable
    near: set[str] = set()
    by_blank = freq.by_blank
    for i in range(len(key)):
        near |= by_blank.get(key[:i] + "\0" + key[i + 1 :], frozenset())
    found = [a for a in near if _one_edit(jamo, _jamo(a) or "")]
    return found[0] if len(found) == 1 else ""
