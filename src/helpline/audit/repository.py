from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.audit.models import AuditEntry


@dataclass(frozen=True)
class Filters:
    actor_id: str | None = None
    action: str | None = None
    target_type: str | None = None
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive


async def add(session: AsyncSession, entry: AuditEntry) -> None:
    session.add(entry)
    await session.flush()


async def page(
    session: AsyncSession, filters: Filters, *, before_id: int | None, limit: int
) -> list[AuditEntry]:
    """Entries matching `filters`, newest first, with ids below `before_id` (the cursor)."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if filters.actor_id is not None:
        stmt = stmt.where(AuditEntry.actor_id == filters.actor_id)
    if filters.action is not None:
        stmt = stmt.where(AuditEntry.action == filters.action)
    if filters.target_type is not None:
        stmt = stmt.where(AuditEntry.target_type == filters.target_type)
    if filters.start is not None:
        stmt = stmt.where(AuditEntry.at >= filters.start)
    if filters.end is not None:
        stmt = stmt.where(AuditEntry.at < filters.end)
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    return list((await session.execute(stmt)).scalars())
