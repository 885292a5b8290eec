"""Presence: agents with no open connection for the grace period become offline.

Each process stamps `last_seen_at` for the users it holds connections for; any process's
sweep turns stale ones offline with a conditional UPDATE (one winner per agent).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta

from helpline.accounts import repository as repo
from helpline.accounts import service
from helpline.config import Settings
from helpline.context import AppContext
from helpline.db import UnitOfWork
from helpline.kit.clock import now
from helpline.kit.enums import Availability
from helpline.turns import take_turn


def stamp_every(settings: Settings) -> float:
    """Seconds between a process's stamps of everyone it holds connections for (the sweeper)."""
    return max(1.0, settings.offline_grace_s / 4)


def seen_lately(last_seen_at: datetime | None, settings: Settings) -> bool:
    """A stamp younger than `stamp_every` needs no other when the user connects: the next
    periodic stamp follows within `stamp_every`, so they never look unseen for more than half
    the grace period, as with a stamp on connect. A customer who has just signed in (stamped
    with the sign-in) connects without a write of their own (docs/performance.md)."""
    return last_seen_at is not None and now() - last_seen_at < timedelta(
        seconds=stamp_every(settings)
    )


# Users a stamp writes at once. The sweeper stamps everyone a process holds connections for:
# one statement for 19,700 users held the event loop 30-100 ms (every liveness ping waited).
# Between two chunks the stamp takes a turn at a moment without message work: in chunks of 500
# (3-4 ms each in a process holding 19,700 connections) a ping read meanwhile waited for two
# chunks, 6-9 ms, for the ~140 ms the stamp took every 15 s (docs/performance.md).
STAMP_CHUNK = 100


async def stamp(ctx: AppContext, user_ids: Collection[str]) -> None:
    at = now()
    ids = list(user_ids)
    for start in range(0, len(ids), STAMP_CHUNK):
        if start:
            await take_turn()  # frames read meanwhile are answered before the next write
        chunk = ids[start : start + STAMP_CHUNK]
        await ctx.boundary.write_now(functools.partial(repo.stamp_seen, user_ids=chunk, at=at))


async def sweep(
    ctx: AppContext, on_offline: Callable[[UnitOfWork, str], Awaitable[object]] | None = None
) -> int:
    """Turn agents unseen for the grace period offline; `on_offline(uow, user_id)` runs in the
    same unit for each (the chats they leave behind go back to their queues)."""
    cutoff = now() - timedelta(seconds=ctx.settings.offline_grace_s)
    async with ctx.db.read() as session:
        stale = await repo.unseen_since(session, cutoff)
    changed = 0
    for user_id in stale:
        # Asked of the hub, not of a copy of its users: every second, at 19,700 connections.
        if ctx.hub.is_connected(user_id):
            continue  # connected here; the stamp is on its way
        async with ctx.boundary.write() as uow:
            if await repo.set_offline_if_unseen(uow.session, user_id, cutoff, now()):
                for topic, message in service.status_news(user_id, Availability.offline):
                    uow.announce(topic, message)
                if on_offline is not None:
                    await on_offline(uow, user_id)
                changed += 1
    return changed
