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
    ) -> None:
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
