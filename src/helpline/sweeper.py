"""The background loop each server process runs: timers, presence and the gap check.

Safe to run in every process at once: each piece claims its work by conditional UPDATE.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from sqlalchemy.exc import DBAPIError

from helpline.accounts import presence
from helpline.chats import timers
from helpline.context import AppContext

log = logging.getLogger("helpline.sweeper")


class Sweeper:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._task: asyncio.Task[None] | None = None
        self._last_stamp = 0.0

    async def run_once(self) -> int:
        """One full pass: stamp presence, then fire what is due. Tests call this directly."""
        await presence.stamp(self.ctx, self.ctx.hub.connected_users())
        await self.ctx.hub.check_gaps()
        return await timers.sweep(self.ctx) + await presence.sweep(self.ctx)

    async def _loop(self) -> None:
        interval = self.ctx.settings.sweep_interval_s
        stamp_every = max(1.0, self.ctx.settings.offline_grace_s / 4)
        gaps_every = self.ctx.settings.gap_check_s
        last_gaps = 0.0
        while True:
            try:
                if time.monotonic() - self._last_stamp >= stamp_every:
                    await presence.stamp(self.ctx, self.ctx.hub.connected_users())
                    self._last_stamp = time.monotonic()
                if gaps_every > 0 and time.monotonic() - last_gaps >= gaps_every:
                    await self.ctx.hub.check_gaps()
                    last_gaps = time.monotonic()
                await timers.sweep(self.ctx)
                await presence.sweep(self.ctx)
            except (DBAPIError, OSError) as exc:
                log.warning("sweep skipped, database unavailable: %s", getattr(exc, "orig", exc))
            except Exception:
                log.exception("sweep failed")
            await asyncio.sleep(interval)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
