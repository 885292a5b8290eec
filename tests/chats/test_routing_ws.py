"""Offers reach only agents who may take the chat; positions are pushed as the queue moves."""

from __future__ import annotations

import asyncio
import traceback
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.conftest import BACKEND, LiveServer
from tests.fixtures.factories import make_queue, make_user
from tests.fixtures.waits import eventually
from tests.fixtures.wsclient import WSClient

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def http(live_server: LiveServer) -> Any:
    async with httpx.AsyncClient(base_url=live_server.url) as c:
        yield c


async def _start(http: httpx.AsyncClient, customer: Any, q: str) -> dict[str, Any]:
    r = await http.post(
        "/api/v1/chats", json={"queue_id": q, "message": "hi"}, headers=customer.headers
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_offers_skip_agents_away_or_at_capacity(
    live_server: LiveServer, http: httpx.AsyncClient
) -> None:
    app = live_server.app
    q = await make_queue(app, "Support")
    ready = await make_user(app, "agent", queues=[q])
    away = await make_user(app, "agent", queues=[q], status="away")
    full = await make_user(app, "agent", queues=[q], max_chats=1)
    first_customer = await make_user(app, "customer")
    busy_chat = await _start(http, first_customer, q)
    assert (
        await http.post(f"/api/v1/chats/{busy_chat['id']}/accept", headers=full.headers)
    ).status_code == 200
    sockets = {p.id: await WSClient.open(live_server.ws_url, p.token) for p in (ready, away, full)}
    for ws in sockets.values():
        await ws.request({"type": "ping"}, lambda f: f["type"] == "pong")
    chat = await _start(http, await make_user(app, "customer"), q)
    await sockets[ready.id].wait_for(
        lambda f: f["type"] == "chat.offered" and f["chat"]["id"] == chat["id"]
    )
    for pid in (away.id, full.id):
        # they see the list change, but get no offer
        await sockets[pid].wait_for(
            lambda f: f["type"] == "chat.updated" and f["chat"]["id"] == chat["id"]
        )
        assert not [
            f
            for f in sockets[pid].frames
            if f["type"] == "chat.offered" and f["chat"]["id"] == chat["id"]
        ]
    # becoming available brings the waiting chat's offer
    r = await http.put("/api/v1/me/status", json={"status": "available"}, headers=away.headers)
    assert r.status_code == 200
    await sockets[away.id].wait_for(
        lambda f: f["type"] == "chat.offered" and f["chat"]["id"] == chat["id"]
    )
    for ws in sockets.values():
        await ws.close()


async def test_queue_position_is_pushed_on_every_change(
    live_server: LiveServer, http: httpx.AsyncClient
) -> None:
    app = live_server.app
    q = await make_queue(app, "Support")
    agent = await make_user(app, "agent", queues=[q], max_chats=5)
    customers = [await make_user(app, "customer") for _ in range(3)]
    chats = [await _start(http, c, q) for c in customers]
    third = await WSClient.open(live_server.ws_url, customers[2].token)
    await third.subscribe(chats[2]["id"])
    await third.wait_for(lambda f: f["type"] == "queue.position" and f["position"] == 3)
    await http.post(f"/api/v1/chats/{chats[0]['id']}/accept", headers=agent.headers)
    await third.wait_for(lambda f: f["type"] == "queue.position" and f["position"] == 2)
    await http.post(f"/api/v1/chats/{chats[1]['id']}/leave", headers=customers[1].headers)
    pos = await third.wait_for(lambda f: f["type"] == "queue.position" and f["position"] == 1)
    assert pos["estimated_wait_s"] is not None and pos["estimated_wait_s"] >= 0
    await third.close()


def _position(n: int) -> Any:
    return lambda f: f["type"] == "queue.position" and f["position"] == n


async def test_a_moved_customer_hears_the_positions_of_their_new_queue(
    live_server: LiveServer, http: httpx.AsyncClient
) -> None:
    """Which queues' news move positions here is kept as customers subscribe, their chats
    move and they leave (the hub's count, not a walk over every connection per news)."""
    app = live_server.app
    first, second = await make_queue(app, "Support"), await make_queue(app, "Billing")
    agent = await make_user(app, "agent", queues=[first])
    billing = await make_user(app, "agent", queues=[second])
    carla, dan = await make_user(app, "customer"), await make_user(app, "customer")
    waiting = await _start(http, dan, second)  # Dan waits in Billing first
    chat = await _start(http, carla, first)
    ws = await WSClient.open(live_server.ws_url, carla.token)
    await ws.subscribe(chat["id"])
    await ws.wait_for(lambda f: f["type"] == "queue.position" and f["position"] == 1)
    r = await http.post(f"/api/v1/chats/{chat['id']}/accept", headers=agent.headers)
    assert r.status_code == 200
    r = await http.post(
        f"/api/v1/chats/{chat['id']}/move", json={"queue_id": second}, headers=agent.headers
    )
    assert r.status_code == 200, r.text
    await ws.event(chat["id"], "chat.moved")
    moved = next(
        i
        for i, f in enumerate(ws.frames)
        if f["type"] == "event" and f["event"]["type"] == "chat.moved"
    )
    behind = await ws.wait_for(_position(2), start=moved)  # in Billing, behind Dan
    # Billing's news moves Carla: Dan is taken, so she is first.
    r = await http.post(f"/api/v1/chats/{waiting['id']}/accept", headers=billing.headers)
    assert r.status_code == 200
    await ws.wait_for(_position(1), start=ws.frames.index(behind))
    await ws.close()
    hub = app.state.ctx.hub
    await eventually(lambda: not hub.connections, timeout=5)
    assert not hub._customer_subs  # nobody left here whose position could move


async def test_assign_mode_offers_go_to_one_agent(
    live_server: LiveServer, http: httpx.AsyncClient
) -> None:
    app = live_server.app
    q = await make_queue(app, "Sales", routing_mode="assign")
    a = await make_user(app, "agent", queues=[q])
    b = await make_user(app, "agent", queues=[q])
    wa = await WSClient.open(live_server.ws_url, a.token)
    wb = await WSClient.open(live_server.ws_url, b.token)
    for w in (wa, wb):
        await w.request({"type": "ping"}, lambda f: f["type"] == "pong")
    chat = await _start(http, await make_user(app, "customer"), q)
    is_offer = lambda f: f["type"] == "chat.offered" and f["chat"]["id"] == chat["id"]  # noqa: E731
    waits = {asyncio.create_task(w.wait_for(is_offer)): w for w in (wa, wb)}
    done, pending = await asyncio.wait(waits, timeout=5, return_when=asyncio.FIRST_COMPLETED)
    for t in pending:
        t.cancel()
    assert len(done) >= 1
    winner = waits[next(iter(done))]
    loser = wb if winner is wa else wa
    await loser.request({"type": "ping"}, lambda f: f["type"] == "pong")
    await loser.wait_for(lambda f: f["type"] == "chat.updated" and f["chat"]["id"] == chat["id"])
    assert not [f for f in loser.frames if is_offer(f)]
    await wa.close()
    await wb.close()


async def test_capacity_holds_under_twenty_concurrent_accepts(
    live_server: LiveServer, http: httpx.AsyncClient
) -> None:
    app = live_server.app
    q = await make_queue(app, "Support")
    agent = await make_user(app, "agent", queues=[q], max_chats=3)
    chats = [await _start(http, await make_user(app, "customer"), q) for _ in range(20)]
    results = await asyncio.gather(
        *(http.post(f"/api/v1/chats/{c['id']}/accept", headers=agent.headers) for c in chats)
    )
    codes = [r.status_code for r in results]
    assert codes.count(200) == 3
    assert {r.json()["error"]["code"] for r in results if r.status_code == 409} == {"at_capacity"}
    mine = await http.get("/api/v1/chats", params={"status": "in_progress"}, headers=agent.headers)
    assert len(mine.json()["items"]) == 3


async def test_availability_is_one_short_write_with_the_same_news(
    live_server: LiveServer, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decision 043: becoming available or away opens no unit of work holding the writer
    while the caller is authenticated; the agent and the supervisors hear of it once, and a
    repeat changes nothing and says nothing."""
    app = live_server.app
    q = await make_queue(app, "Support")
    ana = await make_user(app, "agent", queues=[q], status="away")
    sup = await make_user(app, "supervisor")
    own, watching = [await WSClient.open(live_server.ws_url, p.token) for p in (ana, sup)]
    db = app.state.ctx.db
    units: list[str] = []
    real_write = db.write

    def counted_write() -> Any:
        # The route's own units only: the two connections' presence stamps (a group commit
        # after their handshakes, or the sweeper's every 15 s) may land meanwhile on their own
        # (once in CI on PostgreSQL, 6 December 2026).
        if any(frame.name == "set_status" for frame in traceback.extract_stack()):
            units.append("write")
        return real_write()

    monkeypatch.setattr(db, "write", counted_write)

    async def status_frames() -> tuple[int, int]:
        for ws in (own, watching):  # whatever was sent before the pong has arrived
            await ws.request({"type": "ping"}, lambda f: f["type"] == "pong")
        mine = [f for f in own.frames if f["type"] == "status"]
        seen = [f for f in watching.frames if f["type"] == "agent.status"]
        return len(mine), len(seen)

    for status, expected in (("available", (1, 1)), ("available", (1, 1)), ("away", (2, 2))):
        r = await http.put("/api/v1/me/status", json={"status": status}, headers=ana.headers)
        assert r.status_code == 200 and r.json()["status"] == status, r.text
        assert await status_frames() == expected
    assert [f["status"] for f in own.frames if f["type"] == "status"] == ["available", "away"]
    assert [f for f in watching.frames if f["type"] == "agent.status"] == [
        {"type": "agent.status", "user_id": ana.id, "status": s} for s in ("available", "away")
    ]
    # SQLite: no unit of work, one conditional UPDATE in the loop. PostgreSQL has no single
    # writer to hold: there `write_now` is a plain unit, one a change.
    assert units == ([] if BACKEND == "sqlite" else ["write", "write", "write"])
    r = await http.get("/api/v1/me", headers=ana.headers)
    assert r.json()["status"] == "away"
    # Offline with requeueing hands chats back in the same unit: it keeps its unit of work.
    r = await http.put("/api/v1/me/status", json={"status": "offline"}, headers=ana.headers)
    assert r.status_code == 200 and r.json()["status"] == "offline"
    assert units[-1:] == ["write"] and len(units) == (1 if BACKEND == "sqlite" else 4)
    for ws in (own, watching):
        await ws.close()
