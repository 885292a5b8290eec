"""Access taken away reaches sockets that are already open (one process, memory bus).

Each test ends with a barrier: news on the user's own topic published after everything else,
so "nothing more arrived" is a statement about order, not about how long we waited.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.conftest import LiveServer
from tests.fixtures.factories import Person, make_queue, make_user, start_chat
from tests.fixtures.wsclient import WSClient, frames_about

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def http(live_server: LiveServer) -> Any:
    async with httpx.AsyncClient(base_url=live_server.url) as c:
        yield c


async def _barrier(http: httpx.AsyncClient, ws: WSClient, who: Person) -> int:
    """Everything published before this has reached `ws` once it returns: the index after."""
    r = await http.put("/api/v1/me/status", json={"status": "away"}, headers=who.headers)
    assert r.status_code == 200, r.text
    n = len(ws.frames)
    await ws.wait_for(lambda f: f["type"] == "status" and f["status"] == "away")
    return n


async def _goes_on_unheard(
    http: httpx.AsyncClient,
    app: Any,
    ws: WSClient,
    who: Person,
    chat: dict[str, Any],
    customer: Person,
    queue_id: str,
    *,
    after: int,
) -> None:
    """The chat goes on and the queue gets a new chat: none of it reaches `ws` (up to the
    barrier). Returns once that is shown."""
    r = await http.post(
        f"/api/v1/chats/{chat['id']}/messages",
        json={"text": "still there?", "client_id": "c1"},
        headers=customer.headers,
    )
    assert r.status_code == 201, r.text
    second = await start_chat(http, await make_user(app, "customer"), queue_id)
    end = await _barrier(http, ws, who)
    assert frames_about(ws.frames[after:end], {chat["id"], second["id"]}, queue_id) == []


async def test_agent_removed_from_a_queue_hears_no_more_of_it(
    live_server: LiveServer, http: httpx.AsyncClient
) -> None:
    app = live_server.app
    q = await make_queue(app, "Support")
    agent = await make_user(app, "agent", queues=[q])
    colleague = await make_user(app, "agent", queues=[q])
    admin = await make_user(app, "admin")
    customer = await make_user(app, "customer")
    chat = await start_chat(http, customer, q)
    ws = await WSClient.open(live_server.ws_url, agent.token)
    assert (await ws.subscribe(chat["id"]))["type"] == "subscribed"

    r = await http.put(
        f"/api/v1/queues/{q}/members", json={"user_ids": [colleague.id]}, headers=admin.headers
    )
    assert r.status_code == 200, r.text
    gone = await ws.wait_for(lambda f: f["type"] == "unsubscribed")
    assert gone == {"type": "unsubscribed", "chat_id": chat["id"], "reason": "queue_removed"}
    after = ws.frames.index(gone) + 1

    await _goes_on_unheard(http, app, ws, agent, chat, customer, q, after=after)
    # Subscribing again is refused like any chat they may not see.
    assert (await ws.subscribe(chat["id"]))["error"]["code"] == "not_found"
    await ws.close()


async def test_agent_added_to_a_queue_is_offered_its_chats_on_the_open_socket(
    live_server: LiveServer, http: httpx.AsyncClient
) -> None:
    app = live_server.app
    q = await make_queue(app, "Support")
    agent = await make_user(app, "agent")
    admin = await make_user(app, "admin")
    ws = await WSClient.open(live_server.ws_url, agent.token)
    await ws.request({"type": "ping"}, lambda f: f["type"] == "pong")
    r = await http.put(
        f"/api/v1/queues/{q}/members", json={"user_ids": [agent.id]}, headers=admin.headers
    )
    assert r.status_code == 200, r.text
    # The access is settled from the database; the new queue's news follows once it is.
    hub = live_server.app.state.ctx.hub
    for _ in range(200):
        if any(q in c.queue_ids for c in hub.topics.get(f"user:{agent.id}", ())):
            break
        await asyncio.sleep(0.01)
    chat = await start_chat(http, await make_user(app, "customer"), q)
    offer = await ws.wait_for(lambda f: f["type"] == "chat.offered")
    assert offer["chat"]["id"] == chat["id"]
    await ws.close()


async def test_demoted_supervisor_hears_no_more_of_other_queues(
    live_server: LiveServer, http: httpx.AsyncClient
) -> None:
    app = live_server.app
    q = await make_queue(app, "Support")
    own = await make_queue(app, "Own")
    supervisor = await make_user(app, "supervisor", queues=[own])
    admin = await make_user(app, "admin")
    customer = await make_user(app, "customer")
    chat = await start_chat(http, customer, q)
    ws = await WSClient.open(live_server.ws_url, supervisor.token)
    assert (await ws.subscribe(chat["id"]))["type"] == "subscribed"

    r = await http.patch(
        f"/api/v1/users/{supervisor.id}", json={"role": "agent"}, headers=admin.headers
    )
    assert r.status_code == 200, r.text
    gone = await ws.wait_for(lambda f: f["type"] == "unsubscribed")
    assert gone == {"type": "unsubscribed", "chat_id": chat["id"], "reason": "role_changed"}
    after = ws.frames.index(gone) + 1

    # What is still theirs keeps coming: a chat in their own queue is offered (waited for
    # before the barrier sets "away", which would make the eligibility read refuse it).
    mine = await start_chat(http, await make_user(app, "customer"), own)
    await ws.wait_for(lambda f: f["type"] == "chat.offered" and f["chat"]["id"] == mine["id"])
    await _goes_on_unheard(http, app, ws, supervisor, chat, customer, q, after=after)
    offered = [f["chat"]["id"] for f in ws.frames[after:] if f["type"] == "chat.offered"]
    assert offered == [mine["id"]]
    await ws.close()


async def test_deactivation_closes_saying_why(
    live_server: LiveServer, http: httpx.AsyncClient
) -> None:
    app = live_server.app
    q = await make_queue(app, "Support")
    agent = await make_user(app, "agent", queues=[q])
    admin = await make_user(app, "admin")
    ws = await WSClient.open(live_server.ws_url, agent.token)
    await ws.request({"type": "ping"}, lambda f: f["type"] == "pong")
    r = await http.patch(f"/api/v1/users/{agent.id}", json={"active": False}, headers=admin.headers)
    assert r.status_code == 200, r.text
    assert await asyncio.wait_for(ws.closed, 5) == (4401, "deactivated")


async def test_staff_made_customer_is_closed_to_reconnect_as_such(
    live_server: LiveServer, http: httpx.AsyncClient
) -> None:
    app = live_server.app
    agent = await make_user(app, "agent")
    admin = await make_user(app, "admin")
    ws = await WSClient.open(live_server.ws_url, agent.token)
    await ws.request({"type": "ping"}, lambda f: f["type"] == "pong")
    r = await http.patch(
        f"/api/v1/users/{agent.id}", json={"role": "customer"}, headers=admin.headers
    )
    assert r.status_code == 200, r.text
    assert await asyncio.wait_for(ws.closed, 5) == (4403, "role_changed")
