from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from helpline.accounts.models import User
from helpline.chats.models import Chat
from helpline.kit.enums import Role
from helpline.queues.models import Queue, QueueMember
from helpline.servicedesk.models import RequestEntry, ServiceRequest

Customer = aliased(User, name="req_customer")
Assignee = aliased(User, name="req_assignee")


def visible_clause(user: User) -> ColumnElement[bool]:
    """Customers see their own requests; agents their teams'; supervisors and admins all."""
    role = user.role_enum
    if role.sees_all:
        return true()
    if role is Role.customer:
        return ServiceRequest.customer_id == user.id
    if role is Role.agent:
        teams = select(QueueMember.queue_id).where(QueueMember.user_id == user.id)
        return or_(ServiceRequest.team_id.in_(teams), ServiceRequest.assignee_id == user.id)
    return false()


def _rows() -> Select[ServiceRequest, User, User, Queue, str]:
    return (
        select(ServiceRequest, Customer, Assignee, Queue, Chat.reference)
        .join(Customer, Customer.id == ServiceRequest.customer_id)
        .outerjoin(Assignee, Assignee.id == ServiceRequest.assignee_id)
        .join(Queue, Queue.id == ServiceRequest.team_id)
        .outerjoin(Chat, Chat.id == ServiceRequest.chat_id)
    )


async def get_visible(session: AsyncSession, user: User, reference: str) -> Any | None:
    stmt = _rows().where(
        func.upper(ServiceRequest.reference) == reference.upper(), visible_clause(user)
    )
    return (await session.execute(stmt)).first()


async def get_row(session: AsyncSession, request_id: str) -> Any | None:
    return (await session.execute(_rows().where(ServiceRequest.id == request_id))).first()


async def list_visible(
    session: AsyncSession,
    user: User,
    *,
    status: str | None,
    team_id: str | None,
    assignee_id: str | None,
    priority: str | None,
    q: str | None,
    offset: int,
    limit: int,
) -> list[Any]:
    stmt = _rows().where(visible_clause(user))
    if status:
        stmt = stmt.where(ServiceRequest.status == status)
    if team_id:
        stmt = stmt.where(ServiceRequest.team_id == team_id)
    if assignee_id:
        stmt = stmt.where(ServiceRequest.assignee_id == assignee_id)
    if priority:
        stmt = stmt.where(ServiceRequest.priority == priority)
    if q:
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(ServiceRequest.reference).like(like),
                func.lower(ServiceRequest.summary).like(like),
                func.lower(Customer.name).like(like),
            )
        )
    stmt = stmt.order_by(ServiceRequest.created_at.desc(), ServiceRequest.number.desc())
    return list((await session.execute(stmt.offset(offset).limit(limit))).all())


async def add_entry(session: AsyncSession, entry: RequestEntry) -> None:
    session.add(entry)
    await session.flush()


async def timeline(session: AsyncSession, request_id: str, *, internal: bool) -> list[RequestEntry]:
    stmt = select(RequestEntry).where(RequestEntry.request_id == request_id)
    if not internal:
        stmt = stmt.where(RequestEntry.internal.is_(False))
    return list((await session.execute(stmt.order_by(RequestEntry.id))).scalars())
