"""Data governance use cases: a customer's export and erasure, and the retention policy.

Checks in the house order: role (403 for a role that may never do it), visibility (404),
body (422), state (409).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from helpline.accounts.models import User
from helpline.accounts.service import require_role
from helpline.audit import service as audit
from helpline.bus.messages import CloseConnections
from helpline.db import UnitOfWork
from helpline.errors import Conflict, Forbidden, Invalid, NotFound
from helpline.governance import repository as repo
from helpline.governance.models import Export
from helpline.governance.retention import delete_bytes, last_run, settle_message_index
from helpline.kit.clock import now
from helpline.kit.enums import Role
from helpline.notify.outbox import recipient_key
from helpline.storage import Storage

EXPORT_TTL = timedelta(days=7)
ERASED = "[erased]"
ERASED_NAME = "Erased customer"
# Keys of chat event and timeline data that hold what a person wrote (at any depth: a shared
# file's `attachment.filename`, a raised request's `request.summary`).
FREE_TEXT = frozenset({"text", "summary", "description", "note", "comment", "subject", "filename"})


# --- export -----------------------------------------------------------------------------------


async def _customer_for(uow: UnitOfWork, actor: User, customer_id: str) -> User:
    require_role(actor, Role.admin)
    customer = await repo.customer(uow.session, customer_id)
    if customer is None:
        raise NotFound("No such customer.")
    return customer


async def request_export(uow: UnitOfWork, actor: User, customer_id: str | None) -> Export:
    """An admin asks for a customer's data (`customer_id`), or a customer for their own
    (`None`). Built in the background; only `actor` may read or download it."""
    if customer_id is None:
        if actor.role_enum is not Role.customer:
            raise Forbidden("Only customers export their own data; admins use the customer's.")
        customer = actor
    else:
        customer = await _customer_for(uow, actor, customer_id)
    at = now()
    export = Export(
        customer_id=customer.id,
        requested_by_id=actor.id,
        status="pending",
        created_at=at,
        expires_at=at + EXPORT_TTL,
    )
    uow.session.add(export)
    await uow.session.flush()
    await audit.record(
        uow,
        actor=actor,
        action="customer.exported",
        target_type="customer",
        target_id=customer.id,
        details={"export_id": export.id},
    )
    return export


async def get_export(uow: UnitOfWork, actor: User, export_id: str) -> Export:
    """Only the one who asked for it sees it: anyone else, and an expired one, is 404."""
    export = await repo.get_export(uow.session, export_id)
    if export is None or export.requested_by_id != actor.id or export.expires_at <= now():
        raise NotFound("No such export.")
    return export


async def ready_export(uow: UnitOfWork, actor: User, export_id: str) -> Export:
    export = await get_export(uow, actor, export_id)
    if export.status != "ready" or export.storage_key is None:
        raise Conflict(f"The export is {export.status}, not ready.", code="export_not_ready")
    return export


# --- erasure ----------------------------------------------------------------------------------


def scrub(data: Any) -> Any:
    """`data` with every free-text value (FREE_TEXT keys, at any depth) replaced by ERASED."""
    if isinstance(data, dict):
        return {
            k: ERASED if k in FREE_TEXT and isinstance(v, str) else scrub(v)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [scrub(v) for v in data]
    return data


def erase_context(context: dict[str, Any] | None) -> dict[str, Any]:
    """A chat's pre-chat answers and page context with every value replaced (keys stay: an
    agent still sees which fields were asked). The device's parts, read from the user agent,
    go with it: the chat then says none (`null`), as for a user agent nothing was known of."""
    context = context or {}
    out: dict[str, Any] = {
        k: ERASED for k, v in context.items() if k not in ("fields", "device") and v is not None
    }
    out["fields"] = dict.fromkeys(context.get("fields") or {}, ERASED)
    return out


@dataclass
class Erased:
    customer: User
    chats: int
    requests: int
    files: int


async def erase(
    uow: UnitOfWork, actor: User, customer_id: str, confirm: str, storage: Storage
) -> Erased:
    """Deactivate the customer and replace everything they (and anyone, in their chats and
    requests) wrote; delete their files with the bytes, their exports, their sign-ins and the
    outbox's mail to them or about their chats and requests. Report counts stay."""
    customer = await _customer_for(uow, actor, customer_id)
    if not customer.email:
        raise Conflict("This customer was erased already.", code="already_erased")
    if confirm.strip().lower() != customer.email.strip().lower():
        raise Invalid(
            "Type the customer's e-mail address to confirm.", code="confirmation_mismatch"
        )
    chats = await repo.customer_chats(uow.session, customer.id)
    if any(c.status in ("waiting", "in_progress") for c in chats):
        raise Conflict("The customer has an open chat: end it before erasing.", code="chat_open")
    requests = await repo.customer_requests(uow.session, customer.id)
    chat_ids = [c.id for c in chats]
    request_ids = [r.id for r in requests]
    session = uow.session

    for chat in chats:
        chat.subject = ERASED
        if chat.rating_comment is not None:
            chat.rating_comment = ERASED
        chat.context = erase_context(chat.context)
    for ev in await repo.chat_events(session, chat_ids):
        data = scrub(ev.data)
        if ev.type == "chat.cancelled" and isinstance(data.get("reason"), str):
            data["reason"] = ERASED  # free text; chat.expired's reason is a fixed word
        ev.data = data
        if ev.actor_id == customer.id:
            ev.actor_name = ERASED_NAME
    for req in requests:
        req.summary = ERASED
        req.description = ERASED
    for entry in await repo.request_entries(session, request_ids):
        entry.data = scrub(entry.data)
        if entry.actor_id == customer.id:
            entry.actor_name = ERASED_NAME

    files = await repo.attachments(session, chat_ids)
    keys = [key for f in files for key in (f.storage_key, f.thumb_key) if key]
    for f in files:
        await session.delete(f)
    exports = await repo.customer_exports(session, customer.id)
    keys += [e.storage_key for e in exports if e.storage_key]
    for e in exports:
        await session.delete(e)

    refs = [c.reference for c in chats] + [r.reference for r in requests]
    await repo.drop_outbox(session, refs, recipient_key(customer.email))
    await repo.delete_sign_ins(session, customer.id)
    customer.name = ERASED_NAME
    customer.email = ""
    customer.password_hash = None
    customer.active = False
    customer.updated_at = now()
    await session.flush()
    await repo.compact_text_indexes(session)
    settle_message_index(uow)
    uow.announce(f"user:{customer.id}", CloseConnections("erased"))
    # The customer's id only: the log outlives the person's data.
    await audit.record(
        uow, actor=actor, action="customer.erased", target_type="customer", target_id=customer.id
    )
    uow.on_commit(lambda: delete_bytes(storage, keys))
    return Erased(customer, len(chats), len(requests), len(files))


# --- retention policy -------------------------------------------------------------------------


async def policy(uow: UnitOfWork, actor: User, default_days: int | None) -> dict[str, Any]:
    """The retention policy and what the last run removed, for the admin page."""
    require_role(actor, Role.admin)
    run = await last_run(uow)
    return {
        "retention_days": default_days,
        "queues": [
            {"id": q, "name": n, "retention_days": d, "effective_days": d or default_days}
            for q, n, d in await repo.queue_retention(uow.session)
        ],
        "last_run": None
        if run is None
        else {
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "chats": run.chats,
            "events": run.events,
            "files": run.files,
            "requests": run.requests,
        },
    }
