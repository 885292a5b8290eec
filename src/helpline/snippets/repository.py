"""Every query of the snippets domain. Who sees which snippet is decided here, once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.accounts.models import User
from helpline.kit.enums import Role
from helpline.kit.models import like_escape
from helpline.queues.models import Queue
from helpline.queues.scope import member_queues
from helpline.snippets.models import Snippet


@dataclass
class SnippetRow:
    snippet: Snippet
    owner: User
    queue: Queue | None


def visible_clause(user: User) -> ColumnElement[bool]:
    """Personal snippets to their owner only (supervisors included); shared ones to the members
    of their queue, and to all supervisors and admins; nothing to customers."""
    personal = and_(Snippet.queue_id.is_(None), Snippet.owner_id == user.id)
    role = user.role_enum
    if role.sees_all:
        return or_(personal, Snippet.queue_id.is_not(None))
    if role is Role.agent:
        return or_(personal, Snippet.queue_id.in_(member_queues(user.id)))
    return false()


def _rows() -> Select[Snippet, User, Queue]:
    return (
        select(Snippet, User, Queue)
        .join(User, User.id == Snippet.owner_id)
        .outerjoin(Queue, Queue.id == Snippet.queue_id)
    )


def _row(r: Any) -> SnippetRow:
    return SnippetRow(snippet=r[0], owner=r[1], queue=r[2])


async def get_visible(session: AsyncSession, user: User, snippet_id: str) -> SnippetRow | None:
    r = (
        await session.execute(_rows().where(Snippet.id == snippet_id, visible_clause(user)))
    ).first()
    return _row(r) if r else None


async def get_row(session: AsyncSession, snippet_id: str) -> SnippetRow | None:
    r = (await session.execute(_rows().where(Snippet.id == snippet_id))).first()
    return _row(r) if r else None


async def list_visible(
    session: AsyncSession, user: User, *, q: str | None, offset: int, limit: int
) -> list[SnippetRow]:
    """Ordered for the `/` picker: title starts with the term, then title contains it, then
    content contains it; alphabetical within each."""
    stmt = _rows().where(visible_clause(user))
    title = func.lower(Snippet.title)
    order: list[Any] = []
    term = (q or "").strip().lower()
    if term:
        escaped = like_escape(term)
        anywhere = f"%{escaped}%"
        stmt = stmt.where(
            or_(
                title.like(anywhere, escape="\\"),
                func.lower(Snippet.content).like(anywhere, escape="\\"),
            )
        )
        order.append(
            case(
                (title.like(f"{escaped}%", escape="\\"), 0),
                (title.like(anywhere, escape="\\"), 1),
                else_=2,
            )
        )
    stmt = stmt.order_by(*order, title, Snippet.id).offset(offset).limit(limit)
    return [_row(r) for r in (await session.execute(stmt)).all()]
