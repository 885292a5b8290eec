"""Tables shared by every domain."""

from __future__ import annotations

from sqlalchemy import Integer, String, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from helpline.db import Base


class Counter(Base):
    """Named sequences for human references (CS-000001, SR-000001)."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


async def next_number(session: AsyncSession, name: str) -> int:
    """Next value of a counter. The row lock (PostgreSQL) or the single writer (SQLite)
    serialises concurrent callers, and a rollback gives the number back."""
    result = await session.execute(
        update(Counter)
        .where(Counter.name == name)
        .values(value=Counter.value + 1)
        .returning(Counter.value)
    )
    value = result.scalar_one_or_none()
    if value is None:
        session.add(Counter(name=name, value=1))
        await session.flush()
        return 1
    return int(value)
