"""Garbage-collection policy for a process holding many long-lived connections.

CPython's cyclic collector walks every tracked object of a generation when it collects it. A
WebSocket connection keeps ~100 tracked objects (protocol, parser, task, coroutines, queues,
headers) for as long as it is open, so at 10,000 idle connections a full collection walked
~1,000,000 objects and held the event loop ~0.45 s, and a full collection comes every time the
long-lived objects grow by a quarter (connections arriving). docs/performance.md, scenario 3.

The policy (`install`):
- after start-up everything is frozen (`gc.freeze()`: moved to the permanent generation, which
  no collection walks);
- after every full collection, what survived it is frozen too, at once (in the collector's
  "stop" callback, when the young generations are empty: exactly the survivors, never garbage
  made after it). So the next full collection walks only what became long-lived since the last
  one: the pauses no longer grow with the connections held;
- while connections arrive in numbers (`arrivals`, more than `arrival_rate` a second:
  HELPLINE_GC_ARRIVALS_PER_S, 50 by default), full collections come after more than
  `BUSY_FULL_EVERY` (2) collections of generation 1 instead of Python's 10, so each walks about
  a quarter of what the arrivals made long-lived; `CALM_S` seconds after the arrivals slow
  down, the steady threshold is back (decision 039). Under steady message load, where the
  smaller, more frequent pauses raised the messages' p99 (decision 036), nothing changes;
- optionally (`full_every`, HELPLINE_GC_FULL_EVERY; off by default) a full collection comes
  once more than `full_every` collections of generation 1 were made since the last: with 2,
  every 3rd instead of CPython's every 11th (threshold 10). While connections arrive, each
  full collection then walks about a quarter of what it walked before, so the pauses stay
  short; under steady message load the more frequent pauses raise the messages' p99 instead
  (measured; decision 036), hence off by default (each object still becomes
  long-lived, is walked once by a full collection and frozen, as before; only the pieces are
  smaller). CPython's own rule stays: a full collection only when the long-lived objects grew
  by a quarter of the last one's survivors — which, the survivors being frozen each time, is
  nearly always true. docs/decisions/036-smaller-full-collections.md;
- frozen objects that later become unreachable *and* sit in a reference cycle are not freed
  until they are thawed (plain reference counting frees the rest at once): every `thaw_s`
  seconds everything is unfrozen, and the next full collection walks it all once (one longer
  pause per `thaw_s`; HELPLINE_GC_THAW_S, 0 = never thaw, for measuring).
- the young generation measured, not only counted (`young_limit`, HELPLINE_GC_YOUNG_LIMIT):
  CPython 3.11 counts the young generation down whenever a tracked object is freed, frozen
  ones too, so while long-lived connections replace what was frozen (a keepalive ping's timer
  and parser state, ~9 objects a connection every 20 s: ~9,000 a second at 19,700) the count
  stays under its threshold while the young list grows to tens of thousands, and the middle
  generation's next collection walked ~90,000 objects (50–100 ms). Every 100 ms the list's
  length is read (`gc.get_objects(0)`: in proportion to the young list alone, which this
  keeps short) and past the limit the young generation is collected, the middle one with it
  once the two hold 4 × the limit, its survivors then frozen; only once no collection,
  CPython's or its own, has come for `QUIET_S` (under message load CPython's come several
  times a second), and not while connections close in numbers (decision 054);
- the interpreter's switch interval (`switch_s`, HELPLINE_GIL_SWITCH_MS) when set: how long a
  thread waiting for the GIL lets the holder run before asking it to let go;
- each collection's pause is observed in `helpline_gc_pause_seconds{generation}`, and how late
  the loop runs a 25 ms timer in `helpline_event_loop_lag_seconds` (any stall, whatever made it).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import sys
import time
from collections.abc import Callable
from typing import Any

from helpline import observability as metrics

log = logging.getLogger("helpline.gc")

# While connections arrive in numbers: a full collection after more than 2 collections of
# generation 1 (decision 036 measured 2 in scenario 3: no pause over 25 ms at 250 a second).
BUSY_FULL_EVERY = 2
CALM_S = 3.0  # how long the arrivals must stay slow before the steady threshold is back
SAMPLE_S = 1.0  # how often the arrivals are counted
YOUNG_CHECK_S = 0.1  # how often the young generation's list is measured (young_limit)
MIDDLE_PER_YOUNG = 4  # the check collects the middle generation past 4 × young_limit objects
QUIET_S = 0.5  # the check acts only this long after the last collection (CPython's or its own)
# More connections closed than this between two checks: they leave in numbers, and the check
# rests until CALM_S after (their frozen objects die by the thousands; see `check_young`).
LEAVING_PER_CHECK = 5


class GcPolicy:
    def __init__(
        self,
        *,
        freeze_survivors: bool = True,
        thaw_s: float = 3600.0,
        full_every: int = 0,
        switch_s: float = 0.0,
        arrivals: Callable[[], int] | None = None,
        arrival_rate: float = 0.0,
        young_limit: int = 0,
        departures: Callable[[], int] | None = None,
    ) -> None:
        self.young_limit = young_limit
        # How many connections ever closed (the hub's count): the check rests while they
        # close in numbers.
        self.departures = departures
        self._left = 0
        self._leaving_at = -math.inf
        # When the last collection ended, CPython's or the check's (the loop's clock).
        self._collected_at = -math.inf
        self._young: asyncio.TimerHandle | None = None
        self.young_checked = 0  # young collections the check made (tests, diagnostics)
        self.freeze_survivors = freeze_survivors
        self.thaw_s = thaw_s
        self.full_every = full_every
        self.switch_s = switch_s
        # How many connections were ever opened (the hub's count), and the rate (per second)
        # above which they count as arriving in numbers; None or 0: the threshold never moves.
        self.arrivals = arrivals if arrival_rate > 0 else None
        self.arrival_rate = arrival_rate
        self.busy = False  # the lower threshold is on
        self._steady = 0  # the full threshold outside bursts (set by install)
        self._seen = 0
        self._seen_at = 0.0
        self._calm_at = 0.0  # when the last fast second was
        self._sampler: asyncio.TimerHandle | None = None
        self._thresholds: tuple[int, int, int] | None = None
        self._switch: float | None = None
        self._started = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thaw: asyncio.TimerHandle | None = None
        self._lag: asyncio.Task[None] | None = None
        self.full_collections = 0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info.get("generation", 0)
        if self._loop is not None:
            self._collected_at = self._loop.time()
        metrics.gc_pause_seconds.labels(str(generation)).observe(
            time.perf_counter() - self._started
        )
        if generation == 2:
            self.full_collections += 1
            if self.freeze_survivors and self._loop is not None:
                # Now, whichever thread collected (the GIL is held): the collection is over and
                # every tracked object is in the oldest generation, having survived it. A turn
                # of the loop later the young generations would hold new objects too, some of
                # them garbage in cycles that nothing would free until the thaw.
                gc.freeze()

    def install(self) -> None:
        """At the end of start-up, on the event loop."""
        self._loop = asyncio.get_running_loop()
        gc.collect()
        gc.freeze()
        self._thresholds = gc.get_threshold()
        young, middle, full = self._thresholds
        self._steady = self.full_every if self.full_every > 0 else full
        if self._steady != full:
            gc.set_threshold(young, middle, self._steady)
        if self.switch_s > 0:
            self._switch = sys.getswitchinterval()
            sys.setswitchinterval(self.switch_s)
        gc.callbacks.append(self._callback)
        if self.thaw_s > 0:
            self._thaw = self._loop.call_later(self.thaw_s, self._unfreeze)
        self._lag = self._loop.create_task(watch_lag())
        if self.arrivals is not None:
            self._seen, self._seen_at = self.arrivals(), self._loop.time()
            self._sampler = self._loop.call_later(SAMPLE_S, self._sample_now)
        if self.young_limit > 0:
            if self.departures is not None:
                self._left = self.departures()
            self._young = self._loop.call_later(YOUNG_CHECK_S, self._check_young_now)

    def _check_young_now(self) -> None:
        assert self._loop is not None
        self.check_young(self._loop.time())
        self._young = self._loop.call_later(YOUNG_CHECK_S, self._check_young_now)

    def check_young(self, at: float) -> int | None:
        """Collect the young generation if its list outgrew `young_limit`; the middle one with
        it when the two together hold more than `MIDDLE_PER_YOUNG` times that, or when CPython
        would (more than its threshold of young collections since its last). What the
        interpreter's count would have done had frozen objects' deaths not counted it down, in
        pieces as small: the objects that replace frozen ones live on, so each young
        collection passes nearly all it walks on to the middle generation.

        Not while connections close in numbers, nor `CALM_S` after (`at`: the loop's clock):
        then the young objects are mostly their leaving, tied to their frozen objects, which no
        collection short of a thaw frees; collected, they were walked again and again on their
        way to the oldest generation, and full collections of 100–250 ms came with them
        (docs/performance.md, 6 December 2026). CPython's count, driven to nothing by their
        deaths, leaves them be.

        Nor within `QUIET_S` of the last collection, CPython's or its own: under message load
        CPython's count collects several times a second, and the frozen objects' deaths show
        as its collections stopping while the young list grows. Counting only CPython's, the
        check took over under message load (its collections every 100 ms kept CPython's
        count from ever reaching its threshold) and scenario 1 had twice the young
        collections, for ~1.5 points of a core. Returns the generation collected, or None."""
        if self.departures is not None:
            left = self.departures()
            if left - self._left > LEAVING_PER_CHECK:
                self._leaving_at = at
            self._left = left
        if at - self._leaving_at < CALM_S:
            return None
        if at - self._collected_at < QUIET_S:
            return None
        young = len(gc.get_objects(0))
        if young <= self.young_limit:
            return None
        _, middle, _ = gc.get_threshold()
        if gc.get_count()[1] > middle:
            generation = 1
        else:
            walked = young + len(gc.get_objects(1))
            generation = 1 if walked > MIDDLE_PER_YOUNG * self.young_limit else 0
        gc.collect(generation)
        self._collected_at = at  # (the callback noted the loop's time; `at` is the caller's)
        if generation == 1 and self.freeze_survivors:
            # What survived two collections while frozen objects died replaces long-lived
            # objects: frozen like a full collection's survivors. Left in the oldest
            # generation, CPython's count of middle collections (these among them) would soon
            # have a full one walk it all: 100–250 ms when everyone then closed at once.
            gc.freeze()
        self.young_checked += 1
        metrics.gc_young_checks_total.labels(str(generation)).inc()
        return generation

    def _sample_now(self) -> None:
        assert self._loop is not None
        self.sample(self._loop.time())
        self._sampler = self._loop.call_later(SAMPLE_S, self._sample_now)

    def sample(self, at: float) -> None:
        """Count the connections opened since the last sample (`at`: the loop's clock) and
        move the full collections' threshold: low while they arrive in numbers, steady again
        `CALM_S` after they slowed down."""
        if self.arrivals is None or at <= self._seen_at:
            return
        seen = self.arrivals()
        rate = (seen - self._seen) / (at - self._seen_at)
        self._seen, self._seen_at = seen, at
        if rate > self.arrival_rate:
            self._calm_at = at
            if not self.busy:
                self.busy = True
                self._set_full(min(BUSY_FULL_EVERY, self._steady))
                log.debug("connections arriving (%.0f/s): smaller full collections", rate)
        elif self.busy and at - self._calm_at >= CALM_S:
            self.busy = False
            self._set_full(self._steady)

    @staticmethod
    def _set_full(full: int) -> None:
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, full)

    def _unfreeze(self) -> None:
        gc.unfreeze()
        assert self._loop is not None
        self._thaw = self._loop.call_later(self.thaw_s, self._unfreeze)

    async def close(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._callback)
        if self._thaw is not None:
            self._thaw.cancel()
        if self._sampler is not None:
            self._sampler.cancel()
            self._sampler = None
        if self._young is not None:
            self._young.cancel()
            self._young = None
        self.busy = False
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            self._thresholds = None
        if self._switch is not None:
            sys.setswitchinterval(self._switch)
            self._switch = None
        self._loop = None
        if self._lag is not None:
            self._lag.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lag


async def watch_lag(every_s: float = 0.025) -> None:
    """How late the event loop runs a timer: `helpline_event_loop_lag_seconds` (a stall of the
    loop — a long collection, a long synchronous step — delays every connection by as much)."""
    observe = metrics.event_loop_lag_seconds.observe
    loop = asyncio.get_running_loop()
    while True:
        t = loop.time()
        await asyncio.sleep(every_s)
        observe(max(0.0, loop.time() - t - every_s))
