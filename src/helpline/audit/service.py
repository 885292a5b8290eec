"""Writing and reading the audit log.

`record` is called by the service that makes a change, on the same unit of work: the entry
commits with the change or not at all (a refused or failed change leaves no entry).
"""

from __future__ import annotations

from typing import Any, Protocol

from helpline.audit import repository as repo
from helpline.audit.models import AuditEntry
from helpline.audit.repository import Filters
from helpline.db import UnitOfWork
from helpline.errors import Forbidden
from helpline.kit.clock import now
from helpline.kit.enums import Role

__all__ = ["ACTIONS", "Filters", "entries", "record"]

# The actions the contract names; `record` refuses others so a typo cannot make an entry no
# filter will ever find. Add new ones here (and to docs/protocol.md).
ACTIONS = frozenset(
    {
        "login.succeeded",
        "login.failed",
        "user.created",
        "user.updated",
        "user.deactivated",
        "queue.created",
        "queue.updated",
        "queue.members_changed",
        "token.created",
        "token.revoked",
        "customer.exported",
        "customer.erased",
        "webhook_endpoint.created",
        "webhook_endpoint.updated",
        "webhook_endpoint.deleted",
        "webhook_endpoint.tested",
        "webhook_delivery.retried",
        "retention.run",
        "widget.sites_changed",
    }
)


class Actor(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def role(self) -> str: ...


async def record(
    uow: UnitOfWork,
    *,
    actor: Actor | None,
    action: str,
    target_type: str,
    target_id: str | None,
    details: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEntry:
    """Append an entry in `uow`'s transaction. `actor` None is the system (a sweeper run);
    `ip` defaults to the address of the request the unit serves. `details` is JSON and must
    never hold a secret (a password, a token, a hash): name changed fields, not their values."""
    entry = new_entry(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=details,
        ip=ip if ip is not None else uow.ip,
    )
    await repo.add(uow.session, entry)
    return entry


def new_entry(
    *,
    actor: Actor | None,
    action: str,
    target_type: str,
    target_id: str | None,
    details: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEntry:
    """An entry not yet added anywhere, for a caller that writes it with other new rows
    (`helpline.boundary.Inserts`: a sign-in's session and its entry commit together)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    return AuditEntry(
        at=now(),
        actor_id=actor.id if actor is not None else None,
        action=action,
        target_type=target_type,
        target_id=target_id,
        ip=ip,
        details=details or {},
    )


def require_reader(user: Actor) -> None:
    if user.role != Role.admin:
        raise Forbidden("Only admins may read the audit log.")


async def entries(
    uow: UnitOfWork, user: Actor, filters: Filters, *, before_id: int | None, limit: int
) -> list[AuditEntry]:
    """Admins only; newest first."""
    require_reader(user)
    return await repo.page(uow.session, filters, before_id=before_id, limit=limit)


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """`{"fields": [...], "from": {...}, "to": {...}}` for the keys whose value differs."""
    fields = sorted(k for k in after if before.get(k) != after[k])
    return {
        "fields": fields,
        "from": {k: before.get(k) for k in fields},
        "to": {k: after[k] for k in fields},
    }
