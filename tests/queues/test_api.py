from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.factories import make_queue, make_user, start_chat

pytestmark = pytest.mark.asyncio


async def test_anyone_lists_active_queues_with_availability(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    q = await make_queue(app, "Support")
    await make_queue(app, "Old", active=False)
    await make_user(app, "agent", queues=[q])
    await make_user(app, "agent", queues=[q], status="away")
    r = await client.get("/api/v1/queues")
    assert r.status_code == 200
    items = r.json()["items"]
    assert [i["name"] for i in items] == ["Support"]
    assert items[0]["agents_available"] == 1 and items[0]["open_now"] is True


async def test_admin_creates_renames_and_deactivates_queues(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_user(app, "admin")
    r = await client.post(
        "/api/v1/queues", json={"name": "Returns", "routing_mode": "assign"}, headers=admin.headers
    )
    assert r.status_code == 201, r.text
    qid = r.json()["id"]
    assert r.json()["routing_mode"] == "assign" and r.json()["max_wait_s"] == 600
    assert (
        await client.post("/api/v1/queues", json={"name": "Returns"}, headers=admin.headers)
    ).status_code == 409
    r = await client.patch(
        f"/api/v1/queues/{qid}", json={"name": "Returns & refunds"}, headers=admin.headers
    )
    assert r.json()["name"] == "Returns & refunds"
    r = await client.patch(f"/api/v1/queues/{qid}", json={"active": False}, headers=admin.headers)
    assert r.json()["active"] is False
    customer = await make_user(app, "customer")
    r = await client.post(
        "/api/v1/chats", json={"queue_id": qid, "message": "hi"}, headers=customer.headers
    )
    assert r.status_code == 422
    listed = await client.get(
        "/api/v1/queues", params={"include_inactive": True}, headers=admin.headers
    )
    assert qid in [q["id"] for q in listed.json()["items"]]


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "X", "routing_mode": "random"},
        {"name": "X", "max_wait_s": -1},
        {"name": "X", "hours": {"timezone": "Mars/Olympus", "weekly": {}}},
        {
            "name": "X",
            "hours": {"timezone": "Europe/London", "weekly": {"mon": [["17:00", "09:00"]]}},
        },
        {
            "name": "X",
            "hours": {
                "timezone": "Europe/London",
                "weekly": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]},
            },
        },
        {"name": "X", "hours": {"timezone": "Europe/London", "weekly": {"funday": []}}},
        {"name": "X", "hours": {"timezone": "Europe/London", "weekly": {"mon": [["9", "17"]]}}},
        {"name": "X", "colour": "red"},
    ],
)
async def test_bad_queue_input_is_422(
    app: FastAPI, client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    admin = await make_user(app, "admin")
    r = await client.post("/api/v1/queues", json=body, headers=admin.headers)
    assert r.status_code == 422, body
    assert (await client.get("/api/v1/queues")).json()["items"] == []


async def test_closed_queue_refuses_chats(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_user(app, "admin")
    hours = {"timezone": "UTC", "weekly": {}, "exceptions": []}  # never open
    r = await client.post(
        "/api/v1/queues", json={"name": "Night", "hours": hours}, headers=admin.headers
    )
    assert r.json()["open_now"] is False
    customer = await make_user(app, "customer")
    r = await client.post(
        "/api/v1/chats",
        json={"queue_id": r.json()["id"], "message": "hi"},
        headers=customer.headers,
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "queue_closed"


async def test_membership_decides_what_agents_see(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_user(app, "admin")
    q = await make_queue(app, "Support")
    agent = await make_user(app, "agent")
    customer = await make_user(app, "customer")
    chat = await start_chat(client, customer, q)
    assert (
        await client.get(f"/api/v1/chats/{chat['id']}", headers=agent.headers)
    ).status_code == 404
    r = await client.put(
        f"/api/v1/queues/{q}/members", json={"user_ids": [agent.id]}, headers=admin.headers
    )
    assert r.status_code == 200 and [m["id"] for m in r.json()["items"]] == [agent.id]
    assert (
        await client.get(f"/api/v1/chats/{chat['id']}", headers=agent.headers)
    ).status_code == 200
    r = await client.put(
        f"/api/v1/queues/{q}/members", json={"user_ids": ["ghost"]}, headers=admin.headers
    )
    assert r.status_code == 422
    r = await client.put(
        f"/api/v1/queues/{q}/members", json={"user_ids": [customer.id]}, headers=admin.headers
    )
    assert r.status_code == 422
    assert (
        await client.put(
            f"/api/v1/queues/{q}/members", json={"user_ids": []}, headers=agent.headers
        )
    ).status_code == 403
    assert (await client.get(f"/api/v1/queues/{q}/members", headers=admin.headers)).json()["items"][
        0
    ]["id"] == agent.id
