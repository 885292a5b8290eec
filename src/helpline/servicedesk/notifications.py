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
from helpline.kit import i18n
from helpline.kit.clock import iso, now
from helpline.kit.ids import new_id
from helpline.notify import outbox as outbox_mod
from helpline.notify import service as notify
from helpline.notify.models import DeliveryKind
from helpline.notify.outbox import Outbox
from helpline.servicedesk.models import RequestEntry
from helpline.servicedesk.repository import RequestRow
from helpline.servicedesk.schemas import request_out

SIGNATURE = "--\nHelpline"

# Statuses and priorities in words, for mails in the recipient's language.
LABELS = {
    "new": i18n.N_("New"),
    "open": i18n.N_("Open"),
    "on_hold": i18n.N_("On hold"),
    "resolved": i18n.N_("Resolved"),
    "closed": i18n.N_("Closed"),
    "low": i18n.N_("Low"),
    "normal": i18n.N_("Normal"),
    "medium": i18n.N_("Medium"),
    "high": i18n.N_("High"),
    "urgent": i18n.N_("Urgent"),
    "critical": i18n.N_("Critical"),
}


def _label(value: str, locale: str = i18n.SOURCE) -> str:
    words = LABELS.get(value)
    return i18n.gettext(locale, words) if words else value.replace("_", " ").capitalize()


def mail_locale(outbox: Outbox, user: User) -> str:
    """The recipient's language: their own setting, else the deployment's default."""
    return i18n.negotiate(user=user.locale, default=outbox.settings.default_locale)


def _actor(user: User | None) -> dict[str, str] | None:
    return {"id": user.id, "name": user.name, "role": user.role} if user else None


def portal_link(outbox: Outbox, reference: str) -> str:
    return f"{outbox.settings.resolved_public_url}/#requests/{reference}"


def console_link(outbox: Outbox, reference: str) -> str:
    return f"{outbox.settings.resolved_public_url}/console#requests/{reference}"


def _facts(row: RequestRow, locale: str = i18n.SOURCE) -> str:
    r = row.request
    lines = [
        i18n.gettext(locale, "Reference: %(value)s", value=r.reference),
        i18n.gettext(locale, "Summary:   %(value)s", value=r.summary),
        i18n.gettext(locale, "Status:    %(value)s", value=_label(r.status, locale)),
        i18n.gettext(locale, "Priority:  %(value)s", value=_label(r.priority, locale)),
    ]
    if row.chat_reference:
        lines.append(i18n.gettext(locale, "Chat:      %(value)s", value=row.chat_reference))
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
    outbox: Outbox,
    uow: UnitOfWork,
    row: RequestRow,
    event_type: str,
    subject: str,
    lead: str,
    locale: str,
) -> None:
    r = row.request
    hello = i18n.gettext(locale, "Hello %(name)s,", name=row.customer.name)
    follow = i18n.gettext(locale, "Follow your request and reply in the portal:")
    body = (
        f"{hello}\n\n{lead}\n\n{_facts(row, locale)}\n\n"
        f"{follow}\n{portal_link(outbox, r.reference)}\n\n"
        f"{SIGNATURE}\n"
    )
    _mail(outbox, uow, row, row.customer, event_type, _subject(row, subject), body)


async def _webhook(
    uow: UnitOfWork,
    row: RequestRow,
    event_type: str,
    actor: User | None,
    *,
    endpoints: bool = True,
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
    await notify.emit_webhook(
        uow,
        event_type=event_type,
        document=document,
        key=row.request.id,
        reference=row.request.reference,
        endpoints=endpoints,
    )


def _outbox(uow: UnitOfWork) -> Outbox | None:
    return outbox_mod.for_uow(uow)


async def created(uow: UnitOfWork, row: RequestRow, actor: User) -> None:
    outbox = _outbox(uow)
    if outbox is None:
        return
    r = row.request
    if outbox.accepts(DeliveryKind.email):
        loc = mail_locale(outbox, row.customer)
        values = {"reference": r.reference, "team": row.team.name, "chat": row.chat_reference}
        lead = (
            i18n.gettext(
                loc,
                "Your request %(reference)s has been raised from your chat %(chat)s. The "
                "%(team)s team will take it from here and keep you posted by e-mail.",
                **values,
            )
            if row.chat_reference
            else i18n.gettext(
                loc,
                "Your request %(reference)s has been raised. The %(team)s team will take it "
                "from here and keep you posted by e-mail.",
                **values,
            )
        )
        _customer_mail(
            outbox,
            uow,
            row,
            "request.created",
            i18n.gettext(loc, "We received your request"),
            lead,
            loc,
        )
    await _webhook(uow, row, "request.created", actor)


async def updated(
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
            loc = mail_locale(outbox, row.customer)
            was, now_is = _label(before, loc).lower(), _label(after, loc).lower()
            _customer_mail(
                outbox,
                uow,
                row,
                "request.status_changed",
                i18n.gettext(loc, "Your request is now %(status)s", status=now_is),
                i18n.gettext(
                    loc,
                    "The status of your request %(reference)s changed from %(before)s to "
                    "%(after)s.",
                    reference=r.reference,
                    before=was,
                    after=now_is,
                ),
                loc,
            )
        if new_assignee is not None and new_assignee.id != actor.id:
            loc = mail_locale(outbox, new_assignee)
            hello = i18n.gettext(loc, "Hello %(name)s,", name=new_assignee.name)
            lead = i18n.gettext(
                loc,
                "%(actor)s assigned request %(reference)s to you.",
                actor=actor.name,
                reference=r.reference,
            )
            customer = i18n.gettext(loc, "Customer:  %(value)s", value=row.customer.name)
            team = i18n.gettext(loc, "Team:      %(value)s", value=row.team.name)
            open_it = i18n.gettext(loc, "Open it in the console:")
            body = (
                f"{hello}\n\n{lead}\n\n{_facts(row, loc)}\n{customer}\n{team}\n\n"
                f"{open_it}\n{console_link(outbox, r.reference)}\n\n{SIGNATURE}\n"
            )
            _mail(
                outbox,
                uow,
                row,
                new_assignee,
                "request.assigned",
                _subject(row, i18n.gettext(loc, "Assigned to you")),
                body,
            )
    await _webhook(uow, row, "request.updated", actor, changes=changes)


async def commented(uow: UnitOfWork, row: RequestRow, actor: User, entry: RequestEntry) -> None:
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
        loc = mail_locale(outbox, row.customer)
        lead = i18n.gettext(
            loc,
            "%(actor)s replied to your request %(reference)s:",
            actor=actor.name,
            reference=r.reference,
        )
        _customer_mail(
            outbox,
            uow,
            row,
            "request.commented",
            i18n.gettext(loc, "New reply to your request"),
            f"{lead}\n\n{text}",
            loc,
        )
    comment = {
        "id": entry.id,
        "text": text,
        "internal": entry.internal,
        "actor": _actor(actor),
        "at": iso(entry.at),
    }
    # Internal notes never leave for an admin-managed endpoint (CONTRACT-2); the environment's
    # desk keeps getting them flagged, as part 1 promised.
    await _webhook(
        uow, row, "request.commented", actor, endpoints=not entry.internal, comment=comment
    )
