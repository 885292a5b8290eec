"""SQLite through aiosqlite with fewer round trips to its thread (helpline.sqlite_driver,
decision 049): a statement and its first rows in one trip; what does no work in SQLite done at
once in the loop, but only while nothing of the connection is under way in its thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text

from helpline import sqlite_driver
from helpline.db import Database

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    async with db.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY, label TEXT)"))
        await conn.execute(
            text("INSERT INTO t (n, label) VALUES (:n, :label)"),
            [{"n": n, "label": f"row {n}"} for n in range(1, 1001)],
        )
    yield db
    await db.dispose()


@pytest_asyncio.fixture
async def raw(tmp_path: Path) -> AsyncIterator[sqlite_driver.Connection]:
    conn = await sqlite_driver.connect(str(tmp_path / "raw.db"), isolation_level=None)
    await conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
    await conn.executemany("INSERT INTO t (n) VALUES (?)", [(n,) for n in range(600)])
    yield conn
    await conn.close()


async def _driver(db: Database) -> sqlite_driver.Connection:
    """The driver connection the pool will hand out next (a pool of one in use at a time)."""
    async with db.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert isinstance(driver, sqlite_driver.Connection)
        return driver


async def test_a_read_unit_takes_two_trips_to_the_thread_and_reads_the_same_rows(
    database: Database,
) -> None:
    driver = await _driver(database)
    before = driver._queued
    async with database.read() as session:
        rows = (await session.execute(text("SELECT n, label FROM t WHERE n <= 3"))).all()
    # The statement with its rows, and the rollback ending the read transaction; BEGIN, the
    # cursor's making and closing and the pool's second rollback happen in the loop (9 before).
    assert driver._queued - before == 2
    assert [tuple(r) for r in rows] == [(1, "row 1"), (2, "row 2"), (3, "row 3")]
    assert driver.idle


async def test_a_write_unit_commits_and_reports_what_it_changed(database: Database) -> None:
    async with database.write() as uow:
        result = await uow.session.execute(
            text("UPDATE t SET label = 'changed' WHERE n <= 10"),
        )
        assert result.rowcount == 10  # type: ignore[attr-defined]
    async with database.read() as session:
        changed = (
            await session.execute(text("SELECT count(*) FROM t WHERE label = 'changed'"))
        ).scalar()
    assert changed == 10


async def _delete_all_then_fail(database: Database) -> None:
    async with database.write() as uow:
        await uow.session.execute(text("DELETE FROM t"))
        raise RuntimeError("the unit fails after its statement")


async def test_a_rolled_back_write_leaves_nothing(database: Database) -> None:
    with pytest.raises(RuntimeError):
        await _delete_all_then_fail(database)
    async with database.read() as session:
        assert (await session.execute(text("SELECT count(*) FROM t"))).scalar() == 1000


async def test_a_large_result_streams_in_several_trips_and_arrives_whole(
    database: Database,
) -> None:
    driver = await _driver(database)
    async with database.engine.connect() as conn:
        before = driver._queued
        result = await conn.stream(text("SELECT n FROM t ORDER BY n"))
        seen = [row[0] async for part in result.partitions(100) for row in part]
        trips = driver._queued - before
    assert seen == list(range(1, 1001))
    # The first PREFETCH_ROWS came with the statement; the rest as asked for, never all at once.
    assert trips > 2


async def test_rows_come_in_order_whatever_mix_of_fetches_asks_for_them(
    raw: sqlite_driver.Connection,
) -> None:
    cursor = await raw.execute("SELECT n FROM t ORDER BY n")
    assert await cursor.fetchone() == (0,)
    assert [r[0] for r in await cursor.fetchmany(300)] == list(range(1, 301))
    assert [r[0] for r in await cursor.fetchmany(5)] == list(range(301, 306))
    assert [r[0] for r in await cursor.fetchall()] == list(range(306, 600))
    assert await cursor.fetchone() is None
    assert await cursor.fetchall() == []
    await cursor.close()


async def test_what_the_thread_is_still_doing_is_never_touched_from_the_loop(
    raw: sqlite_driver.Connection,
) -> None:
    """A cancelled unit's statement keeps running in the thread; until it ends, the calls
    that would otherwise run at once go to the thread behind it, in order."""
    release = threading.Event()
    started = threading.Event()

    def slow(n: int) -> int:
        started.set()
        release.wait(10)
        return n

    await raw.create_function("slow", 1, slow)
    cursor = await raw.cursor()
    running = asyncio.ensure_future(cursor.execute("SELECT slow(n) FROM t WHERE n = 1"))
    await asyncio.to_thread(started.wait, 10)
    running.cancel()
    assert not raw.idle  # the statement still runs there

    queued = raw._queued
    closing = asyncio.ensure_future(cursor.close())
    rolling_back = asyncio.ensure_future(raw.rollback())
    await asyncio.sleep(0)
    assert raw._queued == queued + 2  # both went to the thread, behind the statement
    assert not closing.done() and not rolling_back.done()

    release.set()
    await asyncio.wait_for(asyncio.gather(closing, rolling_back), 10)
    assert raw.idle
    cursor = await raw.execute("SELECT count(*) FROM t")
    assert await cursor.fetchone() == (600,)


async def test_a_rollback_with_a_transaction_open_goes_to_the_thread_and_undoes_it(
    raw: sqlite_driver.Connection,
) -> None:
    await raw.execute("BEGIN")
    await raw.execute("DELETE FROM t")
    queued = raw._queued
    await raw.rollback()
    assert raw._queued == queued + 1
    cursor = await raw.execute("SELECT count(*) FROM t")
    assert await cursor.fetchone() == (600,)
    queued = raw._queued
    await raw.rollback()  # none open: nothing to do, and no trip
    assert raw._queued == queued


async def test_a_closed_connection_says_so_as_aiosqlite_does(tmp_path: Path) -> None:
    conn = await sqlite_driver.connect(str(tmp_path / "closed.db"))
    await conn.close()
    with pytest.raises(ValueError, match="no active connection|Connection closed"):
        await conn.execute("SELECT 1")
    assert conn._queued == conn._done
