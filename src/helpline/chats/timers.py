"""Chat timers: no-agent expiry, inactivity warning and expiry, assign-mode offer rotation.

Due times are columns of the chat row. A sweep reads candidates, then handles each in its own
unit of work whose conditional UPDATE re-checks that it is still due, so any number of
processes may sweep at once and each timer fires exactly once.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, select, update

from helpline.chats import offers, service
from helpline.chats.models import Chat
from helpline.context import AppContext
from helpline.kit.clock import now
from helpline.kit.enums import ChatStatus, RoutingMode
from helpline.queues.models import Queue


async def sweep(ctx: AppContext) -> int:
    """One pass over every chat timer; returns how many fired."""
    fired = 0
    fired += await _expire_unanswered(ctx)
    fired += await _inactivity(ctx)
    fired += await _rotate_offers(ctx)
    return fired


async def _expire_unanswered(ctx: AppContext) -> int:
    at = now()
    async with ctx.db.read() as session:
        rows = (
            await session.execute(
                select(Chat.id, Chat.waiting_since, Queue.max_wait_s)
                .join(Queue, Queue.id == Chat.queue_id)
                .where(Chat.status == ChatStatus.waiting)
            )
        ).all()
    fired = 0
    for chat_id, waiting_since, max_wait in rows:
        if waiting_since is None or waiting_since > at - timedelta(seconds=max_wait):
            continue
        cutoff = at - timedelta(seconds=max_wait)
        async with ctx.boundary.write() as uow:
            done = await service.expire(uow, chat_id, "no_agent", Chat.waiting_since <= cutoff)
        fired += done
    return fired


async def _inactivity(ctx: AppContext) -> int:
    s = ctx.settings
    at = now()
    warn_cutoff = at - timedelta(seconds=s.inactivity_warn_s)
    expire_cutoff = at - timedelta(seconds=s.inactivity_warn_s + s.inactivity_expire_s)
    async with ctx.db.read() as session:
        to_warn = (
            (
                await session.execute(
                    select(Chat.id).where(
                        Chat.status == ChatStatus.in_progress,
                        Chat.warned_at.is_(None),
                        Chat.last_customer_at <= warn_cutoff,
                    )
                )
            )
            .scalars()
            .all()
        )
        to_expire = (
            (
                await session.execute(
                    select(Chat.id).where(
                        Chat.status == ChatStatus.in_progress,
                        Chat.warned_at.is_not(None),
                        Chat.last_customer_at <= expire_cutoff,
                    )
                )
            )
            .scalars()
            .all()
        )
    fired = 0
    for chat_id in to_warn:
        due = and_(Chat.warned_at.is_(None), Chat.last_customer_at <= warn_cutoff)
        async with ctx.boundary.write() as uow:
            done = await service.warn_inactive(uow, chat_id, int(s.inactivity_expire_s), due)
        fired += done
    for chat_id in to_expire:
        due = and_(Chat.warned_at.is_not(None), Chat.last_customer_at <= expire_cutoff)
        async with ctx.boundary.write() as uow:
            done = await service.expire(uow, chat_id, "inactive", due)
        fired += done
    return fired


async def _rotate_offers(ctx: AppContext) -> int:
    at = now()
    async with ctx.db.read() as session:
        rows = (
            await session.execute(
                select(Chat.id, Chat.offer_expires_at)
                .join(Queue, Queue.id == Chat.queue_id)
                .where(
                    Chat.status == ChatStatus.waiting,
                    Queue.routing_mode == RoutingMode.assign,
                    Chat.offer_expires_at <= at,
                )
            )
        ).all()
    fired = 0
    for chat_id, due in rows:
        async with ctx.boundary.write() as uow:
            # Claim: only the process that clears this exact due time moves the offer on.
            claimed = await uow.session.execute(
                update(Chat)
                .where(
                    Chat.id == chat_id,
                    Chat.offer_expires_at == due,
                    Chat.status == ChatStatus.waiting,
                )
                .values(offer_expires_at=None)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                continue
            chat = await uow.session.get(Chat, chat_id, populate_existing=True)
            queue = await uow.session.get(Queue, chat.queue_id) if chat else None
            if chat is None or queue is None:
                continue
            await offers.offer_next(uow, chat, queue)
        fired += 1
    return fired
