"""Service Manager requests: creation (from a chat or by a customer), changes, comments.

Order of checks: visibility (404), role (403), state (409). Every change writes its timeline
entries, announces itself, and queues its e-mails and webhook events (`notifications`) in the
same transaction, so a rollback leaves no trace and sends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from helpline.accounts import service as accounts
from helpline.accounts.models import User
from helpline.db import UnitOfWork
from helpline.errors import Conflict, Forbidden, Invalid, NotFound
from helpline.kit.actors import actor_columns
from helpline.kit.clock import now
from helpline.kit.enums import Priority, RequestStatus, Role
from helpline.kit.ids import reference
from helpline.kit.models import next_number
from helpline.queues import service as queues
from helpline.queues.models import Queue
from helpline.servicedesk import notifications
from helpline.servicedesk import repository as repo
from helpline.servicedesk import sla as sla_mod
from helpline.servicedesk.models import RequestEntry, ServiceRequest
from helpline.servicedesk.repository import RequestRow
from helpline.servicedesk.schemas import RequestCreate, RequestUpdate

RS = RequestStatus
TRANSITIONS: dict[RequestStatus, frozenset[RequestStatus]] = {
    RS.new: frozenset({RS.open, RS.in_progress, RS.cancelled}),
    RS.open: frozenset({RS.in_progress, RS.on_hold, RS.resolved, RS.cancelled}),
    RS.in_progress: frozenset({RS.on_hold, RS.resolved, RS.cancelled}),
    RS.on_hold: frozenset({RS.open, RS.in_progress, RS.resolved, RS.cancelled}),
    RS.resolved: frozenset({RS.closed, RS.open}),
    RS.closed: frozenset(),
    RS.cancelled: frozenset(),
}
# What a customer may do with their own request: (from, to).
CUSTOMER_MOVES = frozenset(
    {(RS.new, RS.cancelled), (RS.open, RS.cancelled), (RS.resolved, RS.open)}
)

__all__ = ["TRANSITIONS", "RequestRow"]


@dataclass(frozen=True)
class ChatLink:
    """What a request keeps of the chat it was raised from (see `helpline.flows`)."""

    id: str
    reference: str
    customer_id: str
    queue_id: str


async def _entry(
    uow: UnitOfWork,
    req: ServiceRequest,
    type_: str,
    actor: User | None,
    data: dict[str, Any],
    *,
    internal: bool = False,
) -> None:
    await repo.add_entry(
        uow.session,
        RequestEntry(
            request_id=req.id,
            type=type_,
            at=now(),
            data=data,
            internal=internal,
            **actor_columns(actor),
        ),
    )


async def _team(
    uow: UnitOfWork, team_id: str | None, fallback: str | None, default: str | None
) -> Queue:
    if team_id is not None:
        return await queues.get_active(uow, team_id)
    if fallback is not None:
        queue = await queues.fallback_queue(uow, fallback)
        if queue is not None:
            return queue
    return await queues.default_queue(uow, default)


async def _create(
    uow: UnitOfWork,
    actor: User,
    *,
    customer_id: str,
    summary: str,
    description: str,
    priority: Priority,
    team: Queue,
    chat: ChatLink | None,
) -> ServiceRequest:
    number = await next_number(uow.session, "request")
    at = now()
    req = ServiceRequest(
        number=number,
        reference=reference("SR", number),
        customer_id=customer_id,
        team_id=team.id,
        chat_id=chat.id if chat else None,
        summary=summary,
        description=description,
        priority=priority,
        status=RS.new,
        created_at=at,
        updated_at=at,
    )
    sla_mod.start(req, team)
    uow.session.add(req)
    await uow.session.flush()
    await _entry(uow, req, "created", actor, {"summary": summary, "priority": str(priority)})
    if chat is not None:
        await _entry(
            uow, req, "chat_linked", actor, {"chat_id": chat.id, "reference": chat.reference}
        )
    await notifications.created(uow, await _get_row(uow, req.id), actor)
    return req


async def create_from_chat(
    uow: UnitOfWork,
    actor: User,
    chat: ChatLink,
    *,
    summary: str,
    description: str,
    priority: Priority,
    team_id: str | None,
    default_team: str | None,
) -> ServiceRequest:
    team = await _team(uow, team_id, chat.queue_id, default_team)
    return await _create(
        uow,
        actor,
        customer_id=chat.customer_id,
        summary=summary,
        description=description,
        priority=priority,
        team=team,
        chat=chat,
    )


async def create(
    uow: UnitOfWork, actor: User, data: RequestCreate, *, default_team: str | None
) -> RequestRow:
    if actor.role_enum is not Role.customer:
        # Agents raise requests from a chat; a request without a customer has no owner.
        raise Forbidden("Agents raise requests from a chat.")
    team = await _team(uow, data.team_id, None, default_team)
    req = await _create(
        uow,
        actor,
        customer_id=actor.id,
        summary=data.summary,
        description=data.description or "",
        priority=data.priority,
        team=team,
        chat=None,
    )
    return await _get_row(uow, req.id)


async def _get_row(uow: UnitOfWork, request_id: str) -> RequestRow:
    row = await repo.get_row(uow.session, request_id)
    assert row is not None
    return row


async def get(uow: UnitOfWork, user: User, reference_: str) -> RequestRow:
    """The one object-level permission check: invisible and absent both answer 404."""
    row = await repo.get_visible(uow.session, user, reference_)
    if row is None:
        raise NotFound("No such request.")
    return row


async def list_requests(uow: UnitOfWork, user: User, **filters: Any) -> list[RequestRow]:
    return await repo.list_visible(uow.session, user, **filters)


async def customer_requests(
    uow: UnitOfWork, user: User, customer_id: str, *, limit: int
) -> list[RequestRow]:
    """A customer's requests that `user` may see, newest first (the customer profile)."""
    return await repo.list_visible(
        uow.session, user, customer_id=customer_id, offset=0, limit=limit
    )


async def update(uow: UnitOfWork, user: User, reference_: str, data: RequestUpdate) -> RequestRow:
    row = await get(uow, user, reference_)
    req = row.request
    changes = data.model_dump(exclude_unset=True)
    is_customer = user.role_enum is Role.customer
    if is_customer and set(changes) - {"status"}:
        raise Forbidden("Customers may only cancel or reopen their requests.")
    at = now()
    diff: dict[str, dict[str, Any]] = {}  # field -> {"from", "to"}, for the webhook
    new_assignee: User | None = None
    if "status" in changes and changes["status"] is not None:
        to = RS(changes["status"])
        current = RS(req.status)
        if to != current:
            if is_customer and (current, to) not in CUSTOMER_MOVES:
                raise Forbidden(
                    "Customers may only cancel a new or open request, or reopen a resolved one."
                )
            if to not in TRANSITIONS[current]:
                raise Conflict(
                    f"A {current} request cannot become {to}.", code="invalid_transition"
                )
            req.status = to
            req.resolved_at = (
                at if to is RS.resolved else (None if to is RS.open else req.resolved_at)
            )
            await _entry(uow, req, "status_changed", user, {"from": str(current), "to": str(to)})
            diff["status"] = {"from": str(current), "to": str(to)}
    if changes.get("priority") is not None and changes["priority"] != req.priority:
        before = str(req.priority)
        await _entry(
            uow, req, "priority_changed", user, {"from": before, "to": str(changes["priority"])}
        )
        req.priority = changes["priority"]
        diff["priority"] = {"from": before, "to": str(changes["priority"])}
    if changes.get("team_id") is not None and changes["team_id"] != req.team_id:
        team = await queues.get_active(uow, changes["team_id"])
        await _entry(
            uow, req, "team_changed", user, {"from": req.team_id, "to": team.id, "name": team.name}
        )
        diff["team_id"] = {"from": req.team_id, "to": team.id}
        req.team_id = team.id
    if "assignee_id" in changes and changes["assignee_id"] != req.assignee_id:
        assignee_id = changes["assignee_id"]
        if assignee_id is not None:
            new_assignee = await accounts.get_user(uow, assignee_id)
            if (
                new_assignee is None
                or not new_assignee.role_enum.is_staff
                or not new_assignee.active
            ):
                raise Invalid("Unknown assignee.", code="unknown_user")
            data_: dict[str, Any] = {"assignee": {"id": new_assignee.id, "name": new_assignee.name}}
        else:
            data_ = {"assignee": None}
        await _entry(uow, req, "assigned", user, data_)
        diff["assignee_id"] = {"from": req.assignee_id, "to": assignee_id}
        req.assignee_id = assignee_id
    if "priority" in diff or "team_id" in diff:
        team_now = await queues.fallback_queue(uow, req.team_id)
        if team_now is not None:
            sla_mod.start(req, team_now)
    if "status" in diff:
        if req.status == RS.resolved:
            sla_mod.responded(req, at)  # resolving answers too
        req.sla_next_at = sla_mod.next_at(req)
    for field in ("summary", "description"):
        if changes.get(field) is not None and changes[field] != getattr(req, field):
            diff[field] = {"from": getattr(req, field), "to": changes[field]}
            setattr(req, field, changes[field])
    if diff:
        req.updated_at = at
    await uow.session.flush()
    # Re-read, joined anew: the team and assignee shown must be the new ones.
    out = await _get_row(uow, req.id)
    await notifications.updated(uow, out, user, diff, new_assignee=new_assignee)
    return out


async def comment(
    uow: UnitOfWork, user: User, reference_: str, text: str, internal: bool
) -> RequestEntry:
    row = await get(uow, user, reference_)
    if internal and not user.role_enum.is_staff:
        raise Forbidden("Internal comments are for agents.")
    req = row.request
    entry = RequestEntry(
        request_id=req.id,
        type="comment",
        at=now(),
        data={"text": text},
        internal=internal,
        **actor_columns(user),
    )
    await repo.add_entry(uow.session, entry)
    req.updated_at = entry.at
    if not internal and user.role_enum.is_staff:
        sla_mod.responded(req, entry.at)  # the first public answer meets the response target
    await notifications.commented(uow, row, user, entry)
    return entry


async def timeline(uow: UnitOfWork, user: User, reference_: str) -> list[RequestEntry]:
    row = await get(uow, user, reference_)
    return await repo.timeline(uow.session, row.request.id, internal=user.role_enum.is_staff)
