"""Password hashing (argon2id).

Hashing costs ~35 ms of CPU on purpose (argon2id, 2 passes over 19 MiB, one lane: the first
configuration of OWASP's Password Storage Cheat Sheet; decision 032), so the async callers
(`hash_async`, `verify_async`) never run it on the event loop. They hand it to a bounded pool
of its own (`HashPool`):

- at most `workers` hashes at once (default: one per core). argon2-cffi releases the GIL while
  it hashes, so these threads really run on other cores;
- the hashing threads run only on CPU time nothing else wants (Linux's `SCHED_IDLE`, decision
  055): when a shift's sign-ins and the chats' messages want the same core, the event loop (and
  anything else of normal priority) takes it at once and the hashes take what is left. Where
  the cores are never idle, such a hash would get almost nothing: once an idle thread's hash
  has run `STARVED_S` (or waited that long beside a free thread), the waiting and new ones go
  to fallback threads at a nice value `NICE` above the loop's for `FALLBACK_S`, which still
  guarantees them a share.
  `priority="low"` (HELPLINE_PASSWORD_HASH_PRIORITY) uses those alone;
- waiting sign-ins queue first come, first served, at most `queue` of them; one more is refused
  at once with `503 busy` and a Retry-After, so an overload neither grows memory nor makes
  everybody wait longer and longer (docs/operations.md "Sign-in bursts").
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from helpline.errors import Busy
from helpline.observability import password_hash_fallbacks_total, password_hash_seconds

log = logging.getLogger("helpline.passwords")

T = TypeVar("T")

# OWASP's first Argon2id configuration (m=19 MiB, t=2, p=1): ~35 ms of one core a hash here,
# against ~260 ms for argon2-cffi's default (64 MiB, t=3, four lanes), which made a shift's
# 300 sign-ins a minute cost more than a core (decision 032). Hashes made with other parameters
# still verify (they carry their own) and are upgraded at the next sign-in (`needs_rehash`).
_default = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# For tests and benchmarks only (HELPLINE_PASSWORD_FAST_HASH): same algorithm, tiny cost.
_fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

# How the hashing threads yield to the event loop (HELPLINE_PASSWORD_HASH_PRIORITY):
# "idle", Linux's SCHED_IDLE: they run when a core has nothing else to run and give it up the
# moment something of normal priority wakes, the way a nice value alone does not (a thread at
# nice +10 keeps a core for the rest of its slice, a few milliseconds, while the loop waits:
# scenario 5's burst p99 5.5 ms at nice +10 against 4.4 ms so, docs/performance.md). "low": a
# nice value of `NICE` above the caller's (+10 gets ~1/10 of the CPU share of the event
# loop's thread when both want one core), for hosts whose cores never idle, where SCHED_IDLE
# hashes would wait for seconds.
HashPriority = Literal["idle", "low"]
NICE = 10
# An idle-only hash running this long (~14 times its cost), or waiting this long while a
# thread is free, means the cores are never idle: beside two spinning processes an idle-only
# hash took 12 s, one at nice +10 1.3 s (`bench/hash_priority.py`). Then the waiting and new
# hashes take the fallback threads for FALLBACK_S before idle CPU is tried again.
STARVED_S = 0.5
FALLBACK_S = 60.0


def hasher(*, fast: bool = False) -> PasswordHasher:
    return _fast if fast else _default


def hash_password(password: str, *, fast: bool = False) -> str:
    return hasher(fast=fast).hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    # The cost parameters come from the hash itself, whichever hasher verifies it.
    try:
        return _default.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether a stored hash was made with other parameters than today's (upgrade it at the
    next sign-in, when the password is at hand)."""
    try:
        return _default.check_needs_rehash(password_hash)
    except InvalidHashError:
        return False


@cache
def dummy_hash(*, fast: bool = False) -> str:
    """Verified against when there is no password to check (unknown e-mail, a guest), made
    with the same parameters as real hashes so the time taken does not tell them apart."""
    return hash_password("not-a-password", fast=fast)


def _lower_priority(priority: HashPriority) -> None:
    """In each hashing thread: a lower CPU priority for this thread alone (on Linux a thread
    has a policy and a nice value of its own; where neither exists nothing changes)."""
    tid = threading.get_native_id()
    if priority == "idle":
        try:
            os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
            return
        except (OSError, AttributeError):
            pass  # not Linux: a nice value, as for "low"
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + NICE)


@dataclass(eq=False, slots=True)
class _Job:
    """One hash handed to the pool: what its caller awaits, and where it runs now."""

    fn: Callable[[], Any]
    loop: asyncio.AbstractEventLoop
    outcome: asyncio.Future[Any]
    submitted: float  # perf_counter (the wait metric)
    handed: float = 0.0  # the pool's clock, when handed to the idle threads
    started: float | None = None  # the pool's clock, when a thread began it
    future: Future[Any] | None = None
    moving: bool = False  # taken back from the idle threads, for the fallback ones


class HashPool:
    """At most `workers` hashes at once in threads of their own, at most `queue` waiting
    (first come, first served); beyond that `Busy`. `clock`: monotonic seconds (tests)."""

    def __init__(
        self,
        workers: int = 0,
        queue: int = 0,
        priority: HashPriority = "idle",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.workers = workers if workers > 0 else max(1, os.cpu_count() or 1)
        self.queue = queue if queue > 0 else 32 * self.workers
        self.priority = priority
        self._idle_threads = _threads(self.workers, "helpline-hash", "idle")
        # Threads start on first use: where idle CPU never runs out, these never exist.
        self._fallback = _threads(self.workers, "helpline-hash-low", "low")
        self._clock = clock
        # Reentrant: cancelling a job's future runs its done-callback (`_finished`) at once.
        self._lock = threading.RLock()
        self.pending = 0  # running and waiting; a hash counts until it is done, awaited or not
        self._idle: dict[_Job, None] = {}  # handed to the idle threads, not done; oldest first
        self._fallback_until = -math.inf
        self.fallbacks = 0

    async def run(self, fn: Callable[[], T]) -> T:
        with self._lock:
            if self.pending >= self.workers + self.queue:
                raise Busy("Too many sign-ins at once; try again in a moment.", retry_after=1)
            self.pending += 1
        loop = asyncio.get_running_loop()
        job = _Job(fn, loop, loop.create_future(), time.perf_counter())
        try:
            self._hand_over(job)
        except BaseException:
            with self._lock:
                self.pending -= 1
            raise
        job.outcome.add_done_callback(functools.partial(self._abandoned, job))
        result: T = await job.outcome
        return result

    def _abandoned(self, job: _Job, outcome: asyncio.Future[Any]) -> None:
        """The caller gone (a closed request): a hash not started yet is not run at all."""
        if outcome.cancelled():
            with self._lock:
                if job.future is not None:
                    job.future.cancel()

    def _hand_over(self, job: _Job) -> None:
        with self._lock:
            idle = self.priority == "idle" and not self._starving()
            if idle:
                job.handed = self._clock()
                self._idle[job] = None
            threads = self._idle_threads if idle else self._fallback
            job.future = threads.submit(self._hash, job)
        job.future.add_done_callback(functools.partial(self._finished, job))
        if idle:  # if it is not done by then, the idle threads may be starving
            job.loop.call_later(STARVED_S, self._starving)

    def _hash(self, job: _Job) -> Any:
        """In a hashing thread: the job, its wait for the thread and its run recorded
        (/metrics)."""
        job.started = self._clock()
        began = time.perf_counter()
        _WAIT.observe(began - job.submitted)
        try:
            return job.fn()
        finally:
            _RUN.observe(time.perf_counter() - began)

    def _starving(self) -> bool:
        """Whether hashes go to the fallback threads now. They turn to them (and take back
        the idle threads' hashes not started yet) when an idle thread's hash has run
        `STARVED_S` (~14 times its cost), or one has waited that long while a thread was free
        to take it: the idle threads get no CPU. A backlog with every thread busy, which a
        quiet host's burst of sign-ins can be, is not that."""
        with self._lock:
            now = self._clock()
            if now < self._fallback_until:
                return True
            running = [j.started for j in self._idle if j.started is not None]
            waited = now - min(running, default=now)  # the longest run
            if waited < STARVED_S and len(running) < self.workers:  # or a wait beside a free one
                waited = max((now - j.handed for j in self._idle if j.started is None), default=0)
            if waited < STARVED_S:
                return False
            self._fallback_until = now + FALLBACK_S
            self.fallbacks += 1
            password_hash_fallbacks_total.inc()
            log.warning(
                "password hashes get no idle CPU (one waited %.1f s): the next %.0f s of "
                "sign-ins hash at nice +%d; on a host whose cores are never idle set "
                "HELPLINE_PASSWORD_HASH_PRIORITY=low",
                waited,
                FALLBACK_S,
                NICE,
            )
            for job in list(self._idle):
                self._move(job)
            return True

    def _move(self, job: _Job) -> None:
        """To the fallback threads, unless it has started. Under `_lock`."""
        assert job.future is not None
        job.moving = True  # `cancel` runs `_finished` at once: it must not count the job done
        taken_back = job.future.cancel()
        job.moving = False
        if taken_back:
            job.future = self._fallback.submit(self._hash, job)
            job.future.add_done_callback(functools.partial(self._finished, job))

    def _finished(self, job: _Job, future: Future[Any]) -> None:
        with self._lock:
            self._idle.pop(job, None)
            if job.moving:
                return  # it runs on, elsewhere
            self.pending -= 1
        if not future.cancelled():
            with contextlib.suppress(RuntimeError):  # the caller's loop closed meanwhile
                job.loop.call_soon_threadsafe(_settle, job.outcome, future)

    def shutdown(self) -> None:
        self._idle_threads.shutdown(wait=False, cancel_futures=False)
        self._fallback.shutdown(wait=False, cancel_futures=False)


def _settle(outcome: asyncio.Future[Any], future: Future[Any]) -> None:
    if outcome.done():  # its caller cancelled
        return
    error = future.exception()
    if error is not None:
        outcome.set_exception(error)
    else:
        outcome.set_result(future.result())


def _threads(workers: int, name: str, priority: HashPriority) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(
        workers, thread_name_prefix=name, initializer=_lower_priority, initargs=(priority,)
    )


_WAIT = password_hash_seconds.labels("wait")
_RUN = password_hash_seconds.labels("run")


_pool: HashPool | None = None


def pool() -> HashPool:
    global _pool
    if _pool is None:
        _pool = HashPool()
    return _pool


def configure(*, workers: int = 0, queue: int = 0, priority: HashPriority = "idle") -> HashPool:
    """The process's pool from the settings (HELPLINE_PASSWORD_HASH_WORKERS, _QUEUE and
    _PRIORITY; 0 = the default); hashes already handed to the old pool finish there."""
    global _pool
    old, _pool = _pool, HashPool(workers, queue, priority)
    if old is not None:
        old.shutdown()
    return _pool


async def hash_async(password: str, *, fast: bool = False) -> str:
    return await pool().run(lambda: hash_password(password, fast=fast))


async def verify_async(password_hash: str | None, password: str, *, fast: bool = False) -> bool:
    """Without a hash (no such account, a guest) the dummy is verified, and the answer is no."""
    if password_hash is None:
        await pool().run(lambda: verify_password(dummy_hash(fast=fast), password))
        return False
    return await pool().run(lambda: verify_password(password_hash, password))
