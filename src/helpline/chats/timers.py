"""Chat timers: no-agent expiry, inactivity warning and expiry, assign-mode offer rotation, the
queue's automatic reply, first-response service levels (warning at 80 %, then breach).

Due times are columns of the chat row. A sweep reads candidates, then handles each in its own
unit of work whose conditional UPDATE re-checks that it is still due, so any number of
processes may sweep at once and each timer fires exactly once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.chats import offers, service
from helpline.chats import repository as repo
from helpline.context import AppContext
from helpline.kit.clock import now


async def sweep(ctx: AppContext) -> int:
    """One pass over every chat timer; returns how many fired.

    It runs every second in every process and nearly always finds nothing due, so whether
    anything is due is read first, in one unit (a unit through aiosqlite costs the loop about
    a millisecond whatever it reads: docs/performance.md). Only then does each timer read and
    fire in turn, each after the one before it fired (a chat the no-agent expiry closed is no
    longer waiting for its automatic reply, nor due a service-level warning)."""
    async with ctx.db.read() as session:
        if not await _anything_due(session, ctx, now()):
            return 0
    fired = 0
    fired += await _expire_unanswered(ctx)
    fired += await _inactivity(ctx)
    fired += await _rotate_offers(ctx)
    fired += await _auto_replies(ctx)
    fired += await _service_levels(ctx)
    return fired


async def _anything_due(session: AsyncSession, ctx: AppContext, at: datetime) -> bool:
    """Whether any timer would fire now: the same reads and checks as the timers themselves."""
    if await _unanswered(session, at) or await _auto_reply_due(session, at):
        return True
    to_warn, to_expire = await _inactive(session, *_inactivity_due(ctx, at))
    return bool(
        to_warn
        or to_expire
        or await repo.offers_due(session, at)
        or await repo.sla_due(session, at)
    )


async def _auto_reply_due(session: AsyncSession, at: datetime) -> list[tuple[str, str, datetime]]:
    """Waiting chats whose queue's automatic reply is due: (chat, its text, the cutoff)."""
    out = []
    for chat_id, waiting_since, auto in await repo.waiting_for_auto_reply(session):
        if not auto or waiting_since is None:
            continue
        cutoff = at - timedelta(seconds=int(auto["after_s"]))
        if waiting_since <= cutoff:
            out.append((chat_id, str(auto["text"]), cutoff))
    return out


async def _auto_replies(ctx: AppContext) -> int:
    async with ctx.db.read() as session:
        due = await _auto_reply_due(session, now())
    fired = 0
    for chat_id, text, cutoff in due:
        async with ctx.boundary.write() as uow:
            done = await service.auto_reply(uow, chat_id, text, repo.auto_reply_due(cutoff))
        fired += done
    return fired


async def _unanswered(session: AsyncSession, at: datetime) -> list[tuple[str, datetime]]:
    """Waiting chats past their queue's longest wait: (chat, the cutoff)."""
    out = []
    for chat_id, waiting_since, max_wait in await repo.waiting_with_max_wait(session):
        cutoff = at - timedelta(seconds=max_wait)
        if waiting_since is not None and waiting_since <= cutoff:
            out.append((chat_id, cutoff))
    return out


async def _expire_unanswered(ctx: AppContext) -> int:
    async with ctx.db.read() as session:
        due = await _unanswered(session, now())
    fired = 0
    for chat_id, cutoff in due:
        async with ctx.boundary.write() as uow:
            done = await service.expire(uow, chat_id, "no_agent", repo.unanswered_due(cutoff))
        fired += done
    return fired


def _inactivity_due(
    ctx: AppContext, at: datetime
) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """What makes a chat in progress due a warning, and due closing, for its silence."""
    s = ctx.settings
    warn_due = repo.warning_due(at - timedelta(seconds=s.inactivity_warn_s))
    expire_due = repo.inactive_due(
        at - timedelta(seconds=s.inactivity_warn_s + s.inactivity_expire_s)
    )
    return warn_due, expire_due


async def _inactive(
    session: AsyncSession, warn_due: ColumnElement[bool], expire_due: ColumnElement[bool]
) -> tuple[list[str], list[str]]:
    """Chats in progress to warn, and to close, for their customer's silence."""
    return (
        await repo.in_progress_ids(session, warn_due),
        await repo.in_progress_ids(session, expire_due),
    )


async def _inactivity(ctx: AppContext) -> int:
    s = ctx.settings
    at = now()
    warn_due, expire_due = _inactivity_due(ctx, at)
    async with ctx.db.read() as session:
        to_warn, to_expire = await _inactive(session, warn_due, expire_due)
    fired = 0
    for chat_id in to_warn:
        async with ctx.boundary.write() as uow:
            done = await service.warn_inactive(uow, chat_id, int(s.inactivity_expire_s), warn_due)
        fired += done
    for chat_id in to_expire:
        async with ctx.boundary.write() as uow:
            done = await service.expire(uow, chat_id, "inactive", expire_due)
        fired += done
    return fired


async def _rotate_offers(ctx: AppContext) -> int:
    async with ctx.db.read() as session:
        rows = await repo.offers_due(session, now())
    fired = 0
    for chat_id, due in rows:
        async with ctx.boundary.write() as uow:
            claimed = await repo.claim_offer(uow.session, chat_id, due)
            if claimed is None:
                continue
            await offers.offer_next(uow, *claimed)
        fired += 1
    return fired


async def _service_levels(ctx: AppContext) -> int:
    """First-response warnings (80 %) and breaches that are due; each claimed once."""
    async with ctx.db.read() as session:
        rows = await repo.sla_due(session, now())
    fired = 0
    for chat_id, next_at in rows:
        async with ctx.boundary.write() as uow:
            done = await service.warn_sla(uow, chat_id, next_at)
            if not done:
                done = await service.breach_sla(uow, chat_id, next_at)
        fired += done
    return fired
