"""Presence: agents with no open connection for the grace period become offline.

Each process stamps `last_seen_at` for the users it holds connections for; any process's
sweep turns stale ones offline with a conditional UPDATE (one winner per agent).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from helpline.accounts.models import User
from helpline.context import AppContext
from helpline.kit.clock import now
from helpline.kit.enums import Availability


async def stamp(ctx: AppContext, user_ids: set[str]) -> None:
    if not user_ids:
        return
    async with ctx.boundary.write() as uow:
        await uow.session.execute(
            update(User)
            .where(User.id.in_(user_ids))
            .values(last_seen_at=now())
            .execution_options(synchronize_session=False)
        )


async def sweep(ctx: AppContext) -> int:
    cutoff = now() - timedelta(seconds=ctx.settings.offline_grace_s)
    connected = ctx.hub.connected_users()
    async with ctx.db.read() as session:
        stale = (
            (
                await session.execute(
                    select(User.id).where(
                        User.status != Availability.offline,
                        User.last_seen_at.is_not(None),
                        User.last_seen_at <= cutoff,
                    )
                )
            )
            .scalars()
            .all()
        )
    changed = 0
    for user_id in stale:
        if user_id in connected:
            continue  # connected here; the stamp is on its way
        async with ctx.boundary.write() as uow:
            result = await uow.session.execute(
                update(User)
                .where(
                    User.id == user_id,
                    User.status != Availability.offline,
                    User.last_seen_at <= cutoff,
                )
                .values(status=Availability.offline, updated_at=now())
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                uow.announce(f"user:{user_id}", {"kind": "status", "status": "offline"})
                uow.announce(
                    "agents", {"kind": "agent.status", "user_id": user_id, "status": "offline"}
                )
                changed += 1
    return changed
