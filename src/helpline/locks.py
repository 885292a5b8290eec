"""A lock whose urgent waiters go before the others (SQLite's in-process writer lock).

The message writer's batches are urgent: at a shift start hundreds of sign-ins, guests and
status changes queue for SQLite's single writer, and each holds it across several awaits. With
a plain FIFO lock a message batch waited behind all of them; here it waits only for the unit
holding the lock now. Within each class waiters are served in arrival order, and the lock is
handed over directly on release (no newcomer takes it from a woken waiter).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class PriorityLock:
    """Not reentrant. `hold(urgent=True)` waits only for the holder and earlier urgent waiters."""

    __slots__ = ("_locked", "_urgent", "_normal")

    def __init__(self) -> None:
        self._locked = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()

    def locked(self) -> bool:
        return self._locked

    @property
    def waiting(self) -> int:
        """Waiters not yet served (urgent and others)."""
        return sum(1 for q in (self._urgent, self._normal) for f in q if not f.done())

    async def acquire(self, *, urgent: bool = False) -> None:
        if not self._locked and not self._urgent and not self._normal:
            self._locked = True
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._urgent if urgent else self._normal
        queue.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                # Handed the lock, then cancelled before running: hand it on.
                self.release()
            else:
                try:
                    queue.remove(fut)
                except ValueError:
                    pass
            raise

    def release(self) -> None:
        if not self._locked:
            raise RuntimeError("release of an unlocked PriorityLock")
        for queue in (self._urgent, self._normal):
            while queue:
                fut = queue.popleft()
                if not fut.done():
                    fut.set_result(None)  # the lock stays taken: it is theirs now
                    return
        self._locked = False

    @asynccontextmanager
    async def hold(self, *, urgent: bool = False) -> AsyncIterator[None]:
        await self.acquire(urgent=urgent)
        try:
            yield
        finally:
            self.release()
