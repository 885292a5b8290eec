from __future__ import annotations

from sqlalchemy import and_, case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.accounts.models import User
from helpline.chats.models import Chat
from helpline.kit.enums import Availability, ChatStatus, Role
from helpline.queues.models import Queue, QueueMember

STAFF = (Role.agent, Role.supervisor, Role.admin)


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


async def member_queue_ids(session: AsyncSession, user_id: str) -> list[str]:
    stmt = select(QueueMember.queue_id).where(QueueMember.user_id == user_id)
    return list((await session.execute(stmt)).scalars())


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


def _load() -> object:
    return (
        select(func.count(Chat.id))
        .where(Chat.agent_id == User.id, Chat.status == ChatStatus.in_progress)
        .correlate(User)
        .scalar_subquery()
    )


async def available_counts(session: AsyncSession) -> dict[str, int]:
    """Per queue: members who are available, active and below their chat limit."""
    load = _load()
    stmt = (
        select(QueueMember.queue_id, func.count(User.id))
        .join(User, User.id == QueueMember.user_id)
        .where(
            and_(
                User.active.is_(True),
                User.status == Availability.available,
                User.role.in_(STAFF),
                load < User.max_chats,  # type: ignore[operator]
            )
        )
        .group_by(QueueMember.queue_id)
    )
    return {qid: int(n) for qid, n in (await session.execute(stmt)).all()}


async def agent_load(session: AsyncSession, user_id: str) -> int:
    stmt = select(func.count(Chat.id)).where(
        Chat.agent_id == user_id, Chat.status == ChatStatus.in_progress
    )
    return int((await session.execute(stmt)).scalar_one())


async def candidates(
    session: AsyncSession, queue_id: str, *, user_ids: list[str] | None = None
) -> list[tuple[User, int]]:
    """Members who may be offered a chat now, with their load: available, active, below limit."""
    load = _load().label("load")  # type: ignore[attr-defined]
    stmt = (
        select(User, load)
        .join(QueueMember, QueueMember.user_id == User.id)
        .where(
            QueueMember.queue_id == queue_id,
            User.active.is_(True),
            User.status == Availability.available,
            User.role.in_(STAFF),
        )
    )
    if user_ids is not None:
        stmt = stmt.where(User.id.in_(user_ids))
    rows = (await session.execute(stmt)).all()
    return [(u, int(n)) for u, n in rows if int(n) < u.max_chats]


async def queue_stats(session: AsyncSession) -> dict[str, dict[str, object]]:
    """Per queue: waiting and in-progress counts and the oldest waiting_since."""
    stmt = (
        select(
            Chat.queue_id,
            func.sum(case((Chat.status == ChatStatus.waiting, 1), else_=0)),
            func.sum(case((Chat.status == ChatStatus.in_progress, 1), else_=0)),
            func.min(case((Chat.status == ChatStatus.waiting, Chat.waiting_since), else_=None)),
        )
        .where(Chat.status.in_([ChatStatus.waiting, ChatStatus.in_progress]))
        .group_by(Chat.queue_id)
    )
    out: dict[str, dict[str, object]] = {}
    for qid, waiting, in_progress, oldest in (await session.execute(stmt)).all():
        out[qid] = {
            "waiting": int(waiting or 0),
            "in_progress": int(in_progress or 0),
            "oldest": oldest,
        }
    return out


async def agents_with_load(session: AsyncSession) -> list[tuple[User, int]]:
    load = _load().label("load")  # type: ignore[attr-defined]
    stmt = (
        select(User, load)
        .where(User.active.is_(True), User.role.in_((Role.agent, Role.supervisor)))
        .order_by(User.name)
    )
    return [(u, int(n)) for u, n in (await session.execute(stmt)).all()]
