"""Plan and run the panel over a stored crosswalk; votes become ``panel_<id>`` raters.

:func:`plan_panel` picks the labels (``only``), renders one prompt per distinct core key
(the raters coded ``core_key``: X of ``전직 X, 현재 구직중``), computes every call's cache key
and counts cache hits, calls to make, tokens and cost — without any request.
:func:`run_panel` answers the plan: cached answers first, the rest concurrently (at most
``max_concurrency`` calls in flight per member, all members at once), each retried on
429/5xx/timeouts with exponential backoff that honours ``Retry-After``.  Every answer is cached
as soon as the collecting thread receives it, so a run that stops (budget guard, an error, Ctrl-C) pays only for the
rest when started again.  :func:`panel_votes` turns the answers into one
:class:`~coder.raters.base.RaterResult` per member, keyed by core key.

**Samples.** With ``samples = n > 1`` a member answers each label n times (sample index in the
cache key).  Its vote is the deepest truncation that more than half of its valid samples share
(:func:`coder.crosswalk.decide.panel_vote`, as for the members); its confidence is that share
times the mean confidence of the samples backing it.  With no valid sample the vote is the first
invalid code, kept verbatim.
"""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..codes import CodeList
from ..crosswalk.decide import panel_vote
from ..errors import CoderError, InputError, MissingKeyError, VendorError
from ..raters.base import RaterResult
from .cache import ResponseCache, cache_key
from .config import Member, Price, PriceTable, redact_url, url_secrets
from .execute import CONNECT_FAILURES, execute
from .parse import ParsedAnswer, parse_answer
from .prompt import Prompts, candidates_for, render, status_text
from .vendor import Reply, adapter_class

__all__ = [
    "ONLY",
    "BudgetError",
    "MemberPlan",
    "MemberStats",
    "PanelPlan",
    "PanelRun",
    "Task",
    "estimate_tokens",
    "panel_votes",
    "plan_panel",
    "run_panel",
    "select_cores",
]

ONLY = ("review", "uncoded", "all")
REQUEST_VERSION = 1
_NO_CODE = frozenset({"not_employed", "unknown", "employed_unstated"})


class BudgetError(CoderError):
    """A budget guard (--max-calls, --max-cost) stopped the run or refused to start it."""


_HANGUL = re.compile("[\uac00-\ud7a3]")


@functools.lru_cache(maxsize=65536)
def estimate_tokens(text: str) -> int:
    """Rough token count: one per Hangul syllable, one per 4 other characters (documented estimate)."""
    hangul = len(_HANGUL.findall(text))
    return hangul + math.ceil((len(text) - hangul) / 4)


@dataclass(frozen=True)
class Task:
    """One call: member, core key, sample index, rendered prompts, the request (cache key input) and its key."""

    member: str
    core: str
    sample: int
    system: str
    user: str
    request: Mapping[str, object]
    key: str


@dataclass(frozen=True)
class MemberPlan:
    member: Member
    tasks: tuple[Task, ...]
    hits: int
    price: Price | None
    key_set: bool
    input_tokens: int  # of the calls to make
    output_tokens: int  # upper bound: max_tokens per call

    @property
    def calls(self) -> int:
        return len(self.tasks) - self.hits

    @property
    def cost(self) -> float:
        """Upper-bound cost of the calls to make (NaN when the model has no price)."""
        if self.price is None:
            return math.nan
        return self.price.cost(self.input_tokens, self.output_tokens)


@dataclass(frozen=True)
class PanelPlan:
    """What a run would send: labels, core keys and one :class:`MemberPlan` per member."""

    only: str
    labels: int
    cores: tuple[str, ...]
    members: tuple[MemberPlan, ...]
    prompts_sha256: str
    code_list: str

    @property
    def calls(self) -> int:
        return sum(m.calls for m in self.members)

    @property
    def cost(self) -> float:
        """Upper-bound cost of the calls to make by members with a price."""
        return sum(m.cost for m in self.members if m.calls and m.price is not None)

    def to_text(self) -> str:
        lines = [
            f"panel plan (--only {self.only}): {self.labels:,} labels, {len(self.cores):,} distinct texts to rate",
            "member                               answers  cache hits  calls  est. input tok  max output tok  max cost USD",
        ]
        for mp in self.members:
            cost = "unknown price" if mp.price is None else f"{mp.cost:.4f}"
            key = "" if mp.key_set or not mp.calls else f"  (no key: set {mp.member.api_key_env})"
            lines.append(
                f"{mp.member.label:<36} {len(mp.tasks):>7,}  {mp.hits:>10,}  {mp.calls:>5,}  "
                f"{mp.input_tokens:>14,}  {mp.output_tokens:>14,}  {cost:>12}{key}"
            )
        total = self.cost
        lines.append(
            f"total: {self.calls:,} calls, at most ${total:.4f} (priced members; output bounded by max_tokens)"
        )
        return "\n".join(lines)


@dataclass
class MemberStats:
    """Per member: calls made, cache hits, errors, valid and invalid answers, tokens, cost of new calls."""

    member: str
    calls: int = 0
    attempts: int = 0
    hits: int = 0
    errors: int = 0
    valid: int = 0
    invalid: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    cost_known: bool = True

    @property
    def validity(self) -> float:
        """Valid answers / answers (cached and new); higher is better."""
        n = self.valid + self.invalid
        return self.valid / n if n else math.nan

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["validity"] = None if math.isnan(self.validity) else round(self.validity, 4)
        d["cost"] = round(self.cost, 6) if self.cost_known else None
        return d


@dataclass(frozen=True)
class PanelRun:
    """Answers of a run: per member, per core key, the parsed answer of each sample; stats and time."""

    plan: PanelPlan
    answers: Mapping[str, Mapping[str, tuple[ParsedAnswer, ...]]]
    stats: Mapping[str, MemberStats]
    seconds: float

    def to_text(self) -> str:
        lines = [
            "member                               calls  cache hits  errors  valid  validity  tokens in/out      cost USD"
        ]
        for s in self.stats.values():
            m = next(mp.member for mp in self.plan.members if mp.member.id == s.member)
            val = "   n/a" if math.isnan(s.validity) else f"{s.validity:6.1%}"
            cost = f"{s.cost:.4f}" if s.cost_known else "unknown"
            lines.append(
                f"{m.label:<36} {s.calls:>5,}  {s.hits:>10,}  {s.errors:>6,}  {s.valid:>5,}  {val:>8}  "
                f"{s.input_tokens:>8,}/{s.output_tokens:<8,}  {cost:>9}"
            )
        return "\n".join(lines)


def select_cores(crosswalk, only: str) -> list[int]:
    """Row positions of the labels to send: ``review`` (no final code, or needs_review), ``uncoded``, ``all``.

    Only labels with a core key (something the raters coded) are sent.
    """
    if only not in ONLY:
        raise InputError(f"--only {only!r}: choose one of {', '.join(ONLY)}.")
    core = crosswalk["core_key"].astype(str)
    status = crosswalk["status_parsed"].astype(str)
    codable = (core != "") & ~status.isin(_NO_CODE)
    if only == "all":
        mask = codable
    else:
        code = crosswalk["ksco_code"].astype(str) if "ksco_code" in crosswalk else core.where(False, "")
        mask = codable & (code == "")
        if only == "review" and "needs_review" in crosswalk:
            mask = mask | (codable & crosswalk["needs_review"].astype(bool))
    return [i for i, v in enumerate(mask.tolist()) if v]


def _request(
    member: Member, fmt: str, api: str, system: str, user: str, prompts: Prompts, codes: CodeList, sample: int
) -> dict:
    return {
        "v": REQUEST_VERSION,
        **member.sampling(),
        "response_format": fmt,
        "api": api,
        "system": system,
        "prompt": user,
        "template_sha256": prompts.sha256,
        "code_list": f"{codes.name}:{codes.sha256}",
        "sample": sample,
    }


def plan_panel(
    crosswalk,
    members: Sequence[Member],
    *,
    codes: CodeList,
    prompts: Prompts,
    cache: ResponseCache,
    prices: PriceTable,
    only: str = "review",
    samples: int | None = None,
    env: Mapping[str, str] | None = None,
) -> PanelPlan:
    """What a run would send (see the module docstring); no request is made.

    ``samples`` overrides every member's ``samples``.
    """
    import os

    env = os.environ if env is None else env
    rows = select_cores(crosswalk, only)
    cores_all = crosswalk["core_key"].astype(str).tolist()
    keys = crosswalk["label_key"].astype(str).tolist()
    labels_col = crosswalk["label"].astype(str).tolist()
    status_col = crosswalk["status_parsed"].astype(str).tolist()
    first: dict[str, int] = {}
    for i in rows:
        first.setdefault(cores_all[i], i)
    by_key = {k: i for i, k in enumerate(keys)}
    statuses: dict[str, list[str]] = {}
    for i in rows:
        statuses.setdefault(cores_all[i], []).append(status_col[i])
    records = crosswalk.iloc[list(first.values())].to_dict("records") if first else []
    rendered = {}
    for core, rec in zip(first, records, strict=True):
        own = by_key.get(core)
        text = labels_col[own] if own is not None else core
        rendered[core] = render(prompts, text, status_text(statuses[core]), candidates_for(rec, codes), codes)
    plans = []
    for m in members:
        if samples is not None:
            m = _with_samples(m, samples)
        cls = adapter_class(m.vendor)
        fmt = cls.response_format(m)
        tasks = []
        for core, user in rendered.items():
            for s in range(m.samples):
                req = _request(m, fmt, cls.api, prompts.system, user, prompts, codes, s)
                tasks.append(Task(m.id, core, s, prompts.system, user, req, cache_key(req)))
        hit = [t.key in cache for t in tasks]
        todo = [t for t, h in zip(tasks, hit, strict=True) if not h]
        tok_in = sum(estimate_tokens(t.system) + estimate_tokens(t.user) for t in todo)
        plans.append(
            MemberPlan(
                member=m,
                tasks=tuple(tasks),
                hits=sum(hit),
                price=prices.get(m.model),
                key_set=not m.api_key_env or bool(env.get(m.api_key_env, "")),
                input_tokens=tok_in,
                output_tokens=len(todo) * m.max_tokens,
            )
        )
    return PanelPlan(only, len(rows), tuple(rendered), tuple(plans), prompts.sha256, codes.name)


def _with_samples(m: Member, n: int) -> Member:
    from dataclasses import replace

    return replace(m, samples=n)


def _check(
    plan, *, max_calls: int | None, max_cost: float | None, allow_unknown_price: bool, env, prices: PriceTable
) -> None:
    todo = [mp for mp in plan.members if mp.calls]
    for mp in todo:
        if mp.member.api_key_env and not env.get(mp.member.api_key_env, ""):
            raise MissingKeyError(
                f"No key for {mp.member.label} — set {mp.member.api_key_env}", vendor=mp.member.vendor
            )
    unpriced = [mp for mp in todo if mp.price is None]
    if unpriced and not allow_unknown_price:
        names = ", ".join(f"{mp.member.id} ({mp.member.model})" for mp in unpriced)
        raise BudgetError(
            f"panel: no price for {names} in {prices.path} — add the model's price there (or pass --prices FILE), "
            "or pass --allow-unknown-price to run without one."
        )
    if max_calls is not None and plan.calls > max_calls:
        raise BudgetError(
            f"panel: {plan.calls:,} calls to make, more than --max-calls {max_calls:,} — nothing was sent. "
            "Raise --max-calls, narrow --only or --members, or see --plan."
        )
    if max_cost is not None:
        if unpriced:
            raise BudgetError(
                f"panel: --max-cost cannot bound {', '.join(mp.member.id for mp in unpriced)} (no price) — "
                f"add a price to {prices.path} or drop --max-cost."
            )
        if plan.cost > max_cost:
            raise BudgetError(
                f"panel: the calls to make may cost up to ${plan.cost:.4f}, more than --max-cost {max_cost:g} — nothing was sent. "
                "Raise --max-cost, narrow --only or --members, or see --plan."
            )


def _scrub(text: str, secrets: Sequence[str]) -> str:
    for s in sorted(secrets, key=len, reverse=True):
        if s and len(s) >= 4:
            text = text.replace(s, "***")
    return text


def _secrets(members: Sequence[Member], env: Mapping[str, str]) -> list[str]:
    """Everything a message must not show: the members' keys and the credentials in their base URLs."""
    out = [env.get(m.api_key_env, "") for m in members if m.api_key_env]
    for m in members:
        out += url_secrets(m.base_url)
    return [s for s in out if s]


def run_panel(
    plan: PanelPlan,
    *,
    codes: CodeList,
    cache: ResponseCache,
    prices: PriceTable,
    offline: bool = False,
    max_calls: int | None = None,
    max_cost: float | None = None,
    allow_unknown_price: bool = False,
    progress: bool = False,
    env: Mapping[str, str] | None = None,
    notify: Callable[[str], None] | None = None,
) -> PanelRun:
    """Answer every task of ``plan`` from the cache or the vendors (see the module docstring).

    Raises :class:`~coder.errors.MissingKeyError` (a member with calls to make has no key),
    :class:`BudgetError` (a guard refused or stopped the run), :class:`~coder.errors.VendorError`
    (``offline`` and answers missing, calls that failed after their retries, or a member stopped
    after connection failures in a row).  Answers received before an error stay cached.
    ``notify(message)`` is told at once when a member stops (the CLI prints it on stderr).
    """
    import os

    env = os.environ if env is None else env
    t0 = time.perf_counter()
    stats = {mp.member.id: MemberStats(mp.member.id, cost_known=mp.price is not None) for mp in plan.members}
    texts: dict[tuple[str, str, int], str] = {}
    todo: dict[str, list[Task]] = {}
    for mp in plan.members:
        st = stats[mp.member.id]
        for t in mp.tasks:
            entry = cache.get(t.key)
            if entry is not None:
                texts[(t.member, t.core, t.sample)] = entry["response"]["text"]
                st.hits += 1
            else:
                todo.setdefault(mp.member.id, []).append(t)
    if offline and todo:
        missing = sorted({t.core for ts in todo.values() for t in ts})
        shown = ", ".join(repr(c) for c in missing[:10]) + (" …" if len(missing) > 10 else "")
        n = sum(len(ts) for ts in todo.values())
        raise VendorError(
            f"panel --offline: {n:,} answer(s) for {len(missing):,} label(s) are not in the cache: {shown} — "
            "import the bundle they are in (`coder cache import FILE`) or run without --offline."
        )
    if todo:
        live = _Plan(plan, todo)
        _check(
            live,
            max_calls=max_calls,
            max_cost=max_cost,
            allow_unknown_price=allow_unknown_price,
            env=env,
            prices=prices,
        )
        _execute(plan, todo, texts, stats, cache=cache, max_cost=max_cost, progress=progress, env=env, notify=notify)
    answers: dict[str, dict[str, tuple[ParsedAnswer, ...]]] = {}
    for mp in plan.members:
        per: dict[str, list[ParsedAnswer]] = {}
        st = stats[mp.member.id]
        for t in mp.tasks:
            a = parse_answer(texts[(t.member, t.core, t.sample)], codes)
            per.setdefault(t.core, []).append(a)
            if a.valid:
                st.valid += 1
            else:
                st.invalid += 1
        answers[mp.member.id] = {c: tuple(v) for c, v in per.items()}
    return PanelRun(plan, answers, stats, round(time.perf_counter() - t0, 3))


class _Plan:
    """The part of a plan still to be called (what the guards check)."""

    def __init__(self, plan: PanelPlan, todo: Mapping[str, list[Task]]):
        from dataclasses import replace

        members = []
        for mp in plan.members:
            ts = todo.get(mp.member.id, [])
            tok_in = sum(estimate_tokens(t.system) + estimate_tokens(t.user) for t in ts)
            members.append(
                replace(mp, tasks=tuple(ts), hits=0, input_tokens=tok_in, output_tokens=len(ts) * mp.member.max_tokens)
            )
        self.members = tuple(members)

    @property
    def calls(self) -> int:
        return sum(m.calls for m in self.members)

    @property
    def cost(self) -> float:
        return sum(m.cost for m in self.members if m.calls and m.price is not None)


def _execute(plan, todo, texts, stats, *, cache, max_cost, progress, env, notify) -> None:
    members = {mp.member.id: mp for mp in plan.members}
    secrets = _secrets([mp.member for mp in plan.members], env)
    total = sum(len(ts) for ts in todo.values())

    def on_attempt(mid: str, n: int) -> None:
        stats[mid].attempts += n

    def on_reply(mid: str, i: int, reply: Reply) -> float:
        task, st, mp = todo[mid][i], stats[mid], members[mid]
        st.calls += 1
        st.input_tokens += reply.input_tokens
        st.output_tokens += reply.output_tokens
        texts[(task.member, task.core, task.sample)] = reply.text
        if mp.price is None:
            return 0.0
        c = mp.price.cost(reply.input_tokens, reply.output_tokens)
        st.cost += c
        return c

    def on_hit(mid: str, i: int, entry: dict) -> None:  # another run answered it meanwhile
        task = todo[mid][i]
        stats[mid].hits += 1
        texts[(task.member, task.core, task.sample)] = entry["response"]["text"]

    def estimates(mid: str) -> list[float]:
        mp = members[mid]
        if mp.price is None:
            return [0.0] * len(todo[mid])
        return [
            mp.price.cost(estimate_tokens(t.system) + estimate_tokens(t.user), mp.member.max_tokens) for t in todo[mid]
        ]

    outcome = execute(
        todo,
        {mid: mp.member for mid, mp in members.items()},
        cache=cache,
        env=env,
        on_reply=on_reply,
        on_attempt=on_attempt,
        on_hit=on_hit,
        max_cost=max_cost,
        prices={mid: mp.price for mid, mp in members.items()},
        estimates={mid: estimates(mid) for mid in todo},
        notify=None if notify is None else (lambda message: notify(_scrub(message, secrets))),
        progress=progress,
    )
    for mid, _i, _msg, _n in outcome.failures:
        stats[mid].calls += 1
        stats[mid].errors += 1
    received = sum(s.calls - s.errors for s in stats.values())
    kept = (
        f"The {received:,} answers received are cached: run again to pay only for the rest."
        if received
        else "No answer was received."
    )
    if outcome.budget_hit:
        raise BudgetError(
            f"panel: stopped at --max-cost {max_cost:g} — spent ${outcome.spent:.4f} on {received:,} of {total:,} calls, "
            "and the rest would pass the budget (at the cost per call the vendors reported). No output written. "
            "The answers received are cached: raise --max-cost and run again to pay only for the rest."
        )
    if outcome.stopped:
        parts = []
        for mid in [mid for mid in todo if mid in outcome.stopped]:  # in panel order
            m = members[mid].member
            last = next((f[2] for f in outcome.failures if f[0] == mid), "")
            skipped = outcome.not_sent.get(mid, 0)
            where = redact_url(m.base_url) or f"the {m.vendor} API"
            parts.append(
                f"{m.label} stopped after {CONNECT_FAILURES} connection failures in a row ({_scrub(last, secrets)}) "
                f"at {where}; {skipped:,} of its {len(todo[mid]):,} calls not sent"
            )
        raise VendorError(
            f"panel: {'; '.join(parts)} — check that the server is running and base_url is right, or leave the "
            f"member out (--members). No output written. {kept}",
            vendor=members[next(iter(outcome.stopped))].member.vendor,
        )
    if outcome.failures:
        mid, i, msg, attempts = outcome.failures[0]
        task = todo[mid][i]
        by_member: dict[str, int] = {}
        for f in outcome.failures:
            by_member[f[0]] = by_member.get(f[0], 0) + 1
        counts = ", ".join(f"{k} {v:,}" for k, v in sorted(by_member.items()))
        m = members[mid].member
        raise VendorError(
            f"panel: {len(outcome.failures):,} call(s) failed after their retries ({counts}); first: {m.label} on {task.core!r} "
            f"after {attempts} attempt(s): {_scrub(msg, secrets)} — no output written. The {received:,} answers received are cached: "
            "run again to retry only the rest.",
            vendor=m.vendor,
            attempts=attempts,
        )


def _combine(answers: Sequence[ParsedAnswer], codes: CodeList) -> tuple[str, float, bool, str]:
    """One member's vote from its samples: ``(code, confidence, valid, reason)`` (see the module docstring)."""
    if len(answers) == 1:
        a = answers[0]
        reason = a.reason if a.valid or not a.problem else f"{a.problem}" + (f"; {a.reason}" if a.reason else "")
        return a.code, a.confidence, a.valid, reason
    valid = [a for a in answers if a.valid]
    if not valid:
        a = answers[0]
        return a.code, a.confidence, False, f"{a.problem} ({len(answers)} samples, none valid)"
    code, _n, agree, _ = panel_vote([(str(i), a.code) for i, a in enumerate(valid)], codes)
    tally = " ".join(a.code for a in answers)
    if not code:
        return "", math.nan, True, f"samples split: {tally}"
    backing = [a.confidence for a in valid if a.code.startswith(code) and not math.isnan(a.confidence)]
    conf = agree * (sum(backing) / len(backing)) if backing else math.nan
    first = next(a.reason for a in valid if a.code.startswith(code))
    return code, conf, True, f"{first} (samples: {tally})"


def panel_votes(run: PanelRun, codes: CodeList) -> list[RaterResult]:
    """One :class:`RaterResult` per member, keyed by core key (columns code, score = confidence, detail = reason,
    confidence, valid, reason; flag ``invalid``; the samples' codes as candidates when samples > 1)."""
    out = []
    for mp in run.plan.members:
        per = run.answers[mp.member.id]
        cores = tuple(per)
        votes = [_combine(per[c], codes) for c in cores]
        conf = tuple(v[1] for v in votes)
        out.append(
            RaterResult(
                mp.member.rater,
                cores,
                tuple(v[0] for v in votes),
                conf,
                tuple(v[3] for v in votes),
                extra={"confidence": conf, "valid": tuple(v[2] for v in votes), "reason": tuple(v[3] for v in votes)},
                flags=tuple(() if v[2] else ("invalid",) for v in votes),
                candidates=tuple(
                    tuple((a.code, a.confidence) for a in per[c]) if len(per[c]) > 1 else () for c in cores
                ),
            )
        )
    return out
