"""Queues, membership and what the portal shows about them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from helpline.accounts import service as accounts
from helpline.accounts.models import User
from helpline.audit import service as audit
from helpline.bus.messages import AccessChanged
from helpline.db import UnitOfWork
from helpline.errors import Conflict, Invalid, NotFound
from helpline.kit.enums import Role
from helpline.kit.models import add_unique
from helpline.queues import fields as fields_mod
from helpline.queues import repository as repo
from helpline.queues.models import Queue
from helpline.queues.schemas import QueueCreate, QueueUpdate


async def list_queues(uow: UnitOfWork, user: User | None, *, include_inactive: bool) -> list[Queue]:
    include = include_inactive and user is not None and user.role_enum.is_staff
    return await repo.list_queues(uow.session, include_inactive=include)


async def get_active(uow: UnitOfWork, queue_id: str) -> Queue:
    """A queue referenced from a request body: unknown or inactive is a 422."""
    queue = await repo.get(uow.session, queue_id)
    if queue is None or not queue.active:
        raise Invalid("Unknown queue.", code="unknown_queue")
    return queue


async def get(uow: UnitOfWork, queue_id: str) -> Queue:
    queue = await repo.get(uow.session, queue_id)
    if queue is None:
        raise NotFound("No such queue.")
    return queue


async def default_queue(uow: UnitOfWork, configured: str | None) -> Queue:
    if configured:
        queue = await repo.get(uow.session, configured) or await repo.get_by_name(
            uow.session, configured
        )
        if queue is not None and queue.active:
            return queue
    queue = await repo.first_active(uow.session)
    if queue is None:
        raise Invalid("No active queue exists.", code="unknown_queue")
    return queue


def _name_taken() -> Conflict:
    return Conflict("A queue with this name exists.", code="name_taken")


async def create(uow: UnitOfWork, actor: User, data: QueueCreate) -> Queue:
    accounts.require_role(actor, Role.admin)
    if await repo.get_by_name(uow.session, data.name):
        raise _name_taken()
    queue = Queue(
        **data.model_dump(exclude={"fields", "away_text", "sla", "request_sla"}),
        fields=fields_mod.stored(data.fields),
        away_text=data.away_text or None,
        sla=_targets(data.sla),
        request_sla=_targets(data.request_sla),
    )
    await add_unique(uow.session, queue, _name_taken())
    await audit.record(
        uow,
        actor=actor,
        action="queue.created",
        target_type="queue",
        target_id=queue.id,
        details=_audited(queue),
    )
    return queue


def _targets(value: BaseModel | None) -> dict[str, Any] | None:
    """Service-level targets as stored: unset priorities left out, none at all is None."""
    if value is None:
        return None
    return value.model_dump(exclude_none=True) or None


def _audited(queue: Queue) -> dict[str, object]:
    # Every field PATCH may change, so a field added there is audited without another edit.
    return {f: getattr(queue, f) for f in QueueUpdate.model_fields}


async def update(uow: UnitOfWork, actor: User, queue_id: str, data: QueueUpdate) -> Queue:
    accounts.require_role(actor, Role.admin)
    queue = await get(uow, queue_id)
    before = _audited(queue)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("name") and changes["name"] != queue.name:
        if await repo.get_by_name(uow.session, changes["name"]):
            raise _name_taken()
    for field in ("name", "routing_mode", "max_wait_s", "offer_timeout_s", "active"):
        if changes.get(field) is not None:
            setattr(queue, field, changes[field])
    if "description" in changes and changes["description"] is not None:
        queue.description = changes["description"]
    if "hours" in changes:
        queue.hours = changes["hours"]
    if data.fields is not None:
        queue.fields = fields_mod.stored(data.fields)
    if "retention_days" in changes:
        queue.retention_days = changes["retention_days"]
    if "auto_reply" in changes:
        queue.auto_reply = changes["auto_reply"]
    if "away_text" in changes:
        queue.away_text = changes["away_text"] or None  # "" clears it too
    if "sla" in changes:
        queue.sla = _targets(data.sla)
    if "request_sla" in changes:
        queue.request_sla = _targets(data.request_sla)
    await uow.session.flush()
    changed = audit.changes(before, _audited(queue))
    if changed["fields"]:
        await audit.record(
            uow,
            actor=actor,
            action="queue.updated",
            target_type="queue",
            target_id=queue.id,
            details=changed,
        )
    return queue


async def set_members(
    uow: UnitOfWork, actor: User, queue_id: str, user_ids: list[str]
) -> list[User]:
    accounts.require_role(actor, Role.admin)
    await get(uow, queue_id)
    users = await accounts.get_users(uow, list(set(user_ids)))
    found = {u.id: u for u in users}
    missing = [uid for uid in user_ids if uid not in found]
    if missing:
        raise Invalid(f"Unknown users: {', '.join(missing[:5])}", code="unknown_user")
    if any(not found[uid].role_enum.is_staff for uid in user_ids):
        raise Invalid("Only agents, supervisors and admins can be queue members.")
    before = {u.id for u in await repo.members(uow.session, queue_id)}
    await repo.set_members(uow.session, queue_id, user_ids)
    # Open connections follow membership at once, on every process: the removed stop hearing
    # the queue and its chats, the added start (and get its offers).
    for uid in sorted(before - set(user_ids)):
        uow.announce(f"user:{uid}", AccessChanged("queue_removed", queues_removed=(queue_id,)))
    for uid in sorted(set(user_ids) - before):
        uow.announce(f"user:{uid}", AccessChanged("queue_added"))
    added, removed = sorted(set(user_ids) - before), sorted(before - set(user_ids))
    if added or removed:
        await audit.record(
            uow,
            actor=actor,
            action="queue.members_changed",
            target_type="queue",
            target_id=queue_id,
            details={"added": added, "removed": removed},
        )
    return await repo.members(uow.session, queue_id)


async def members(uow: UnitOfWork, actor: User, queue_id: str) -> list[User]:
    accounts.require_role(actor, Role.admin, Role.supervisor)
    await get(uow, queue_id)
    return await repo.members(uow.session, queue_id)


async def member_queue_ids(uow: UnitOfWork, user_id: str) -> list[str]:
    return await repo.member_queue_ids(uow.session, user_id)


async def fallback_queue(uow: UnitOfWork, queue_id: str) -> Queue | None:
    """A queue referenced by a row that already exists (active or not)."""
    return await repo.get(uow.session, queue_id)
