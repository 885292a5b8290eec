"""The background loop each server process runs: timers, presence, the gap check, away mail,
customer exports and retention.

Safe to run in every process at once: each piece claims its work by conditional UPDATE
(retention through its job lease, so one process runs it per interval).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from time import monotonic

from helpline import flows
from helpline.accounts import presence
from helpline.boundary import guard
from helpline.chats import away, timers
from helpline.context import AppContext
from helpline.errors import Unavailable
from helpline.governance import exports, retention
from helpline.kit.ids import new_id
from helpline.servicedesk import sla as request_sla

log = logging.getLogger("helpline.sweeper")

# How often a pass looks at retention's lease: its runs are `HELPLINE_RETENTION_INTERVAL_S` (an
# hour by default) apart, so a look every second only cost a read unit a second (a due run now
# starts within this of its time).
RETENTION_LOOK_S = 60.0


class Sweeper:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._task: asyncio.Task[None] | None = None
        self._last_stamp = 0.0
        self._last_gaps = 0.0
        self._last_away = 0.0
        self._last_retention = -RETENTION_LOOK_S  # the first pass looks (runs it at start)
        # Who holds the retention lease: readable in the database when someone asks.
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{new_id()[:8]}"

    async def run_once(self) -> int:
        """One full pass: stamp presence, then fire what is due. Tests call this directly."""
        await presence.stamp(self.ctx, self.ctx.hub.connected_users())
        await self.ctx.hub.check_gaps()
        fired = await timers.sweep(self.ctx) + await request_sla.sweep(self.ctx)
        fired += await self._presence()
        fired += await away.sweep(self.ctx)
        return fired + await self._governance()

    async def _governance(self, *, retention_too: bool = True) -> int:
        done = await exports.sweep(self.ctx)
        if not retention_too:
            return done
        removed = await retention.run(self.ctx, self.holder)
        return done + (removed.chats + removed.requests if removed else 0)

    async def _pass(self) -> None:
        s = self.ctx.settings
        if monotonic() - self._last_stamp >= presence.stamp_every(s):
            await presence.stamp(self.ctx, self.ctx.hub.connected_users())
            self._last_stamp = monotonic()
        if s.gap_check_s > 0 and monotonic() - self._last_gaps >= s.gap_check_s:
            await self.ctx.hub.check_gaps()
            self._last_gaps = monotonic()
        await timers.sweep(self.ctx)
        await request_sla.sweep(self.ctx)
        await self._presence()
        # Away mail is due minutes after the fact: a look every few seconds is plenty.
        if monotonic() - self._last_away >= max(1.0, s.away_mail_s / 24):
            await away.sweep(self.ctx)
            self._last_away = monotonic()
        look = monotonic() - self._last_retention >= min(RETENTION_LOOK_S, s.retention_interval_s)
        await self._governance(retention_too=look)
        if look:
            self._last_retention = monotonic()

    async def _presence(self) -> int:
        """Agents unseen past the grace go offline, handing their chats back unless
        HELPLINE_REQUEUE_ON_OFFLINE=off."""
        requeue = flows.went_offline if self.ctx.settings.requeue_enabled else None
        return await presence.sweep(self.ctx, on_offline=requeue)

    async def _loop(self) -> None:
        while True:
            try:
                with guard():  # the hub's gap check reads outside any unit of work
                    await self._pass()
            except Unavailable as exc:
                log.warning("sweep skipped: %s", exc.message)
            except Exception:
                log.exception("sweep failed")
            await asyncio.sleep(self.ctx.settings.sweep_interval_s)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
