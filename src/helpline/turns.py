"""Arrivals one at a time per turn of the event loop.

At a shift start hundreds of sign-ins, guests and handshakes arrive within a minute while
messages flow through the same loop. Each runs a step of a millisecond or so between its
awaits; several landing in one iteration of the loop (a batch of guests' rows committed
together wakes all of them at once) make one long stretch of work, and every message frame
that arrives meanwhile waits for all of it (docs/performance.md, "What the burst adds to the
loop, stretch by stretch"). `take_turn` lets such steps in one per iteration: the loop polls
its sockets between them, and a message read meanwhile waits for one arrival's step at most.
Messages themselves never wait here. docs/decisions/051-arrivals-take-turns.md.

A turn is also given only at a moment without message work (decision 052): while a frame
read has not reached its reader, a message waits for its batch or a batch's frames wait to be
flushed (`busy_while` probes: the gateway's, the writer's), the arrival waits, at most
`MAX_WAIT_S`. An arrival's step then starts between two messages' ways rather than inside
one, and a message that comes in meanwhile waits for that one step, not for one at each hop.

Departures take turns too (a proxy restarting closes hundreds of sockets within a second), but
only while few steps wait (`unless_waiting`, decision 053).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from weakref import WeakKeyDictionary

# How long a turn waits for a moment without message work before it is given anyway: at rates
# where the messages leave no such moment, arrivals still go on (5 ms each at most).
MAX_WAIT_S = 0.005


class _Turns:
    """The waiters of one loop, released one per iteration by a callback that reschedules
    itself while any wait (`call_soon` runs it in the next iteration, after the loop's poll),
    and only when no probe reports message work or the first waiter has waited `MAX_WAIT_S`
    since it asked. Under work that never pauses, waiters that have all waited that long are
    let in one an iteration again: the bound adds to each one's wait, it does not space them."""

    # No reference to the loop itself: it is the key this is kept under (weakly).
    __slots__ = ("waiting", "pumping", "probes")

    def __init__(self) -> None:
        # Each waiter with the loop's time it asked at.
        self.waiting: deque[tuple[float, asyncio.Future[None]]] = deque()
        self.pumping = False
        self.probes: list[Callable[[], bool]] = []

    def busy(self) -> bool:
        for probe in self.probes:
            if probe():
                return True
        return False

    async def take(self, loop: asyncio.AbstractEventLoop, unless_waiting: int | None) -> None:
        if unless_waiting is not None and len(self.waiting) >= unless_waiting:
            return
        turn: asyncio.Future[None] = loop.create_future()
        self.waiting.append((loop.time(), turn))
        if not self.pumping:
            self.pumping = True
            loop.call_soon(self._release, loop)
        await turn

    def _release(self, loop: asyncio.AbstractEventLoop) -> None:
        waiting = self.waiting
        while waiting and waiting[0][1].done():  # a waiter cancelled meanwhile gives way
            waiting.popleft()
        if waiting:
            asked, turn = waiting[0]
            if self.busy() and loop.time() - asked < MAX_WAIT_S:
                # Checked again next iteration: the loop still polls its sockets in between.
                loop.call_soon(self._release, loop)
                return
            waiting.popleft()
            turn.set_result(None)
        if waiting:
            loop.call_soon(self._release, loop)
        else:
            self.pumping = False


_of_loop: WeakKeyDictionary[asyncio.AbstractEventLoop, _Turns] = WeakKeyDictionary()


def _turns_of(loop: asyncio.AbstractEventLoop) -> _Turns:
    turns = _of_loop.get(loop)
    if turns is None:
        turns = _of_loop[loop] = _Turns()
    return turns


def busy_while(loop: asyncio.AbstractEventLoop, probe: Callable[[], bool]) -> Callable[[], None]:
    """Turns on `loop` wait (`MAX_WAIT_S` at most) while `probe()` says message work is under
    way. The probe is called once an iteration while an arrival waits: it must be cheap.
    Returns what removes it."""
    probes = _turns_of(loop).probes
    probes.append(probe)

    def remove() -> None:
        if probe in probes:
            probes.remove(probe)

    return remove


def message_work(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether a probe of `loop` reports message work under way now (what a turn waits out)."""
    turns = _of_loop.get(loop)
    return turns is not None and turns.busy()


async def take_turn(*, unless_waiting: int | None = None) -> None:
    """Wait for an iteration of the loop of this step's own (an arrival's: a sign-in, a guest,
    an availability change, a WebSocket handshake; or a departure's: decision 053).

    With `unless_waiting`, go on at once when that many steps already wait: for a step whose
    wait is a courtesy to the messages, where tens of thousands waiting one an iteration would
    keep their tasks alive for the garbage collector to walk and promote meanwhile."""
    loop = asyncio.get_running_loop()
    await _turns_of(loop).take(loop, unless_waiting)
