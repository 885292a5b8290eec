"""The `sla.warning` frame over real WebSockets: the chat's queue members and supervisors get
it once, even with several sweepers at once; agents of other queues and the customer never."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import pytest_asyncio

from helpline.kit.clock import FrozenClock
from helpline.sweeper import Sweeper
from tests.conftest import LiveServer
from tests.fixtures.factories import make_queue, make_user, start_chat
from tests.fixtures.wsclient import WSClient

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def http(live_server: LiveServer) -> Any:
    async with httpx.AsyncClient(base_url=live_server.url) as c:
        yield c


async def test_warning_reaches_the_right_staff_once(
    live_server: LiveServer, http: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    app = live_server.app
    q = await make_queue(app, "Support", sla={"first_response_s": 100})
    other = await make_queue(app, "Billing")
    carla = await make_user(app, "customer", name="Carla")
    ana = await make_user(app, "agent", name="Ana", queues=[q])
    ben = await make_user(app, "agent", name="Ben", queues=[other])
    sue = await make_user(app, "supervisor", name="Sue")
    chat = await start_chat(http, carla, q)
    cid = chat["id"]
    clients = {
        p.name: await WSClient.open(live_server.ws_url, p.token) for p in (carla, ana, ben, sue)
    }
    try:
        assert (await clients["Carla"].subscribe(cid))["type"] == "subscribed"
        for ws in clients.values():
            await ws.request({"type": "ping"}, lambda f: f["type"] == "pong")
        frozen_clock.advance(79)
        await Sweeper(app.state.ctx).run_once()
        frozen_clock.advance(1)  # 80 of 100 seconds
        # Three sweepers at once, as three server processes would: one warning.
        await asyncio.gather(*(Sweeper(app.state.ctx).run_once() for _ in range(3)))
        for name in ("Ana", "Sue"):
            frame = await clients[name].wait_for(lambda f: f["type"] == "sla.warning")
            assert frame["chat_id"] == cid
        # Everything sent so far has arrived once a pong comes back.
        for ws in clients.values():
            await ws.request({"type": "ping"}, lambda f: f["type"] == "pong")
        counts = {
            name: sum(f["type"] == "sla.warning" for f in ws.frames) for name, ws in clients.items()
        }
        assert counts == {"Carla": 0, "Ana": 1, "Ben": 0, "Sue": 1}
        frozen_clock.advance(20)
        await asyncio.gather(*(Sweeper(app.state.ctx).run_once() for _ in range(3)))
        # The breach is an internal event of the chat: staff subscribed see it, once.
        assert (await clients["Sue"].subscribe(cid))["type"] == "subscribed"
        await clients["Sue"].event(cid, "chat.sla_breached")
        await clients["Carla"].request({"type": "ping"}, lambda f: f["type"] == "pong")
        assert "chat.sla_breached" not in [e["type"] for e in clients["Carla"].events(cid)]
        assert [e["type"] for e in clients["Sue"].events(cid)].count("chat.sla_breached") == 1
    finally:
        for ws in clients.values():
            await ws.close()


async def test_first_answer_over_the_socket_stops_the_clock_and_updates_lists(
    live_server: LiveServer, http: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    """Messages over the socket take the batched writer; the agent's first one takes the
    service path, which records the first response and tells the lists."""
    app = live_server.app
    q = await make_queue(app, "Support", sla={"first_response_s": 100})
    carla = await make_user(app, "customer", name="Carla")
    ana = await make_user(app, "agent", name="Ana", queues=[q])
    sue = await make_user(app, "supervisor", name="Sue")
    chat = await start_chat(http, carla, q)
    cid = chat["id"]
    r = await http.post(f"/api/v1/chats/{cid}/accept", headers=ana.headers)
    assert r.status_code == 200 and r.json()["sla"]["first_response_at"] is None
    ws_ana = await WSClient.open(live_server.ws_url, ana.token)
    ws_sue = await WSClient.open(live_server.ws_url, sue.token)
    try:
        await ws_sue.request({"type": "ping"}, lambda f: f["type"] == "pong")
        assert (await ws_ana.subscribe(cid))["type"] == "subscribed"
        frozen_clock.advance(30)
        for n in (1, 2):
            ack = await ws_ana.request(
                {"type": "message", "chat_id": cid, "text": f"Answer {n}", "client_id": f"a{n}"},
                lambda f: f["type"] in ("ack", "error"),
            )
            assert ack["type"] == "ack", ack
        updated = await ws_sue.wait_for(
            lambda f: (
                f["type"] == "chat.updated"
                and (f["chat"].get("sla") or {}).get("first_response_at") is not None
            )
        )
        assert updated["chat"]["sla"]["breached"] is False
        r = await http.get(f"/api/v1/chats/{cid}", headers=ana.headers)
        sla = r.json()["sla"]
        assert sla["first_response_at"] == updated["chat"]["sla"]["first_response_at"]
        frozen_clock.advance(500)
        await Sweeper(app.state.ctx).run_once()
        await ws_sue.request({"type": "ping"}, lambda f: f["type"] == "pong")
        assert not [f for f in ws_sue.frames if f["type"] == "sla.warning"]
    finally:
        await ws_ana.close()
        await ws_sue.close()
