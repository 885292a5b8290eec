"""Work a request starts and does not wait for: its answer must not be slower, nor tell by its
timing what the work found (a password reset for an address that has no account)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("helpline.background")


class Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(self._run(work, name), name=name)
        self._tasks.add(task)  # a task nobody holds may be collected before it ends
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _run(work: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await work
        except Exception:
            log.exception("background %s failed", name)

    async def settle(self) -> None:
        """Wait for everything started so far (and what that started) to end."""
        while self._tasks:
            await asyncio.gather(*self._tasks)

    async def close(self, timeout_s: float = 10) -> None:
        try:
            await asyncio.wait_for(self.settle(), timeout_s)
        except TimeoutError:
            for task in self._tasks:
                task.cancel()
            log.warning("background work still running at shutdown was cancelled")
