"""The gateway under a server without `helpline.send_many` (plain uvicorn websockets-sansio):
frames go one by one, same order, same contract."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import LiveServer
from tests.fixtures.factories import make_queue, make_user
from tests.fixtures.wsclient import WSClient

pytestmark = pytest.mark.asyncio


@pytest.fixture
def server_overrides() -> dict[str, object]:
    return {"ws": "websockets-sansio"}


async def test_messages_acks_and_events_without_the_extension(live_server: LiveServer) -> None:
    app = live_server.app
    q = await make_queue(app, "Support")
    customer = await make_user(app, "customer", name="Carla")
    agent = await make_user(app, "agent", name="Ana", queues=[q])
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        r = await http.post(
            "/api/v1/chats", json={"queue_id": q, "message": "hi"}, headers=customer.headers
        )
        chat_id = r.json()["id"]
        assert (
            await http.post(f"/api/v1/chats/{chat_id}/accept", headers=agent.headers)
        ).status_code == 200
    c = await WSClient.open(live_server.ws_url, customer.token)
    a = await WSClient.open(live_server.ws_url, agent.token)
    await c.subscribe(chat_id)
    await a.subscribe(chat_id)
    for n in range(5):
        await c.send({"type": "message", "chat_id": chat_id, "text": f"m{n}", "client_id": f"c{n}"})
    await c.wait_for(lambda f: f["type"] == "ack" and f["client_id"] == "c4")
    last = await a.wait_for(
        lambda f: f["type"] == "event" and f["event"]["data"].get("client_id") == "c4"
    )
    seqs = [e["seq"] for e in a.events(chat_id)]
    assert seqs == list(range(1, last["event"]["seq"] + 1))
    texts = [e["data"]["text"] for e in c.events(chat_id) if e["type"] == "message.posted"][-5:]
    assert texts == [f"m{n}" for n in range(5)]
    await c.close()
    await a.close()
