"""A chat's transcript: the printable lines, the plain text, and the e-mail to the customer.
Internal notes never appear: it is the customer's record too."""

from __future__ import annotations

from typing import Any

from helpline.accounts.models import User
from helpline.chats import access
from helpline.chats import repository as repo
from helpline.chats.access import get_row
from helpline.chats.lifecycle import Relation
from helpline.chats.models import ChatEvent
from helpline.chats.shapes import chat_dict
from helpline.db import UnitOfWork
from helpline.errors import Conflict, Forbidden
from helpline.kit import i18n
from helpline.notify import outbox as outbox_mod
from helpline.notify.models import DeliveryKind


async def _lines(uow: UnitOfWork, chat_id: str) -> list[dict[str, Any]]:
    """When, what kind, what: every event a customer may read that says something."""
    lines = []
    for r in await repo.events_after(uow.session, chat_id, 0):
        text = None if r.internal else _transcript_line(r)
        if text:
            lines.append(
                {
                    "at": r.at.strftime("%Y-%m-%d %H:%M:%S UTC"),
                    "kind": "message" if r.type == "message.posted" else "system",
                    "text": text,
                }
            )
    return lines


async def transcript_lines(
    uow: UnitOfWork, user: User, chat_id: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The transcript as lines for the printable page: when, who, what (notes never)."""
    row = await get_row(uow, user, chat_id)
    return await _lines(uow, row.chat.id), chat_dict(row)


async def transcript(uow: UnitOfWork, user: User, chat_id: str) -> str:
    """Plain text, without internal notes: it is the customer's record too."""
    row = await get_row(uow, user, chat_id)
    chat = row.chat
    lines = [
        f"Chat {chat.reference}: {chat.subject}",
        f"Queue: {row.queue.name}",
        f"Customer: {row.customer.name}",
        f"Agent: {row.agent.name if row.agent else '-'}",
        f"Status: {chat.status.replace('_', ' ')}",
        "",
    ]
    lines += [f"[{line['at']}] {line['text']}" for line in await _lines(uow, chat.id)]
    return "\n".join(lines) + "\n"


def _transcript_line(r: ChatEvent) -> str | None:
    who = r.actor_name or "Helpline"
    d = r.data
    match r.type:
        case "message.posted":
            return f"{who}: {d.get('text', '')}"
        case "file.shared":
            a = d.get("attachment", {})
            return f"{who} shared a file: {a.get('filename')} ({a.get('size')} bytes)"
        case "chat.started":
            return f"{who} started the chat."
        case "chat.accepted":
            return f"{(d.get('agent') or {}).get('name', who)} joined the chat."
        case "chat.moved":
            return f"{who} moved the chat to another queue."
        case "chat.transferred":
            return f"{(d.get('to_agent') or {}).get('name', who)} took over the chat."
        case "chat.requeued":
            return "The chat went back to the queue: the agent went offline."
        case "chat.solved":
            return f"{who} marked the chat as solved."
        case "chat.cancelled":
            reason = d.get("reason")
            return f"{who} cancelled the chat." + (f" Reason: {reason}" if reason else "")
        case "chat.expired":
            return "The chat expired."
        case "request.raised":
            req = d.get("request", {})
            return f"{who} raised request {req.get('reference')}: {req.get('summary')}"
        case "chat.rated":
            return f"{who} rated the chat {d.get('score')}/5."
        case "chat.joined":
            return f"{who} joined to help."
        case "chat.parted":
            return f"{who} left the chat."
    return None


async def email_transcript(uow: UnitOfWork, user: User, chat_id: str) -> str:
    """Queue the transcript (no internal notes) to the chat's customer; returns the address.

    The customer asks for it at the end of the chat; the chat's agent or a supervisor may send
    it for them. Mail leaves through the outbox once this commits."""
    row = await get_row(uow, user, chat_id)
    entitled = {Relation.customer, Relation.owner, Relation.supervisor}
    if (await access.relations(uow, user, row.chat)).isdisjoint(entitled):
        raise Forbidden("Only the chat's agent or a supervisor can send its transcript.")
    box = outbox_mod.for_uow(uow)
    if box is None or not box.accepts(DeliveryKind.email):
        raise Conflict("E-mail is not set up on this Helpline.", code="mail_not_configured")
    customer = row.customer
    text = await transcript(uow, user, chat_id)
    loc = i18n.negotiate(user=customer.locale, default=box.settings.default_locale)
    hello = i18n.gettext(loc, "Hello %(name)s,", name=customer.name)
    lead = i18n.gettext(
        loc, "Here is the transcript of your chat %(reference)s.", reference=row.chat.reference
    )
    body = f"{hello}\n\n{lead}\n\n{text}\n--\nHelpline\n"
    box.enqueue(
        uow,
        kind=DeliveryKind.email,
        event_type="chat.transcript",
        reference=row.chat.reference,
        payload={
            "to": customer.email,
            "to_name": customer.name,
            "subject": f"[{row.chat.reference}] " + i18n.gettext(loc, "Your chat transcript"),
            "body": body,
        },
    )
    return customer.email
