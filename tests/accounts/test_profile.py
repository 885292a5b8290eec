"""GET /customers/{id}: who may read a customer's profile, and only what they may see in it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from tests.fixtures.factories import Person, accepted_chat, make_queue, make_user, start_chat

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def world(app: FastAPI) -> dict[str, Any]:
    q = await make_queue(app, "Support")
    other = await make_queue(app, "Billing")
    return {
        "q": q,
        "other": other,
        "ana": await make_user(app, "agent", name="Ana", queues=[q]),
        "bill": await make_user(app, "agent", name="Bill", queues=[other]),
        "nobody": await make_user(app, "agent", name="Nora"),
        "sup": await make_user(app, "supervisor", name="Sue"),
        "admin": await make_user(app, "admin", name="Adam"),
        "carla": await make_user(app, "customer", name="Carla", email="carla@example.com"),
        "dan": await make_user(app, "customer", name="Dan"),
    }


async def profile(
    client: httpx.AsyncClient, who: Person, customer_id: str, expect: int = 200
) -> dict[str, Any]:
    r = await client.get(f"/api/v1/customers/{customer_id}", headers=who.headers)
    assert r.status_code == expect, r.text
    return dict(r.json())


async def finish(
    client: httpx.AsyncClient, chat: dict[str, Any], agent: Person, customer: Person, score: int
) -> None:
    r = await client.post(f"/api/v1/chats/{chat['id']}/solve", headers=agent.headers)
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/api/v1/chats/{chat['id']}/rating", json={"score": score}, headers=customer.headers
    )
    assert r.status_code == 200, r.text


async def test_profile_shows_only_the_chats_and_requests_the_caller_may_see(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    carla, ana, bill = world["carla"], world["ana"], world["bill"]
    first = await accepted_chat(client, carla, ana, world["q"])
    assert first["customer"]["id"] == carla.id
    await finish(client, first, ana, carla, 5)
    billing = await accepted_chat(client, carla, bill, world["other"])
    await finish(client, billing, bill, carla, 2)
    third = await start_chat(client, carla, world["q"], "Still there?")
    r = await client.post(
        f"/api/v1/chats/{first['id']}/requests",
        json={"summary": "Refund the order"},
        headers=ana.headers,
    )
    assert r.status_code == 201, r.text
    support_request = r.json()["reference"]
    r = await client.post(
        f"/api/v1/chats/{billing['id']}/requests",
        json={"summary": "Invoice copy"},
        headers=bill.headers,
    )
    billing_request = r.json()["reference"]

    seen = await profile(client, ana, carla.id)
    assert seen["id"] == carla.id and seen["name"] == "Carla"
    assert seen["email"] == "carla@example.com" and seen["created_at"]
    assert [c["id"] for c in seen["chats"]] == [third["id"], first["id"]]  # newest first
    assert seen["chats"][1] == {
        "id": first["id"],
        "reference": first["reference"],
        "status": "solved",
        "queue_id": world["q"],
        "created_at": seen["chats"][1]["created_at"],
    }
    assert seen["requests"] == [
        {"reference": support_request, "status": "new", "summary": "Refund the order"}
    ]
    assert seen["rating_avg"] == 5.0

    other = await profile(client, bill, carla.id)
    assert [c["id"] for c in other["chats"]] == [billing["id"]]
    assert [r["reference"] for r in other["requests"]] == [billing_request]
    assert other["rating_avg"] == 2.0

    everything = await profile(client, world["sup"], carla.id)
    assert len(everything["chats"]) == 3 and len(everything["requests"]) == 2
    assert everything["rating_avg"] == 3.5


async def test_staff_who_see_none_of_the_chats_get_404_supervisors_always_see(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    dan = world["dan"]
    await start_chat(client, dan, world["q"])
    await profile(client, world["ana"], dan.id)
    await profile(client, world["bill"], dan.id, expect=404)
    await profile(client, world["nobody"], dan.id, expect=404)
    # A customer with no chat at all: only supervisors and admins.
    carla = world["carla"]
    await profile(client, world["ana"], carla.id, expect=404)
    empty = await profile(client, world["admin"], carla.id)
    assert empty["chats"] == [] and empty["requests"] == [] and empty["rating_avg"] is None
    # Unknown ids and staff accounts are no customers.
    await profile(client, world["sup"], "nope", expect=404)
    await profile(client, world["sup"], world["ana"].id, expect=404)


async def test_customers_may_not_read_profiles(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await start_chat(client, world["dan"], world["q"])
    await profile(client, world["carla"], world["dan"].id, expect=403)
    await profile(client, world["dan"], world["dan"].id, expect=403)
    r = await client.get(f"/api/v1/customers/{world['dan'].id}")
    assert r.status_code == 401
