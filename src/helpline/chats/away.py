"""Replies while away: the customer who left before the answer gets it by e-mail.

When an agent's message (or file) stays unread by a customer who has had no open connection
for `HELPLINE_AWAY_MAIL_S`, the sweeper mails the customer the unread messages and a link back
into the chat: at most one mail per chat per 15 minutes, each message told once. The link's
token is single use and valid 24 hours; only its SHA-256 is stored. Using it signs that
customer in on whatever device opened it.

"No open connection": `users.last_seen_at` is stamped for every connected user by each
process's sweeper (and when a customer's last connection closes), so a customer unseen since
the cutoff and not connected to this process is away. Several processes may sweep at once: a
conditional UPDATE of the chat's `away_mailed_seq` lets one of them mail.

Errors: a link unknown, used or expired, or whose customer can no longer sign in this way
(deactivated, or two-factor sign-in on) → `AwayLinkRefused` (410); nothing is signed in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from helpline.accounts import service as accounts
from helpline.boundary import Boundary
from helpline.chats import repository as repo
from helpline.chats.models import AwayLink, ChatEvent
from helpline.context import AppContext
from helpline.db import UnitOfWork
from helpline.errors import HelplineError
from helpline.kit import i18n
from helpline.kit.clock import now
from helpline.kit.ids import new_token
from helpline.notify import outbox as outbox_mod
from helpline.notify.models import DeliveryKind

VALID_FOR = timedelta(hours=24)
EVERY = timedelta(minutes=15)
# Closed chats are considered this long after they started (an answer often ends the chat).
LOOK_BACK = timedelta(days=1)
MAX_LISTED = 20  # messages quoted in one mail; the link shows the rest


class AwayLinkRefused(HelplineError):
    status = 410
    code = "away_link_invalid"


@dataclass
class SignedIn:
    session_token: str
    chat_id: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def sweep(ctx: AppContext) -> int:
    """Mail what is due; the number of mails queued."""
    away_s = ctx.settings.away_mail_s
    if away_s <= 0:
        return 0
    at = now()
    unseen_before = at - timedelta(seconds=away_s)
    mailed_before = at - EVERY
    async with ctx.boundary.read() as uow:
        box = outbox_mod.for_uow(uow)
        if box is None or not box.accepts(DeliveryKind.email):
            return 0
        found = await repo.away_candidates(
            uow.session,
            unseen_before=unseen_before,
            mailed_before=mailed_before,
            since=at - LOOK_BACK,
        )
    sent = 0
    for chat_id, customer_id, mailed_seq in found:
        if ctx.hub.is_connected(customer_id):
            continue  # here, with the stamp on its way
        async with ctx.boundary.write() as uow:
            if await _mail(uow, ctx, chat_id, customer_id, mailed_seq, mailed_before):
                sent += 1
    return sent


def _line(ev: ChatEvent, locale: str) -> str:
    who = ev.actor_name or i18n.gettext(locale, "Support")
    when = ev.at.strftime("%H:%M UTC")
    if ev.type == "file.shared":
        name = (ev.data.get("attachment") or {}).get("filename") or "?"
        said = i18n.gettext(locale, "%(name)s sent a file: %(file)s", name=who, file=name)
        return f"[{when}] {said}"
    return f"[{when}] {who}: {ev.data.get('text', '')}"


async def _mail(
    uow: UnitOfWork,
    ctx: AppContext,
    chat_id: str,
    customer_id: str,
    mailed_seq: int,
    mailed_before: datetime,
) -> bool:
    at = now()
    if not await repo.claim_away_mail(uow.session, chat_id, mailed_seq, mailed_before, at):
        return False  # another process mailed, or the chat changed meanwhile
    events = await repo.unread_agent_events(uow.session, chat_id, customer_id, mailed_seq)
    row = await repo.get_row(uow.session, chat_id)
    box = outbox_mod.for_uow(uow)
    if not events or row is None or box is None:
        return False
    customer = row.customer
    token = new_token()
    await repo.add_away_link(
        uow.session,
        AwayLink(
            chat_id=chat_id,
            user_id=customer.id,
            token_hash=_hash(token),
            created_at=at,
            expires_at=at + VALID_FOR,
        ),
    )
    ref = row.chat.reference
    lang = customer.locale or ctx.settings.default_locale or "en"
    agent = events[-1].actor_name or i18n.gettext(lang, "Support")
    lines = "\n".join(_line(ev, lang) for ev in events[-MAX_LISTED:])
    more = len(events) - MAX_LISTED
    if more > 0:
        lines = i18n.gettext(lang, "(and %(num)d earlier)", num=more) + "\n" + lines
    link = f"{ctx.settings.resolved_public_url}/away?token={token}"
    body = "".join(
        (
            i18n.gettext(lang, "Hello %(name)s,", name=customer.name),
            "\n\n",
            i18n.gettext(lang, "You have a reply in your chat %(reference)s:", reference=ref),
            f"\n\n{lines}\n\n",
            i18n.gettext(
                lang,
                "To go back to the chat, open this link within 24 hours. It signs you in on "
                "the device you open it on, and works once:",
            ),
            f"\n\n{link}\n\n--\nHelpline\n",
        )
    )
    box.enqueue(
        uow,
        kind=DeliveryKind.email,
        event_type="chat.away_reply",
        reference=ref,
        payload={
            "to": customer.email,
            "to_name": customer.name,
            "subject": f"[{ref}] " + i18n.gettext(lang, "New reply from %(name)s", name=agent),
            "body": body,
        },
    )
    return True


async def link_usable(uow: UnitOfWork, token: str) -> bool:
    """Whether the link would sign in now (the page asks before spending it)."""
    link = await repo.get_away_link(uow.session, _hash(token))
    return link is not None and link.used_at is None and link.expires_at > now()


def _refused() -> AwayLinkRefused:
    return AwayLinkRefused(
        "This link has expired or was already used. Sign in to see your chat.",
    )


async def sign_in_by_link(
    boundary: Boundary, token: str, *, ip: str | None, user_agent: str | None
) -> SignedIn:
    """Spend the link and open a session for its customer."""
    async with boundary.write() as uow:
        link = await repo.get_away_link(uow.session, _hash(token))
        if link is None or not await repo.use_away_link(uow.session, link.id, now()):
            raise _refused()
        user = await accounts.get_user(uow, link.user_id)
        if user is None or not user.active or user.totp_enabled_at is not None:
            raise _refused()
        session_token = await accounts.sign_in(
            uow, user, ip=ip, user_agent=user_agent, method="away_link"
        )
        return SignedIn(session_token, link.chat_id)
