"""Automatic messages per queue (CONTRACT-2): the auto-reply after a wait, fired by the sweeper
on the controllable clock, once per chat; the away text; both validated and audited."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from helpline.kit.clock import FrozenClock
from helpline.sweeper import Sweeper
from tests.fixtures.factories import events, make_queue, make_user, start_chat

pytestmark = pytest.mark.asyncio

REPLY = "Thanks for waiting, someone will be with you shortly."


@pytest.fixture
def clock(frozen_clock: FrozenClock) -> FrozenClock:
    return frozen_clock


@pytest_asyncio.fixture
async def world(app: FastAPI, client: httpx.AsyncClient, clock: FrozenClock) -> dict[str, Any]:
    admin = await make_user(app, "admin")
    q = await make_queue(app, "Support", max_wait_s=3600)
    r = await client.patch(
        f"/api/v1/queues/{q}",
        json={"auto_reply": {"after_s": 60, "text": REPLY}, "away_text": "We are away."},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["auto_reply"] == {"after_s": 60, "text": REPLY}
    assert r.json()["away_text"] == "We are away."
    return {
        "q": q,
        "admin": admin,
        "customer": await make_user(app, "customer", name="Carla"),
        "agent": await make_user(app, "agent", name="Ana", queues=[q]),
        "sweeper": Sweeper(app.state.ctx),
    }


def auto(evs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in evs if e["type"] == "message.posted" and e["actor"] is None]


async def test_auto_reply_is_posted_once_as_a_system_message_after_the_wait(
    client: httpx.AsyncClient, world: dict[str, Any], clock: FrozenClock
) -> None:
    customer, sweeper = world["customer"], world["sweeper"]
    chat = await start_chat(client, customer, world["q"])
    clock.advance(59)
    await sweeper.run_once()
    assert auto(await events(client, customer, chat["id"])) == []
    clock.advance(2)
    await sweeper.run_once()
    await sweeper.run_once()
    clock.advance(600)
    await sweeper.run_once()
    got = auto(await events(client, customer, chat["id"]))
    assert len(got) == 1
    assert got[0]["data"] == {"text": REPLY, "client_id": "auto-reply", "automatic": True}
    # The agent sees it as well; the chat still waits.
    assert auto(await events(client, world["agent"], chat["id"])) == got
    r = await client.get(f"/api/v1/chats/{chat['id']}", headers=customer.headers)
    assert r.json()["status"] == "waiting"


async def test_no_auto_reply_once_an_agent_accepted(
    client: httpx.AsyncClient, world: dict[str, Any], clock: FrozenClock
) -> None:
    chat = await start_chat(client, world["customer"], world["q"])
    clock.advance(30)
    r = await client.post(f"/api/v1/chats/{chat['id']}/accept", headers=world["agent"].headers)
    assert r.status_code == 200
    clock.advance(120)
    await world["sweeper"].run_once()
    assert auto(await events(client, world["customer"], chat["id"])) == []


async def test_a_queue_without_auto_reply_posts_nothing(
    app: FastAPI, client: httpx.AsyncClient, world: dict[str, Any], clock: FrozenClock
) -> None:
    r = await client.patch(
        f"/api/v1/queues/{world['q']}", json={"auto_reply": None}, headers=world["admin"].headers
    )
    assert r.status_code == 200 and r.json()["auto_reply"] is None
    chat = await start_chat(client, world["customer"], world["q"])
    clock.advance(3000)
    await world["sweeper"].run_once()
    assert auto(await events(client, world["customer"], chat["id"])) == []


async def test_bad_automatic_messages_are_422_and_change_nothing(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    url, headers = f"/api/v1/queues/{world['q']}", world["admin"].headers
    for body in (
        {"auto_reply": {"after_s": 0, "text": "hi"}},
        {"auto_reply": {"after_s": 60, "text": "   "}},
        {"auto_reply": {"after_s": 60}},
        {"auto_reply": {"after_s": 60, "text": "hi", "to": "x"}},
        {"away_text": "x" * 2001},
    ):
        r = await client.patch(url, json=body, headers=headers)
        assert r.status_code == 422, (body, r.text)
    got = (await client.get("/api/v1/queues", headers=headers)).json()["items"][0]
    assert got["auto_reply"] == {"after_s": 60, "text": REPLY}
    assert got["away_text"] == "We are away."
    agent = world["agent"]
    r = await client.patch(url, json={"away_text": "no"}, headers=agent.headers)
    assert r.status_code == 403


async def test_changes_are_audited_and_the_public_queue_list_carries_the_away_text(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    log = await client.get(
        "/api/v1/audit", params={"action": "queue.updated"}, headers=world["admin"].headers
    )
    assert log.status_code == 200, log.text
    entry = log.json()["items"][0]
    assert set(entry["details"]["fields"]) == {"auto_reply", "away_text"}
    public = (await client.get("/api/v1/queues")).json()["items"][0]
    assert public["away_text"] == "We are away."
    r = await client.patch(
        f"/api/v1/queues/{world['q']}", json={"away_text": ""}, headers=world["admin"].headers
    )
    assert r.json()["away_text"] is None
