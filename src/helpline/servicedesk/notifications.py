"""What a request change sends, queued in the change's own transaction.

E-mail (plain text, to real addresses only; guests have one too):
- the customer, when their request is raised (by them, or by an agent from their chat);
- the customer, when its status changes (whoever changed it);
- the customer, when staff add a public comment (never for internal ones, nor their own);
- the assignee, when a request is assigned to them by someone else.

Webhooks (to the external service desk, trusted staff tooling): every change, as
`request.created`, `request.updated` (with `changes`) or `request.commented` (internal
comments too, flagged `comment.internal`). One document:

    {"id": "<event id>", "type": "request.updated", "at": "2026-11-26T12:00:00.123456Z",
     "actor": {"id", "name", "role"} | null, "request": {…RequestOut…},
     "changes": {"status": {"from": "new", "to": "open"}, …},      # request.updated
     "comment": {"id", "text", "internal", "actor", "at"}}          # request.commented
"""

from __future__ import annotations

from typing import Any

from helpline.accounts.models import User
from helpline.db import UnitOfWork
from helpline.kit.clock import iso, now
from helpline.kit.ids import new_id
from helpline.notify import outbox as outbox_mod
from helpline.notify.models import DeliveryKind
from helpline.notify.outbox import Outbox
from helpline.servicedesk.models import RequestEntry
from helpline.servicedesk.repository import RequestRow
from helpline.servicedesk.schemas import request_out

SIGNATURE = "--\nHelpline"


def _label(value: str) -> str:
    return value.replace("_", " ").capitalize()


def _actor(user: User | None) -> dict[str, str] | None:
    return {"id": user.id, "name": user.name, "role": user.role} if user else None


def portal_link(outbox: Outbox, reference: str) -> str:
    return f"{outbox.settings.resolved_public_url}/#requests/{reference}"


def console_link(outbox: Outbox, reference: str) -> str:
    return f"{outbox.settings.resolved_public_url}/console#requests/{reference}"


def _facts(row: RequestRow) -> str:
    r = row.request
    lines = [
        f"Reference: {r.reference}",
        f"Summary:   {r.summary}",
        f"Status:    {_label(r.status)}",
        f"Priority:  {_label(r.priority)}",
    ]
    if row.chat_reference:
        lines.append(f"Chat:      {row.chat_reference}")
    return "\n".join(lines)


def _mail(
    outbox: Outbox,
    uow: UnitOfWork,
    row: RequestRow,
    to: User,
    event_type: str,
    subject: str,
    body: str,
) -> None:
    if not to.email:
        return
    # The outbox orders and caps e-mail per recipient: their mails arrive in order, and a
    # refused address never holds up anyone else's.
    outbox.enqueue(
        uow,
        kind=DeliveryKind.email,
        event_type=event_type,
        reference=row.request.reference,
        payload={"to": to.email, "to_name": to.name, "subject": subject, "body": body},
    )


def _subject(row: RequestRow, words: str) -> str:
    """The reference and our own fixed words only: a subject never carries what a customer
    wrote (anyone can sign up with someone else's address and pick a summary)."""
    return f"[{row.request.reference}] {words}"


def _customer_mail(
    outbox: Outbox, uow: UnitOfWork, row: RequestRow, event_type: str, subject: str, lead: str
) -> None:
    r = row.request
    body = (
        f"Hello {row.customer.name},\n\n{lead}\n\n{_facts(row)}\n\n"
        f"Follow your request and reply in the portal:\n{portal_link(outbox, r.reference)}\n\n"
        f"{SIGNATURE}\n"
    )
    _mail(outbox, uow, row, row.customer, event_type, _subject(row, subject), body)


def _webhook(
    outbox: Outbox,
    uow: UnitOfWork,
    row: RequestRow,
    event_type: str,
    actor: User | None,
    **extra: Any,
) -> None:
    event_id = new_id()
    document: dict[str, Any] = {
        "id": event_id,
        "type": event_type,
        "at": iso(now()),
        "actor": _actor(actor),
        # A snapshot as of this event, so a receiver replaying in order sees each state.
        "request": request_out(row).model_dump(mode="json"),
        **extra,
    }
    outbox.enqueue(
        uow,
        kind=DeliveryKind.webhook,
        event_type=event_type,
        ordering_key=f"webhook:{row.request.id}",
        reference=row.request.reference,
        payload=document,
        event_id=event_id,
    )


def _outbox(uow: UnitOfWork) -> Outbox | None:
    return outbox_mod.for_uow(uow)


def created(uow: UnitOfWork, row: RequestRow, actor: User) -> None:
    outbox = _outbox(uow)
    if outbox is None:
        return
    r = row.request
    if outbox.accepts(DeliveryKind.email):
        origin = f" from your chat {row.chat_reference}" if row.chat_reference else ""
        _customer_mail(
            outbox,
            uow,
            row,
            "request.created",
            "We received your request",
            f"Your request {r.reference} has been raised{origin}. "
            f"The {row.team.name} team will take it from here and keep you posted by e-mail.",
        )
    if outbox.accepts(DeliveryKind.webhook):
        _webhook(outbox, uow, row, "request.created", actor)


def updated(
    uow: UnitOfWork,
    row: RequestRow,
    actor: User,
    changes: dict[str, dict[str, Any]],
    *,
    new_assignee: User | None,
) -> None:
    """`changes` maps each changed field to `{"from", "to"}`; `new_assignee` is who was just
    assigned (None when nobody was)."""
    outbox = _outbox(uow)
    if outbox is None or not changes:
        return
    r = row.request
    if outbox.accepts(DeliveryKind.email):
        if "status" in changes:
            before, after = changes["status"]["from"], changes["status"]["to"]
            _customer_mail(
                outbox,
                uow,
                row,
                "request.status_changed",
                f"Your request is now {_label(after).lower()}",
                f"The status of your request {r.reference} changed "
                f"from {_label(before).lower()} to {_label(after).lower()}.",
            )
        if new_assignee is not None and new_assignee.id != actor.id:
            body = (
                f"Hello {new_assignee.name},\n\n"
                f"{actor.name} assigned request {r.reference} to you.\n\n"
                f"{_facts(row)}\nCustomer:  {row.customer.name}\nTeam:      {row.team.name}\n\n"
                f"Open it in the console:\n{console_link(outbox, r.reference)}\n\n{SIGNATURE}\n"
            )
            _mail(
                outbox,
                uow,
                row,
                new_assignee,
                "request.assigned",
                _subject(row, "Assigned to you"),
                body,
            )
    if outbox.accepts(DeliveryKind.webhook):
        _webhook(outbox, uow, row, "request.updated", actor, changes=changes)


def commented(uow: UnitOfWork, row: RequestRow, actor: User, entry: RequestEntry) -> None:
    outbox = _outbox(uow)
    if outbox is None:
        return
    r = row.request
    text = str(entry.data.get("text", ""))
    if (
        not entry.internal
        and actor.role_enum.is_staff
        and actor.id != row.customer.id
        and outbox.accepts(DeliveryKind.email)
    ):
        _customer_mail(
            outbox,
            uow,
            row,
            "request.commented",
            "New reply to your request",
            f"{actor.name} replied to your request {r.reference}:\n\n{text}",
        )
    if outbox.accepts(DeliveryKind.webhook):
        comment = {
            "id": entry.id,
            "text": text,
            "internal": entry.internal,
            "actor": _actor(actor),
            "at": iso(entry.at),
        }
        _webhook(outbox, uow, row, "request.commented", actor, comment=comment)
