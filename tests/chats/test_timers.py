"""Timers with a controllable clock: no-agent expiry, inactivity, offer rotation, presence."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from helpline.kit.clock import FrozenClock, set_clock
from helpline.sweeper import Sweeper
from tests.fixtures.factories import accepted_chat, events, make_queue, make_user, start_chat

pytestmark = pytest.mark.asyncio


@pytest.fixture
def clock() -> FrozenClock:
    c = FrozenClock()
    set_clock(c)
    return c


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"inactivity_warn_s": 300, "inactivity_expire_s": 120, "offline_grace_s": 60}


@pytest_asyncio.fixture
async def world(app: FastAPI, clock: FrozenClock) -> dict[str, Any]:
    q = await make_queue(app, "Support", max_wait_s=600)
    return {
        "q": q,
        "customer": await make_user(app, "customer", name="Carla"),
        "agent": await make_user(app, "agent", name="Ana", queues=[q]),
        "sweeper": Sweeper(app.state.ctx),
    }


async def test_waiting_chat_expires_after_max_wait(
    client: httpx.AsyncClient, world: dict[str, Any], clock: FrozenClock
) -> None:
    chat = await start_chat(client, world["customer"], world["q"])
    clock.advance(599)
    await world["sweeper"].run_once()
    assert (
        await client.get(f"/api/v1/chats/{chat['id']}", headers=world["customer"].headers)
    ).json()["status"] == "waiting"
    clock.advance(2)
    await world["sweeper"].run_once()
    got = (
        await client.get(f"/api/v1/chats/{chat['id']}", headers=world["customer"].headers)
    ).json()
    assert got["status"] == "expired"
    last = (await events(client, world["customer"], chat["id"]))[-1]
    assert (
        last["type"] == "chat.expired"
        and last["data"] == {"reason": "no_agent"}
        and last["actor"] is None
    )
    await world["sweeper"].run_once()  # fires once
    assert [e["type"] for e in await events(client, world["customer"], chat["id"])].count(
        "chat.expired"
    ) == 1


async def test_inactive_customer_is_warned_then_the_chat_expires(
    client: httpx.AsyncClient, world: dict[str, Any], clock: FrozenClock
) -> None:
    customer, agent = world["customer"], world["agent"]
    chat = await accepted_chat(client, customer, agent, world["q"])
    cid = chat["id"]
    clock.advance(200)
    # agent messages do not reset the customer's silence
    await client.post(
        f"/api/v1/chats/{cid}/messages",
        json={"text": "Still there?", "client_id": "a1"},
        headers=agent.headers,
    )
    clock.advance(101)
    await world["sweeper"].run_once()
    warning = (await events(client, customer, cid))[-1]
    assert warning["type"] == "chat.inactivity_warning" and warning["data"] == {"expires_in_s": 120}
    await world["sweeper"].run_once()
    assert [e["type"] for e in await events(client, customer, cid)].count(
        "chat.inactivity_warning"
    ) == 1
    clock.advance(121)
    await world["sweeper"].run_once()
    last = (await events(client, customer, cid))[-1]
    assert last["type"] == "chat.expired" and last["data"]["reason"] == "inactive"


async def test_a_customer_message_resets_the_inactivity_timer(
    client: httpx.AsyncClient, world: dict[str, Any], clock: FrozenClock
) -> None:
    customer, agent = world["customer"], world["agent"]
    chat = await accepted_chat(client, customer, agent, world["q"])
    cid = chat["id"]
    clock.advance(301)
    await world["sweeper"].run_once()
    await client.post(
        f"/api/v1/chats/{cid}/messages",
        json={"text": "here!", "client_id": "c1"},
        headers=customer.headers,
    )
    clock.advance(200)
    await world["sweeper"].run_once()
    got = (await client.get(f"/api/v1/chats/{cid}", headers=customer.headers)).json()
    assert got["status"] == "in_progress"
    clock.advance(101)  # silent 301 s again: a second warning, not an expiry
    await world["sweeper"].run_once()
    types = [e["type"] for e in await events(client, customer, cid)]
    assert types.count("chat.inactivity_warning") == 2 and "chat.expired" not in types


async def test_assign_mode_offers_one_agent_at_a_time_and_rotates(
    app: FastAPI, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    q = await make_queue(app, "Sales", routing_mode="assign", offer_timeout_s=30)
    a = await make_user(app, "agent", name="A", queues=[q])
    b = await make_user(app, "agent", name="B", queues=[q])
    await make_user(app, "agent", name="Away", queues=[q], status="away")
    customer = await make_user(app, "customer")
    sweeper = Sweeper(app.state.ctx)
    chat = await start_chat(client, customer, q)
    first = await _offered_to(app, chat["id"])
    assert first in (a.id, b.id)
    other = b if first == a.id else a
    r = await client.post(f"/api/v1/chats/{chat['id']}/accept", headers=other.headers)
    assert r.status_code == 409  # only the offered agent may accept
    clock.advance(31)
    await sweeper.run_once()
    assert await _offered_to(app, chat["id"]) == other.id
    clock.advance(31)
    await sweeper.run_once()
    assert await _offered_to(app, chat["id"]) == first  # a new round
    first_person = a if first == a.id else b
    r = await client.post(f"/api/v1/chats/{chat['id']}/accept", headers=first_person.headers)
    assert r.status_code == 200


async def _offered_to(app: FastAPI, chat_id: str) -> str | None:
    from helpline.chats.models import Chat

    async with app.state.ctx.db.read() as s:
        chat = await s.get(Chat, chat_id)
        assert chat is not None
        return chat.offered_to_id


async def test_agent_without_connection_goes_offline_after_grace(
    app: FastAPI, client: httpx.AsyncClient, world: dict[str, Any], clock: FrozenClock
) -> None:
    from helpline.accounts import presence

    agent = world["agent"]
    await presence.stamp(app.state.ctx, {agent.id})  # they were connected, then left
    clock.advance(59)
    await world["sweeper"].run_once()
    assert (await client.get("/api/v1/me", headers=agent.headers)).json()["status"] == "available"
    clock.advance(2)
    await world["sweeper"].run_once()
    assert (await client.get("/api/v1/me", headers=agent.headers)).json()["status"] == "offline"


async def test_supervisor_overview(
    app: FastAPI, client: httpx.AsyncClient, world: dict[str, Any], clock: FrozenClock
) -> None:
    sup = await make_user(app, "supervisor")
    await start_chat(client, world["customer"], world["q"])
    clock.advance(42)
    r = await client.get("/api/v1/supervisor/overview", headers=sup.headers)
    assert r.status_code == 200
    q = next(x for x in r.json()["queues"] if x["id"] == world["q"])
    assert (
        q["waiting"] == 1
        and q["in_progress"] == 0
        and q["longest_wait_s"] == 42
        and q["agents_available"] == 1
    )
    ana = next(x for x in r.json()["agents"] if x["id"] == world["agent"].id)
    assert ana == {
        "id": world["agent"].id,
        "name": "Ana",
        "status": "available",
        "chats": 0,
        "max_chats": 3,
        "role": "agent",
    }
    assert (
        await client.get("/api/v1/supervisor/overview", headers=world["agent"].headers)
    ).status_code == 403


async def test_supervisor_assigns_a_chat_to_an_agent(
    app: FastAPI, client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    sup = await make_user(app, "supervisor")
    chat = await start_chat(client, world["customer"], world["q"])
    r = await client.post(
        f"/api/v1/chats/{chat['id']}/assign",
        json={"agent_id": world["agent"].id},
        headers=sup.headers,
    )
    assert r.status_code == 200 and r.json()["agent"]["id"] == world["agent"].id
    accepted = [e for e in await events(client, sup, chat["id"]) if e["type"] == "chat.accepted"][0]
    assert (
        accepted["data"]["agent"]["id"] == world["agent"].id and accepted["actor"]["id"] == sup.id
    )
    r = await client.post(
        f"/api/v1/chats/{chat['id']}/assign",
        json={"agent_id": world["agent"].id},
        headers=world["agent"].headers,
    )
    assert r.status_code == 403


async def test_two_processes_sweeping_one_database_fire_each_timer_once(
    app: FastAPI,
    settings: Any,
    client: httpx.AsyncClient,
    world: dict[str, Any],
    clock: FrozenClock,
) -> None:
    """A second app instance on the same database stands in for a second server process: its
    own engine, connections, hub and sweeper."""
    from asgi_lifespan import LifespanManager

    from helpline.app import create_app

    other = create_app(settings)
    async with LifespanManager(other):
        customers = [await make_user(app, "customer") for _ in range(5)]
        chats = [await start_chat(client, c, world["q"]) for c in customers]
        clock.advance(601)
        sweepers = [Sweeper(app.state.ctx), Sweeper(other.state.ctx)]
        await asyncio.gather(*(s.run_once() for s in sweepers for _ in range(3)))
        for chat, customer in zip(chats, customers, strict=True):
            types = [e["type"] for e in await events(client, customer, chat["id"])]
            assert types.count("chat.expired") == 1, types
