"""Sending a panel's calls: one thread pool per member, in this process.

:func:`execute` is what :func:`coder.panel.run.run_panel` calls for the answers not in
the cache.  Each member has at most ``max_concurrency`` calls in flight, on a thread pool of
that size.  For each call a worker thread

1. **claims its key** in the cache (:meth:`~coder.panel.cache.ResponseCache.claim`): when
   another run (another process on the same cache) holds it, the worker waits for that run's
   answer and uses it instead of paying for the call again;
2. **reserves its cost** under ``--max-cost`` (:class:`Budget`);
3. calls, retried on 429/5xx/timeouts with exponential backoff that honours ``Retry-After``
   (:func:`call_with_retries`); ``timeout_s`` is a **deadline for each whole attempt**
   (:func:`coder.panel.vendor.call_deadline`), not for each read.

Answers reach one collecting loop (the calling thread), which caches them as they arrive —
answers that arrived together in one transaction — and counts tokens and cost.  The calls in
flight when a run stops (budget, Ctrl-C, an error) finish, and their answers are cached too.

**Budget.**  With ``--max-cost`` a call is sent only while what was spent (the cost of the
answers received, from the usage each vendor *reported*) plus the estimates of the calls in
flight plus its own estimate stays within the budget.  A call's estimate is its input tokens
(:func:`coder.panel.run.estimate_tokens`) plus ``max_tokens`` of output at the member's price,
times the largest ratio of reported to estimated cost seen so far for that member; until a
member's first answer only one of its calls is in flight, so a vendor that bills ten times the
estimate is found out after one call.  The spend can pass the budget only by what the calls
already in flight are billed beyond their estimates — at most ``max_concurrency`` calls per
member (after a member's first answer), or that member's first call.

**Dead endpoints.**  After :data:`CONNECT_FAILURES` connection failures in a row (refused,
unreachable, a connect timeout) a member stops: its queued calls are not sent, the run says so
at once (``notify``) and again when it ends; the other members go on, and every answer received
is cached.

The vendor SDKs spend about 2 ms of Python per call (request models, HTTP parsing), and all
members share one interpreter lock; a call spends the rest of its time waiting on the network,
with the lock released.

**Worker processes were removed in this change** (``--workers processes``, one forked worker
process per member, and the ``workers`` parameter) **because they did not make the panel
faster.**  Processes only help when the interpreter lock is the limit, which takes hundreds of
calls a second; a real vendor answers in a second or more, so a member's calls spend nearly all
their time waiting on the network.  Measured before the removal on this 2-core machine (load
0.5–5, other work running) with ``python bench/bench_panel.py --latency L [--concurrency C]
--workers threads|processes``: the loopback fake vendor in its own process, three members through
the real SDKs, a ~30 s run; calls/s as a share of the ideal members × C / L, with the SDKs
imported (cold, with the imports inside the run, in brackets):

=======  ==  ======  ========  =============================  =============================
L        C   calls   ideal     threads                        processes
=======  ==  ======  ========  =============================  =============================
1 s      8   714     24/s      97.4, 97.9 % (92.2, 92.2 %)    97.6, 97.3 % (90.2, 93.7 %)
2 s      8   354     12/s      97.4 % (88.4 %)                97.2 % (91.3 %)
1 s      32  2,874   96/s      97.5 % (91.5 %)                97.5 % (86.2 %)
50 ms    8   6,006   480/s     80.9, 78.7 % (63.0, 69.6 %)    81.4, 81.3 % (72.3, 66.3 %)
=======  ==  ======  ========  =============================  =============================

At 1 s the ceiling is about 99 % (e.g. 238 calls per member take 30 rounds of 8, 30 s, against
the ideal's 29.75 s); the client used 5–6 % of a core with C = 8 and 18 % with C = 32, in
either mode.  The cold run costs 1–4.5 s of SDK imports in either mode.  Only the 50 ms loopback
server (``--latency 0.05 --jobs 2000``), at hundreds of calls a second, moves the client near a
core, and even there processes gained 0.5–2.6 points, inside the ±15 % noise of a run.  At 1 s
and 2 s threads and processes are equal within 0.5 point.  So the panel keeps only threads:
no fork, no control pipes, no pickled messages between processes.  ``python
bench/bench_panel.py --latency 1.0`` measures the thread pools now.
"""

from __future__ import annotations

import queue
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .cache import ResponseCache, make_entry
from .config import Member, Price, redact_url, url_secrets
from .vendor import BaseAdapter, CallError, Reply, adapter_class, call_deadline, redact_logs

__all__ = ["CONNECT_FAILURES", "MAX_WAIT_S", "Budget", "Outcome", "call_with_retries", "execute"]

MAX_WAIT_S = 60.0
CONNECT_FAILURES = 5
LEASE_POLL_S = 0.2


class Budget:
    """``--max-cost`` while the calls run (see the module docstring): reserve before a call, settle with its usage.

    ``max_cost`` None: nothing is gated (the spend is still counted).  Thread-safe.
    """

    def __init__(self, max_cost: float | None, members: Sequence[str], on_exhausted: Callable[[], None] = lambda: None):
        self.max_cost = max_cost
        self.spent = 0.0
        self.reserved = 0.0
        self.exhausted = False
        self._ratio = dict.fromkeys(members, 1.0)
        self._answered = dict.fromkeys(members, 0)
        self._inflight = dict.fromkeys(members, 0)
        self._cond = threading.Condition()
        self._on_exhausted = on_exhausted

    def reserve(self, member: str, estimate: float, stop: threading.Event) -> float | None:
        """The amount held for one call of ``member`` (estimated ``estimate``), or None: do not send it."""
        with self._cond:
            while True:
                if stop.is_set() or self.exhausted:
                    return None
                if self.max_cost is None:
                    self._inflight[member] += 1
                    return 0.0
                if self._answered[member] == 0 and self._inflight[member] > 0:
                    self._cond.wait(LEASE_POLL_S)  # until the member's first answer shows what it bills
                    continue
                held = estimate * self._ratio[member]
                if self.spent + self.reserved + held <= self.max_cost:
                    self.reserved += held
                    self._inflight[member] += 1
                    return held
                if not any(self._inflight.values()):  # nothing in flight can free budget: the budget is reached
                    self.exhausted = True
                    self._cond.notify_all()
                    break
                self._cond.wait(LEASE_POLL_S)  # a call in flight may cost less than held
        self._on_exhausted()
        return None

    def settle(self, member: str, held: float, estimate: float, cost: float | None) -> None:
        """A call reserved with ``held`` ended: ``cost`` is what its reply reports (None: it failed, nothing billed)."""
        with self._cond:
            self._inflight[member] -= 1
            self.reserved = max(self.reserved - held, 0.0) if any(self._inflight.values()) else 0.0
            if cost is not None:
                self.spent += cost
                self._answered[member] += 1
                if estimate > 0:
                    self._ratio[member] = max(self._ratio[member], cost / estimate)
            self._cond.notify_all()


class _Breaker:
    """Stops a member after :data:`CONNECT_FAILURES` connection failures in a row."""

    def __init__(self, member: str, stop: threading.Event, on_trip: Callable[[str, CallError], None]):
        self.member, self.stop, self.on_trip = member, stop, on_trip
        self._n = 0
        self._tripped = False
        self._lock = threading.Lock()

    def record(self, error: CallError | None) -> None:
        trip = False
        with self._lock:
            if error is None or error.kind != "connect":
                self._n = 0
                return
            self._n += 1
            if self._n >= CONNECT_FAILURES and not self._tripped:
                self._tripped = trip = True
        if trip:
            self.stop.set()
            self.on_trip(self.member, error)


def call_with_retries(
    adapter: BaseAdapter,
    system: str,
    user: str,
    member: Member,
    stop: threading.Event,
    counter: Callable[[], None],
    *,
    budget: Budget | None = None,
    estimate: float = 0.0,
    price: Price | None = None,
    breaker: _Breaker | None = None,
) -> tuple[Reply | None, CallError | None, int]:
    """One call with its retries: ``(reply, last error, attempts)``; ``(None, …)`` when it failed or was not sent
    (``stop`` set, or the budget reached).  Each attempt ends within ``member.timeout_s``."""
    last = None
    attempts = 0
    for attempt in range(member.retries + 1):
        if stop.is_set():
            return None, last, attempts
        held = budget.reserve(member.id, estimate, stop) if budget is not None else 0.0
        if held is None:
            return None, last, attempts
        attempts += 1
        counter()
        try:
            with call_deadline(member.timeout_s):
                reply = adapter.call(system, user)
        except CallError as exc:
            if budget is not None:
                budget.settle(member.id, held, estimate, None)
            if exc.kind == "timeout":
                exc = CallError(
                    f"timed out (no complete reply within timeout_s = {member.timeout_s:g} s)",
                    retryable=True,
                    kind="timeout",
                )
            last = exc
            if breaker is not None:
                breaker.record(exc)
            if not exc.retryable or attempt == member.retries:
                break
            if exc.retry_after is not None:
                delay = min(exc.retry_after, MAX_WAIT_S)
            else:
                delay = min(member.backoff_s * (2**attempt) * (0.5 + random.random()), MAX_WAIT_S)
            if stop.wait(delay):
                return None, last, attempts
            continue
        except BaseException:
            if budget is not None:
                budget.settle(member.id, held, estimate, None)
            raise
        if budget is not None:
            cost = price.cost(reply.input_tokens, reply.output_tokens) if price is not None else 0.0
            budget.settle(member.id, held, estimate, cost)
        if breaker is not None:
            breaker.record(None)
        return reply, None, attempts
    return None, last, attempts


@dataclass(frozen=True)
class _Done:
    """A task's result: its index in the member's task list, the reply or the last error, attempts;
    ``entry`` when another run answered it meanwhile (no call made).  Nothing at all: not sent."""

    member: str
    index: int
    reply: Reply | None
    error: CallError | None
    attempts: int
    entry: dict | None = None


@dataclass(frozen=True)
class _Crashed:
    """A member's call raised something that is not a vendor error (a bug): the run stops and raises it."""

    member: str
    exc: BaseException


@dataclass(frozen=True)
class _Stopped:
    """A member stopped after connection failures in a row: ``message`` says why."""

    member: str
    message: str


@dataclass
class Outcome:
    """What :func:`execute` leaves: failures ``(member, task index, message, attempts)``, spend, and why it stopped.

    ``stopped``: member → why it stopped (connection failures); ``not_sent``: member → calls not sent.
    """

    failures: list[tuple[str, int, str, int]]
    spent: float
    budget_hit: bool
    stopped: dict[str, str] = field(default_factory=dict)
    not_sent: dict[str, int] = field(default_factory=dict)


class _Pools:
    """One thread pool per member, ``max_concurrency`` threads each.

    Results go to ``out``: a :class:`_Done` per task, a :class:`_Stopped` per stopped member, or a :class:`_Crashed`.
    """

    def __init__(
        self,
        tasks: Mapping[str, Sequence],
        members: Mapping[str, Member],
        adapters: Mapping[str, BaseAdapter],
        out: queue.SimpleQueue,
        attempt_counter: Callable[[str], None],
        *,
        cache: ResponseCache,
        budget: Budget,
        prices: Mapping[str, Price | None],
        estimates: Mapping[str, Sequence[float]],
    ):
        self.tasks, self.members, self.adapters, self.out = tasks, members, adapters, out
        self.cache, self.budget, self.prices, self.estimates = cache, budget, prices, estimates
        self.stops = {mid: threading.Event() for mid in tasks}
        self.breakers = {mid: _Breaker(mid, self.stops[mid], self._tripped) for mid in tasks}
        self._count = attempt_counter
        self._pools: list[ThreadPoolExecutor] = []

    def start(self) -> None:
        for mid, ts in self.tasks.items():
            m = self.members[mid]
            pool = ThreadPoolExecutor(max_workers=m.max_concurrency, thread_name_prefix=f"panel-{mid}")
            self._pools.append(pool)
            for i in range(len(ts)):
                pool.submit(self._work, mid, i)

    def _tripped(self, mid: str, error: CallError) -> None:
        m = self.members[mid]
        where = redact_url(m.base_url) or f"the {m.vendor} API"
        self.out.put(
            _Stopped(
                mid,
                f"panel: {m.label} stopped after {CONNECT_FAILURES} connection failures in a row ({error.message}) — "
                f"is the server at {where} running? Its remaining calls are not sent; the other members go on.",
            )
        )

    def _work(self, mid: str, i: int) -> None:
        try:
            self.out.put(self._task(mid, i))
        except BaseException as exc:  # a bug, not a vendor error: the run stops and says so
            self.out.put(_Crashed(mid, exc))

    def _task(self, mid: str, i: int) -> _Done:
        task, m, stop = self.tasks[mid][i], self.members[mid], self.stops[mid]
        # a lease long enough for every attempt and wait of this call; a dead owner's is taken over at once
        lease_s = (m.timeout_s + MAX_WAIT_S) * (m.retries + 1) + 5.0
        while True:
            if stop.is_set():
                return _Done(mid, i, None, None, 0)
            state = self.cache.claim(task.key, seconds=lease_s)
            if state == "answered":
                return _Done(mid, i, None, None, 0, entry=self.cache.get(task.key))
            if state == "mine":
                break
            stop.wait(LEASE_POLL_S)  # another run is calling it: wait for its answer
        try:
            reply, err, attempts = call_with_retries(
                self.adapters[mid],
                task.system,
                task.user,
                m,
                stop,
                lambda: self._count(mid),
                budget=self.budget,
                estimate=self.estimates[mid][i],
                price=self.prices.get(mid),
                breaker=self.breakers[mid],
            )
        except BaseException:
            self.cache.release(task.key)
            raise
        if reply is None:
            self.cache.release(task.key)
        return _Done(mid, i, reply, err, attempts)

    def stop(self) -> None:
        for event in self.stops.values():
            event.set()

    def join(self) -> None:
        """Wait until every call in flight has finished and its result is on ``out`` (queued calls are dropped)."""
        for pool in self._pools:
            pool.shutdown(wait=True, cancel_futures=True)


def execute(
    todo: Mapping[str, Sequence],
    members: Mapping[str, Member],
    *,
    cache: ResponseCache,
    env: Mapping[str, str],
    on_reply: Callable[[str, int, Reply], float],
    on_attempt: Callable[[str, int], None],
    max_cost: float | None,
    on_hit: Callable[[str, int, dict], None] = lambda mid, i, entry: None,
    prices: Mapping[str, Price | None] | None = None,
    estimates: Mapping[str, Sequence[float]] | None = None,
    notify: Callable[[str], None] | None = None,
    progress: bool = False,
) -> Outcome:
    """Send the calls of ``todo`` (member id → tasks) and cache every answer (see the module docstring).

    ``on_reply(member, task index, reply)`` records an answer and returns its cost;
    ``on_hit(member, task index, entry)`` an answer another run stored meanwhile;
    ``on_attempt(member, n)`` counts attempts.  ``prices`` (member → price) and ``estimates``
    (member → each task's estimated cost) drive the ``max_cost`` budget; ``notify(message)`` is
    told at once when a member stops.  Returns the :class:`Outcome`; raises the first crash (a
    bug in an adapter) after caching what arrived.
    """
    prices = prices or {}
    estimates = estimates or {mid: [0.0] * len(ts) for mid, ts in todo.items()}
    adapters: dict[str, BaseAdapter] = {}
    try:
        for mid in todo:
            m = members[mid]
            key = env.get(m.api_key_env, "") if m.api_key_env else None
            adapters[mid] = adapter_class(m.vendor)(m, key)
            redact_logs([key or "", *url_secrets(m.base_url)])  # after the SDK import: its loggers exist
        lock = threading.Lock()

        def count(mid: str) -> None:
            with lock:
                on_attempt(mid, 1)

        holder: list[_Pools] = []
        budget = Budget(max_cost, list(todo), on_exhausted=lambda: holder[0].stop())
        pools = _Pools(
            todo,
            members,
            adapters,
            queue.SimpleQueue(),
            attempt_counter=count,
            cache=cache,
            budget=budget,
            prices=prices,
            estimates=estimates,
        )
        holder.append(pools)
        return _collect(pools, todo, cache=cache, on_reply=on_reply, on_hit=on_hit, notify=notify, progress=progress)
    finally:
        for adapter in adapters.values():
            adapter.close()


def _collect(pools: _Pools, todo, *, cache, on_reply, on_hit, notify, progress) -> Outcome:
    from tqdm import tqdm

    total = sum(len(ts) for ts in todo.values())
    remaining = total
    failures: list[tuple[str, int, str, int]] = []
    crashes: list[_Crashed] = []
    stopped: dict[str, str] = {}
    not_sent: dict[str, int] = {}
    spent = 0.0
    cached = 0
    bar = tqdm(total=total, desc="panel", unit="call", disable=None if progress else True, leave=False)

    def store(batch: list) -> None:
        nonlocal spent, remaining, cached
        done = [item for item in batch if isinstance(item, _Done)]
        cache.put_many(
            [
                make_entry(
                    t.request,
                    d.reply.text,
                    {"input_tokens": d.reply.input_tokens, "output_tokens": d.reply.output_tokens},
                    d.reply.model,
                    key=t.key,
                )
                for d in done
                if d.reply is not None
                for t in (todo[d.member][d.index],)
            ]
        )
        for item in batch:
            if isinstance(item, _Crashed):
                crashes.append(item)
                pools.stop()
            elif isinstance(item, _Stopped):
                stopped[item.member] = item.message
                if notify is not None:
                    with tqdm.external_write_mode():
                        notify(item.message)
            else:
                remaining -= 1
                if item.reply is not None:
                    spent += on_reply(item.member, item.index, item.reply)
                elif item.entry is not None:
                    cached += 1
                    on_hit(item.member, item.index, item.entry)
                elif item.error is not None:
                    failures.append((item.member, item.index, item.error.message, item.attempts))
                else:
                    not_sent[item.member] = not_sent.get(item.member, 0) + 1
        bar.update(len(done))
        bar.set_postfix_str(f"cached {cached:,} failed {len(failures):,} spend ${spent:.4f}", refresh=False)

    def waiting() -> list:
        """Every result already on the queue (without blocking)."""
        items = []
        while True:
            try:
                items.append(pools.out.get_nowait())
            except queue.Empty:
                return items

    try:
        pools.start()
        while remaining:
            # every answer is cached as soon as it arrives here: a run that stops keeps what it paid for
            store([pools.out.get(), *waiting()])
            if crashes:
                break
    except BaseException:
        pools.stop()
        raise
    finally:
        # calls in flight when the run stopped finish during the join: their answers are paid for
        pools.join()
        store(waiting())
        bar.close()
    if crashes:
        raise crashes[0].exc
    return Outcome(failures, spent, pools.budget.exhausted, stopped, not_sent)
