"""Snippets: personal and shared (per queue), placeholders, search and rendering for a chat."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from tests.fixtures.factories import Person, accepted_chat, make_queue, make_user, start_chat

pytestmark = pytest.mark.asyncio

URL = "/api/v1/snippets"


@pytest_asyncio.fixture
async def world(app: FastAPI) -> dict[str, Any]:
    q = await make_queue(app, "Support")
    other = await make_queue(app, "Billing")
    return {
        "q": q,
        "other": other,
        "ana": await make_user(app, "agent", name="Ana", queues=[q]),
        "bo": await make_user(app, "agent", name="Bo", queues=[q]),
        "bill": await make_user(app, "agent", name="Bill", queues=[other]),
        "sup": await make_user(app, "supervisor", name="Sue"),
        "admin": await make_user(app, "admin", name="Adam"),
        "customer": await make_user(app, "customer", name="Carla"),
    }


async def create(
    client: httpx.AsyncClient, who: Person, expect: int = 201, **body: Any
) -> dict[str, Any]:
    body.setdefault("title", "Greeting")
    body.setdefault("content", "Hello {customer.name}!")
    r = await client.post(URL, json=body, headers=who.headers)
    assert r.status_code == expect, r.text
    return dict(r.json())


async def titles(client: httpx.AsyncClient, who: Person, **params: Any) -> list[str]:
    r = await client.get(URL, params=params, headers=who.headers)
    assert r.status_code == 200, r.text
    return [s["title"] for s in r.json()["items"]]


async def test_agent_creates_a_personal_snippet(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    ana = world["ana"]
    s = await create(client, ana, title="  Hi  ", content="Hi {customer.name}, {agent.name} here.")
    assert s["title"] == "Hi" and s["content"] == "Hi {customer.name}, {agent.name} here."
    assert s["queue_id"] is None and s["queue"] is None and s["shared"] is False
    assert s["owner"] == {"id": ana.id, "name": "Ana"} and s["editable"] is True
    assert s["created_at"] and s["updated_at"]
    assert await titles(client, ana) == ["Hi"]
    r = await client.get(f"{URL}/{s['id']}", headers=ana.headers)
    assert r.status_code == 200 and r.json()["id"] == s["id"]


async def test_agent_creating_a_shared_snippet_is_403_and_saves_nothing(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    ana = world["ana"]
    r = await client.post(
        URL, json={"title": "T", "content": "C", "queue_id": world["q"]}, headers=ana.headers
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert await titles(client, ana) == []
    assert await titles(client, world["sup"]) == []


async def test_shared_snippets_reach_the_queue_members_and_supervisors_only(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    shared = await create(client, world["sup"], title="Refunds", queue_id=world["q"])
    assert shared["shared"] is True and shared["queue"] == {"id": world["q"], "name": "Support"}
    assert await titles(client, world["ana"]) == ["Refunds"]
    assert await titles(client, world["bo"]) == ["Refunds"]
    assert await titles(client, world["admin"]) == ["Refunds"]
    assert await titles(client, world["bill"]) == []
    r = await client.get(URL, headers=world["ana"].headers)
    assert r.json()["items"][0]["editable"] is False
    # An agent uses shared snippets but may not change them; an outsider cannot see them at all.
    sid = shared["id"]
    ana, bill = world["ana"], world["bill"]
    r = await client.patch(f"{URL}/{sid}", json={"title": "Mine"}, headers=ana.headers)
    assert r.status_code == 403
    assert (await client.delete(f"{URL}/{sid}", headers=ana.headers)).status_code == 403
    r = await client.patch(f"{URL}/{sid}", json={"title": "Mine"}, headers=bill.headers)
    assert r.status_code == 404
    assert (await client.get(f"{URL}/{sid}", headers=bill.headers)).status_code == 404
    # Any supervisor or admin manages it.
    r = await client.patch(
        f"{URL}/{sid}", json={"title": "Refund policy"}, headers=world["admin"].headers
    )
    assert r.status_code == 200 and r.json()["title"] == "Refund policy"
    assert r.json()["owner"]["id"] == world["sup"].id


async def test_another_persons_personal_snippet_is_404(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    mine = await create(client, world["ana"], title="Private")
    sid = mine["id"]
    for who in (world["bo"], world["sup"], world["admin"]):
        assert (await client.get(f"{URL}/{sid}", headers=who.headers)).status_code == 404
        r = await client.patch(f"{URL}/{sid}", json={"title": "x"}, headers=who.headers)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        assert (await client.delete(f"{URL}/{sid}", headers=who.headers)).status_code == 404
        assert await titles(client, who) == []
    assert await titles(client, world["ana"]) == ["Private"]
    assert (await client.get(f"{URL}/nope", headers=world["ana"].headers)).status_code == 404


async def test_supervisors_see_all_shared_snippets_and_only_their_own_personal_ones(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await create(client, world["sup"], title="Support tips", queue_id=world["q"])
    await create(client, world["admin"], title="Billing tips", queue_id=world["other"])
    await create(client, world["sup"], title="Sue's own")
    await create(client, world["admin"], title="Adam's own")
    await create(client, world["ana"], title="Ana's own")
    assert await titles(client, world["sup"]) == ["Billing tips", "Sue's own", "Support tips"]
    assert await titles(client, world["admin"]) == ["Adam's own", "Billing tips", "Support tips"]
    assert await titles(client, world["ana"]) == ["Ana's own", "Support tips"]
    assert await titles(client, world["bill"]) == ["Billing tips"]


async def test_unknown_placeholders_are_422_listing_them_and_never_saved(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    ana = world["ana"]
    r = await client.post(
        URL,
        json={"title": "T", "content": "Hi {customer.email}, {customer.name} {foo} {foo}"},
        headers=ana.headers,
    )
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "unknown_placeholder"
    assert error["placeholders"] == ["{customer.email}", "{foo}"]
    assert "{customer.email}" in error["message"] and "{customer.name}" in error["message"]
    assert await titles(client, ana) == []
    s = await create(client, ana, content="Hi {customer.name}")
    r = await client.patch(f"{URL}/{s['id']}", json={"content": "Hi {name}"}, headers=ana.headers)
    assert r.status_code == 422 and r.json()["error"]["placeholders"] == ["{name}"]
    r = await client.get(f"{URL}/{s['id']}", headers=ana.headers)
    assert r.json()["content"] == "Hi {customer.name}"


async def test_content_over_5000_characters_is_422(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    ana = world["ana"]
    s = await create(client, ana, content="x" * 5000)
    assert len(s["content"]) == 5000
    r = await client.post(URL, json={"title": "Long", "content": "x" * 5001}, headers=ana.headers)
    assert r.status_code == 422
    r = await client.patch(f"{URL}/{s['id']}", json={"content": "y" * 5001}, headers=ana.headers)
    assert r.status_code == 422
    assert await titles(client, ana) == ["Greeting"]


@pytest.mark.parametrize(
    "body",
    [
        {"title": "", "content": "c"},
        {"title": "   ", "content": "c"},
        {"title": "t" * 121, "content": "c"},
        {"title": "t", "content": ""},
        {"title": "t"},
        {"content": "c"},
        {"title": "t", "content": "c", "owner_id": "someone"},
        {"title": 5, "content": "c"},
        {"title": "t", "content": "c", "queue_id": "no-such-queue"},
    ],
)
async def test_bad_snippet_input_is_422(
    client: httpx.AsyncClient, world: dict[str, Any], body: dict[str, Any]
) -> None:
    r = await client.post(URL, json=body, headers=world["sup"].headers)
    assert r.status_code == 422, body
    assert await titles(client, world["sup"]) == []


async def test_moving_snippets_between_personal_and_shared(
    app: FastAPI, client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    ana, sup = world["ana"], world["sup"]
    mine = await create(client, ana, title="Mine")
    r = await client.patch(
        f"{URL}/{mine['id']}", json={"queue_id": world["q"]}, headers=ana.headers
    )
    assert r.status_code == 403
    r = await client.patch(
        f"{URL}/{mine['id']}", json={"title": "Still mine", "queue_id": None}, headers=ana.headers
    )
    assert (
        r.status_code == 200 and r.json()["title"] == "Still mine" and r.json()["queue_id"] is None
    )
    # A supervisor shares a personal snippet, then takes a shared one back as their own.
    own = await create(client, sup, title="Sue's")
    r = await client.patch(f"{URL}/{own['id']}", json={"queue_id": world["q"]}, headers=sup.headers)
    assert r.status_code == 200 and r.json()["shared"] is True
    assert "Sue's" in await titles(client, ana)
    r = await client.patch(f"{URL}/{own['id']}", json={"queue_id": "ghost"}, headers=sup.headers)
    assert r.status_code == 422
    other_sup = await make_user(app, "supervisor", name="Sid")
    r = await client.patch(f"{URL}/{own['id']}", json={"queue_id": None}, headers=other_sup.headers)
    assert r.status_code == 200 and r.json()["owner"]["id"] == other_sup.id
    assert "Sue's" not in await titles(client, ana)
    assert "Sue's" not in await titles(client, sup)


async def test_delete_removes_a_snippet(client: httpx.AsyncClient, world: dict[str, Any]) -> None:
    ana, sup = world["ana"], world["sup"]
    mine = await create(client, ana)
    r = await client.delete(f"{URL}/{mine['id']}", headers=ana.headers)
    assert r.status_code == 204 and r.content == b""
    assert (await client.get(f"{URL}/{mine['id']}", headers=ana.headers)).status_code == 404
    shared = await create(client, sup, queue_id=world["q"])
    assert (
        await client.delete(f"{URL}/{shared['id']}", headers=world["admin"].headers)
    ).status_code == 204
    assert await titles(client, ana) == []


async def test_search_puts_title_matches_first_for_the_picker(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    ana = world["ana"]
    await create(client, ana, title="Closing", content="Anything else about your refund?")
    await create(client, ana, title="Refund status", content="It is on its way.")
    await create(client, ana, title="Partial refund", content="Half of it.")
    await create(client, ana, title="Greeting", content="Hello!")
    await create(client, ana, title="100% sure", content="Certain.")
    assert await titles(client, ana, q="REF") == ["Refund status", "Partial refund", "Closing"]
    assert await titles(client, ana, q="hello") == ["Greeting"]
    assert await titles(client, ana, q="%") == ["100% sure"]
    assert await titles(client, ana, q="_") == []


async def test_list_pages_with_a_cursor(client: httpx.AsyncClient, world: dict[str, Any]) -> None:
    ana = world["ana"]
    for t in ("a", "b", "c"):
        await create(client, ana, title=t)
    r = await client.get(URL, params={"limit": 2}, headers=ana.headers)
    assert [s["title"] for s in r.json()["items"]] == ["a", "b"] and r.json()["next"] == "2"
    r = await client.get(URL, params={"limit": 2, "cursor": "2"}, headers=ana.headers)
    assert [s["title"] for s in r.json()["items"]] == ["c"] and r.json()["next"] is None


async def test_customers_may_not_use_snippets_and_strangers_must_sign_in(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    customer = world["customer"]
    assert (await client.get(URL, headers=customer.headers)).status_code == 403
    r = await client.post(URL, json={"title": "t", "content": "c"}, headers=customer.headers)
    assert r.status_code == 403
    assert (await client.get(URL)).status_code == 401
    r = await client.post(
        URL, json={"title": "t", "content": "c"}, headers={"Authorization": "Bearer nope"}
    )
    assert r.status_code == 401


async def test_render_fills_the_chat_values(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    chat = await accepted_chat(client, world["customer"], world["ana"], world["q"])
    s = await create(
        client,
        world["sup"],
        queue_id=world["q"],
        content="Hi {customer.name}, {agent.name} from {queue.name} on {chat.reference}. {not a placeholder",
    )
    r = await client.get(
        f"/api/v1/chats/{chat['id']}/snippets/{s['id']}/render", headers=world["ana"].headers
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "text": f"Hi Carla, Ana from Support on {chat['reference']}. {{not a placeholder"
    }
    # The caller is the one who will send it: a colleague helping gets their own name.
    r = await client.get(
        f"/api/v1/chats/{chat['id']}/snippets/{s['id']}/render", headers=world["bo"].headers
    )
    assert r.json()["text"].startswith("Hi Carla, Bo from Support")


async def test_render_needs_a_visible_chat_and_a_visible_snippet(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    chat = await start_chat(client, world["customer"], world["q"])
    mine = await create(client, world["bill"], content="Hi {customer.name}")
    anas = await create(client, world["ana"], content="Hi {customer.name}")
    base = f"/api/v1/chats/{chat['id']}/snippets"
    # Bill cannot see a Support chat, even with his own snippet.
    assert (
        await client.get(f"{base}/{mine['id']}/render", headers=world["bill"].headers)
    ).status_code == 404
    # Bo sees the chat but not Ana's personal snippet.
    assert (
        await client.get(f"{base}/{anas['id']}/render", headers=world["bo"].headers)
    ).status_code == 404
    assert (
        await client.get(f"{base}/ghost/render", headers=world["ana"].headers)
    ).status_code == 404
    assert (
        await client.get(
            f"/api/v1/chats/ghost/snippets/{anas['id']}/render", headers=world["ana"].headers
        )
    ).status_code == 404
    # The customer sees the chat, but snippets are for agents.
    assert (
        await client.get(f"{base}/{anas['id']}/render", headers=world["customer"].headers)
    ).status_code == 403
    r = await client.get(f"{base}/{anas['id']}/render", headers=world["ana"].headers)
    assert r.status_code == 200 and r.json()["text"] == "Hi Carla"
