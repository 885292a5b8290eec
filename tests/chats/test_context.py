"""Pre-chat fields (the queue's definition, the customer's answers) and page context."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from helpline.accounts.devices import parts
from tests.fixtures.factories import Person, ctx_of, make_queue, make_user

pytestmark = pytest.mark.asyncio

FIELDS = [
    {"key": "order", "label": "Order number", "type": "number", "required": True},
    {"key": "topic", "label": "Topic", "type": "select", "options": ["Billing", "Delivery"]},
    {"key": "mail", "label": "Other e-mail", "type": "email"},
    {"key": "note", "label": "Anything else", "type": "text"},
    {"key": "terms", "label": "I accept the terms", "type": "checkbox", "required": True},
]


@pytest_asyncio.fixture
async def world(app: FastAPI) -> dict[str, Any]:
    q = await make_queue(app, "Orders")
    return {
        "q": q,
        "admin": await make_user(app, "admin", name="Adam"),
        "ana": await make_user(app, "agent", name="Ana", queues=[q]),
        "carla": await make_user(app, "customer", name="Carla"),
        "dan": await make_user(app, "customer", name="Dan"),
    }


async def set_fields(
    client: httpx.AsyncClient, who: Person, queue_id: str, fields: Any, expect: int = 200
) -> dict[str, Any]:
    r = await client.patch(
        f"/api/v1/queues/{queue_id}", json={"fields": fields}, headers=who.headers
    )
    assert r.status_code == expect, r.text
    return dict(r.json())


async def start(
    client: httpx.AsyncClient,
    who: Person,
    queue_id: str,
    expect: int = 201,
    agent: str = "TestBrowser/1.0",
    **body: Any,
) -> dict[str, Any]:
    body = {"queue_id": queue_id, "message": "Hello", **body}
    r = await client.post("/api/v1/chats", json=body, headers={**who.headers, "User-Agent": agent})
    assert r.status_code == expect, r.text
    return dict(r.json())


async def test_admin_defines_fields_and_the_portal_reads_them(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    out = await set_fields(client, world["admin"], world["q"], FIELDS)
    assert [f["key"] for f in out["fields"]] == ["order", "topic", "mail", "note", "terms"]
    assert out["fields"][0] == {
        "key": "order",
        "label": "Order number",
        "type": "number",
        "required": True,
        "options": None,
    }
    r = await client.get("/api/v1/queues")  # anyone: the portal's start form
    (queue,) = [q for q in r.json()["items"] if q["id"] == world["q"]]
    assert [f["key"] for f in queue["fields"]] == ["order", "topic", "mail", "note", "terms"]
    # Reordered and cut down; other PATCHes leave the fields alone.
    await set_fields(client, world["admin"], world["q"], [FIELDS[1], FIELDS[0]])
    r = await client.patch(
        f"/api/v1/queues/{world['q']}", json={"description": "x"}, headers=world["admin"].headers
    )
    assert [f["key"] for f in r.json()["fields"]] == ["topic", "order"]


PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)


async def test_the_customers_device_is_stored_in_parts_for_pages_to_word(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    chat = await start(client, world["carla"], world["q"], agent=PHONE)
    device = {"browser": "Mobile Safari 17", "os": "iOS", "model": "iPhone"}
    assert chat["context"]["device"] == device
    assert chat["context"]["user_agent"] == PHONE  # the raw string stays beside it
    r = await client.get(f"/api/v1/chats/{chat['id']}", headers=world["ana"].headers)
    assert r.json()["context"]["device"] == device


async def test_only_the_start_of_a_long_user_agent_is_read_for_the_device(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    """A hostile header is not matched whole against uap-core's rules (seconds of CPU holding
    the interpreter for 80 KB): only as much as a session keeps of it, 255 characters."""
    padded = "Mozilla/5.0 (" + "x" * 300 + ") Chrome/120.0.0.0 Safari/537.36"
    assert parts(padded[300:]) is not None  # the browser's token, read on its own
    chat = await start(client, world["carla"], world["q"], agent=padded)
    assert chat["context"]["device"] is None  # it lies past the first 255 characters
    assert chat["context"]["user_agent"] == padded  # stored as before (up to 2,000)
    long = PHONE + " " + "Linux; " * 12_000  # ~84 KB, the known browser first
    chat = await start(client, world["dan"], world["q"], agent=long)
    assert chat["context"]["device"] == {
        "browser": "Mobile Safari 17",
        "os": "iOS",
        "model": "iPhone",
    }
    assert chat["context"]["user_agent"] == long[:2000]


async def test_the_device_is_parsed_before_the_start_takes_the_databases_writer(
    app: FastAPI, client: httpx.AsyncClient, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rules compile for about a second on first use: never while the unit of work holds
    SQLite's writer (every message batch would wait for it)."""
    from helpline.accounts.devices import Device
    from helpline.chats import api

    held: list[bool] = []

    async def parse(user_agent: str | None) -> Device | None:
        held.append(ctx_of(app).db.writer_lock.locked())
        return Device("Firefox 121", "Windows", None)

    monkeypatch.setattr(api, "parts_of", parse)
    chat = await start(client, world["carla"], world["q"])
    assert held == [False]
    assert chat["context"]["device"] == {"browser": "Firefox 121", "os": "Windows", "model": None}


async def test_a_device_cannot_be_claimed_by_the_customer(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await start(client, world["carla"], world["q"], expect=422, context={"device": {"os": "x"}})


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ([{"key": "a", "label": "A", "type": "select"}], ["body", "fields", "0"]),
        ([{"key": "a", "label": "A", "type": "select", "options": ["x", "x"]}], None),
        ([{"key": "a", "label": "A", "type": "text", "options": ["x"]}], None),
        ([{"key": "A b", "label": "A", "type": "text"}], ["body", "fields", "0", "key"]),
        ([{"key": "a", "label": "", "type": "text"}], None),
        ([{"key": "a", "label": "A", "type": "date"}], None),
        ([{"key": "a", "label": "A", "type": "text", "extra": 1}], None),
        ([{"key": f"k{i}", "label": "A", "type": "text"} for i in range(21)], None),
        ([{"key": "a", "label": "A", "type": "select", "options": ["o"] * 51}], None),
    ],
)
async def test_a_bad_definition_is_422_and_changes_nothing(
    client: httpx.AsyncClient, world: dict[str, Any], fields: Any, where: list[str] | None
) -> None:
    await set_fields(client, world["admin"], world["q"], FIELDS[:1])
    r = await client.patch(
        f"/api/v1/queues/{world['q']}", json={"fields": fields}, headers=world["admin"].headers
    )
    assert r.status_code == 422, r.text
    if where:
        assert r.json()["error"]["details"][0]["loc"][: len(where)] == where
    r = await client.get("/api/v1/queues", headers=world["admin"].headers)
    (queue,) = [q for q in r.json()["items"] if q["id"] == world["q"]]
    assert [f["key"] for f in queue["fields"]] == ["order"]


async def test_a_key_used_twice_names_the_second_field(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    fields = [FIELDS[0], FIELDS[3], {**FIELDS[3], "label": "Again"}]
    r = await client.patch(
        f"/api/v1/queues/{world['q']}", json={"fields": fields}, headers=world["admin"].headers
    )
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "invalid_fields" and error["index"] == 2 and "note" in error["message"]


async def test_only_admins_define_fields(client: httpx.AsyncClient, world: dict[str, Any]) -> None:
    await set_fields(client, world["ana"], world["q"], FIELDS, expect=403)
    await set_fields(client, world["carla"], world["q"], FIELDS, expect=403)


async def test_answers_and_page_context_reach_the_agent(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await set_fields(client, world["admin"], world["q"], FIELDS)
    answers = {"order": 1234, "topic": "Billing", "mail": "", "note": "  late  ", "terms": True}
    page = {"page_url": "https://shop.example/cart", "referrer": "https://search.example/?q=x"}
    chat = await start(client, world["carla"], world["q"], fields=answers, context=page)
    expected = {
        "fields": {"order": 1234, "topic": "Billing", "note": "late", "terms": True},
        "page_url": "https://shop.example/cart",
        "referrer": "https://search.example/?q=x",
        "locale": None,
        "user_agent": "TestBrowser/1.0",
        "device": None,  # a user agent uap-core's rules do not know
    }
    assert chat["context"] == expected
    r = await client.get(f"/api/v1/chats/{chat['id']}", headers=world["ana"].headers)
    assert r.json()["context"] == expected
    r = await client.get("/api/v1/chats", headers=world["ana"].headers)
    assert r.json()["items"][0]["context"] == expected
    # Another customer never sees it (the chat is invisible to them).
    r = await client.get(f"/api/v1/chats/{chat['id']}", headers=world["dan"].headers)
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        ({"topic": "Billing", "terms": True}, "order"),  # missing required
        ({"order": 1, "terms": False}, "terms"),  # required box not ticked
        ({"order": 1, "terms": True, "colour": "red"}, "colour"),  # unknown key
        ({"order": "12", "terms": True}, "order"),  # wrong type
        ({"order": True, "terms": True}, "order"),  # a boolean is no number
        ({"order": 1, "terms": "yes"}, "terms"),
        ({"order": 1, "terms": True, "topic": "Returns"}, "topic"),  # option not in the list
        ({"order": 1, "terms": True, "mail": "not-an-address"}, "mail"),
        ({"order": 1, "terms": True, "note": 5}, "note"),
    ],
)
async def test_answers_that_break_the_rules_are_422_and_start_no_chat(
    client: httpx.AsyncClient, world: dict[str, Any], answers: dict[str, Any], field: str
) -> None:
    await set_fields(client, world["admin"], world["q"], FIELDS)
    r = await client.post(
        "/api/v1/chats",
        json={"queue_id": world["q"], "message": "Hi", "fields": answers},
        headers=world["carla"].headers,
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "invalid_field" and r.json()["error"]["field"] == field
    r = await client.get("/api/v1/chats", headers=world["carla"].headers)
    assert r.json()["items"] == []


async def test_a_queue_without_fields_refuses_answers_and_bounds_the_context(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await start(client, world["carla"], world["q"], expect=422, fields={"x": "y"})
    await start(client, world["carla"], world["q"], expect=422, context={"page_url": "x" * 2001})
    await start(client, world["carla"], world["q"], expect=422, context={"user_agent": "me"})
    chat = await start(client, world["carla"], world["q"], context={"locale": "de-CH"})
    assert chat["context"]["locale"] == "de-CH" and chat["context"]["fields"] == {}


async def test_the_customer_cannot_change_the_answers_afterwards(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await set_fields(client, world["admin"], world["q"], FIELDS[:1])
    chat = await start(client, world["carla"], world["q"], fields={"order": 7})
    # No route takes answers after the start; the chat's own routes refuse the key.
    r = await client.patch(
        f"/api/v1/chats/{chat['id']}", json={"fields": {"order": 8}}, headers=world["carla"].headers
    )
    assert r.status_code == 405
    r = await client.post(
        f"/api/v1/chats/{chat['id']}/messages",
        json={"text": "x", "client_id": "c1", "fields": {"order": 8}},
        headers=world["carla"].headers,
    )
    assert r.status_code == 422
    # The admin changing the definition later leaves the answers given as they were.
    await set_fields(client, world["admin"], world["q"], [])
    r = await client.get(f"/api/v1/chats/{chat['id']}", headers=world["ana"].headers)
    assert r.json()["context"]["fields"] == {"order": 7}
