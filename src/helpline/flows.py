"""Use cases that span domains. Each calls the domains' services (never their repositories),
so the domain packages need not import each other: chats and the service desk meet here.

Checks keep the order of the domain they start in: visibility (404), role (403), state (409).
"""

from __future__ import annotations

from helpline.accounts.models import User
from helpline.chats import service as chats
from helpline.chats import transcripts
from helpline.db import UnitOfWork
from helpline.errors import NotFound
from helpline.kit.enums import Priority
from helpline.servicedesk import service as servicedesk
from helpline.servicedesk.models import ServiceRequest
from helpline.servicedesk.service import ChatLink


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
) -> ServiceRequest:
    """The chat's agent (or a supervisor) raises a request; without a description the chat's
    transcript is it. The chat records `request.raised` in the same unit."""
    row = await chats.check_raise_request(uow, user, chat_id)
    if description is None or not description.strip():
        description = await transcripts.transcript(uow, user, chat_id)
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
    await chats.request_raised(uow, user, chat, req)
    return req


async def request_transcript(uow: UnitOfWork, user: User, reference: str) -> tuple[str, str]:
    """The linked chat's transcript (and the chat's reference) for whoever may see the request.

    Seeing the request is the permission: an agent of the request's team may read the chat it
    came from even when that chat was in another queue. So the transcript is asked for as the
    request's customer sees it (their own chat, internal notes left out).
    """
    row = await servicedesk.get(uow, user, reference)
    if row.request.chat_id is None or row.chat_reference is None:
        raise NotFound("This request has no linked chat.")
    text = await transcripts.transcript(uow, row.customer, row.request.chat_id)
    return row.chat_reference, text
