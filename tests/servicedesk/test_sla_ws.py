"""The `sla.warning` frame for requests over real WebSockets: at 80 % of the response time,
then of the resolution time, the team's members, the assignee from another team and the
supervisors get it once each, even with several sweepers at once; agents of other teams and
the customer never."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from helpline.kit.clock import FrozenClock
from helpline.sweeper import Sweeper
from tests.conftest import LiveServer
from tests.fixtures.factories import make_queue, make_user
from tests.fixtures.wsclient import WSClient

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def http(live_server: LiveServer) -> Any:
    async with httpx.AsyncClient(base_url=live_server.url) as c:
        yield c


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def _settle(clients: dict[str, WSClient]) -> dict[str, list[dict[str, Any]]]:
    """Every frame sent so far has arrived once a pong comes back: the warnings per person."""
    for ws in clients.values():
        await ws.request({"type": "ping"}, lambda f: f["type"] == "pong")
    return {
        name: [f for f in ws.frames if f["type"] == "sla.warning"] for name, ws in clients.items()
    }


async def test_request_warnings_reach_the_right_staff_once_per_target(
    live_server: LiveServer, http: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    app = live_server.app
    q = await make_queue(
        app, "Support", request_sla={"urgent": {"response_s": 100, "resolve_s": 1000}}
    )
    other = await make_queue(app, "Billing")
    carla = await make_user(app, "customer", name="Carla")
    ana = await make_user(app, "agent", name="Ana", queues=[q])
    ben = await make_user(app, "agent", name="Ben", queues=[other])
    dan = await make_user(app, "agent", name="Dan", queues=[other])
    sue = await make_user(app, "supervisor", name="Sue")
    r = await http.post(
        "/api/v1/requests",
        json={"summary": "Checkout is down", "team_id": q, "priority": "critical"},
        headers=carla.headers,
    )
    assert r.status_code == 201, r.text
    req = r.json()
    ref, created = req["reference"], _at(req["created_at"])
    # The warning times are on the request (staff only), at 80 % of each target.
    assert _at(req["sla"]["response_warn_at"]) == created + timedelta(seconds=80)
    assert _at(req["sla"]["resolve_warn_at"]) == created + timedelta(seconds=800)
    r = await http.patch(
        f"/api/v1/requests/{ref}", json={"assignee_id": dan.id}, headers=sue.headers
    )
    assert r.status_code == 200, r.text

    people = (carla, ana, ben, dan, sue)
    clients = {p.name: await WSClient.open(live_server.ws_url, p.token) for p in people}
    try:
        await _settle(clients)
        frozen_clock.advance(79)
        await Sweeper(app.state.ctx).run_once()
        assert all(not got for got in (await _settle(clients)).values())
        frozen_clock.advance(1)  # 80 of 100 seconds
        # Three sweepers at once, as three server processes would: one warning.
        await asyncio.gather(*(Sweeper(app.state.ctx).run_once() for _ in range(3)))
        for name in ("Ana", "Dan", "Sue"):
            await clients[name].wait_for(lambda f: f["type"] == "sla.warning")
        got = await _settle(clients)
        assert {name: len(frames) for name, frames in got.items()} == {
            "Carla": 0,
            "Ana": 1,
            "Ben": 0,
            "Dan": 1,
            "Sue": 1,
        }
        assert got["Sue"][0] == {
            "type": "sla.warning",
            "request_id": req["id"],
            "reference": ref,
            "target": "response",
            "due_at": req["sla"]["response_due_at"],
        }

        # Answered in time: the resolution clock runs on and warns at its own 80 %.
        r = await http.post(
            f"/api/v1/requests/{ref}/comments", json={"text": "On it"}, headers=ana.headers
        )
        assert r.status_code == 201, r.text
        frozen_clock.advance(719)  # 799 s
        await Sweeper(app.state.ctx).run_once()
        assert len((await _settle(clients))["Sue"]) == 1
        frozen_clock.advance(1)
        await asyncio.gather(*(Sweeper(app.state.ctx).run_once() for _ in range(3)))
        await clients["Sue"].wait_for(
            lambda f: f["type"] == "sla.warning" and f.get("target") == "resolution"
        )
        got = await _settle(clients)
        assert {name: len(frames) for name, frames in got.items()} == {
            "Carla": 0,
            "Ana": 2,
            "Ben": 0,
            "Dan": 2,
            "Sue": 2,
        }
        assert got["Ana"][1]["due_at"] == req["sla"]["resolve_due_at"]

        # The breach at the due time is a timeline entry, not another warning.
        frozen_clock.advance(200)
        await Sweeper(app.state.ctx).run_once()
        assert len((await _settle(clients))["Sue"]) == 2
        r = await http.get(f"/api/v1/requests/{ref}/timeline", headers=sue.headers)
        assert [e["data"]["target"] for e in r.json()["items"] if e["type"] == "sla_breached"] == [
            "resolution"
        ]
    finally:
        for ws in clients.values():
            await ws.close()


async def test_a_priority_change_starts_a_new_clock_that_warns_again(
    live_server: LiveServer, http: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    app = live_server.app
    q = await make_queue(
        app,
        "Support",
        request_sla={"urgent": {"response_s": 100}, "high": {"response_s": 1000}},
    )
    carla = await make_user(app, "customer", name="Carla")
    sue = await make_user(app, "supervisor", name="Sue")
    r = await http.post(
        "/api/v1/requests",
        json={"summary": "Slow pages", "team_id": q, "priority": "high"},
        headers=carla.headers,
    )
    assert r.status_code == 201, r.text
    ref = r.json()["reference"]
    ws = await WSClient.open(live_server.ws_url, sue.token)
    try:
        frozen_clock.advance(90)
        await Sweeper(app.state.ctx).run_once()
        assert not (await _settle({"Sue": ws}))["Sue"]  # 90 of 1000 s
        # Raised to urgent: 100 s from creation, 80 % of it already used: warned at once.
        r = await http.patch(
            f"/api/v1/requests/{ref}", json={"priority": "critical"}, headers=sue.headers
        )
        assert r.status_code == 200, r.text
        await Sweeper(app.state.ctx).run_once()
        await Sweeper(app.state.ctx).run_once()
        frames = (await _settle({"Sue": ws}))["Sue"]
        assert [(f["reference"], f["target"]) for f in frames] == [(ref, "response")]
    finally:
        await ws.close()
