"""`Database.read_now` / `Boundary.read(now=True)`: short reads made in the event loop on
SQLite, not a trip to a database thread and back per call (decision 044). A WebSocket
handshake and an agent's availability change read their caller this way; what they answer
and whom they refuse is unchanged."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from helpline.accounts.models import User
from tests.conftest import BACKEND, LiveServer
from tests.fixtures.factories import ctx_of, make_queue, make_user
from tests.fixtures.wsclient import WSClient

pytestmark = pytest.mark.asyncio


async def _thread_of_a_statement(session: Any) -> int:
    """The thread on which SQLite ran a statement of this session."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    sqlite = raw.driver_connection._conn if BACKEND == "sqlite" else None
    if sqlite is None:
        return -1
    sqlite.create_function("thread_probe", 0, threading.get_ident)
    return int((await session.execute(text("SELECT thread_probe()"))).scalar_one())


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite only: elsewhere read_now is read")
async def test_read_now_runs_its_statements_on_the_loops_thread(app: FastAPI) -> None:
    db = ctx_of(app).db
    loop_thread = threading.get_ident()
    async with db.read_now() as session:
        assert await _thread_of_a_statement(session) == loop_thread
    # The usual read goes to aiosqlite's thread: the probe tells the two apart.
    async with db.read() as session:
        assert await _thread_of_a_statement(session) != loop_thread


async def test_read_now_sees_what_was_committed_and_reads_the_same_rows(app: FastAPI) -> None:
    ctx = ctx_of(app)
    person = await make_user(app, "agent", name="Before")

    def rename(session: Session) -> None:
        session.execute(update(User).where(User.id == person.id).values(name="After"))

    await ctx.boundary.write_now(rename)
    async with ctx.boundary.read(now=True) as uow:
        now = (await uow.session.execute(select(User.name).where(User.id == person.id))).all()
    async with ctx.boundary.read() as uow:
        usual = (await uow.session.execute(select(User.name).where(User.id == person.id))).all()
    assert now == usual == [("After",)]


async def test_a_handshake_reads_its_caller_in_the_loop_and_still_refuses_the_signed_out(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        await _handshakes(live_server, http, monkeypatch)


async def _handshakes(
    live_server: LiveServer, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = live_server.app
    q = await make_queue(app, "Support")
    agent = await make_user(app, "agent", queues=[q])
    guest = await http.post("/api/v1/auth/guest", json={"name": "G", "email": "g@example.com"})
    assert guest.status_code == 200, guest.text
    db = app.state.ctx.db
    reads: list[str] = []
    real_read = db.read

    def counted_read() -> Any:
        reads.append("read")
        return real_read()

    monkeypatch.setattr(db, "read", counted_read)
    for token in (agent.token, guest.json()["token"]):
        ws = await WSClient.open(live_server.ws_url, token)
        await ws.request({"type": "ping"}, lambda f: f["type"] == "pong")
        await ws.close()
    # SQLite: both callers read in the loop, no session of the usual kind opened.
    assert reads == ([] if BACKEND == "sqlite" else ["read", "read"])
    # Signed out: refused as before (401 on the handshake).
    r = await http.post(
        "/api/v1/auth/logout", headers={"Authorization": f"Bearer {guest.json()['token']}"}
    )
    assert r.status_code == 204, r.text
    with pytest.raises(InvalidStatus) as refused:
        await connect(
            live_server.ws_url,
            additional_headers={"Authorization": f"Bearer {guest.json()['token']}"},
            open_timeout=5,
        )
    assert refused.value.response.status_code == 401
