"""Transfer and requeue over the WebSocket, on both sides: the new owner gets the chat with its
whole history, the old owner keeps reading it, the customer sees who took over (never the
note) and, when their agent goes offline, their position again."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.conftest import LiveServer
from tests.fixtures.factories import accepted_chat, make_queue, make_user, start_chat
from tests.fixtures.wsclient import WSClient

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def http(live_server: LiveServer) -> Any:
    async with httpx.AsyncClient(base_url=live_server.url) as c:
        yield c


@pytest_asyncio.fixture
async def team(live_server: LiveServer) -> dict[str, Any]:
    app = live_server.app
    q = await make_queue(app, "Support")
    return {
        "q": q,
        "customer": await make_user(app, "customer", name="Carla"),
        "ana": await make_user(app, "agent", name="Ana", queues=[q]),
        "ben": await make_user(app, "agent", name="Ben", queues=[q]),
    }


async def test_transfer_reaches_the_new_owner_the_old_one_and_the_customer(
    live_server: LiveServer, http: httpx.AsyncClient, team: dict[str, Any]
) -> None:
    q, customer, ana, ben = team["q"], team["customer"], team["ana"], team["ben"]
    chat = await accepted_chat(http, customer, ana, q)
    cid = chat["id"]
    ws_customer = await WSClient.open(live_server.ws_url, customer.token)
    ws_ana = await WSClient.open(live_server.ws_url, ana.token)
    ws_ben = await WSClient.open(live_server.ws_url, ben.token)
    try:
        assert (await ws_customer.subscribe(cid))["type"] == "subscribed"
        assert (await ws_ana.subscribe(cid))["type"] == "subscribed"
        await ws_ben.request({"type": "ping"}, lambda f: f["type"] == "pong")
        r = await http.post(
            f"/api/v1/chats/{cid}/transfer",
            json={"agent_id": ben.id, "note": "Wants a refund"},
            headers=ana.headers,
        )
        assert r.status_code == 200, r.text
        # The new owner: the chat at once, with its whole history, note included.
        assigned = await ws_ben.wait_for(lambda f: f["type"] == "chat.assigned")
        assert assigned["chat"]["id"] == cid and assigned["chat"]["agent"]["id"] == ben.id
        history = assigned["events"]
        assert [e["seq"] for e in history] == list(range(1, len(history) + 1))
        assert history[0]["type"] == "chat.started"
        assert history[-1]["type"] == "chat.transferred"
        assert history[-1]["data"]["note"] == "Wants a refund"
        # The old owner still hears the chat, note and all, and stays subscribed.
        seen = await ws_ana.event(cid, "chat.transferred")
        assert seen["data"]["note"] == "Wants a refund"
        # The customer hears who took over, without the note.
        told = await ws_customer.event(cid, "chat.transferred")
        assert told["data"] == {
            "from_agent": {"id": ana.id, "name": "Ana"},
            "to_agent": {"id": ben.id, "name": "Ben"},
        }
        assert "note" not in str(ws_customer.frames)
        r = await http.post(
            f"/api/v1/chats/{cid}/messages",
            json={"text": "Ben here", "client_id": "b-1"},
            headers=ben.headers,
        )
        assert r.status_code == 201
        await ws_ana.wait_for(
            lambda f: f["type"] == "event" and f["event"]["data"].get("text") == "Ben here"
        )
        assert not [f for f in ws_ana.frames if f["type"] == "unsubscribed"]
        # A reconnecting customer replays the event without the note too.
        replay = await WSClient.open(live_server.ws_url, customer.token)
        try:
            await replay.subscribe(cid)
            again = next(e for e in replay.events(cid) if e["type"] == "chat.transferred")
            assert "note" not in again["data"]
        finally:
            await replay.close()
    finally:
        for ws in (ws_customer, ws_ana, ws_ben):
            await ws.close()


async def test_requeue_tells_the_customer_their_position_and_offers_the_chat_again(
    live_server: LiveServer, http: httpx.AsyncClient, team: dict[str, Any]
) -> None:
    q, customer, ana, ben = team["q"], team["customer"], team["ana"], team["ben"]
    sup = await make_user(live_server.app, "supervisor", name="Sam")
    chat = await start_chat(http, customer, q)
    cid = chat["id"]
    ws_customer = await WSClient.open(live_server.ws_url, customer.token)
    ws_ben = await WSClient.open(live_server.ws_url, ben.token)
    try:
        # The customer was told position 1 while waiting; after the requeue they are at 1
        # again, and are told so again.
        await ws_customer.subscribe(cid)
        await ws_customer.wait_for(lambda f: f["type"] == "queue.position")
        r = await http.post(f"/api/v1/chats/{cid}/accept", headers=ana.headers)
        assert r.status_code == 200
        await ws_customer.event(cid, "chat.accepted")
        await ws_ben.request({"type": "ping"}, lambda f: f["type"] == "pong")
        start = len(ws_customer.frames)
        r = await http.put(
            f"/api/v1/users/{ana.id}/status", json={"status": "offline"}, headers=sup.headers
        )
        assert r.status_code == 200
        requeued = await ws_customer.event(cid, "chat.requeued")
        assert requeued["data"] == {
            "reason": "agent_offline",
            "from_agent": {"id": ana.id, "name": "Ana"},
        }
        position = await ws_customer.wait_for(
            lambda f: f["type"] == "queue.position" and f["chat_id"] == cid, start=start
        )
        assert position["position"] == 1
        offered = await ws_ben.wait_for(
            lambda f: f["type"] == "chat.offered" and f["chat"]["id"] == cid
        )
        assert offered["chat"]["status"] == "waiting" and offered["chat"]["agent"] is None
    finally:
        await ws_customer.close()
        await ws_ben.close()
