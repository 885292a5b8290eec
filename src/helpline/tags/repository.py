"""Every query of the tags domain."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Select, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.tags.models import ChatTag, Tag


async def list_all(session: AsyncSession) -> list[Tag]:
    stmt = select(Tag).order_by(func.lower(Tag.name), Tag.id)
    return list((await session.execute(stmt)).scalars())


async def get(session: AsyncSession, tag_id: str) -> Tag | None:
    return await session.get(Tag, tag_id)


async def get_by_name(session: AsyncSession, name: str) -> Tag | None:
    """Names are unique regardless of case: "Billing" and "billing" are one tag to a reader."""
    stmt = select(Tag).where(func.lower(Tag.name) == name.lower())
    return (await session.execute(stmt.limit(1))).scalar_one_or_none()


async def get_many(session: AsyncSession, tag_ids: Sequence[str]) -> list[Tag]:
    if not tag_ids:
        return []
    return list((await session.execute(select(Tag).where(Tag.id.in_(tag_ids)))).scalars())


async def delete_tag(session: AsyncSession, tag: Tag) -> None:
    # SQLite enforces no foreign keys here, so the chats' links go explicitly.
    await session.execute(delete(ChatTag).where(ChatTag.tag_id == tag.id))
    await session.delete(tag)
    await session.flush()


async def tag_ids_of(session: AsyncSession, chat_id: str) -> list[str]:
    stmt = select(ChatTag.tag_id).where(ChatTag.chat_id == chat_id)
    return list((await session.execute(stmt)).scalars())


async def set_chat_tags(session: AsyncSession, chat_id: str, tag_ids: Sequence[str]) -> None:
    await session.execute(delete(ChatTag).where(ChatTag.chat_id == chat_id))
    session.add_all([ChatTag(chat_id=chat_id, tag_id=t) for t in tag_ids])
    await session.flush()


async def tags_of_chats(
    session: AsyncSession, chat_ids: Sequence[str] | Select[str]
) -> dict[str, list[Tag]]:
    """Each chat's tags, by name; one query for a page of chats. `chat_ids` may be a query
    of them: a thousand ids cost more to bind than a subquery to run."""
    out: dict[str, list[Tag]] = defaultdict(list)
    if isinstance(chat_ids, Select):
        among: Select[str] | list[str] = chat_ids
    elif chat_ids:
        among = list(chat_ids)
    else:
        return out
    stmt = (
        select(ChatTag.chat_id, Tag)
        .join(Tag, Tag.id == ChatTag.tag_id)
        .where(ChatTag.chat_id.in_(among))
        .order_by(func.lower(Tag.name), Tag.id)
    )
    for chat_id, tag in (await session.execute(stmt)).all():
        out[chat_id].append(tag)
    return out
