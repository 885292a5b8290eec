"""The request boundary: outages answer 503 in the error format (HTTP) or an error frame and
1013 (WebSocket); a unit of work whose commit fails publishes nothing and runs nothing."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from helpline.bus.messages import BusMessage, ChatWithdrawn
from helpline.db import UnitOfWork
from helpline.errors import Unavailable
from tests.conftest import BACKEND, LiveServer
from tests.fixtures.factories import Person, ctx_of, make_queue, make_user
from tests.fixtures.wsclient import WSClient

pytestmark = pytest.mark.asyncio

POOL_TIMEOUT_S = 0.3


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # One connection in the pool, none more, and a short wait for it.
    return {
        "database_pool_size": 1,
        "database_max_overflow": 0,
        "database_pool_timeout_s": POOL_TIMEOUT_S,
    }


@asynccontextmanager
async def pool_exhausted(live_server: LiveServer) -> AsyncIterator[None]:
    """Another checkout holds the pool's only connection."""
    async with ctx_of(live_server.app).db.engine.connect():
        yield


def assert_unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.headers["retry-after"] == "2"
    assert r.json()["error"]["code"] == "unavailable"
    assert r.json()["error"]["message"]


@pytest_asyncio.fixture
async def customer(live_server: LiveServer) -> tuple[Person, str]:
    """A customer and the queue they write to."""
    queue = await make_queue(live_server.app, "Support")
    return await make_user(live_server.app, "customer"), queue


async def test_a_pool_timeout_answers_503_in_the_error_format_over_http(
    live_server: LiveServer, customer: tuple[Person, str]
) -> None:
    person, q = customer
    async with httpx.AsyncClient(base_url=live_server.url, headers=person.headers) as http:
        async with pool_exhausted(live_server):
            assert_unavailable(await http.get("/api/v1/chats"))
            assert_unavailable(
                await http.post("/api/v1/chats", json={"queue_id": q, "message": "hi"})
            )
        # The connection is back in the pool: service resumes by itself.
        r = await http.post("/api/v1/chats", json={"queue_id": q, "message": "hi"})
        assert r.status_code == 201, r.text
        listed = (await http.get("/api/v1/chats")).json()["items"]
        assert [c["id"] for c in listed] == [r.json()["id"]], "the refused start left nothing"


async def test_a_pool_timeout_answers_an_error_frame_and_1013_on_the_websocket(
    live_server: LiveServer, customer: tuple[Person, str]
) -> None:
    person, q = customer
    async with httpx.AsyncClient(base_url=live_server.url, headers=person.headers) as http:
        r = await http.post("/api/v1/chats", json={"queue_id": q, "message": "hi"})
        chat_id = r.json()["id"]
    ws = await WSClient.open(live_server.ws_url, person.token)
    try:
        async with pool_exhausted(live_server):
            answer = await ws.subscribe(chat_id)
            assert answer["type"] == "error", answer
            assert answer["chat_id"] == chat_id
            assert answer["error"]["code"] == "unavailable"
            code, _ = await ws.closed
            assert code == 1013, "try again later: the client reconnects and resumes"
    finally:
        await ws.close()
    ws = await WSClient.open(live_server.ws_url, person.token)
    try:
        assert (await ws.subscribe(chat_id))["type"] == "subscribed"
    finally:
        await ws.close()


async def _fail_at_commit(uow: UnitOfWork, live_server: LiveServer) -> None:
    """Make this unit's COMMIT fail for real: on SQLite a foreign key checked only at commit,
    on PostgreSQL the server ending the session (as a restart does) just before it."""
    session = uow.session
    if BACKEND == "postgres":
        pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        async with ctx_of(live_server.app).db.engine.connect() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    else:
        await session.execute(text("PRAGMA defer_foreign_keys = ON"))
        await session.execute(
            text("INSERT INTO queue_members (queue_id, user_id) VALUES ('nope', 'nope')")
        )


@pytest.mark.parametrize(
    "settings_overrides", [{"database_pool_size": 2}], indirect=False, ids=["pool2"]
)
async def test_a_unit_whose_commit_fails_publishes_nothing_and_runs_nothing_after(
    live_server: LiveServer,
) -> None:
    ctx = ctx_of(live_server.app)
    published: list[tuple[str, BusMessage]] = []
    ran: list[str] = []
    original = ctx.bus.publish

    async def recording_publish(topic: str, message: BusMessage) -> None:
        published.append((topic, message))
        await original(topic, message)

    async def after() -> None:
        ran.append("after")

    ctx.bus.publish = recording_publish  # type: ignore[method-assign]
    try:
        # The same unit, committing: its news leaves, then its after-commit work runs.
        async with ctx.boundary.write() as uow:
            uow.announce("queue:q", ChatWithdrawn("c1"))
            uow.on_commit(after)
        assert published == [("queue:q", ChatWithdrawn("c1"))] and ran == ["after"]
        published.clear()
        ran.clear()

        units: list[UnitOfWork] = []

        async def failing() -> None:
            async with ctx.boundary.write() as uow:
                units.append(uow)
                uow.announce("queue:q", ChatWithdrawn("c1"))
                uow.on_commit(after)
                await _fail_at_commit(uow, live_server)

        # A restart is an outage (503); a constraint is a conflict (409), not an outage.
        with pytest.raises(Unavailable if BACKEND == "postgres" else IntegrityError):
            await failing()
        assert published == [] and ran == []
        assert not units[0].committed
    finally:
        ctx.bus.publish = original  # type: ignore[method-assign]


def _write_locked(path: str) -> bool:
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's file lock")
async def test_a_unit_cancelled_mid_statement_leaves_no_lock_behind(
    live_server: LiveServer,
) -> None:
    """How the outbox's and the sweeper's tasks end: cancelled, maybe inside a statement."""
    ctx = ctx_of(live_server.app)
    path = ctx.db.sqlite_path
    assert path is not None
    executing = asyncio.Event()

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "cancel me" in statement:
            executing.set()

    async def unit() -> None:
        async with ctx.boundary.write() as uow:
            await uow.session.execute(text("SELECT 1 /* cancel me */"))

    event.listen(ctx.db.engine.sync_engine, "before_cursor_execute", on_execute)
    gc.disable()  # the lock must go with the unit, not whenever the collector happens by
    try:
        task = asyncio.create_task(unit())
        await asyncio.wait_for(executing.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        deadline = asyncio.get_running_loop().time() + 5
        while await asyncio.to_thread(_write_locked, path):
            assert asyncio.get_running_loop().time() < deadline, "the write lock stayed taken"
            await asyncio.sleep(0.05)
    finally:
        gc.enable()
        event.remove(ctx.db.engine.sync_engine, "before_cursor_execute", on_execute)
    async with asyncio.timeout(5), ctx.boundary.write() as uow:
        await uow.session.execute(text("UPDATE users SET name = name"))
