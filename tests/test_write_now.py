"""`Boundary.write_now`: small units that announce nothing (new sign-ins' and guests' rows,
presence stamps), committed whole or not at all. On SQLite they run in the event loop on a
connection of its own and hold the writer only while their statements run; another process
holding SQLite's write lock is waited for in the loop, never in SQLite (decision 038)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from helpline import db as dbmod
from helpline.accounts.models import User
from helpline.bus.messages import BusMessage, StatusChanged
from helpline.db import Announcement
from helpline.errors import Unavailable
from tests.conftest import BACKEND
from tests.fixtures.factories import ctx_of, make_user

pytestmark = pytest.mark.asyncio


async def _name(app: FastAPI, user_id: str) -> str:
    async with ctx_of(app).db.read() as session:
        return str((await session.execute(select(User.name).where(User.id == user_id))).scalar())


def _rename(user_id: str, name: str) -> Callable[[Session], str]:
    def work(session: Session) -> str:
        session.execute(update(User).where(User.id == user_id).values(name=name))
        return "done"

    return work


async def test_a_unit_is_committed_and_its_answer_returned(app: FastAPI) -> None:
    person = await make_user(app, "agent", name="Before")
    done = await ctx_of(app).boundary.write_now(_rename(person.id, "After"))
    assert done == "done"
    assert await _name(app, person.id) == "After"


async def test_a_failing_unit_changes_nothing_and_raises_its_error(app: FastAPI) -> None:
    ctx = ctx_of(app)
    person = await make_user(app, "agent", name="Kept")
    other = await make_user(app, "agent")
    users = await _users(app)

    def work(session: Session) -> None:
        session.execute(update(User).where(User.id == person.id).values(name="Lost"))
        session.add(User(email=other.email, name="Twin", role="agent"))  # the e-mail is taken
        session.flush()

    with pytest.raises(IntegrityError):
        await ctx.boundary.write_now(work)
    assert await _name(app, person.id) == "Kept"
    assert await _users(app) == users
    # And the next unit goes through.
    await ctx.boundary.write_now(_rename(person.id, "Next"))
    assert await _name(app, person.id) == "Next"


async def _users(app: FastAPI) -> int:
    async with ctx_of(app).db.read() as session:
        return int((await session.execute(select(func.count(User.id)))).scalar_one())


def _renaming(app: FastAPI, way: str, user_id: str, name: str) -> Coroutine[Any, Any, str]:
    """A rename through the session (`write_now`) or SQLite's own connection (`write_raw`)."""
    boundary = ctx_of(app).boundary
    if way == "session":
        return boundary.write_now(_rename(user_id, name))

    def work(conn: sqlite3.Connection) -> str:
        conn.execute("UPDATE users SET name = ? WHERE id = ?", (name, user_id))
        return "done"

    return boundary.write_raw(work)


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's file lock")
@pytest.mark.parametrize("way", ["session", "raw"])
async def test_another_process_writing_is_waited_for_in_the_loop(app: FastAPI, way: str) -> None:
    ctx = ctx_of(app)
    path = ctx.db.sqlite_path
    assert path is not None
    person = await make_user(app, "agent", name="Before")
    other = sqlite3.connect(path, isolation_level=None)  # as another process would
    other.execute("BEGIN IMMEDIATE")
    try:
        unit = asyncio.create_task(_renaming(app, way, person.id, "After"))
        # The loop stays free meanwhile: other tasks run, many times over, while it waits.
        ticks = 0
        for _ in range(20):
            await asyncio.sleep(0.005)
            ticks += 1
        assert ticks == 20 and not unit.done()
    finally:
        other.execute("COMMIT")
        other.close()
    assert await asyncio.wait_for(unit, 5) == "done"
    assert await _name(app, person.id) == "After"


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's file lock")
@pytest.mark.parametrize("way", ["session", "raw"])
async def test_a_write_lock_held_past_the_wait_is_an_outage(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch, way: str
) -> None:
    ctx = ctx_of(app)
    path = ctx.db.sqlite_path
    assert path is not None
    person = await make_user(app, "agent", name="Before")
    monkeypatch.setattr(dbmod, "BUSY_WAIT_S", 0.05)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(Unavailable):
            await _renaming(app, way, person.id, "After")
    finally:
        other.execute("COMMIT")
        other.close()
    assert await _name(app, person.id) == "Before"
    # The in-process writer lock went with it.
    assert not ctx.db._write_lock.locked()


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's in-process writer lock")
async def test_the_writer_is_held_only_while_the_statements_run(app: FastAPI) -> None:
    """No await between BEGIN IMMEDIATE and COMMIT: nothing else on the loop runs while the
    unit holds SQLite's writer, so a message batch waits for its statements alone."""
    ctx = ctx_of(app)
    person = await make_user(app, "agent")
    ran: list[str] = []
    seen: list[tuple[bool, list[str]]] = []

    async def neighbour() -> None:
        while True:
            ran.append("tick")
            await asyncio.sleep(0)

    def work(session: Session) -> None:
        before = list(ran)
        session.execute(update(User).where(User.id == person.id).values(name="A"))
        session.flush()
        session.execute(update(User).where(User.id == person.id).values(name="B"))
        seen.append((ctx.db._write_lock.locked(), ran[len(before) :]))

    task = asyncio.create_task(neighbour())
    try:
        await asyncio.sleep(0)
        await ctx.boundary.write_now(work)
    finally:
        task.cancel()
    assert seen == [(True, [])]
    assert await _name(app, person.id) == "B"
    assert not ctx.db._write_lock.locked()


async def _recording(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """What the boundary publishes, in order (topic and the message's kind)."""
    sent: list[tuple[str, str]] = []
    boundary = ctx_of(app).boundary

    async def send(topic: str, message: BusMessage) -> None:
        sent.append((topic, type(message).__name__))

    monkeypatch.setattr(boundary, "_send", send)
    return sent


async def test_a_change_with_news_publishes_it_once_committed(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`change_now` (decision 043): the news appended by `work` goes out after the commit, and
    a failing unit's news never does."""
    ctx = ctx_of(app)
    person = await make_user(app, "agent", name="Before")
    sent = await _recording(app, monkeypatch)

    def work(session: Session, news: list[Announcement]) -> str:
        session.execute(update(User).where(User.id == person.id).values(name="After"))
        news.append((f"user:{person.id}", StatusChanged("away")))
        assert sent == []  # not before the commit
        return "done"

    assert await ctx.boundary.change_now(work) == "done"
    assert sent == [(f"user:{person.id}", "StatusChanged")]
    assert await _name(app, person.id) == "After"

    def failing(session: Session, news: list[Announcement]) -> None:
        session.execute(update(User).where(User.id == person.id).values(name="Lost"))
        news.append((f"user:{person.id}", StatusChanged("offline")))
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        await ctx.boundary.change_now(failing)
    assert sent == [(f"user:{person.id}", "StatusChanged")]
    assert await _name(app, person.id) == "After"


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's busy retries")
async def test_a_change_run_again_after_busy_publishes_its_news_once(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unit refused as busy after `work` announced is rolled back and run again: only the
    run that committed has news."""
    ctx = ctx_of(app)
    person = await make_user(app, "agent", name="Before")
    sent = await _recording(app, monkeypatch)
    runs: list[str] = []

    def work(session: Session, news: list[Announcement]) -> None:
        name = f"Run {len(runs)}"
        runs.append(name)
        session.execute(update(User).where(User.id == person.id).values(name=name))
        news.append((f"user:{person.id}", StatusChanged("away")))
        if len(runs) == 1:  # as if another process had held SQLite's writer
            busy = sqlite3.OperationalError("database is locked")
            busy.sqlite_errorcode = sqlite3.SQLITE_BUSY
            raise busy

    await ctx.boundary.change_now(work)
    assert runs == ["Run 0", "Run 1"]
    assert sent == [(f"user:{person.id}", "StatusChanged")]
    assert await _name(app, person.id) == "Run 1"


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's own connection (Database.write_raw)")
async def test_a_unit_on_sqlites_own_connection_is_committed_or_undone_whole(app: FastAPI) -> None:
    ctx = ctx_of(app)
    person = await make_user(app, "agent", name="Before")
    other = await make_user(app, "agent")

    def rename(conn: sqlite3.Connection) -> str:
        conn.execute("UPDATE users SET name = ? WHERE id = ?", ("After", person.id))
        return "done"

    assert await ctx.boundary.write_raw(rename) == "done"
    assert await _name(app, person.id) == "After"
    users = await _users(app)

    def conflict(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE users SET name = 'Lost' WHERE id = ?", (person.id,))
        conn.execute(  # the e-mail is taken
            "INSERT INTO users (id, email, name, role, is_guest, active, status, max_chats,"
            " created_at, updated_at) VALUES ('x', ?, 'Twin', 'agent', 0, 1, 'offline', 3,"
            " '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            (other.email,),
        )

    with pytest.raises(IntegrityError):  # SQLAlchemy's, as through a session
        await ctx.boundary.write_raw(conflict)
    assert await _name(app, person.id) == "After"
    assert await _users(app) == users
    assert not ctx.db._write_lock.locked()
