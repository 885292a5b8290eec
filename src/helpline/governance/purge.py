"""Removing rows together with everything that refers to them, by the schema's foreign keys.

Retention removes chats and requests; other domains keep adding tables that point at them
(participants, tags, search rows, context …). Rather than a list of tables to keep in step by
hand, the foreign keys in the metadata say what hangs off a row: a nullable reference is set to
NULL (a request raised from a removed chat stays, unlinked), any other referring row is removed
first, recursively. Tables that refer to a row without a foreign key (the outbox's `reference`)
are the caller's to handle.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

import helpline.models  # noqa: F401 - every table, so every foreign key is known
from helpline.db import Base

MAX_DEPTH = 8  # deeper than any chain in the schema; stops a cycle from recursing forever


def table_of(model: type[Any]) -> Table:
    table = Base.metadata.tables[model.__tablename__]
    return table


def _referrers(table: Table) -> list[tuple[Table, str, str, bool]]:
    """(referring table, its column, the referred column of `table`, nullable) for every
    foreign key that points at `table`."""
    found = []
    for other in Base.metadata.tables.values():
        for fk in other.foreign_keys:
            if fk.column.table is table:
                found.append((other, fk.parent.name, fk.column.name, bool(fk.parent.nullable)))
    return found


async def delete_where(
    session: AsyncSession, table: Table, where: ColumnElement[bool], *, _depth: int = 0
) -> Counter[str]:
    """Delete `table`'s rows matching `where` and what depends on them; rows removed per table."""
    if _depth > MAX_DEPTH:
        raise RuntimeError(f"foreign keys nest deeper than {MAX_DEPTH} below {table.name}")
    removed: Counter[str] = Counter()
    for other, column, referred, nullable in _referrers(table):
        if other is table:
            continue  # no self-references in the schema; a row never waits on itself here
        keys = select(table.c[referred]).where(where).scalar_subquery()
        refers = other.c[column].in_(keys)
        if nullable:
            await session.execute(update(other).where(refers).values({column: None}))
        else:
            removed += await delete_where(session, other, refers, _depth=_depth + 1)
    result = await session.execute(delete(table).where(where))
    removed[table.name] += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return removed
