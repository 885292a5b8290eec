"""Offers and routing: who is offered a waiting chat, what the queue's agents are told, and
where a customer stands in the queue."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Collection
from datetime import timedelta
from typing import Any

from helpline.accounts.models import User
from helpline.bus.messages import (
    BusMessage,
    ChatOffered,
    ChatQueued,
    ChatUpdated,
    ChatWithdrawn,
)
from helpline.chats import repository as repo
from helpline.chats.access import fresh_row, with_tags
from helpline.chats.models import Chat
from helpline.chats.repository import ChatRow
from helpline.chats.shapes import chat_dict
from helpline.db import UnitOfWork
from helpline.kit.clock import now
from helpline.kit.enums import ChatStatus, RoutingMode
from helpline.queues import service as queues
from helpline.queues.models import Queue
from helpline.queues.routing import Candidate, next_assignee


async def announce_chat(
    uow: UnitOfWork,
    chat_id: str,
    news: Callable[[dict[str, Any]], BusMessage],
    *,
    row: ChatRow | None = None,
) -> ChatRow:
    """Tell the queue's agents (offers, takes, list updates). Reads the row after the change
    (`row`: the caller has just read it, after the change), and returns it: the caller's
    answer, with no second read of the same row."""
    if row is None:
        row = await fresh_row(uow, chat_id)
    summary = chat_dict(row)
    uow.announce(f"queue:{summary['queue_id']}", news(summary))
    uow.announce("supervisors", ChatUpdated(summary))
    return row


async def route(uow: UnitOfWork, chat: Chat, queue: Queue) -> ChatRow:
    """A chat starts waiting in `queue`: offer it as the queue's routing mode says. Returns
    the chat's row as announced."""
    if queue.routing_mode == RoutingMode.assign:
        offered = await offer_next(uow, chat, queue)
        return await announce_chat(uow, chat.id, ChatQueued, row=offered)
    return await announce_chat(uow, chat.id, ChatOffered)


async def offer_next(uow: UnitOfWork, chat: Chat, queue: Queue) -> ChatRow | None:
    """`assign` mode: offer the chat to the next agent (most free slots, then longest idle).
    Returns the chat's row as offered, or None when nobody was eligible (it is retried
    shortly by the sweeper)."""
    found = await repo.candidates(uow.session, queue.id)
    candidates = [Candidate(u.id, load, u.max_chats, u.last_accept_at) for u, load in found]
    chosen, offered = next_assignee(candidates, list(chat.offered_ids or []))
    previous = chat.offered_to_id
    at = now()
    wait = queue.offer_timeout_s if chosen else min(5, queue.offer_timeout_s)
    chat.offered_to_id = chosen
    chat.offer_expires_at = at + timedelta(seconds=wait)
    chat.offered_ids = offered
    await uow.session.flush()
    if previous and previous != chosen:
        uow.announce(f"user:{previous}", ChatWithdrawn(chat.id))
    if not chosen:
        return None
    row = await fresh_row(uow, chat.id)
    uow.announce(f"user:{chosen}", ChatOffered(chat_dict(row)))
    return row


async def waiting_offers(
    uow: UnitOfWork, user: User, queue_ids: Collection[str] | None = None
) -> list[dict[str, Any]]:
    """Chats already waiting that this agent may be offered now: in their queues, while they
    are available and below their limit; in `assign` queues only those offered to them.
    `queue_ids`: their queues, when the caller has just read them in the same unit."""
    if not user.role_enum.is_staff:
        return []
    if queue_ids is None:
        queue_ids = await queues.member_queue_ids(uow, user.id)
    if not queue_ids:
        return []
    out: list[dict[str, Any]] = []
    eligible: dict[str, bool] = {}
    queue_ids = list(queue_ids)
    waiting = await repo.waiting_views_in_queues(uow.session, queue_ids)
    if not waiting:  # the usual answer at a shift start: no tags query built for it
        return out
    for r in await with_tags(uow, waiting, repo.waiting_ids(queue_ids)):
        if r.routing_mode == RoutingMode.assign:
            if r.chat.offered_to_id == user.id:
                out.append(chat_dict(r))
            continue
        if r.queue.id not in eligible:
            found = await repo.eligible_ids(uow.session, r.queue.id, [user.id])
            eligible[r.queue.id] = bool(found)
        if eligible[r.queue.id]:
            out.append(chat_dict(r))
    return out


async def eligible_for_offer(uow: UnitOfWork, queue_id: str, user_ids: list[str]) -> set[str]:
    """Which of these agents may be offered a chat of this queue now."""
    return await repo.eligible_ids(uow.session, queue_id, user_ids)


async def estimate_wait(uow: UnitOfWork, queue_id: str, position: int) -> int | None:
    """Median of the queue's recent waits, scaled by position; None without history."""
    waits = await repo.recent_waits(uow.session, queue_id, now() - timedelta(days=7))
    if not waits:
        return None
    return max(0, math.ceil(statistics.median(waits) * position))


async def waiting_info(uow: UnitOfWork, chat: Chat) -> tuple[int | None, int | None]:
    if chat.status != ChatStatus.waiting:
        return None, None
    pos = await repo.position(uow.session, chat)
    return pos, await estimate_wait(uow, chat.queue_id, pos)


# --- staffing: what supervisors and the portal see of queues -----------------------------------


async def available_by_queue(uow: UnitOfWork) -> dict[str, int]:
    """Per queue: members who could be offered a chat now."""
    return await repo.available_counts(uow.session)


async def queue_stats(uow: UnitOfWork) -> dict[str, dict[str, object]]:
    return await repo.queue_stats(uow.session)


async def agents_with_load(uow: UnitOfWork) -> list[tuple[User, int]]:
    return await repo.agents_with_load(uow.session)
