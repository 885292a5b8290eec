"""First-response service levels with the controllable clock: counted in opening hours across a
closed night, the warning at 80 % and the breach once each, nothing once an agent answered."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from helpline.bus.messages import BusMessage, SlaWarning
from helpline.kit.clock import FrozenClock, set_clock
from helpline.sweeper import Sweeper
from tests.fixtures.factories import ctx_of, events, make_queue, make_user, start_chat

pytestmark = pytest.mark.asyncio

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS_9_17 = {
    "timezone": "Europe/Berlin",
    "weekly": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
}
DAY = 24 * 3600


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


@pytest.fixture
def clock() -> FrozenClock:
    c = FrozenClock(berlin(2026, 12, 3, 16, 50))  # a Thursday, 10 minutes before closing
    set_clock(c)
    return c


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # The customer's silence overnight must not expire the chat: only the SLA is under test.
    return {
        "inactivity_warn_s": 9 * DAY,
        "inactivity_expire_s": DAY,
        "offline_grace_s": 9 * DAY,
        "session_idle_s": 9 * DAY,
    }


@pytest_asyncio.fixture
async def world(app: FastAPI, clock: FrozenClock) -> dict[str, Any]:
    q = await make_queue(
        app, "Support", max_wait_s=7 * DAY, hours=WEEKDAYS_9_17, sla={"first_response_s": 1800}
    )
    other = await make_queue(app, "Billing", max_wait_s=7 * DAY)
    published: list[tuple[str, BusMessage]] = []
    bus = ctx_of(app).bus
    original = bus.publish

    async def recording(topic: str, message: BusMessage) -> None:
        published.append((topic, message))
        await original(topic, message)

    bus.publish = recording  # type: ignore[method-assign]
    return {
        "q": q,
        "other": other,
        "customer": await make_user(app, "customer", name="Carla"),
        "agent": await make_user(app, "agent", name="Ana", queues=[q, other]),
        "supervisor": await make_user(app, "supervisor", name="Sue"),
        "admin": await make_user(app, "admin", name="Adam"),
        "sweeper": Sweeper(ctx_of(app)),
        "published": published,
    }


def warnings(world: dict[str, Any]) -> list[tuple[str, SlaWarning]]:
    return [(t, m) for t, m in world["published"] if isinstance(m, SlaWarning)]


def at(clock: FrozenClock, when: datetime) -> None:
    clock.advance((when - clock.now()).total_seconds())


async def sla_of(client: httpx.AsyncClient, who: Any, chat_id: str) -> dict[str, Any]:
    r = await client.get(f"/api/v1/chats/{chat_id}", headers=who.headers)
    assert r.status_code == 200, r.text
    return dict(r.json()["sla"])


async def test_warning_then_breach_across_a_closed_night(
    client: httpx.AsyncClient, world: dict[str, Any], clock: FrozenClock
) -> None:
    customer, agent, sweeper = world["customer"], world["agent"], world["sweeper"]
    chat = await start_chat(client, customer, world["q"])
    cid = chat["id"]
    # 30 minutes of opening time: 10 on Thursday, 20 from Friday's opening.
    sla = await sla_of(client, agent, cid)
    assert sla == {
        "first_response_due_at": "2026-12-04T08:20:00Z",
        "first_response_at": None,
        "breached": False,
        "warn_at": "2026-12-04T08:14:00Z",
    }
    # The accept's greeting is automatic: it does not stop the clock.
    r = await client.post(f"/api/v1/chats/{cid}/accept", headers=agent.headers)
    assert r.status_code == 200, r.text
    assert r.json()["sla"]["first_response_at"] is None

    at(clock, berlin(2026, 12, 4, 9, 13, 59))  # the whole night passed: 23 min 59 s counted
    await sweeper.run_once()
    assert warnings(world) == []
    clock.advance(1)  # 24 minutes = 80 %
    await sweeper.run_once()
    topics = sorted(t for t, _ in warnings(world))
    assert topics == sorted([f"queue:{world['q']}", "supervisors", f"user:{agent.id}"])
    assert all(m.chat_id == cid for _, m in warnings(world))
    await sweeper.run_once()
    assert len(warnings(world)) == 3  # once

    clock.advance(6 * 60 - 1)
    await sweeper.run_once()
    assert "chat.sla_breached" not in [e["type"] for e in await events(client, agent, cid)]
    clock.advance(1)
    await sweeper.run_once()
    await sweeper.run_once()
    staff_view = await events(client, agent, cid)
    breached = [e for e in staff_view if e["type"] == "chat.sla_breached"]
    assert len(breached) == 1
    assert breached[0]["data"]["due_at"] == "2026-12-04T08:20:00.000000Z"
    assert breached[0]["actor"] is None
    assert (await sla_of(client, agent, cid))["breached"] is True
    # Internal: the customer never sees it, nor the chat's service level.
    assert "chat.sla_breached" not in [e["type"] for e in await events(client, customer, cid)]
    mine = (await client.get(f"/api/v1/chats/{cid}", headers=customer.headers)).json()
    assert mine.get("sla") is None
    # A late answer is recorded but the chat stays breached.
    r = await client.post(
        f"/api/v1/chats/{cid}/messages",
        json={"text": "Sorry for the wait", "client_id": "a1"},
        headers=agent.headers,
    )
    assert r.status_code == 201, r.text
    sla = await sla_of(client, agent, cid)
    assert sla["breached"] is True and sla["first_response_at"] == "2026-12-04T08:20:00Z"


async def test_an_answer_in_time_stops_the_clock(
    client: httpx.AsyncClient, world: dict[str, Any], clock: FrozenClock
) -> None:
    customer, agent, sweeper = world["customer"], world["agent"], world["sweeper"]
    chat = await start_chat(client, customer, world["q"])
    cid = chat["id"]
    await client.post(f"/api/v1/chats/{cid}/accept", headers=agent.headers)
    at(clock, berlin(2026, 12, 4, 9, 5))
    r = await client.post(
        f"/api/v1/chats/{cid}/messages",
        json={"text": "Good morning!", "client_id": "a1"},
        headers=agent.headers,
    )
    assert r.status_code == 201, r.text
    at(clock, berlin(2026, 12, 8, 12, 0))  # long past the due time
    await sweeper.run_once()
    assert warnings(world) == []
    assert "chat.sla_breached" not in [e["type"] for e in await events(client, agent, cid)]
    sla = await sla_of(client, agent, cid)
    assert sla["breached"] is False and sla["first_response_at"] == "2026-12-04T08:05:00Z"


async def test_a_queue_without_a_target_has_no_clock(
    client: httpx.AsyncClient, world: dict[str, Any], clock: FrozenClock
) -> None:
    chat = await start_chat(client, world["customer"], world["other"])
    r = await client.get(f"/api/v1/chats/{chat['id']}", headers=world["agent"].headers)
    assert r.json()["sla"] is None
    clock.advance(5 * DAY)
    await world["sweeper"].run_once()
    assert warnings(world) == []


async def test_moving_the_chat_restarts_the_clock_with_the_new_queue(
    client: httpx.AsyncClient, world: dict[str, Any], clock: FrozenClock
) -> None:
    agent, supervisor = world["agent"], world["supervisor"]
    chat = await start_chat(client, world["customer"], world["q"])
    cid = chat["id"]
    r = await client.patch(
        f"/api/v1/queues/{world['other']}",
        json={"sla": {"first_response_s": 120}},
        headers=world["admin"].headers,
    )
    assert r.status_code == 200, r.text
    clock.advance(60)
    r = await client.post(
        f"/api/v1/chats/{cid}/move", json={"queue_id": world["other"]}, headers=supervisor.headers
    )
    assert r.status_code == 200, r.text
    moved = r.json()["sla"]
    # Billing has no opening hours: 120 s from the move, warned at 96 s.
    assert moved["first_response_due_at"] == "2026-12-03T15:53:00Z"
    assert moved["warn_at"] == "2026-12-03T15:52:36Z"
    clock.advance(96)
    await world["sweeper"].run_once()
    assert [t for t, _ in warnings(world)] == [f"queue:{world['other']}", "supervisors"]
    clock.advance(24)
    await world["sweeper"].run_once()
    types = [e["type"] for e in await events(client, agent, cid)]
    assert types.count("chat.sla_breached") == 1
