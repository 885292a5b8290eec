"""Sessions (CONTRACT-2 "Sessions"): idle and absolute expiry on the controllable clock, the
last use kept to the minute, GET /me/sessions and DELETE /me/sessions/{id}."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import httpx
import pytest
import ua_parser
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from helpline.accounts.models import AuthSession
from helpline.app import create_app
from helpline.config import Settings
from helpline.kit.clock import FrozenClock
from tests.conftest import LiveServer
from tests.fixtures.factories import PASSWORD, ctx_of, make_user
from tests.fixtures.wsclient import WSClient

pytestmark = pytest.mark.asyncio

HOUR = 3600


@pytest.fixture
def clock(frozen_clock: FrozenClock) -> FrozenClock:
    return frozen_clock


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"session_idle_s": HOUR, "session_max_s": 4 * HOUR}


async def me(client: httpx.AsyncClient, token: str) -> int:
    r = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    return r.status_code


async def last_seen(app: FastAPI, token_owner_session: str) -> datetime | None:
    async with ctx_of(app).db.read() as session:
        row = await session.get(AuthSession, token_owner_session)
        assert row is not None
        return row.last_seen_at


async def sign_in(app: FastAPI, email: str, *, address: str, user_agent: str) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        r = await c.post(
            "/api/v1/auth/login",
            json={"email": email, "password": PASSWORD},
            headers={"User-Agent": user_agent},
        )
    assert r.status_code == 200, r.text
    return dict(r.json())


async def sessions_of(client: httpx.AsyncClient, token: str) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/me/sessions", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert r.json()["next"] is None
    return list(r.json()["items"])


async def test_session_defaults_follow_the_contract() -> None:
    fields = Settings.model_fields
    assert fields["session_idle_s"].default == 86400
    assert fields["session_max_s"].default == 2592000


async def test_an_idle_session_ends_and_use_keeps_it_alive(
    clock: FrozenClock, app: FastAPI, client: httpx.AsyncClient
) -> None:
    agent = await make_user(app, "agent")
    clock.advance(HOUR - 60)
    assert await me(client, agent.token) == 200
    clock.advance(HOUR - 60)  # an hour since sign-in, but used a moment ago
    assert await me(client, agent.token) == 200
    clock.advance(HOUR)
    assert await me(client, agent.token) == 401
    r = await client.get("/api/v1/me", headers=agent.headers)
    assert r.json()["error"]["code"] == "not_authenticated"


async def test_a_session_ends_at_its_maximum_age_however_much_it_is_used(
    clock: FrozenClock, app: FastAPI, client: httpx.AsyncClient
) -> None:
    agent = await make_user(app, "agent")
    for _ in range(7):
        clock.advance(HOUR / 2)
        assert await me(client, agent.token) == 200
    clock.advance(HOUR / 2)  # four hours after sign-in
    assert await me(client, agent.token) == 401


async def test_last_use_is_written_at_most_once_a_minute(
    clock: FrozenClock, app: FastAPI, client: httpx.AsyncClient
) -> None:
    agent = await make_user(app, "agent")
    session_id = (await sessions_of(client, agent.token))[0]["id"]
    before = await last_seen(app, session_id)
    for _ in range(5):
        clock.advance(10)
        assert await me(client, agent.token) == 200
        # also through a write, which stamps in its own transaction
        r = await client.put("/api/v1/me/status", json={"status": "away"}, headers=agent.headers)
        assert r.status_code == 200
    assert await last_seen(app, session_id) == before
    clock.advance(15)  # 65 s after the last stamp
    assert await me(client, agent.token) == 200
    assert await last_seen(app, session_id) == clock.now()
    clock.advance(70)
    r = await client.put("/api/v1/me/status", json={"status": "available"}, headers=agent.headers)
    assert r.status_code == 200
    assert await last_seen(app, session_id) == clock.now()


async def test_sessions_are_listed_with_where_they_came_from(
    clock: FrozenClock, app: FastAPI, client: httpx.AsyncClient
) -> None:
    agent = await make_user(app, "agent")
    other = await make_user(app, "agent")
    clock.advance(60)
    laptop = await sign_in(app, agent.email, address="198.51.100.7", user_agent="Firefox/140")
    clock.advance(120)
    phone = await sign_in(app, agent.email, address="203.0.113.9", user_agent="Mobile Safari")
    await sign_in(app, other.email, address="198.51.100.8", user_agent="Chrome")
    clock.advance(120)
    items = await sessions_of(client, laptop["token"])
    # the phone's, the laptop's and the factory's: latest sign-in first
    assert len(items) == 3
    assert [i["current"] for i in items] == [False, True, False]
    assert items[0]["ip"] == "203.0.113.9" and items[0]["user_agent"] == "Mobile Safari"
    assert items[1]["ip"] == "198.51.100.7" and items[1]["user_agent"] == "Firefox/140"
    assert set(items[0]) == {
        "id",
        "created_at",
        "last_seen_at",
        "user_agent",
        "device",
        "browser",
        "os",
        "model",
        "ip",
        "current",
    }
    assert phone["token"] not in r_text(items) and laptop["token"] not in r_text(items)
    # the other user's sessions are nowhere in the list, nor this user's in theirs
    others = await sessions_of(client, other.token)
    assert len(others) == 2
    assert {i["id"] for i in others}.isdisjoint(i["id"] for i in items)
    # expired sessions are not listed: only the laptop was used within the hour
    clock.advance(HOUR - 100)
    assert await me(client, laptop["token"]) == 200
    clock.advance(200)
    assert await me(client, agent.token) == 401
    assert await me(client, phone["token"]) == 401
    assert [i["id"] for i in await sessions_of(client, laptop["token"])] == [items[1]["id"]]


def r_text(items: list[dict[str, Any]]) -> str:
    return repr(items)


async def test_ending_a_session_signs_it_out_and_closes_its_sockets(
    live_server: LiveServer,
) -> None:
    app = live_server.app
    agent = await make_user(app, "agent")
    other = await make_user(app, "agent")
    phone = await sign_in(app, agent.email, address="203.0.113.9", user_agent="Mobile Safari")
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        items = await sessions_of(http, agent.token)
        phone_id = next(i["id"] for i in items if not i["current"])
        mine = await WSClient.open(live_server.ws_url, agent.token)
        theirs = await WSClient.open(live_server.ws_url, phone["token"])
        for ws in (mine, theirs):
            await ws.request({"type": "ping"}, lambda f: f["type"] == "pong")

        # Another person cannot see or end it: 404, and it keeps working.
        r = await http.delete(f"/api/v1/me/sessions/{phone_id}", headers=other.headers)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        assert await me(http, phone["token"]) == 200

        r = await http.delete(f"/api/v1/me/sessions/{phone_id}", headers=agent.headers)
        assert r.status_code == 204
        code, _ = await asyncio.wait_for(theirs.closed, 5)
        assert code == 4401
        assert await me(http, phone["token"]) == 401
        # only that one: this session and its socket go on
        assert await me(http, agent.token) == 200
        await mine.request({"type": "ping"}, lambda f: f["type"] == "pong")
        assert phone_id not in [i["id"] for i in await sessions_of(http, agent.token)]
        # gone is gone, and unknown is the same 404
        for sid in (phone_id, "0" * 32, "x" * 300):
            r = await http.delete(f"/api/v1/me/sessions/{sid}", headers=agent.headers)
            assert r.status_code == 404
        await mine.close()


async def test_an_expired_session_cannot_open_a_websocket(
    clock: FrozenClock, live_server: LiveServer
) -> None:
    agent = await make_user(live_server.app, "agent")
    ok = await WSClient.open(live_server.ws_url, agent.token)
    await ok.request({"type": "ping"}, lambda f: f["type"] == "pong")
    await ok.close()
    clock.advance(HOUR + 1)
    with pytest.raises(InvalidStatus) as refused:
        await connect(
            live_server.ws_url,
            additional_headers={"Authorization": f"Bearer {agent.token}"},
            open_timeout=5,
        )
    assert refused.value.response.status_code == 401
    body = json.loads(bytes(refused.value.response.body or b""))
    assert body["error"]["code"] == "not_authenticated"


async def test_sessions_name_the_device_from_the_user_agent(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    agent = await make_user(app, "agent")
    chrome = (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36"
    )
    iphone = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
    )
    await sign_in(app, agent.email, address="198.51.100.1", user_agent=chrome)
    await sign_in(app, agent.email, address="198.51.100.2", user_agent=iphone)
    await sign_in(app, agent.email, address="198.51.100.3", user_agent="crm-sync/2.0")
    sessions = {s["ip"]: s for s in await sessions_of(client, agent.token)}
    devices = {ip: s["device"] for ip, s in sessions.items()}
    assert devices["198.51.100.1"] == "Chrome 120 on Linux"
    assert devices["198.51.100.2"] == "Mobile Safari 17 on iOS (iPhone)"
    assert devices["198.51.100.3"] is None  # nothing recognisable: the page shows the raw agent
    # The same in parts, which the pages join in their own language.
    parts = {ip: (s["browser"], s["os"], s["model"]) for ip, s in sessions.items()}
    assert parts["198.51.100.1"] == ("Chrome 120", "Linux", None)
    assert parts["198.51.100.2"] == ("Mobile Safari 17", "iOS", "iPhone")
    assert parts["198.51.100.3"] == (None, None, None)


async def test_the_device_rules_are_compiled_as_the_app_starts(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uap-core's rules take 0.1–1 s to compile: the app does it while it starts, so the
    first chat start or sessions list after a restart does not wait for them."""
    # As in a new process: the rules not built yet (put back as they were after the test).
    monkeypatch.delitem(vars(ua_parser), "parser", raising=False)
    application = create_app(settings)
    assert "parser" not in vars(ua_parser)
    async with LifespanManager(application):
        assert "parser" in vars(ua_parser)
