"""Queues and their members."""

from __future__ import annotations

from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.accounts.models import User
from helpline.queues.models import Queue, QueueMember


async def get(session: AsyncSession, queue_id: str) -> Queue | None:
    return await session.get(Queue, queue_id)


async def get_by_name(session: AsyncSession, name: str) -> Queue | None:
    return (await session.execute(select(Queue).where(Queue.name == name))).scalar_one_or_none()


async def list_queues(session: AsyncSession, *, include_inactive: bool) -> list[Queue]:
    stmt = select(Queue).order_by(Queue.name)
    if not include_inactive:
        stmt = stmt.where(Queue.active.is_(True))
    return list((await session.execute(stmt)).scalars())


async def first_active(session: AsyncSession) -> Queue | None:
    stmt = select(Queue).where(Queue.active.is_(True)).order_by(Queue.created_at, Queue.name)
    return (await session.execute(stmt.limit(1))).scalar_one_or_none()


# Built once (a connecting agent's read): see accounts.repository.
_MEMBER_QUEUES = select(QueueMember.queue_id).where(QueueMember.user_id == bindparam("user_id"))


async def member_queue_ids(session: AsyncSession, user_id: str) -> list[str]:
    return list((await session.execute(_MEMBER_QUEUES, {"user_id": user_id})).scalars())


async def is_member(session: AsyncSession, queue_id: str, user_id: str) -> bool:
    stmt = select(QueueMember.user_id).where(
        QueueMember.queue_id == queue_id, QueueMember.user_id == user_id
    )
    return (await session.execute(stmt)).first() is not None


async def members(session: AsyncSession, queue_id: str) -> list[User]:
    stmt = (
        select(User)
        .join(QueueMember, QueueMember.user_id == User.id)
        .where(QueueMember.queue_id == queue_id)
        .order_by(User.name)
    )
    return list((await session.execute(stmt)).scalars())


async def set_members(session: AsyncSession, queue_id: str, user_ids: list[str]) -> None:
    await session.execute(delete(QueueMember).where(QueueMember.queue_id == queue_id))
    session.add_all(QueueMember(queue_id=queue_id, user_id=uid) for uid in dict.fromkeys(user_ids))
    await session.flush()
