"""Chat timers: no-agent expiry, inactivity warning and expiry, assign-mode offer rotation, the
queue's automatic reply, first-response service levels (warning at 80 %, then breach).

Due times are columns of the chat row. A sweep reads candidates, then handles each in its own
unit of work whose conditional UPDATE re-checks that it is still due, so any number of
processes may sweep at once and each timer fires exactly once.
"""

from __future__ import annotations

from datetime import timedelta

from helpline.chats import offers, service
from helpline.chats import repository as repo
from helpline.context import AppContext
from helpline.kit.clock import now


async def sweep(ctx: AppContext) -> int:
    """One pass over every chat timer; returns how many fired."""
    fired = 0
    fired += await _expire_unanswered(ctx)
    fired += await _inactivity(ctx)
    fired += await _rotate_offers(ctx)
    fired += await _auto_replies(ctx)
    fired += await _service_levels(ctx)
    return fired


async def _auto_replies(ctx: AppContext) -> int:
    at = now()
    async with ctx.db.read() as session:
        rows = await repo.waiting_for_auto_reply(session)
    fired = 0
    for chat_id, waiting_since, auto in rows:
        if not auto or waiting_since is None:
            continue
        cutoff = at - timedelta(seconds=int(auto["after_s"]))
        if waiting_since > cutoff:
            continue
        async with ctx.boundary.write() as uow:
            done = await service.auto_reply(
                uow, chat_id, str(auto["text"]), repo.auto_reply_due(cutoff)
            )
        fired += done
    return fired


async def _expire_unanswered(ctx: AppContext) -> int:
    at = now()
    async with ctx.db.read() as session:
        rows = await repo.waiting_with_max_wait(session)
    fired = 0
    for chat_id, waiting_since, max_wait in rows:
        cutoff = at - timedelta(seconds=max_wait)
        if waiting_since is None or waiting_since > cutoff:
            continue
        async with ctx.boundary.write() as uow:
            done = await service.expire(uow, chat_id, "no_agent", repo.unanswered_due(cutoff))
        fired += done
    return fired


async def _inactivity(ctx: AppContext) -> int:
    s = ctx.settings
    at = now()
    warn_due = repo.warning_due(at - timedelta(seconds=s.inactivity_warn_s))
    expire_due = repo.inactive_due(
        at - timedelta(seconds=s.inactivity_warn_s + s.inactivity_expire_s)
    )
    async with ctx.db.read() as session:
        to_warn = await repo.in_progress_ids(session, warn_due)
        to_expire = await repo.in_progress_ids(session, expire_due)
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
