"""Sending a panel's calls: one thread pool per member, in this process.

:func:`execute` is what :func:`coder.panel.run.run_panel` calls for the answers not in
the cache.  Each member has at most ``max_concurrency`` calls in flight, on a thread pool of
that size; every call is retried on 429/5xx/timeouts with exponential backoff that honours
``Retry-After`` (:func:`call_with_retries`).  Answers reach one collecting loop (the calling
thread), which caches them as they arrive — answers that arrived together in one transaction —
counts tokens and cost, and stops the run when ``--max-cost`` is passed.  The calls in flight
when a run stops (budget, Ctrl-C, an error) finish, and their answers are cached too.

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
from dataclasses import dataclass

from .cache import ResponseCache, make_entry
from .config import Member
from .vendor import BaseAdapter, CallError, Reply, adapter_class

__all__ = ["MAX_WAIT_S", "Outcome", "call_with_retries", "execute"]

MAX_WAIT_S = 60.0


def call_with_retries(
    adapter: BaseAdapter, system: str, user: str, member: Member, stop: threading.Event, counter: Callable[[], None]
) -> tuple[Reply | None, CallError | None, int]:
    """One call with its retries: ``(reply, last error, attempts)``; ``(None, …)`` when it failed or ``stop`` was set."""
    last = None
    attempts = 0
    for attempt in range(member.retries + 1):
        if stop.is_set():
            return None, last, attempts
        attempts += 1
        counter()
        try:
            return adapter.call(system, user), None, attempts
        except CallError as exc:
            last = exc
            if not exc.retryable or attempt == member.retries:
                break
            if exc.retry_after is not None:
                delay = min(exc.retry_after, MAX_WAIT_S)
            else:
                delay = min(member.backoff_s * (2**attempt) * (0.5 + random.random()), MAX_WAIT_S)
            if stop.wait(delay):
                return None, last, attempts
    return None, last, attempts


@dataclass(frozen=True)
class _Done:
    """A task's result: its index in the member's task list, the reply or the last error, attempts."""

    member: str
    index: int
    reply: Reply | None
    error: CallError | None
    attempts: int


@dataclass(frozen=True)
class _Done:
    """A task's result: its index in the member's task list, the reply or the last error, attempts."""

    member: str
    index: int
    reply: Reply | None
    error: CallError | None
    attempts: int


@dataclass(frozen=True)
class _Crashed:
    """A member's call raised something that is not a vendor error (a bug): the run stops and raises it."""

    member: str
    exc: BaseException


@dataclass
class Outcome:
    """What :func:`execute` leaves: failures ``(member, task index, message, attempts)``, spend, and why it stopped."""

    failures: list[tuple[str, int, str, int]]
    spent: float
    budget_hit: bool


class _Pools:
    """One thread pool per member, ``max_concurrency`` threads each.

    Results go to ``out``: a :class:`_Done` per task, or a :class:`_Crashed`.
    """

    def __init__(
        self,
        tasks: Mapping[str, Sequence],
        members: Mapping[str, Member],
        adapters: Mapping[str, BaseAdapter],
        out: queue.SimpleQueue,
        attempt_counter: Callable[[str], None],
    ):
        self.tasks, self.members, self.adapters, self.out = tasks, members, adapters, out
        self.stop_event = threading.Event()
        self._count = attempt_counter
        self._pools: list[ThreadPoolExecutor] = []

    def start(self) -> None:
        for mid, ts in self.tasks.items():
            m = self.members[mid]
            pool = ThreadPoolExecutor(max_workers=m.max_concurrency, thread_name_prefix=f"panel-{mid}")
            self._pools.append(pool)
            for i in range(len(ts)):
                pool.submit(self._work, mid, i)

    def _work(self, mid: str, i: int) -> None:
        task = self.tasks[mid][i]
        try:
            reply, err, attempts = call_with_retries(
                self.adapters[mid], task.system, task.user, self.members[mid], self.stop_event, lambda: self._count(mid)
            )
            self.out.put(_Done(mid, i, reply, err, attempts))
        except BaseException as exc:  # a bug, not a vendor error: the run stops and says so
            self.out.put(_Crashed(mid, exc))

    def stop(self) -> None:
        self.stop_event.set()

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
    progress: bool = False,
) -> Outcome:
    """Send the calls of ``todo`` (member id → tasks) and cache every answer (see the module docstring).

    ``on_reply(member, task index, reply)`` records an answer and returns its cost;
    ``on_attempt(member, n)`` counts attempts.  Returns the :class:`Outcome`; raises the first
    crash (a bug in an adapter) after caching what arrived.
    """
    adapters: dict[str, BaseAdapter] = {}
    for mid in todo:
        m = members[mid]
        key = env.get(m.api_key_env, "") if m.api_key_env else None
        adapters[mid] = adapter_class(m.vendor)(m, key)
    try:
        lock = threading.Lock()

        def count(mid: str) -> None:
            with lock:
                on_attempt(mid, 1)

        pools = _Pools(todo, members, adapters, queue.SimpleQueue(), attempt_counter=count)
        return _collect(pools, todo, cache=cache, on_reply=on_reply, max_cost=max_cost, progress=progress)
    finally:
        for adapter in adapters.values():
            adapter.close()


def _collect(pools: _Pools, todo, *, cache, on_reply, max_cost, progress) -> Outcome:
    from tqdm import tqdm

    total = sum(len(ts) for ts in todo.values())
    remaining = total
    failures: list[tuple[str, int, str, int]] = []
    crashes: list[_Crashed] = []
    spent = 0.0
    budget_hit = False
    bar = tqdm(total=total, desc="panel", unit="call", disable=None if progress else True, leave=False)

    def store(batch: list) -> None:
        nonlocal spent, remaining
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
            else:
                remaining -= 1
                if item.reply is not None:
                    spent += on_reply(item.member, item.index, item.reply)
                elif item.error is not None:
                    failures.append((item.member, item.index, item.error.message, item.attempts))
        bar.update(len(done))

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
            if max_cost is not None and spent > max_cost and not budget_hit:
                budget_hit = True
                pools.stop()
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
    return Outcome(failures, spent, budget_hit)
