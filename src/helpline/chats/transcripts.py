"""A chat's transcript: the printable lines, the plain text, and the e-mail to the customer.
Internal notes never appear: it is the customer's record too."""

from __future__ import annotations

from datetime import UTC
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
from helpline.kit.i18n import N_
from helpline.notify import outbox as outbox_mod
from helpline.notify.models import DeliveryKind


async def _lines(uow: UnitOfWork, chat_id: str, locale: str) -> list[dict[str, Any]]:
    """When, what kind, what: every event a customer may read that says something, in the
    reader's language (events stay language neutral; each reader gets their own words)."""
    lines = []
    for r in await repo.events_after(uow.session, chat_id, 0):
        text = None if r.internal else _transcript_line(r, locale)
        if text:
            lines.append(
                {
                    "at": i18n.format_datetime(r.at, locale, "medium", tz=UTC) + " UTC",
                    "kind": "message" if r.type == "message.posted" else "system",
                    "text": text,
                }
            )
    return lines


async def transcript_lines(
    uow: UnitOfWork, user: User, chat_id: str, locale: str = i18n.SOURCE
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The transcript as lines for the printable page: when, who, what (notes never)."""
    row = await get_row(uow, user, chat_id)
    return await _lines(uow, row.chat.id, locale), chat_dict(row)


def status_label(status: str, locale: str) -> str:
    """A chat's status in words (the transcript's header)."""
    words = {
        "waiting": N_("Waiting"),
        "in_progress": N_("In progress"),
        "solved": N_("Solved"),
        "cancelled": N_("Cancelled"),
        "expired": N_("Expired"),
    }
    return i18n.gettext(locale, words[status]) if status in words else status.replace("_", " ")


async def transcript(uow: UnitOfWork, user: User, chat_id: str, locale: str = i18n.SOURCE) -> str:
    """Plain text, without internal notes: it is the customer's record too."""
    row = await get_row(uow, user, chat_id)
    chat = row.chat

    def fact(label: str, value: str) -> str:
        return i18n.gettext(locale, label, value=value)

    lines = [
        i18n.gettext(
            locale,
            "Chat %(reference)s: %(subject)s",
            reference=chat.reference,
            subject=chat.subject,
        ),
        fact(N_("Queue: %(value)s"), row.queue.name),
        fact(N_("Customer: %(value)s"), row.customer.name),
        fact(N_("Agent: %(value)s"), row.agent.name if row.agent else "-"),
        fact(N_("Status: %(value)s"), status_label(str(chat.status), locale)),
        "",
    ]
    lines += [f"[{line['at']}] {line['text']}" for line in await _lines(uow, chat.id, locale)]
    return "\n".join(lines) + "\n"


def _transcript_line(r: ChatEvent, locale: str) -> str | None:
    who = r.actor_name or "Helpline"
    d = r.data
    match r.type:
        case "message.posted":
            return f"{who}: {d.get('text', '')}"
        case "file.shared":
            a = d.get("attachment", {})
            size = int(a.get("size") or 0)
            return i18n.ngettext(
                locale,
                "%(name)s shared a file: %(file)s (%(size)s byte)",
                "%(name)s shared a file: %(file)s (%(size)s bytes)",
                size,
                name=who,
                file=a.get("filename"),
                size=i18n.format_number(size, locale),
            )
        case "chat.started":
            return i18n.gettext(locale, "%(name)s started the chat.", name=who)
        case "chat.accepted":
            return i18n.gettext(
                locale, "%(name)s joined the chat.", name=(d.get("agent") or {}).get("name", who)
            )
        case "chat.moved":
            return i18n.gettext(locale, "%(name)s moved the chat to another queue.", name=who)
        case "chat.transferred":
            return i18n.gettext(
                locale,
                "%(name)s took over the chat.",
                name=(d.get("to_agent") or {}).get("name", who),
            )
        case "chat.requeued":
            return i18n.gettext(locale, "The chat went back to the queue: the agent went offline.")
        case "chat.solved":
            return i18n.gettext(locale, "%(name)s marked the chat as solved.", name=who)
        case "chat.cancelled":
            reason = d.get("reason")
            if reason:
                return i18n.gettext(
                    locale,
                    "%(name)s cancelled the chat. Reason: %(reason)s",
                    name=who,
                    reason=reason,
                )
            return i18n.gettext(locale, "%(name)s cancelled the chat.", name=who)
        case "chat.expired":
            return i18n.gettext(locale, "The chat expired.")
        case "request.raised":
            req = d.get("request", {})
            return i18n.gettext(
                locale,
                "%(name)s raised request %(reference)s: %(summary)s",
                name=who,
                reference=req.get("reference"),
                summary=req.get("summary"),
            )
        case "chat.rated":
            return i18n.gettext(
                locale, "%(name)s rated the chat %(score)s/5.", name=who, score=d.get("score")
            )
        case "chat.joined":
            return i18n.gettext(locale, "%(name)s joined to help.", name=who)
        case "chat.parted":
            return i18n.gettext(locale, "%(name)s left the chat.", name=who)
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
    loc = i18n.negotiate(user=customer.locale, default=box.settings.default_locale)
    text = await transcript(uow, user, chat_id, loc)
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
