"""Sending a panel's calls: threads in this process, or one forked worker process per member.

:func:`execute` is what :func:`coder.panel.run.run_panel` calls for the answers not in
the cache.  Each member has at most ``max_concurrency`` calls in flight, on a thread pool of
that size; every call is retried on 429/5xx/timeouts with exponential backoff that honours
``Retry-After`` (:func:`call_with_retries`).  Answers reach one collecting loop (the calling
thread), which caches them as they arrive — answers that arrived together in one transaction —
counts tokens and cost, and stops the run when ``--max-cost`` is passed.  The calls in flight
when a run stops (budget, Ctrl-C, an error) finish, and their answers are cached too.

**Where the calls run** (``workers``):

``threads`` (default)
    Every member's pool in this process.  The vendor SDKs spend about 2 ms of Python per call
    (request models, HTTP parsing), and all members share one interpreter lock; a call spends
    the rest of its time waiting on the network, with the lock released.
``processes`` (opt-in, Linux)
    One worker process per member, forked from this one: the SDK, the client and the member's
    tasks are already in memory, so a worker starts in milliseconds and the members no longer
    share a lock.  A worker only calls its vendor and sends back each answer (over a pipe) as it
    arrives; this process still does all the caching and accounting.  A worker ignores Ctrl-C
    (this process tells it to stop, then collects what was in flight) and stops by itself when
    this process goes away.

``auto``, the old default, forked worker processes on Linux when two or more members had 200
calls or more between them.  It is still accepted from library callers and now means
``threads``; the command line offers ``threads`` and ``processes`` only.

Why threads: processes only help when the interpreter lock is the limit, which takes hundreds of
calls a second.  A real vendor answers in a second or more, so a member's calls spend nearly all
their time waiting on the network.  Measured on this 2-core machine (load 0.5–5, other work
running) with ``python bench/bench_panel.py --latency L [--concurrency C] --workers
threads|processes``: the loopback fake vendor in its own process, three members through the real
SDKs, a ~30 s run; calls/s as a share of the ideal members × C / L, with the SDKs imported
(cold, with the imports inside the run, in brackets):

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
server (``--latency 0.05 --jobs 2000``, the run measured before), at hundreds of calls a
second, moves the client near a core, and even there processes gain 0.5–2.6 points, inside
the ±15 % noise of a run.  So processes stay only as an opt-in.
"""

from __future__ import annotations

import functools
import os
import pickle
import queue
import random
import signal
import struct
import sys
import threading
import traceback
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..errors import InputError, VendorError
from .cache import ResponseCache, make_entry
from .config import Member
from .vendor import BaseAdapter, CallError, Reply, adapter_class

__all__ = ["MAX_WAIT_S", "WORKERS", "Outcome", "call_with_retries", "choose_workers", "execute"]

WORKERS = ("threads", "processes")
MAX_WAIT_S = 60.0
_HEADER = struct.Struct("<I")


def can_fork() -> bool:
    """Whether worker processes can be forked here (Linux: fork is safe for what a worker does)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def choose_workers(workers: str) -> str:
    """``threads`` or ``processes``: ``workers`` checked (``processes`` only where it can fork).

    ``auto``, the old default that forked for big runs, is still accepted from library callers
    and means ``threads`` (see the module docstring).
    """
    if workers == "auto":
        return "threads"
    if workers not in WORKERS:
        raise InputError(f"--workers {workers!r}: choose one of {', '.join(WORKERS)}.")
    if workers == "processes" and not can_fork():
        raise InputError(
            f"--workers processes needs os.fork on Linux (this is {sys.platform}) — use --workers threads."
        )
    return workers


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
class _Crashed:
    """A member's calls stopped on something that is not a vendor error (a bug): what, and the exception if local."""

    member: str
    message: str
    exc: BaseException | None = None


@dataclass(frozen=True)
class _Ended:
    """A worker process exited (its pipe closed)."""

    member: str


@dataclass
class Outcome:
    """What :func:`execute` leaves: failures ``(member, task index, message, attempts)``, spend, and why it stopped."""

    failures: list[tuple[str, int, str, int]]
    spent: float
    budget_hit: bool
    workers: str


class _Backend(ABC):
    """Where a run's calls happen; results go to ``out`` (a queue of :class:`_Done` / :class:`_Crashed` / :class:`_Ended`).

    ``adapters``: member id → its adapter (threads), or a function that builds it (processes: each
    worker builds its own).
    """

    def __init__(self, tasks: Mapping[str, Sequence], members: Mapping[str, Member], adapters, out: queue.SimpleQueue):
        self.tasks, self.members, self.adapters, self.out = tasks, members, adapters, out
        self.stop_event = threading.Event()

    @abstractmethod
    def start(self) -> None:
        """Start sending the calls."""

    def stop(self) -> None:
        self.stop_event.set()

    @abstractmethod
    def join(self) -> None:
        """Wait until every call in flight has finished and its result is on ``out``."""


class _Threads(_Backend):
    def __init__(self, *args, attempt_counter: Callable[[str], None]):
        super().__init__(*args)
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
            self.out.put(_Crashed(mid, f"{type(exc).__name__}: {exc}", exc))

    def join(self) -> None:
        for pool in self._pools:
            pool.shutdown(wait=True, cancel_futures=True)


class _Processes(_Backend):
    """One forked worker per member (see the module docstring)."""

    def __init__(self, *args):
        super().__init__(*args)
        self._children: dict[str, tuple[int, int]] = {}  # member → (pid, control pipe write end)
        self._readers: list[threading.Thread] = []

    def start(self) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        parent_fds: list[int] = []
        for mid in self.tasks:
            res_r, res_w = os.pipe()
            ctl_r, ctl_w = os.pipe()
            with warnings.catch_warnings():
                # Python ≥ 3.12 warns on fork in a process with threads; a worker touches no lock
                # another thread may hold: it only runs its own new threads, sockets and the SDK
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
            if pid == 0:  # the worker: never returns
                try:
                    for fd in (*parent_fds, res_r, ctl_w):
                        os.close(fd)
                except BaseException:
                    os._exit(70)
                _worker_main(self.adapters[mid], self.members[mid], self.tasks[mid], res_w, ctl_r, mid)
            os.close(res_w)
            os.close(ctl_r)
            parent_fds += [res_r, ctl_w]
            self._children[mid] = (pid, ctl_w)
            reader = threading.Thread(target=self._read, args=(mid, res_r), name=f"panel-read-{mid}", daemon=True)
            reader.start()
            self._readers.append(reader)

    def _read(self, mid: str, fd: int) -> None:
        with os.fdopen(fd, "rb") as fh:
            try:
                while True:
                    head = fh.read(_HEADER.size)
                    if len(head) < _HEADER.size:
                        break
                    (n,) = _HEADER.unpack(head)
                    msg = pickle.loads(fh.read(n))  # from our own forked worker
                    if msg[0] == "done":
                        _, i, reply, err, attempts = msg
                        error = (
                            None
                            if err is None
                            else CallError(err[0], retryable=err[1], retry_after=err[2], status=err[3])
                        )
                        self.out.put(_Done(mid, i, reply, error, attempts))
                    else:
                        self.out.put(_Crashed(mid, msg[1]))
            except Exception as exc:
                self.out.put(_Crashed(mid, f"unreadable message from the worker ({type(exc).__name__})"))
        self.out.put(_Ended(mid))

    def stop(self) -> None:
        super().stop()
        for _pid, ctl in self._children.values():
            try:
                os.write(ctl, b"s")
            except OSError:
                pass

    def join(self) -> None:
        for reader in self._readers:
            reader.join()
        for pid, ctl in self._children.values():
            try:
                os.close(ctl)
            except OSError:
                pass
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        self._children.clear()


def _worker_main(
    make: Callable[[], BaseAdapter], member: Member, tasks: Sequence, res_w: int, ctl_r: int, mid: str
) -> None:
    """A worker process: build the member's client, call the vendor for ``tasks``, send each result down ``res_w``, exit."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us (control pipe) and collects
        out = os.fdopen(res_w, "wb")
        lock = threading.Lock()
        stop = threading.Event()

        def watch() -> None:
            os.read(ctl_r, 1)  # a byte: stop; end of file: the parent has gone
            stop.set()

        threading.Thread(target=watch, daemon=True).start()

        def send(msg: tuple) -> None:
            data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
            with lock:
                out.write(_HEADER.pack(len(data)) + data)
                out.flush()

        adapter = make()

        def work(i: int) -> None:
            t = tasks[i]
            reply, err, attempts = call_with_retries(adapter, t.system, t.user, member, stop, lambda: None)
            error = None if err is None else (err.message, err.retryable, err.retry_after, err.status)
            send(("done", i, reply, error, attempts))

        with ThreadPoolExecutor(max_workers=member.max_concurrency, thread_name_prefix=f"panel-{mid}") as pool:
            for fut in [pool.submit(work, i) for i in range(len(tasks))]:
                exc = fut.exception()
                if exc is not None:
                    raise exc
        out.close()
    except BrokenPipeError:
        code = 1  # the parent has gone: nothing to report to
    except BaseException as exc:
        code = 1
        try:
            send(("crashed", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"))
            out.close()
        except BaseException:
            pass
    os._exit(code)


def execute(
    todo: Mapping[str, Sequence],
    members: Mapping[str, Member],
    *,
    cache: ResponseCache,
    env: Mapping[str, str],
    on_reply: Callable[[str, int, Reply], float],
    on_attempt: Callable[[str, int], None],
    max_cost: float | None,
    workers: str = "threads",
    progress: bool = False,
) -> Outcome:
    """Send the calls of ``todo`` (member id → tasks) and cache every answer (see the module docstring).

    ``on_reply(member, task index, reply)`` records an answer and returns its cost;
    ``on_attempt(member, n)`` counts attempts.  Returns the :class:`Outcome`; raises the first
    crash (a bug in a worker) after caching what arrived.
    """
    mode = choose_workers(workers)
    makers: dict[str, Callable[[], BaseAdapter]] = {}
    for mid in todo:
        m = members[mid]
        key = env.get(m.api_key_env, "") if m.api_key_env else None
        makers[mid] = functools.partial(adapter_class(m.vendor), m, key)
    # a worker process builds its own client (the SDK imports, about half a second each, then run
    # in parallel); threads share this process's
    adapters = {} if mode == "processes" else {mid: make() for mid, make in makers.items()}
    try:
        out: queue.SimpleQueue = queue.SimpleQueue()
        lock = threading.Lock()

        def count(mid: str) -> None:
            with lock:
                on_attempt(mid, 1)

        backend: _Backend = (
            _Processes(todo, members, makers, out)
            if mode == "processes"
            else _Threads(todo, members, adapters, out, attempt_counter=count)
        )
        return _collect(
            backend,
            todo,
            cache=cache,
            on_reply=on_reply,
            on_attempt=on_attempt,
            max_cost=max_cost,
            progress=progress,
            mode=mode,
        )
    finally:
        for adapter in adapters.values():
            adapter.close()


def _collect(backend: _Backend, todo, *, cache, on_reply, on_attempt, max_cost, progress, mode) -> Outcome:
    from tqdm import tqdm

    total = sum(len(ts) for ts in todo.values())
    remaining = {mid: len(ts) for mid, ts in todo.items()}
    failures: list[tuple[str, int, str, int]] = []
    crashes: list[_Crashed] = []
    spent = 0.0
    budget_hit = False
    bar = tqdm(total=total, desc="panel", unit="call", disable=None if progress else True, leave=False)

    def store(batch: list) -> None:
        nonlocal spent
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
                backend.stop()
            elif isinstance(item, _Ended):
                if remaining[item.member]:  # the worker died before answering everything
                    if not any(c.member == item.member for c in crashes):
                        crashes.append(_Crashed(item.member, "the worker process exited early"))
                    backend.stop()
                    remaining[item.member] = 0
            else:
                remaining[item.member] -= 1
                if mode == "processes":
                    on_attempt(item.member, item.attempts)
                if item.reply is not None:
                    spent += on_reply(item.member, item.index, item.reply)
                elif item.error is not None:
                    failures.append((item.member, item.index, item.error.message, item.attempts))
        bar.update(sum(isinstance(item, _Done) for item in batch))

    def waiting() -> list:
        """Every result already on the queue (without blocking)."""
        items = []
        while True:
            try:
                items.append(backend.out.get_nowait())
            except queue.Empty:
                return items

    try:
        backend.start()
        while any(remaining.values()):
            # every answer is cached as soon as it arrives here: a run that stops keeps what it paid for
            store([backend.out.get(), *waiting()])
            if crashes and isinstance(backend, _Threads):
                break
            if max_cost is not None and spent > max_cost and not budget_hit:
                budget_hit = True
                backend.stop()
    except BaseException:
        backend.stop()
        raise
    finally:
        # calls in flight when the run stopped finish during the join: their answers are paid for
        backend.join()
        store(waiting())
        bar.close()
    if crashes:
        first = crashes[0]
        if first.exc is not None:
            raise first.exc
        raise VendorError(f"panel: the worker for {first.member} failed: {first.message}", vendor=first.member)
    return Outcome(failures, spent, budget_hit, mode)
