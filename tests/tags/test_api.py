"""Tags: the admins' list, tagging a chat (who may, any status, the internal event), the list
filter by tag."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from tests.fixtures.factories import Person, accepted_chat, events, make_queue, make_user

pytestmark = pytest.mark.asyncio

URL = "/api/v1/tags"


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
        "carla": await make_user(app, "customer", name="Carla"),
        "dan": await make_user(app, "customer", name="Dan"),
    }


async def make_tag(
    client: httpx.AsyncClient, who: Person, name: str, expect: int = 201, **body: Any
) -> dict[str, Any]:
    r = await client.post(URL, json={"name": name, **body}, headers=who.headers)
    assert r.status_code == expect, r.text
    return dict(r.json())


async def names(client: httpx.AsyncClient, who: Person) -> list[str]:
    r = await client.get(URL, headers=who.headers)
    assert r.status_code == 200, r.text
    return [t["name"] for t in r.json()["items"]]


async def put_tags(
    client: httpx.AsyncClient, who: Person, chat_id: str, tag_ids: list[str], expect: int = 200
) -> dict[str, Any]:
    r = await client.put(
        f"/api/v1/chats/{chat_id}/tags", json={"tag_ids": tag_ids}, headers=who.headers
    )
    assert r.status_code == expect, r.text
    return dict(r.json())


async def test_admin_keeps_the_list_and_staff_read_it(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    admin = world["admin"]
    vip = await make_tag(client, admin, "  VIP ", color="#FF0000")
    assert vip["name"] == "VIP" and vip["color"] == "#ff0000" and vip["created_at"]
    await make_tag(client, admin, "billing")
    assert await names(client, world["ana"]) == ["billing", "VIP"]
    r = await client.patch(
        f"{URL}/{vip['id']}", json={"name": "Priority", "color": None}, headers=admin.headers
    )
    assert r.status_code == 200 and r.json()["name"] == "Priority" and r.json()["color"] is None
    assert await names(client, world["sup"]) == ["billing", "Priority"]


async def test_a_name_taken_twice_is_409_in_any_case(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    admin = world["admin"]
    await make_tag(client, admin, "Refund")
    r = await client.post(URL, json={"name": "refund"}, headers=admin.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "name_taken"
    other = await make_tag(client, admin, "Bug")
    r = await client.patch(f"{URL}/{other['id']}", json={"name": "REFUND"}, headers=admin.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "name_taken"
    assert await names(client, admin) == ["Bug", "Refund"]


@pytest.mark.parametrize(
    "body",
    [{"name": ""}, {"name": "x" * 61}, {"name": "A", "color": "red"}, {"name": "A", "x": 1}],
)
async def test_a_bad_tag_is_422_and_saves_nothing(
    client: httpx.AsyncClient, world: dict[str, Any], body: dict[str, Any]
) -> None:
    r = await client.post(URL, json=body, headers=world["admin"].headers)
    assert r.status_code == 422, r.text
    assert await names(client, world["admin"]) == []


async def test_only_admins_change_the_list_and_customers_never_read_it(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    tag = await make_tag(client, world["admin"], "VIP")
    for who in (world["ana"], world["sup"], world["carla"]):
        r = await client.post(URL, json={"name": "Mine"}, headers=who.headers)
        assert r.status_code == 403, r.text
        r = await client.patch(f"{URL}/{tag['id']}", json={"name": "X"}, headers=who.headers)
        assert r.status_code == 403, r.text
        r = await client.delete(f"{URL}/{tag['id']}", headers=who.headers)
        assert r.status_code == 403, r.text
    r = await client.get(URL, headers=world["carla"].headers)
    assert r.status_code == 403
    r = await client.patch(f"{URL}/nope", json={"name": "X"}, headers=world["admin"].headers)
    assert r.status_code == 404
    assert await names(client, world["admin"]) == ["VIP"]


async def test_the_owner_tags_a_chat_agents_see_the_event_the_customer_never(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    ana, carla = world["ana"], world["carla"]
    vip = await make_tag(client, world["admin"], "VIP", color="#aa0000")
    bug = await make_tag(client, world["admin"], "Bug")
    chat = await accepted_chat(client, carla, ana, world["q"])
    out = await put_tags(client, ana, chat["id"], [vip["id"], bug["id"], vip["id"]])
    assert [t["name"] for t in out["tags"]] == ["Bug", "VIP"]
    assert out["tags"][1] == {"id": vip["id"], "name": "VIP", "color": "#aa0000"}
    tagged = [e for e in await events(client, ana, chat["id"]) if e["type"] == "chat.tagged"]
    assert [e["data"] for e in tagged] == [{"tag_ids": sorted([vip["id"], bug["id"]])}]
    assert tagged[0]["actor"]["id"] == ana.id
    assert all(e["type"] != "chat.tagged" for e in await events(client, carla, chat["id"]))
    r = await client.get(f"/api/v1/chats/{chat['id']}", headers=carla.headers)
    assert r.json()["tags"] == []
    r = await client.get(f"/api/v1/chats/{chat['id']}", headers=world["bo"].headers)
    assert [t["name"] for t in r.json()["tags"]] == ["Bug", "VIP"]
    # The same set again changes nothing and adds no event; an empty list clears.
    await put_tags(client, ana, chat["id"], [bug["id"], vip["id"]])
    assert (
        len([e for e in await events(client, ana, chat["id"]) if e["type"] == "chat.tagged"]) == 1
    )
    assert (await put_tags(client, ana, chat["id"], []))["tags"] == []


async def test_who_may_tag_and_in_any_status(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    ana, bo, carla = world["ana"], world["bo"], world["carla"]
    vip = await make_tag(client, world["admin"], "VIP")
    chat = await accepted_chat(client, carla, ana, world["q"])
    # A queue member who is not in the chat: 403; a customer: 403; another queue: 404.
    await put_tags(client, bo, chat["id"], [vip["id"]], expect=403)
    await put_tags(client, carla, chat["id"], [vip["id"]], expect=403)
    await put_tags(client, world["bill"], chat["id"], [vip["id"]], expect=404)
    # A helper may; after the solve, the owner and a supervisor still may.
    r = await client.post(f"/api/v1/chats/{chat['id']}/join", headers=bo.headers)
    assert r.status_code == 200, r.text
    await put_tags(client, bo, chat["id"], [vip["id"]])
    r = await client.post(f"/api/v1/chats/{chat['id']}/solve", headers=ana.headers)
    assert r.status_code == 200, r.text
    assert (await put_tags(client, ana, chat["id"], []))["tags"] == []
    out = await put_tags(client, world["sup"], chat["id"], [vip["id"]])
    assert [t["id"] for t in out["tags"]] == [vip["id"]]
    assert (await put_tags(client, world["admin"], chat["id"], []))["tags"] == []


async def test_an_unknown_tag_is_422_and_changes_nothing(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    ana = world["ana"]
    vip = await make_tag(client, world["admin"], "VIP")
    chat = await accepted_chat(client, world["carla"], ana, world["q"])
    await put_tags(client, ana, chat["id"], [vip["id"]])
    r = await client.put(
        f"/api/v1/chats/{chat['id']}/tags",
        json={"tag_ids": [vip["id"], "nope"]},
        headers=ana.headers,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_tag"
    r = await client.put(
        f"/api/v1/chats/{chat['id']}/tags", json={"tags": [vip["id"]]}, headers=ana.headers
    )
    assert r.status_code == 422
    r = await client.get(f"/api/v1/chats/{chat['id']}", headers=ana.headers)
    assert [t["id"] for t in r.json()["tags"]] == [vip["id"]]


async def test_the_list_filters_by_tag_and_a_deleted_tag_leaves_every_chat(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    ana = world["ana"]
    vip = await make_tag(client, world["admin"], "VIP")
    first = await accepted_chat(client, world["carla"], ana, world["q"])
    second = await accepted_chat(client, world["dan"], ana, world["q"])
    await put_tags(client, ana, first["id"], [vip["id"]])

    async def listed(who: Person, tag: str) -> list[str]:
        r = await client.get("/api/v1/chats", params={"tag": tag}, headers=who.headers)
        assert r.status_code == 200, r.text
        return [c["id"] for c in r.json()["items"]]

    assert await listed(ana, vip["id"]) == [first["id"]]
    assert await listed(world["sup"], vip["id"]) == [first["id"]]
    assert await listed(world["bill"], vip["id"]) == []  # not their queue
    assert await listed(world["carla"], vip["id"]) == []  # tags tell customers nothing
    r = await client.get("/api/v1/chats", headers=ana.headers)
    shown = {c["id"]: [t["name"] for t in c["tags"]] for c in r.json()["items"]}
    assert shown == {first["id"]: ["VIP"], second["id"]: []}
    r = await client.delete(f"{URL}/{vip['id']}", headers=world["admin"].headers)
    assert r.status_code == 204
    assert await listed(ana, vip["id"]) == []
    r = await client.get(f"/api/v1/chats/{first['id']}", headers=ana.headers)
    assert r.json()["tags"] == []
