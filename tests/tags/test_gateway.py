"""chat.tagged over the WebSocket: agents get the event and the list update, the customer
never hears of it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.conftest import LiveServer
from tests.fixtures.factories import make_queue, make_user
from tests.fixtures.wsclient import WSClient

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def http(live_server: LiveServer) -> Any:
    async with httpx.AsyncClient(base_url=live_server.url) as c:
        yield c


async def test_agents_hear_chat_tagged_the_customer_never(
    live_server: LiveServer, http: httpx.AsyncClient
) -> None:
    app = live_server.app
    q = await make_queue(app, "Support")
    agent = await make_user(app, "agent", queues=[q])
    colleague = await make_user(app, "agent", queues=[q])
    admin = await make_user(app, "admin")
    customer = await make_user(app, "customer")
    r = await http.post("/api/v1/tags", json={"name": "Secret-VIP"}, headers=admin.headers)
    tag = r.json()
    r = await http.post(
        "/api/v1/chats", json={"queue_id": q, "message": "Hi"}, headers=customer.headers
    )
    cid = r.json()["id"]
    await http.post(f"/api/v1/chats/{cid}/accept", headers=agent.headers)
    c = await WSClient.open(live_server.ws_url, customer.token)
    a = await WSClient.open(live_server.ws_url, agent.token)
    other = await WSClient.open(live_server.ws_url, colleague.token)
    await c.subscribe(cid)
    await a.subscribe(cid)

    r = await http.put(
        f"/api/v1/chats/{cid}/tags", json={"tag_ids": [tag["id"]]}, headers=agent.headers
    )
    assert r.status_code == 200, r.text
    await http.post(
        f"/api/v1/chats/{cid}/messages",
        json={"text": "after the tag", "client_id": "t1"},
        headers=agent.headers,
    )
    tagged = await a.event(cid, "chat.tagged")
    assert tagged["data"] == {"tag_ids": [tag["id"]]}
    # The queue's other agents see the chat's tags change in their lists.
    updated = await other.wait_for(
        lambda f: f["type"] == "chat.updated" and f["chat"]["id"] == cid and f["chat"].get("tags")
    )
    assert [t["name"] for t in updated["chat"]["tags"]] == ["Secret-VIP"]
    await c.wait_for(
        lambda f: f["type"] == "event" and f["event"]["data"].get("text") == "after the tag"
    )
    assert "chat.tagged" not in json.dumps(c.frames)
    assert "Secret-VIP" not in json.dumps(c.frames)
    for ws in (c, a, other):
        await ws.close()
