"""Group commit for small writes many callers make at once (presence stamps on connect).

Callers `add` an item and wait; one task hands everything pending to `flush` in one call, and
whatever arrives while that call runs goes into the next one. 10,000 connections arriving
together become a few dozen writes instead of 10,000 queued behind SQLite's single writer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


def _retrieved(fut: asyncio.Future[None]) -> None:
    # A caller that gave up (its connection closed) leaves the outcome unread; read it here so
    # asyncio does not log "exception was never retrieved" for a batch the others handled.
    if not fut.cancelled():
        fut.exception()


class Batcher(Generic[T]):
    """Items from concurrent callers, written together; each caller learns its batch's outcome."""

    def __init__(
        self,
        flush: Callable[[set[T]], Awaitable[None]],
        *,
        before: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`before` is awaited before each flush (a turn of the loop: decision 052); items
        added meanwhile join that flush."""
        self._flush = flush
        self._before = before
        self._pending: set[T] = set()
        self._done: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # how many flushes ran (tests and metrics)
        self.added = 0  # how many items callers have added (tests)

    async def add(self, item: T) -> None:
        """Wait until a flush holding `item` has finished; its error is raised here too."""
        self._pending.add(item)
        self.added += 1
        if self._done is None:
            self._done = asyncio.get_running_loop().create_future()
            self._done.add_done_callback(_retrieved)
        done = self._done
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        # Shielded: one caller cancelled must not cancel the batch the others wait for.
        await asyncio.shield(done)

    async def _run(self) -> None:
        try:
            while self._pending:
                if self._before is not None:
                    await self._before()
                items, done = self._pending, self._done
                self._pending, self._done = set(), None
                assert done is not None
                self.batches += 1
                try:
                    await self._flush(items)
                except Exception as exc:  # each waiting caller handles it as before
                    done.set_exception(exc)
                else:
                    done.set_result(None)
                finally:
                    if not done.done():  # the task itself was cancelled (shutdown)
                        done.cancel()
        finally:
            self._task = None
            if self._done is not None and not self._done.done():  # cancelled with items waiting
                self._done.cancel()
                self._done = None
                self._pending = set()
