"""Service Manager requests: the parts of the contract the chat session relies on."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from tests.fixtures.factories import accepted_chat, make_queue, make_user

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def world(app: FastAPI) -> dict[str, Any]:
    q = await make_queue(app, "Support")
    other = await make_queue(app, "Billing")
    return {
        "q": q,
        "other": other,
        "customer": await make_user(app, "customer", name="Carla"),
        "customer2": await make_user(app, "customer", name="Dan"),
        "agent": await make_user(app, "agent", name="Ana", queues=[q]),
        "billing": await make_user(app, "agent", name="Bill", queues=[other]),
        "admin": await make_user(app, "admin"),
    }


async def test_customer_raises_a_request_in_the_default_queue(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    r = await client.post(
        "/api/v1/requests",
        json={"summary": "Call me back", "description": "After 5pm"},
        headers=world["customer"].headers,
    )
    assert r.status_code == 201, r.text
    req = r.json()
    assert (
        req["reference"] == "SR-000001" and req["status"] == "new" and req["priority"] == "medium"
    )
    assert req["customer"]["id"] == world["customer"].id and req["chat_id"] is None
    listed = await client.get("/api/v1/requests", headers=world["customer"].headers)
    assert [x["reference"] for x in listed.json()["items"]] == ["SR-000001"]
    assert (await client.get("/api/v1/requests", headers=world["customer2"].headers)).json()[
        "items"
    ] == []


async def test_references_are_unique_under_concurrency(
    client: httpx.AsyncClient, app: FastAPI, world: dict[str, Any]
) -> None:
    customers = [await make_user(app, "customer") for _ in range(15)]
    results = await asyncio.gather(
        *(
            client.post("/api/v1/requests", json={"summary": f"s{i}"}, headers=c.headers)
            for i, c in enumerate(customers)
        )
    )
    refs = sorted(r.json()["reference"] for r in results)
    assert all(r.status_code == 201 for r in results)
    assert refs == [f"SR-{n:06d}" for n in range(1, 16)]


async def test_status_transitions_and_who_may_change_what(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    chat = await accepted_chat(client, world["customer"], world["agent"], world["q"])
    r = await client.post(
        f"/api/v1/chats/{chat['id']}/requests",
        json={"summary": "Broken"},
        headers=world["agent"].headers,
    )
    ref = r.json()["reference"]
    url = f"/api/v1/requests/{ref}"
    agent, customer = world["agent"].headers, world["customer"].headers
    assert (await client.patch(url, json={"status": "closed"}, headers=agent)).status_code == 409
    assert (
        await client.patch(
            url, json={"status": "in_progress", "assignee_id": world["agent"].id}, headers=agent
        )
    ).json()["status"] == "in_progress"
    assert (await client.patch(url, json={"priority": "high"}, headers=customer)).status_code == 403
    assert (
        await client.patch(url, json={"status": "cancelled"}, headers=customer)
    ).status_code == 403  # in progress: not theirs to cancel
    r = await client.patch(url, json={"status": "resolved"}, headers=agent)
    assert r.json()["status"] == "resolved" and r.json()["resolved_at"]
    r = await client.patch(url, json={"status": "open"}, headers=customer)  # reopen
    assert r.status_code == 200 and r.json()["status"] == "open"
    assert (await client.patch(url, json={"status": "bogus"}, headers=agent)).status_code == 422
    assert (await client.patch(url, json={"team_id": "nope"}, headers=agent)).status_code == 422
    assert (await client.patch(url, json={"assignee_id": "nope"}, headers=agent)).status_code == 422
    assert (await client.get(url, headers=world["billing"].headers)).status_code == 404
    assert (await client.get("/api/v1/requests/SR-999999", headers=agent)).status_code == 404


async def test_comments_and_timeline_hide_internal_entries_from_customers(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    chat = await accepted_chat(client, world["customer"], world["agent"], world["q"])
    ref = (
        await client.post(
            f"/api/v1/chats/{chat['id']}/requests",
            json={"summary": "Broken"},
            headers=world["agent"].headers,
        )
    ).json()["reference"]
    url = f"/api/v1/requests/{ref}"
    assert (
        await client.post(
            f"{url}/comments", json={"text": "We ordered a part"}, headers=world["agent"].headers
        )
    ).status_code == 201
    assert (
        await client.post(
            f"{url}/comments",
            json={"text": "supplier is slow", "internal": True},
            headers=world["agent"].headers,
        )
    ).status_code == 201
    assert (
        await client.post(
            f"{url}/comments",
            json={"text": "thanks", "internal": True},
            headers=world["customer"].headers,
        )
    ).status_code == 403
    assert (
        await client.post(
            f"{url}/comments", json={"text": "thanks"}, headers=world["customer"].headers
        )
    ).status_code == 201
    agent_tl = [
        e["type"]
        for e in (await client.get(f"{url}/timeline", headers=world["agent"].headers)).json()[
            "items"
        ]
    ]
    assert agent_tl == ["created", "chat_linked", "comment", "comment", "comment"]
    customer_tl = (await client.get(f"{url}/timeline", headers=world["customer"].headers)).json()[
        "items"
    ]
    assert "supplier is slow" not in str(customer_tl) and len(customer_tl) == 4


async def test_request_bad_input(client: httpx.AsyncClient, world: dict[str, Any]) -> None:
    for body in (
        {"summary": ""},
        {"summary": "x" * 201},
        {"summary": "x", "priority": "asap"},
        {"summary": "x", "team_id": "nope"},
        {"summary": "x", "assignee_id": world["agent"].id},
    ):
        r = await client.post("/api/v1/requests", json=body, headers=world["customer"].headers)
        assert r.status_code == 422, body
    assert (await client.get("/api/v1/requests", headers=world["admin"].headers)).json()[
        "items"
    ] == []
