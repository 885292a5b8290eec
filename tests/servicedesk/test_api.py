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


async def _raise_from_chat(
    client: httpx.AsyncClient, world: dict[str, Any], summary: str = "Broken", **body: Any
) -> dict[str, Any]:
    chat = await accepted_chat(client, world["customer"], world["agent"], world["q"])
    r = await client.post(
        f"/api/v1/chats/{chat['id']}/requests",
        json={"summary": summary, **body},
        headers=world["agent"].headers,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_list_filters_search_and_sorting(
    client: httpx.AsyncClient, app: FastAPI, world: dict[str, Any]
) -> None:
    agent, admin = world["agent"].headers, world["admin"].headers
    refs = {}
    for summary, priority in (
        ("Printer jam", "low"),
        ("VPN down", "critical"),
        ("New laptop", "medium"),
        ("Password 50% reset", "high"),
    ):
        r = await client.post(
            "/api/v1/requests",
            json={"summary": summary, "priority": priority, "team_id": world["q"]},
            headers=world["customer"].headers,
        )
        refs[summary] = r.json()["reference"]
    r = await client.post(
        "/api/v1/requests",
        json={"summary": "Invoice wrong", "team_id": world["other"]},
        headers=world["customer2"].headers,
    )
    refs["Invoice wrong"] = r.json()["reference"]
    await client.patch(
        f"/api/v1/requests/{refs['VPN down']}",
        json={"status": "in_progress", "assignee_id": world["agent"].id},
        headers=agent,
    )
    await client.patch(
        f"/api/v1/requests/{refs['Printer jam']}", json={"summary": "Printer jam!"}, headers=agent
    )

    async def summaries(who: dict[str, str], **params: Any) -> list[str]:
        r = await client.get("/api/v1/requests", params=params, headers=who)
        assert r.status_code == 200, r.text
        return [i["summary"] for i in r.json()["items"]]

    assert await summaries(agent) == [
        "Password 50% reset",
        "New laptop",
        "VPN down",
        "Printer jam!",
    ]
    assert await summaries(admin, team_id=world["other"]) == ["Invoice wrong"]
    assert await summaries(agent, status="in_progress") == ["VPN down"]
    assert await summaries(agent, assignee_id=world["agent"].id) == ["VPN down"]
    assert "VPN down" not in await summaries(agent, assignee_id="none")
    assert await summaries(agent, priority="high") == ["Password 50% reset"]
    assert await summaries(agent, q="LAPTOP") == ["New laptop"]
    assert await summaries(agent, q=refs["VPN down"].lower()) == ["VPN down"]
    assert await summaries(admin, q="dan") == ["Invoice wrong"]  # customer name
    assert await summaries(agent, q="50%") == ["Password 50% reset"]  # % is literal
    assert await summaries(agent, q="%") == ["Password 50% reset"]
    assert await summaries(agent, sort="created_at") == [
        "Printer jam!",
        "VPN down",
        "New laptop",
        "Password 50% reset",
    ]
    assert (await summaries(agent, sort="-updated_at"))[0] == "Printer jam!"
    assert await summaries(agent, sort="priority") == [
        "VPN down",
        "Password 50% reset",
        "New laptop",
        "Printer jam!",
    ]
    assert (await summaries(agent, sort="-priority"))[0] == "Printer jam!"
    for bad in ({"sort": "summary"}, {"status": "done"}, {"priority": "asap"}):
        r = await client.get("/api/v1/requests", params=bad, headers=agent)
        assert r.status_code == 422, bad
    page = (await client.get("/api/v1/requests", params={"limit": 3}, headers=agent)).json()
    rest = (
        await client.get(
            "/api/v1/requests", params={"limit": 3, "cursor": page["next"]}, headers=agent
        )
    ).json()
    assert len(page["items"]) == 3 and len(rest["items"]) == 1 and rest["next"] is None


async def test_linked_chat_transcript_from_the_request(
    client: httpx.AsyncClient, app: FastAPI, world: dict[str, Any]
) -> None:
    chat = await accepted_chat(client, world["customer"], world["agent"], world["q"])
    agent = world["agent"].headers
    await client.post(
        f"/api/v1/chats/{chat['id']}/messages",
        json={"text": "Have you tried turning it off?", "client_id": "m1"},
        headers=agent,
    )
    await client.post(
        f"/api/v1/chats/{chat['id']}/notes", json={"text": "grumpy one"}, headers=agent
    )
    ref = (
        await client.post(
            f"/api/v1/chats/{chat['id']}/requests",
            json={"summary": "Broken", "description": "see chat"},
            headers=agent,
        )
    ).json()["reference"]
    url = f"/api/v1/requests/{ref}/transcript"

    for who in ("agent", "customer", "admin"):
        r = await client.get(url, headers=world[who].headers)
        assert r.status_code == 200, (who, r.text)
        assert r.headers["content-type"].startswith("text/plain")
        assert f'filename="{chat["reference"]}-transcript.txt"' in r.headers["content-disposition"]
        assert "Have you tried turning it off?" in r.text and "grumpy" not in r.text
    assert (await client.get(url, headers=world["customer2"].headers)).status_code == 404
    assert (await client.get(url, headers=world["billing"].headers)).status_code == 404

    # Handed to another team: its agents read the chat through the request.
    r = await client.patch(
        f"/api/v1/requests/{ref}", json={"team_id": world["other"]}, headers=agent
    )
    assert r.status_code == 200
    r = await client.get(url, headers=world["billing"].headers)
    assert r.status_code == 200 and "Have you tried" in r.text

    own = await client.post(
        "/api/v1/requests", json={"summary": "No chat"}, headers=world["customer"].headers
    )
    r = await client.get(f"/api/v1/requests/{own.json()['reference']}/transcript", headers=agent)
    assert r.status_code == 404
    assert (
        await client.get("/api/v1/requests/SR-999999/transcript", headers=agent)
    ).status_code == 404


async def test_customers_get_403_for_anything_but_comment_cancel_and_reopen(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    req = await _raise_from_chat(client, world)
    url = f"/api/v1/requests/{req['reference']}"
    customer, agent = world["customer"].headers, world["agent"].headers
    before = (await client.get(f"{url}/timeline", headers=agent)).json()["items"]
    for body in (
        {"assignee_id": world["agent"].id},
        {"priority": "critical"},
        {"team_id": world["other"]},
        {"summary": "Mine now"},
        {"description": "edited"},
        {"status": "in_progress"},
        {"status": "resolved"},
        {"status": "cancelled", "priority": "low"},
    ):
        r = await client.patch(url, json=body, headers=customer)
        assert r.status_code == 403, body
        assert r.json()["error"]["code"] == "forbidden"
    r = await client.post(
        f"{url}/comments", json={"text": "psst", "internal": True}, headers=customer
    )
    assert r.status_code == 403
    r = await client.post(
        "/api/v1/requests",
        json={"summary": "x", "assignee_id": world["agent"].id},
        headers=customer,
    )
    assert r.status_code == 422
    assert (await client.get(f"{url}/timeline", headers=agent)).json()["items"] == before
    assert (await client.get(url, headers=agent)).json()["status"] == "new"

    # What they may do.
    assert (await client.patch(url, json={"status": "cancelled"}, headers=customer)).is_success
    req2 = await client.post("/api/v1/requests", json={"summary": "Second"}, headers=customer)
    url2 = f"/api/v1/requests/{req2.json()['reference']}"
    for status in ("open", "resolved"):
        assert (await client.patch(url2, json={"status": status}, headers=agent)).is_success
    assert (
        await client.patch(url2, json={"status": "closed"}, headers=customer)
    ).status_code == 403
    r = await client.patch(url2, json={"status": "open"}, headers=customer)
    assert r.status_code == 200 and r.json()["resolved_at"] is None


async def test_agents_cannot_raise_requests_without_a_chat(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    r = await client.post(
        "/api/v1/requests", json={"summary": "for someone"}, headers=world["agent"].headers
    )
    assert r.status_code == 403
