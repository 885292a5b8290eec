"""Migration 0011 indexes the rows that exist when it runs, on each backend, and the
engine syntax the query parser produces is accepted by the engine for any input."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from helpline.db import search_file
from helpline.migrate import alembic_config, upgrade
from helpline.search import backlog
from helpline.search.query import fts5_match, parse
from tests.conftest import BACKEND

_n = itertools.count(1)

ROWS = [
    "INSERT INTO users (id, email, name, role, is_guest, active, status, max_chats, created_at,"
    " updated_at) VALUES ('u1', 'olga@old.test', 'Olga Older', 'customer', false, true,"
    " 'available', 3, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
    "INSERT INTO queues (id, name, description, active, routing_mode, max_wait_s,"
    " offer_timeout_s, created_at) VALUES ('q1', 'Old', '', true, 'broadcast', 600, 30,"
    " '2026-01-01 00:00:00')",
    "INSERT INTO chats (id, number, reference, customer_id, queue_id, subject, status, last_seq,"
    " created_at, updated_at, offered_ids) VALUES ('c1', 1, 'CS-000001', 'u1', 'q1',"
    " 'Legacy boiler', 'solved', 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00', '[]')",
    "INSERT INTO chat_events (chat_id, seq, type, at, data, internal) VALUES ('c1', 1,"
    " 'message.posted', '2026-01-01 00:00:00', '{\"text\": \"radiator rattles\"}', false)",
    "INSERT INTO service_requests (id, number, reference, customer_id, team_id, summary,"
    " description, priority, status, created_at, updated_at) VALUES ('r1', 1, 'SR-000001', 'u1',"
    " 'q1', 'Valve swap', 'thermostat too', 'medium', 'new', '2026-01-01 00:00:00',"
    " '2026-01-01 00:00:00')",
    "INSERT INTO request_entries (request_id, type, at, data, internal) VALUES ('r1',"
    " 'comment', '2026-01-01 00:00:00', '{\"text\": \"plumber booked\"}', false)",
]


def _database(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of an empty database."""
    if BACKEND == "postgres":
        from tests.fixtures.servers import create_database

        dsn = create_database(request.getfixturevalue("postgres_dsn"), f"mig{next(_n)}")
        return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"


QUERIES = {
    "sqlite": {
        "search_chats": "subject : boiler AND customer : olga",
        "search_requests": "thermostat",
        "search_request_comments": "plumber",
    },
    "postgresql": {
        "chat_events": "radiator",
        "chats": "boiler",
        "users": "olga & old",
        "service_requests": "thermostat",
        "request_entries": "plumber",
    },
}


@pytest.mark.asyncio
async def test_existing_rows_are_indexed_by_the_migration(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = _database(tmp_path, request)
    await asyncio.to_thread(upgrade, url, "0010")
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        for row in ROWS:
            await conn.execute(text(row))
    await asyncio.to_thread(upgrade, url)
    async with engine.connect() as conn:
        for source, q in QUERIES[conn.dialect.name].items():
            if conn.dialect.name == "sqlite":
                sql = f"SELECT count(*) FROM {source} WHERE {source} MATCH :q"
            else:
                sql = f"SELECT count(*) FROM {source} WHERE search_tsv @@ to_tsquery('simple', :q)"
            assert (await conn.execute(text(sql), {"q": q})).scalar() == 1, source
    await engine.dispose()
    if BACKEND == "sqlite":  # messages: in the index's own file, filled by its indexer
        conn = backlog.connect(str(tmp_path / "old.db"))
        try:
            while backlog.index_some(conn)[2]:
                pass
            match = "SELECT rowid FROM search.message_index WHERE message_index MATCH 'radiator'"
            assert len(conn.execute(match).fetchall()) == 1
        finally:
            conn.close()


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


@pytest.mark.skipif(BACKEND != "sqlite", reason="the message index's file is SQLite's")
@pytest.mark.asyncio
async def test_migration_0025_moves_the_message_index_and_back(tmp_path: Path) -> None:
    """Up: the in-file index and its triggers go, an old index file is deleted, changes are
    recorded; down: 0024's in-file index is back, built from the rows."""
    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(upgrade, url, "0010")
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        for row in ROWS:
            await conn.execute(text(row))
    await asyncio.to_thread(upgrade, url, "0024_search_merge_budget")
    stale = Path(search_file(str(path)))
    stale.write_bytes(b"an index file left by an earlier upgrade")
    await asyncio.to_thread(upgrade, url)
    assert not stale.exists()
    async with engine.begin() as conn:
        names = set((await conn.execute(text("SELECT name FROM sqlite_master"))).scalars())
        assert "search_chat_events" not in names and "search_indexed" not in names
        await conn.execute(text('UPDATE chat_events SET data = \'{"text": "quiet"}\''))
        await conn.execute(text("UPDATE chats SET customer_id = 'u1'"))
        changes = (await conn.execute(text("SELECT event_id FROM search_changes"))).scalars()
        assert list(changes) == [1, 1]
    await asyncio.to_thread(downgrade, url, "0024_search_merge_budget")
    async with engine.connect() as conn:
        q = "SELECT count(*) FROM search_chat_events WHERE search_chat_events MATCH :q"
        assert (await conn.execute(text(q), {"q": "quiet"})).scalar() == 1
        assert (await conn.execute(text(q), {"q": "radiator"})).scalar() == 0
        names = set((await conn.execute(text("SELECT name FROM sqlite_master"))).scalars())
        assert "search_changes" not in names
    await engine.dispose()


@pytest.mark.parametrize(
    "q",
    ['a"b', "x* y*", "NEAR(a, b)", "ä ö ü", "日本語 テスト", "a:b:c", "{a b}:c", "Ж*", "٣٤"],
)
def test_fts5_accepts_every_expression_the_parser_builds(q: str) -> None:
    import sqlite3

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(subject, customer)")
    conn.execute("INSERT INTO t VALUES ('x', 'y')")
    for column in (None, "subject"):
        conn.execute("SELECT rowid FROM t WHERE t MATCH ?", (fts5_match(parse(q), column),))
