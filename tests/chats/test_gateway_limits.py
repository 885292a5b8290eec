"""WebSocket limits per user, not per connection: sockets, messages, typing, subscribe."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.conftest import LiveServer
from tests.fixtures.factories import Person, accepted_chat, make_queue, make_user
from tests.fixtures.wsclient import WSClient

pytestmark = pytest.mark.asyncio


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Counts per minute: a test's few frames all fall in one window, whatever the machine.
    return {
        "rate_limits": "on",
        "ws_max_per_user": 3,
        "rate_limit_messages": "3/minute",
        "rate_limit_typing": "2/minute",
        "rate_limit_subscribe": "3/minute",
    }


@pytest_asyncio.fixture
async def http(live_server: LiveServer) -> Any:
    async with httpx.AsyncClient(base_url=live_server.url) as c:
        yield c


@pytest_asyncio.fixture
async def talk(live_server: LiveServer, http: httpx.AsyncClient) -> tuple[Person, Person, Any]:
    """A customer and an agent in an accepted chat: (customer, agent, chat)."""
    q = await make_queue(live_server.app)
    customer = await make_user(live_server.app, "customer")
    agent = await make_user(live_server.app, "agent", queues=[q])
    return customer, agent, await accepted_chat(http, customer, agent, q)


async def _pong(ws: WSClient) -> None:
    await ws.request({"type": "ping"}, lambda f: f["type"] == "pong")


async def test_one_connection_more_than_the_cap_is_refused_with_a_reason(
    live_server: LiveServer,
) -> None:
    customer = await make_user(live_server.app, "customer")
    other = await make_user(live_server.app, "customer")
    open_ = [await WSClient.open(live_server.ws_url, customer.token) for _ in range(3)]
    for ws in open_:
        await _pong(ws)
    extra = await WSClient.open(live_server.ws_url, customer.token)
    assert await asyncio.wait_for(extra.closed, 5) == (4429, "too many connections")
    # Someone else is not affected, and a closed socket frees its place.
    theirs = await WSClient.open(live_server.ws_url, other.token)
    await _pong(theirs)
    await open_[0].close()
    hub = live_server.app.state.ctx.hub
    for _ in range(500):
        if hub.connections_of(customer.id) < 3:
            break
        await asyncio.sleep(0.01)
    again = await WSClient.open(live_server.ws_url, customer.token)
    await _pong(again)
    for ws in (*open_[1:], theirs, again):
        await ws.close()


async def test_the_message_limit_counts_all_of_a_users_sockets(
    live_server: LiveServer, talk: tuple[Person, Person, Any]
) -> None:
    customer, agent, chat = talk
    one = await WSClient.open(live_server.ws_url, customer.token)
    two = await WSClient.open(live_server.ws_url, customer.token)

    async def post(ws: WSClient, n: int) -> dict[str, Any]:
        frame = {"type": "message", "chat_id": chat["id"], "text": f"m{n}", "client_id": f"c{n}"}
        return await ws.request(frame, lambda f: f.get("client_id") == f"c{n}")

    assert (await post(one, 1))["type"] == "ack"
    assert (await post(two, 2))["type"] == "ack"
    assert (await post(one, 3))["type"] == "ack"
    refused = await post(two, 4)
    assert refused["type"] == "error" and refused["error"]["code"] == "rate_limited"
    await _pong(two)  # the connection stays open
    await one.close()
    await two.close()


async def test_typing_relays_are_rate_limited(
    live_server: LiveServer, talk: tuple[Person, Person, Any]
) -> None:
    customer, agent, chat = talk
    c = await WSClient.open(live_server.ws_url, customer.token)
    a = await WSClient.open(live_server.ws_url, agent.token)
    await c.subscribe(chat["id"])
    await a.subscribe(chat["id"])
    errors = []
    for _ in range(4):
        n = len(c.frames)
        await c.send({"type": "typing", "chat_id": chat["id"], "active": True})
        await c.send({"type": "ping"})
        await c.wait_for(lambda f: f["type"] == "pong", start=n)
        errors += [f for f in c.frames[n:] if f["type"] == "error"]
    assert [e["error"]["code"] for e in errors] == ["rate_limited", "rate_limited"]
    assert {e["chat_id"] for e in errors} == {chat["id"]}
    # Barrier: a message published after the typing news; by then both relays have arrived.
    await c.request(
        {"type": "message", "chat_id": chat["id"], "text": "hi", "client_id": "t1"},
        lambda f: f["type"] == "ack",
    )
    await a.wait_for(lambda f: f["type"] == "event" and f["event"]["data"].get("text") == "hi")
    assert len([f for f in a.frames if f["type"] == "typing"]) == 2
    await c.close()
    await a.close()


async def test_subscribe_and_unsubscribe_are_rate_limited(
    live_server: LiveServer, talk: tuple[Person, Person, Any]
) -> None:
    customer, agent, chat = talk
    ws = await WSClient.open(live_server.ws_url, customer.token)
    assert (await ws.subscribe(chat["id"]))["type"] == "subscribed"
    await ws.send({"type": "unsubscribe", "chat_id": chat["id"]})
    assert (await ws.subscribe(chat["id"]))["type"] == "subscribed"
    n = len(ws.frames)
    await ws.send({"type": "unsubscribe", "chat_id": chat["id"]})
    refused = await ws.wait_for(lambda f: f["type"] == "error", start=n)
    assert refused["error"]["code"] == "rate_limited" and refused["chat_id"] == chat["id"]
    refused = await ws.subscribe(chat["id"])
    assert refused["type"] == "error" and refused["error"]["code"] == "rate_limited"
    await _pong(ws)
    await ws.close()
