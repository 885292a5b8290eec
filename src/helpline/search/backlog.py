"""Chat events reach SQLite's search index a moment after they are written (decision 029).

Events with an id up to the mark in `search_indexed` are in the FTS5 index; newer ones are the
backlog (migration 0023). The message writer indexes it every `INTERVAL_S` on its own
connection, many messages per index commit instead of one FTS5 segment per message batch, and
every search indexes what is left before it reads (`catch_up`), so a search still finds every
message committed before it began. Updates and deletes of indexed rows (erasure, retention)
are followed by triggers in their own transaction, as before.

PostgreSQL has no backlog: its `search_tsv` columns are computed with the row.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.db import Database

INTERVAL_S = 0.1  # how often the message writer indexes the backlog
CHUNK = 1000  # events per index statement: a batch holds the write lock ~10-20 ms at most
# Index pages merged after each step (migration 0024 turned FTS5's own merging inside inserts
# off): ~1-4 ms of work, and it keeps up with 200 new messages a step.
MERGE_PAGES = 16

_BEHIND = (
    "SELECT (SELECT upto FROM search_indexed WHERE source = 'chat_events'), "
    "(SELECT max(id) FROM chat_events)"
)
_INDEX = (
    "INSERT INTO search_chat_events(rowid, body, owner) "
    "SELECT e.id, json_extract(e.data, '$.text'), 'u' || c.customer_id "
    "FROM chat_events e JOIN chats c ON c.id = e.chat_id "
    "WHERE e.id > :lo AND e.id <= :hi AND e.type IN ('message.posted', 'note.added') "
    "ORDER BY e.id"
)
_ADVANCE = "UPDATE search_indexed SET upto = :hi WHERE source = 'chat_events'"


def _range(upto: Any, top: Any, limit: int) -> dict[str, int] | None:
    """The ids to index next (lo excluded, hi included), or None when nothing is behind."""
    if upto is None or top is None or top <= upto:
        return None
    return {"lo": int(upto), "hi": min(int(top), int(upto) + limit)}


def index_some(conn: sqlite3.Connection, limit: int = CHUNK) -> int:
    """Index up to `limit` ids of the backlog in the caller's transaction, on a stdlib
    connection (the message writer's). Returns how many ids it covered."""
    upto, top = conn.execute(_BEHIND).fetchone()
    span = _range(upto, top, limit)
    if span is None:
        return 0
    conn.execute(_INDEX, span)
    conn.execute(_ADVANCE, span)
    return span["hi"] - span["lo"]


def merge_some(conn: sqlite3.Connection, pages: int = MERGE_PAGES) -> int:
    """Merge up to about `pages` pages of the index's segments in the caller's transaction.
    Returns the rows it changed in the index's tables (0: nothing was worth merging)."""
    before = conn.total_changes
    conn.execute(
        "INSERT INTO search_chat_events(search_chat_events, rank) VALUES('merge', ?)", (pages,)
    )
    return conn.total_changes - before


async def behind(session: AsyncSession) -> bool:
    """Whether events wait to be indexed (a read: no lock taken)."""
    upto, top = (await session.execute(text(_BEHIND))).one()
    return _range(upto, top, 1) is not None


async def _index_chunk(session: AsyncSession) -> bool:
    """Index up to CHUNK ids of the backlog; whether more may be behind."""
    upto, top = (await session.execute(text(_BEHIND))).one()
    span = _range(upto, top, CHUNK)
    if span is None:
        return False
    await session.execute(text(_INDEX), span)
    await session.execute(text(_ADVANCE), span)
    return bool(span["hi"] < top)


class Backlog:
    """The catch-up a search runs first (SQLite), registered as `db.services["search_backlog"]`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.catch_ups = 0

    async def catch_up(self) -> None:
        """Index everything behind, CHUNK ids per write transaction (each serialised with the
        message writer's batches)."""
        more = True
        while more:
            async with self.db.write() as uow:
                more = await _index_chunk(uow.session)
        self.catch_ups += 1
