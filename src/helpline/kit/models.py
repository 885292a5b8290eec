"""Tables shared by every domain."""

from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from helpline.db import Base
from helpline.errors import Conflict


class Counter(Base):
    """Named sequences for human references (CS-000001, SR-000001)."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


async def next_number(session: AsyncSession, name: str) -> int:
    """Next value of a counter, created on first use. One upsert: the row lock (PostgreSQL)
    or the single writer (SQLite) serialises concurrent callers, and a rollback gives the
    number back, so references stay gap-free enough to read aloud."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(Counter)
        .values(name=name, value=1)
        .on_conflict_do_update(index_elements=[Counter.name], set_={"value": Counter.value + 1})
        .returning(Counter.value)
    )
    return int((await session.execute(stmt)).scalar_one())


async def add_unique(session: AsyncSession, row: Base, conflict: Conflict) -> None:
    """Insert `row` now; a unique key it breaks (a name or an e-mail taken, also by a racing
    request) answers `conflict` instead of a 500."""
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise conflict from exc


def like_escape(term: str) -> str:
    """`term` for a LIKE pattern with `escape="\\"`: a "%" or "_" someone typed matches itself."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
