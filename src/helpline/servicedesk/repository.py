"""Every query of the Service Manager. Visibility is decided here, once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from helpline.accounts.models import User
from helpline.chats.models import Chat
from helpline.kit.enums import Priority
from helpline.queues.models import Queue
from helpline.queues.scope import case_visible
from helpline.servicedesk.models import RequestEntry, ServiceRequest

Customer = aliased(User, name="req_customer")
Assignee = aliased(User, name="req_assignee")

# Filter value for "nobody is assigned" (ids are hex, so it cannot clash with one).
UNASSIGNED = "none"

_URGENCY = case(
    {Priority.critical: 3, Priority.high: 2, Priority.medium: 1, Priority.low: 0},
    value=ServiceRequest.priority,
    else_=1,
)
_ORDER: dict[str, tuple[ColumnElement[Any], ...]] = {
    "created_at": (ServiceRequest.created_at.asc(), ServiceRequest.number.asc()),
    "-created_at": (ServiceRequest.created_at.desc(), ServiceRequest.number.desc()),
    "updated_at": (ServiceRequest.updated_at.asc(), ServiceRequest.number.asc()),
    "-updated_at": (ServiceRequest.updated_at.desc(), ServiceRequest.number.desc()),
    "priority": (_URGENCY.desc(), ServiceRequest.number.desc()),
    "-priority": (_URGENCY.asc(), ServiceRequest.number.desc()),
}


@dataclass
class RequestRow:
    request: ServiceRequest
    customer: User
    assignee: User | None
    team: Queue
    chat_reference: str | None


def _row(r: Any) -> RequestRow:
    return RequestRow(r[0], r[1], r[2], r[3], r[4])


def visible_clause(user: User) -> ColumnElement[bool]:
    """Customers see their own requests; agents their teams' and those assigned to them;
    supervisors and admins all."""
    return case_visible(
        user,
        customer=ServiceRequest.customer_id,
        queue=ServiceRequest.team_id,
        handler=ServiceRequest.assignee_id,
    )


def _rows() -> Select[ServiceRequest, User, User, Queue, str]:
    return (
        select(ServiceRequest, Customer, Assignee, Queue, Chat.reference)
        .join(Customer, Customer.id == ServiceRequest.customer_id)
        .outerjoin(Assignee, Assignee.id == ServiceRequest.assignee_id)
        .join(Queue, Queue.id == ServiceRequest.team_id)
        .outerjoin(Chat, Chat.id == ServiceRequest.chat_id)
    )


async def get_visible(session: AsyncSession, user: User, reference: str) -> RequestRow | None:
    stmt = _rows().where(
        func.upper(ServiceRequest.reference) == reference.upper(), visible_clause(user)
    )
    r = (await session.execute(stmt)).first()
    return _row(r) if r is not None else None


async def get_row(session: AsyncSession, request_id: str) -> RequestRow | None:
    r = (await session.execute(_rows().where(ServiceRequest.id == request_id))).first()
    return _row(r) if r is not None else None


async def list_visible(
    session: AsyncSession,
    user: User,
    *,
    status: str | None = None,
    team_id: str | None = None,
    assignee_id: str | None = None,
    priority: str | None = None,
    q: str | None = None,
    sort: str = "-created_at",
    offset: int,
    limit: int,
    customer_id: str | None = None,
) -> list[RequestRow]:
    """Filters combine with AND; `q` matches reference, summary, description or customer."""
    stmt = _rows().where(visible_clause(user))
    if customer_id:
        stmt = stmt.where(ServiceRequest.customer_id == customer_id)
    if status:
        stmt = stmt.where(ServiceRequest.status == status)
    if team_id:
        stmt = stmt.where(ServiceRequest.team_id == team_id)
    if assignee_id == UNASSIGNED:
        stmt = stmt.where(ServiceRequest.assignee_id.is_(None))
    elif assignee_id:
        stmt = stmt.where(ServiceRequest.assignee_id == assignee_id)
    if priority:
        stmt = stmt.where(ServiceRequest.priority == priority)
    if q:
        # Escaped, so a "%" or "_" typed in the search box matches itself.
        term = q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{term}%"
        stmt = stmt.where(
            or_(
                func.lower(ServiceRequest.reference).like(like, escape="\\"),
                func.lower(ServiceRequest.summary).like(like, escape="\\"),
                func.lower(ServiceRequest.description).like(like, escape="\\"),
                func.lower(Customer.name).like(like, escape="\\"),
                func.lower(Customer.email).like(like, escape="\\"),
            )
        )
    stmt = stmt.order_by(*_ORDER[sort])
    return [_row(r) for r in (await session.execute(stmt.offset(offset).limit(limit))).all()]


async def add_entry(session: AsyncSession, entry: RequestEntry) -> None:
    session.add(entry)
    await session.flush()


async def timeline(session: AsyncSession, request_id: str, *, internal: bool) -> list[RequestEntry]:
    stmt = select(RequestEntry).where(RequestEntry.request_id == request_id)
    if not internal:
        stmt = stmt.where(RequestEntry.internal.is_(False))
    return list((await session.execute(stmt.order_by(RequestEntry.id))).scalars())


# --- service levels --------------------------------------------------------------------------


async def sla_due(session: AsyncSession, at: datetime) -> list[tuple[str, datetime]]:
    """Requests with a service-level due time reached by `at`, with the `sla_next_at` read."""
    stmt = select(ServiceRequest.id, ServiceRequest.sla_next_at).where(
        ServiceRequest.sla_next_at <= at
    )
    return [(i, d) for i, d in (await session.execute(stmt)).all() if d is not None]


async def claim_sla(session: AsyncSession, request_id: str, read: datetime, **values: Any) -> bool:
    """Only the process that moves `sla_next_at` on from the value it read records a breach."""
    claimed = await session.execute(
        update(ServiceRequest)
        .where(ServiceRequest.id == request_id, ServiceRequest.sla_next_at == read)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]
