"""Arrivals one at a time per turn of the event loop.

At a shift start hundreds of sign-ins, guests and handshakes arrive within a minute while
messages flow through the same loop. Each runs a step of a millisecond or so between its
awaits; several landing in one iteration of the loop (a batch of guests' rows committed
together wakes all of them at once) make one long stretch of work, and every message frame
that arrives meanwhile waits for all of it (docs/performance.md, "What the burst adds to the
loop, stretch by stretch"). `take_turn` lets such steps in one per iteration: the loop polls
its sockets between them, and a message read meanwhile waits for one arrival's step at most.
Messages themselves never wait here. docs/decisions/051-arrivals-take-turns.md.
"""

from __future__ import annotations

import asyncio
from collections import deque
from weakref import WeakKeyDictionary


class _Turns:
    """The waiters of one loop, released one per iteration by a callback that reschedules
    itself while any wait (`call_soon` runs it in the next iteration, after the loop's poll)."""

    # No reference to the loop itself: it is the key this is kept under (weakly).
    __slots__ = ("waiting", "pumping")

    def __init__(self) -> None:
        self.waiting: deque[asyncio.Future[None]] = deque()
        self.pumping = False

    async def take(self, loop: asyncio.AbstractEventLoop) -> None:
        turn: asyncio.Future[None] = loop.create_future()
        self.waiting.append(turn)
        if not self.pumping:
            self.pumping = True
            loop.call_soon(self._release, loop)
        await turn

    def _release(self, loop: asyncio.AbstractEventLoop) -> None:
        while self.waiting:
            turn = self.waiting.popleft()
            if not turn.done():  # a waiter cancelled meanwhile (its client left) gives way
                turn.set_result(None)
                break
        if self.waiting:
            loop.call_soon(self._release, loop)
        else:
            self.pumping = False


_of_loop: WeakKeyDictionary[asyncio.AbstractEventLoop, _Turns] = WeakKeyDictionary()


async def take_turn() -> None:
    """Wait for an iteration of the loop of this step's own (an arrival's: a sign-in, a guest,
    an availability change, a WebSocket handshake)."""
    loop = asyncio.get_running_loop()
    turns = _of_loop.get(loop)
    if turns is None:
        turns = _of_loop[loop] = _Turns()
    await turns.take(loop)
