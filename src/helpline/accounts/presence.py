"""Presence: agents with no open connection for the grace period become offline.

Each process stamps `last_seen_at` for the users it holds connections for; any process's
sweep turns stale ones offline with a conditional UPDATE (one winner per agent).
"""

from __future__ import annotations

from datetime import timedelta

from helpline.accounts import repository as repo
from helpline.bus.messages import AgentStatus, StatusChanged
from helpline.context import AppContext
from helpline.kit.clock import now
from helpline.kit.enums import Availability


async def stamp(ctx: AppContext, user_ids: set[str]) -> None:
    if not user_ids:
        return
    async with ctx.boundary.write() as uow:
        await repo.stamp_seen(uow.session, user_ids, now())


async def sweep(ctx: AppContext) -> int:
    cutoff = now() - timedelta(seconds=ctx.settings.offline_grace_s)
    connected = ctx.hub.connected_users()
    async with ctx.db.read() as session:
        stale = await repo.unseen_since(session, cutoff)
    changed = 0
    for user_id in stale:
        if user_id in connected:
            continue  # connected here; the stamp is on its way
        async with ctx.boundary.write() as uow:
            if await repo.set_offline_if_unseen(uow.session, user_id, cutoff, now()):
                uow.announce(f"user:{user_id}", StatusChanged(Availability.offline.value))
                uow.announce("agents", AgentStatus(user_id, Availability.offline.value))
                changed += 1
    return changed
