"""Requests' service levels with the controllable clock: response and resolution due times per
priority from the team's targets, counted across a closed night; the internal timeline entry
`sla_breached` once per target; nothing once answered or resolved in time."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from helpline.kit.clock import FrozenClock, set_clock
from helpline.sweeper import Sweeper
from tests.fixtures.factories import ctx_of, make_queue, make_user

pytestmark = pytest.mark.asyncio

BERLIN = ZoneInfo("Europe/Berlin")
HOURS = {
    "timezone": "Europe/Berlin",
    "weekly": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
}
DAY = 24 * 3600


@pytest.fixture
def clock() -> FrozenClock:
    c = FrozenClock(datetime(2026, 12, 3, 16, 0, tzinfo=BERLIN))  # Thursday, 1 h before closing
    set_clock(c)
    return c


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"session_idle_s": 9 * DAY, "offline_grace_s": 9 * DAY}


@pytest_asyncio.fixture
async def world(app: FastAPI, clock: FrozenClock) -> dict[str, Any]:
    q = await make_queue(
        app,
        "Support",
        hours=HOURS,
        request_sla={
            "urgent": {"response_s": 1800, "resolve_s": 4 * 3600},
            "normal": {"response_s": 2 * 3600},
        },
    )
    return {
        "q": q,
        "customer": await make_user(app, "customer", name="Carla"),
        "agent": await make_user(app, "agent", name="Ana", queues=[q]),
        "sweeper": Sweeper(ctx_of(app)),
    }


async def _raise(client: httpx.AsyncClient, world: dict[str, Any], **body: Any) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/requests",
        json={"summary": "Broken invoice", "team_id": world["q"], **body},
        headers=world["customer"].headers,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _timeline(client: httpx.AsyncClient, who: Any, ref: str) -> list[dict[str, Any]]:
    r = await client.get(f"/api/v1/requests/{ref}/timeline", headers=who.headers)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def _breaches(entries: list[dict[str, Any]]) -> list[str]:
    return [e["data"]["target"] for e in entries if e["type"] == "sla_breached"]


def _at(clock: FrozenClock, *when: int) -> None:
    clock.advance((datetime(*when, tzinfo=BERLIN) - clock.now()).total_seconds())  # type: ignore[misc]


async def test_due_times_per_priority_and_breaches_across_a_closed_night(
    client: httpx.AsyncClient, world: dict[str, Any], clock: FrozenClock
) -> None:
    agent, sweeper = world["agent"], world["sweeper"]
    req = await _raise(client, world, priority="critical")  # critical is the contract's urgent
    ref = req["reference"]
    # 30 min of response time fit before closing; 4 h of resolution: 1 h today, 3 h Friday.
    assert req["sla"]["response_due_at"] == "2026-12-03T15:30:00Z"
    assert req["sla"]["resolve_due_at"] == "2026-12-04T11:00:00Z"
    _at(clock, 2026, 12, 3, 16, 29, 59)
    await sweeper.run_once()
    assert _breaches(await _timeline(client, agent, ref)) == []
    clock.advance(1)
    await sweeper.run_once()
    await sweeper.run_once()
    assert _breaches(await _timeline(client, agent, ref)) == ["response"]
    # An answer now is late; the resolution clock runs on, paused overnight.
    r = await client.post(
        f"/api/v1/requests/{ref}/comments",
        json={"text": "Looking into it"},
        headers=agent.headers,
    )
    assert r.status_code == 201, r.text
    _at(clock, 2026, 12, 4, 11, 59, 59)
    await sweeper.run_once()
    assert _breaches(await _timeline(client, agent, ref)) == ["response"]
    clock.advance(1)
    await sweeper.run_once()
    entries = await _timeline(client, agent, ref)
    assert _breaches(entries) == ["response", "resolution"]
    last = [e for e in entries if e["type"] == "sla_breached"][-1]
    assert last["data"]["due_at"] == "2026-12-04T11:00:00.000000Z"
    got = (await client.get(f"/api/v1/requests/{ref}", headers=agent.headers)).json()["sla"]
    assert got["response_breached"] is True and got["resolve_breached"] is True
    # Internal: the customer's timeline never shows them.
    assert _breaches(await _timeline(client, world["customer"], ref)) == []


async def test_answered_and_resolved_in_time_records_nothing(
    client: httpx.AsyncClient, world: dict[str, Any], clock: FrozenClock
) -> None:
    agent, sweeper = world["agent"], world["sweeper"]
    ref = (await _raise(client, world, priority="critical"))["reference"]
    clock.advance(600)
    # An internal note is no answer to the customer.
    await client.post(
        f"/api/v1/requests/{ref}/comments",
        json={"text": "Needs finance", "internal": True},
        headers=agent.headers,
    )
    r = await client.get(f"/api/v1/requests/{ref}", headers=agent.headers)
    assert r.json()["sla"]["first_response_at"] is None
    await client.post(
        f"/api/v1/requests/{ref}/comments", json={"text": "On it"}, headers=agent.headers
    )
    for status in ("open", "resolved"):
        r = await client.patch(
            f"/api/v1/requests/{ref}", json={"status": status}, headers=agent.headers
        )
        assert r.status_code == 200, r.text
    clock.advance(7 * DAY)
    await sweeper.run_once()
    assert _breaches(await _timeline(client, agent, ref)) == []
    got = (await client.get(f"/api/v1/requests/{ref}", headers=agent.headers)).json()["sla"]
    assert got["first_response_at"] == "2026-12-03T15:10:00Z"
    assert got["response_breached"] is False and got["resolve_breached"] is False


async def test_priority_change_recomputes_and_no_target_means_no_clock(
    client: httpx.AsyncClient, world: dict[str, Any], clock: FrozenClock
) -> None:
    agent = world["agent"]
    req = await _raise(client, world, priority="low")
    assert req["sla"] is None
    r = await client.patch(
        f"/api/v1/requests/{req['reference']}", json={"priority": "medium"}, headers=agent.headers
    )
    # normal: 2 h of response from creation (1 h Thursday, 1 h Friday), no resolution target.
    assert r.json()["sla"]["response_due_at"] == "2026-12-04T09:00:00Z"
    assert r.json()["sla"]["resolve_due_at"] is None
