"""Use cases that span domains. Each calls the domains' services (never their repositories),
so the domain packages need not import each other: chats and the service desk meet here, and
queues meet the chats that load their agents.

Checks keep the order of the domain they start in: visibility (404), role (403), state (409).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from helpline.accounts import resets
from helpline.accounts import service as accounts
from helpline.accounts.models import User
from helpline.audit import service as audit
from helpline.audit.models import AuditEntry
from helpline.chats import offers, transcripts
from helpline.chats import service as chats
from helpline.config import Settings
from helpline.db import UnitOfWork
from helpline.errors import NotFound
from helpline.kit import i18n
from helpline.kit.clock import aware, now
from helpline.kit.enums import Availability, Priority, Role
from helpline.notify import outbox as outbox_mod
from helpline.notify.models import DeliveryKind
from helpline.queues import hours as hours_mod
from helpline.queues import service as queues
from helpline.queues.models import Queue
from helpline.servicedesk import service as servicedesk
from helpline.servicedesk.models import ServiceRequest
from helpline.servicedesk.service import ChatLink

log = logging.getLogger("helpline.flows")


async def raise_request_from_chat(
    uow: UnitOfWork,
    user: User,
    chat_id: str,
    *,
    summary: str,
    description: str | None,
    priority: Priority,
    team_id: str | None,
    default_team: str | None,
    locale: str = i18n.SOURCE,
) -> ServiceRequest:
    """The chat's agent (or a supervisor) raises a request; without a description the chat's
    transcript (in `locale`, the raiser's language) is it. The chat records `request.raised`
    in the same unit."""
    row = await chats.check_raise_request(uow, user, chat_id)
    if description is None or not description.strip():
        description = await transcripts.transcript(uow, user, chat_id, locale)
    chat = row.chat
    req = await servicedesk.create_from_chat(
        uow,
        user,
        ChatLink(
            id=chat.id,
            reference=chat.reference,
            customer_id=chat.customer_id,
            queue_id=chat.queue_id,
        ),
        summary=summary,
        description=description,
        priority=priority,
        team_id=team_id,
        default_team=default_team,
    )
    request = {
        "id": req.id,
        "reference": req.reference,
        "summary": req.summary,
        "status": req.status,
    }
    await chats.request_raised(uow, user, chat, request)
    return req


async def request_transcript(
    uow: UnitOfWork, user: User, reference: str, locale: str = i18n.SOURCE
) -> tuple[str, str]:
    """The linked chat's transcript (and the chat's reference) for whoever may see the request.

    Seeing the request is the permission: an agent of the request's team may read the chat it
    came from even when that chat was in another queue. So the transcript is asked for as the
    request's customer sees it (their own chat, internal notes left out).
    """
    row = await servicedesk.get(uow, user, reference)
    if row.request.chat_id is None or row.chat_reference is None:
        raise NotFound("This request has no linked chat.")
    text = await transcripts.transcript(uow, row.customer, row.request.chat_id, locale)
    return row.chat_reference, text


# --- availability: an agent going offline hands their chats back ------------------------------


async def set_status(
    uow: UnitOfWork, actor: User, user_id: str, status: Availability, *, requeue: bool
) -> User:
    """The caller's own availability (`user_id` is theirs) or, for supervisors and admins, a
    colleague's. Offline with `requeue` (HELPLINE_REQUEUE_ON_OFFLINE): their chats in progress
    go back to their queues in the same unit."""
    if user_id == actor.id:
        user = await accounts.set_status(uow, actor, status)
    else:
        user = await accounts.set_agent_status(uow, actor, user_id, status)
    if requeue and status is Availability.offline:
        await chats.requeue_chats_of(uow, user)
    return user


async def went_offline(uow: UnitOfWork, user_id: str) -> None:
    """The presence sweep turned this agent offline: hand their chats back to the queues."""
    user = await accounts.get_user(uow, user_id)
    if user is not None:
        await chats.requeue_chats_of(uow, user)


# --- queues as the chats load them ----------------------------------------------------------


@dataclass
class QueueView:
    queue: Queue
    open_now: bool
    agents_available: int


async def queue_views(uow: UnitOfWork, queue_list: list[Queue]) -> list[QueueView]:
    """What the portal shows of each queue: open now, and agents who could take a chat."""
    counts = await offers.available_by_queue(uow)
    at = now()
    return [QueueView(q, hours_mod.is_open(q.hours, at), counts.get(q.id, 0)) for q in queue_list]


async def overview(uow: UnitOfWork, actor: User) -> dict[str, Any]:
    """The supervisor's live picture: queues with waits, agents with load."""
    accounts.require_role(actor, Role.supervisor, Role.admin)
    at = now()
    queue_list = await queues.list_queues(uow, actor, include_inactive=False)
    stats = await offers.queue_stats(uow)
    available = await offers.available_by_queue(uow)
    out_queues = []
    for q in queue_list:
        s = stats.get(q.id, {})
        oldest = s.get("oldest")
        longest = int((at - aware(oldest)).total_seconds()) if isinstance(oldest, datetime) else 0  # type: ignore[operator]
        out_queues.append(
            {
                "id": q.id,
                "name": q.name,
                "waiting": s.get("waiting", 0),
                "in_progress": s.get("in_progress", 0),
                "longest_wait_s": max(0, longest),
                "agents_available": available.get(q.id, 0),
                "open_now": hours_mod.is_open(q.hours, at),
            }
        )
    agents = [
        {
            "id": u.id,
            "name": u.name,
            "status": u.status,
            "chats": load,
            "max_chats": u.max_chats,
            "role": u.role,
        }
        for u, load in await offers.agents_with_load(uow)
    ]
    return {"queues": out_queues, "agents": agents}


async def waiting_by_queue_name(uow: UnitOfWork) -> dict[str, int]:
    """For the `chats_waiting` gauge: every active queue, zero included."""
    stats = await offers.queue_stats(uow)
    return {
        q.name: int(stats.get(q.id, {}).get("waiting", 0))  # type: ignore[call-overload]
        for q in await queues.list_queues(uow, None, include_inactive=False)
    }


async def customer_profile(uow: UnitOfWork, user: User, customer_id: str) -> dict[str, Any]:
    """GET /customers/{id}: staff who may see at least one of the customer's chats, and
    supervisors and admins always, get the profile with only the chats and requests they may
    see; anyone else (and any id that is not a customer) gets 404. Customers: 403."""
    accounts.require_staff(user)
    customer = await accounts.get_user(uow, customer_id)
    if customer is None or customer.role_enum is not Role.customer:
        raise NotFound("No such customer.")
    chats_seen, rating_avg = await chats.customer_chats(uow, user, customer.id)
    if not chats_seen and not user.role_enum.sees_all:
        raise NotFound("No such customer.")
    requests = await servicedesk.customer_requests(uow, user, customer.id, limit=100)
    return {
        "id": customer.id,
        "name": customer.name,
        "email": customer.email,
        "created_at": customer.created_at,
        "chats": [
            {
                "id": c.id,
                "reference": c.reference,
                "status": c.status,
                "queue_id": c.queue_id,
                "created_at": c.created_at,
            }
            for c in chats_seen
        ],
        "requests": [
            {
                "reference": r.request.reference,
                "status": r.request.status,
                "summary": r.request.summary,
            }
            for r in requests
        ],
        "rating_avg": round(rating_avg, 2) if rating_avg is not None else None,
    }


async def audit_entries(
    uow: UnitOfWork, user: User, filters: audit.Filters, *, before_id: int | None, limit: int
) -> list[tuple[AuditEntry, str | None]]:
    """A page of the audit log (admins), each entry with its actor's current name: the log
    keeps ids only, so a renamed or erased user shows as they are now."""
    rows = await audit.entries(uow, user, filters, before_id=before_id, limit=limit)
    ids = sorted({r.actor_id for r in rows if r.actor_id})
    names = {u.id: u.name for u in await accounts.get_users(uow, ids)}
    return [(r, names.get(r.actor_id) if r.actor_id else None) for r in rows]


async def send_password_reset(uow: UnitOfWork, email: str, settings: Settings) -> None:
    """Mail a reset link to the account with this e-mail, if there is one that may sign in
    with a password. Runs after the request was answered (`POST /auth/password-reset` says 202
    either way), so nothing here can show in the answer or its timing."""
    box = outbox_mod.for_uow(uow)
    if box is None or not box.accepts(DeliveryKind.email):
        log.warning("password reset asked for, but HELPLINE_SMTP_URL is not set: no mail sent")
        return
    issued = await resets.issue(uow, email, settings)
    if issued is None:
        return
    user = issued.user
    link = f"{settings.resolved_public_url}/reset-password?token={issued.token}"
    minutes = int(resets.VALID_FOR.total_seconds() // 60)
    loc = i18n.negotiate(user=user.locale, default=settings.default_locale)
    body = i18n.gettext(
        loc,
        "Hello %(name)s,\n\n"
        "Someone (we hope you) asked to reset the password of your Helpline account.\n"
        "To choose a new password, open this link within %(minutes)s minutes:\n\n"
        "%(link)s\n\n"
        "The link works once. If you did not ask for this, ignore this mail: your password\n"
        "stays as it is.",
        name=user.name,
        minutes=minutes,
        link=link,
    )
    box.enqueue(
        uow,
        kind=DeliveryKind.email,
        event_type="password.reset",
        payload={
            "to": user.email,
            "to_name": user.name,
            "subject": i18n.gettext(loc, "Reset your Helpline password"),
            "body": body + "\n\n--\nHelpline\n",
            "confidential": True,  # the admins' list of deliveries leaves the body out
        },
    )
