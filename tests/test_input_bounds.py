"""Issue 11 finding 12: out-of-range numbers and unparseable bodies are 422s in the error
format, never plain-text 500s, and change nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from helpline.kit.params import MAX_INT
from tests.conftest import LiveServer
from tests.fixtures.factories import (
    Person,
    accepted_chat,
    events,
    make_queue,
    make_user,
    start_chat,
)
from tests.fixtures.wsclient import WSClient

pytestmark = pytest.mark.asyncio

HUGE = "9" * 30  # past every backend's 64-bit INTEGER


@pytest_asyncio.fixture
async def world(app: FastAPI, client: httpx.AsyncClient) -> dict[str, Any]:
    q = await make_queue(app, "Support")
    customer = await make_user(app, "customer", name="Carla")
    agent = await make_user(app, "agent", name="Ana", queues=[q])
    chat = await accepted_chat(client, customer, agent, q)
    return {
        "queue": q,
        "customer": customer,
        "agent": agent,
        "admin": await make_user(app, "admin"),
        "chat": chat,
    }


def assert_invalid(r: httpx.Response, code: str = "invalid") -> None:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/json")
    error = r.json()["error"]
    assert error["code"] == code and error["message"]


@pytest.mark.parametrize("path", ["/api/v1/chats", "/api/v1/requests", "/api/v1/snippets"])
async def test_a_thirty_digit_cursor_is_422(
    client: httpx.AsyncClient, world: dict[str, Any], path: str
) -> None:
    agent: Person = world["agent"]
    assert_invalid(await client.get(path, params={"cursor": HUGE}, headers=agent.headers))


@pytest.mark.parametrize("path", ["/api/v1/chats", "/api/v1/requests", "/api/v1/snippets"])
async def test_a_cursor_that_is_not_a_number_is_422(
    client: httpx.AsyncClient, world: dict[str, Any], path: str
) -> None:
    agent: Person = world["agent"]
    assert_invalid(await client.get(path, params={"cursor": "-5"}, headers=agent.headers))


async def test_the_cursor_the_server_gave_still_pages(
    app: FastAPI, client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    agent: Person = world["agent"]
    r = await client.get("/api/v1/chats", params={"limit": 1}, headers=agent.headers)
    assert r.status_code == 200 and r.json()["next"] is None
    other = await make_user(app, "customer")
    await accepted_chat(client, other, agent, world["queue"])
    r = await client.get("/api/v1/chats", params={"limit": 1}, headers=agent.headers)
    nxt = r.json()["next"]
    r = await client.get("/api/v1/chats", params={"limit": 1, "cursor": nxt}, headers=agent.headers)
    assert r.status_code == 200 and len(r.json()["items"]) == 1


@pytest.mark.parametrize("name", ["after", "cursor"])
async def test_a_huge_events_after_is_422(
    client: httpx.AsyncClient, world: dict[str, Any], name: str
) -> None:
    customer: Person = world["customer"]
    chat_id = world["chat"]["id"]
    r = await client.get(
        f"/api/v1/chats/{chat_id}/events", params={name: HUGE}, headers=customer.headers
    )
    assert_invalid(r)


async def test_a_huge_deliveries_cursor_is_422(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    admin: Person = world["admin"]
    r = await client.get(
        "/api/v1/webhooks/deliveries", params={"cursor": HUGE}, headers=admin.headers
    )
    assert_invalid(r)


@pytest.mark.parametrize(
    "body",
    [
        b"this is not multipart at all",
        b'--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhi',
        b"--XYZ\r\n\x00\x01\x02: broken\r\n\r\n--XYZ--\r\n",
    ],
    ids=["no-boundary-line", "unterminated", "bad-header"],
)
async def test_malformed_multipart_is_422_and_shares_nothing(
    client: httpx.AsyncClient, world: dict[str, Any], body: bytes
) -> None:
    agent: Person = world["agent"]
    chat_id = world["chat"]["id"]
    r = await client.post(
        f"/api/v1/chats/{chat_id}/files",
        content=body,
        headers={**agent.headers, "Content-Type": "multipart/form-data; boundary=XYZ"},
    )
    assert_invalid(r, "invalid_upload")
    assert "file.shared" not in [e["type"] for e in await events(client, agent, chat_id)]


@pytest.mark.parametrize(
    "body",
    [b"{", b"\xff\xfe{}", b'{"queue_id": "x", "message": "\xed\xa0\x80"}', b"[" * 5000],
    ids=["truncated", "not-utf8", "lone-surrogate", "deep-nesting"],
)
async def test_unparseable_json_is_422(
    client: httpx.AsyncClient, world: dict[str, Any], body: bytes
) -> None:
    customer: Person = world["customer"]
    r = await client.post(
        "/api/v1/requests",
        content=body,
        headers={**customer.headers, "Content-Type": "application/json"},
    )
    assert_invalid(r)


# PostgreSQL refuses a NUL character in text (the fuzzer's finding on that backend: a 503 from
# /auth/login, /auth/guest, /users); SQLite would keep it. Either way it is bad input.
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/requests", {"summary": "a\u0000b"}),
        ("/api/v1/auth/guest", {"name": "Nul", "email": "n\u0000l@example.com"}),
        ("/api/v1/auth/login", {"email": "x\u0000@example.com", "password": "p"}),
    ],
)
async def test_a_nul_character_in_a_body_is_422_and_keeps_nothing(
    client: httpx.AsyncClient, world: dict[str, Any], path: str, body: dict[str, Any]
) -> None:
    customer: Person = world["customer"]
    before = await client.get("/api/v1/requests", headers=customer.headers)
    assert_invalid(await client.post(path, json=body, headers=customer.headers))
    after = await client.get("/api/v1/requests", headers=customer.headers)
    assert after.json() == before.json()


@pytest.mark.parametrize(
    "url", ["/api/v1/chats/x%00y", "/api/v1/chats?q=a%00b", "/api/v1/requests/SR-%00"]
)
async def test_a_nul_character_in_the_url_is_422(
    client: httpx.AsyncClient, world: dict[str, Any], url: str
) -> None:
    agent: Person = world["agent"]
    assert_invalid(await client.get(url, headers=agent.headers))


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "subscribe", "after": int(HUGE)},
        {"type": "message", "text": "a\u0000b", "client_id": "c1"},
    ],
    ids=["huge-after", "nul-in-text"],
)
async def test_a_bad_websocket_frame_is_an_error_frame_keeps_nothing_and_the_socket_stays_open(
    live_server: LiveServer, frame: dict[str, Any]
) -> None:
    q = await make_queue(live_server.app, "Support")
    customer = await make_user(live_server.app, "customer")
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        chat = await start_chat(http, customer, q)
        ws = await WSClient.open(live_server.ws_url, customer.token)
        try:
            await ws.send({**frame, "chat_id": chat["id"]})
            error = await ws.wait_for(lambda f: f["type"] == "error")
            assert error["error"]["code"] == "invalid_frame"
            assert (await ws.subscribe(chat["id"]))["type"] == "subscribed"
        finally:
            await ws.close()
        assert [e["type"] for e in await events(http, customer, chat["id"])] == [
            "chat.started",
            "message.posted",
        ]


async def test_every_integer_in_a_url_is_bounded_for_every_backend(app: FastAPI) -> None:
    """A new route that takes a number without kit.params.BoundedInt fails here."""
    unbounded = [
        f"{method.upper()} {path} {param['name']}"
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
        for param in operation.get("parameters", [])
        for schema in [param["schema"], *param["schema"].get("anyOf", [])]
        if schema.get("type") == "integer"
        and not (0 <= schema.get("minimum", -1) and schema.get("maximum", MAX_INT + 1) <= MAX_INT)
    ]
    assert unbounded == []


# Found by a deeper fuzzer run (HELPLINE_FUZZ_EXAMPLES=100): the default `from` is 29 days
# before `to`, and the range's end is the day after `to`, both past what a date can hold.
@pytest.mark.parametrize("path", ["/api/v1/reports/summary", "/api/v1/reports/export.csv"])
@pytest.mark.parametrize(
    "params",
    [{"to": "0001-01-01"}, {"from": "9999-12-31", "to": "9999-12-31"}],
    ids=["first-day", "last-day"],
)
async def test_a_report_day_at_the_ends_of_the_calendar_is_422(
    client: httpx.AsyncClient, world: dict[str, Any], path: str, params: dict[str, str]
) -> None:
    admin: Person = world["admin"]
    assert_invalid(await client.get(path, params=params, headers=admin.headers))
