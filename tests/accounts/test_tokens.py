"""API tokens (CONTRACT-2 "API tokens"): POST/GET/DELETE /me/tokens, scopes checked against
one table of every route, the owner's role as a ceiling, revoked and expired tokens refused,
account security closed to tokens, last use kept to the minute, and tokens on the WebSocket."""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import pkgutil
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

import helpline
from helpline.accounts import scopes
from helpline.accounts.models import ApiToken
from helpline.audit.models import AuditEntry
from helpline.kit.clock import FrozenClock, iso
from tests.conftest import LiveServer
from tests.fixtures.factories import Person, ctx_of, make_queue, make_user
from tests.fixtures.wsclient import WSClient

pytestmark = pytest.mark.asyncio

ALL = ["chats:read", "chats:write", "requests:read", "requests:write", "reports:read", "admin"]


async def new_token(
    client: httpx.AsyncClient, owner: Person, scopes_: list[str], **body: Any
) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/me/tokens",
        json={"name": "integration", "scopes": scopes_, **body},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_token_is_shown_once_and_stored_as_a_keyed_hash(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    agent = await make_user(app, "agent")
    created = await new_token(client, agent, ["chats:read", "chats:read", "requests:read"])
    raw = created["token"]
    assert raw.startswith("hlp_") and len(raw) > 40
    assert created["scopes"] == ["chats:read", "requests:read"]
    assert created["prefix"] == raw[:8]
    assert created["expires_at"] is None
    listed = (await client.get("/api/v1/me/tokens", headers=agent.headers)).json()
    assert raw not in json.dumps(listed)
    (item,) = listed["items"]
    assert item["id"] == created["id"] and item["last_used_at"] is None
    assert item["expired"] is False
    async with ctx_of(app).db.read() as session:
        row = (await session.execute(select(ApiToken))).scalar_one()
    assert row.token_hash not in (raw, hashlib.sha256(raw.encode()).hexdigest())
    me = await client.get("/api/v1/me", headers=bearer(raw))
    assert me.status_code == 200 and me.json()["id"] == agent.id


async def test_bad_bodies_are_422_and_create_nothing(
    app: FastAPI, client: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    admin = await make_user(app, "admin")
    past = iso(frozen_clock.now() - timedelta(seconds=1))
    naive = (frozen_clock.now() + timedelta(days=1)).replace(tzinfo=None).isoformat()
    for body in (
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["chats:delete"]},
        {"name": "x"},
        {"name": "", "scopes": ["chats:read"]},
        {"name": "x" * 121, "scopes": ["chats:read"]},
        {"name": "x", "scopes": ["chats:read"], "token": "hlp_mine"},
        {"name": "x", "scopes": ["chats:read"], "expires_at": past},
        {"name": "x", "scopes": ["chats:read"], "expires_at": naive},
        {"name": "x", "scopes": ["chats:read"], "expires_at": "tomorrow"},
    ):
        r = await client.post("/api/v1/me/tokens", json=body, headers=admin.headers)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["code"] == "invalid"
    assert (await client.get("/api/v1/me/tokens", headers=admin.headers)).json()["items"] == []
    assert (await client.post("/api/v1/me/tokens", json={})).status_code == 401


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("customer", ["chats:read", "chats:write", "requests:read", "requests:write"]),
        ("agent", ["chats:read", "chats:write", "requests:read", "requests:write"]),
        ("supervisor", [*ALL[:5]]),
        ("admin", ALL),
    ],
)
async def test_a_token_never_exceeds_its_owners_role(
    app: FastAPI, client: httpx.AsyncClient, role: str, allowed: list[str]
) -> None:
    owner = await make_user(app, role)
    await new_token(client, owner, allowed)
    for scope in sorted(set(ALL) - set(allowed)):
        r = await client.post(
            "/api/v1/me/tokens",
            json={"name": "too much", "scopes": ["chats:read", scope]},
            headers=owner.headers,
        )
        assert r.status_code == 403, (role, scope)
        assert r.json()["error"]["code"] == "scope_exceeds_role"
    assert len((await client.get("/api/v1/me/tokens", headers=owner.headers)).json()["items"]) == 1


async def test_each_scope_opens_its_kind_of_route_and_no_other(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_user(app, "admin")
    queue = await make_queue(app, "Support")
    calls: dict[str, tuple[str, str, dict[str, Any] | None]] = {
        "chats:read": ("GET", "/api/v1/chats", None),
        "chats:write": ("PUT", "/api/v1/me/status", {"status": "away"}),
        "requests:read": ("GET", "/api/v1/requests", None),
        "requests:write": ("PATCH", "/api/v1/requests/SR-999999", {"priority": "high"}),
        "reports:read": ("GET", "/api/v1/reports/summary", None),
        "admin": ("PATCH", f"/api/v1/queues/{queue}", {"max_wait_s": 60}),
    }
    for granted in ALL:
        raw = (await new_token(client, admin, [granted]))["token"]
        for needed, (method, path, body) in calls.items():
            r = await client.request(method, path, json=body, headers=bearer(raw))
            if needed == granted:
                # Past the scope check: the route's own answer (404 for an unknown request).
                assert r.status_code in (200, 404), (granted, needed, r.text)
                assert r.json().get("error", {}).get("code") != "insufficient_scope"
            else:
                assert r.status_code == 403, (granted, needed, r.text)
                assert r.json()["error"] == {
                    "code": "insufficient_scope",
                    "message": f"This token lacks the scope {needed}.",
                    "scope": needed,
                }
        # Who am I, and the public list of queues, need no scope.
        assert (await client.get("/api/v1/me", headers=bearer(raw))).status_code == 200
        assert (await client.get("/api/v1/queues", headers=bearer(raw))).status_code == 200


async def test_account_security_needs_a_session_not_a_token(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_user(app, "admin")
    raw = (await new_token(client, admin, ALL))["token"]
    tid = (await client.get("/api/v1/me/tokens", headers=admin.headers)).json()["items"][0]["id"]
    for method, path, body in (
        ("GET", "/api/v1/me/tokens", None),
        ("POST", "/api/v1/me/tokens", {"name": "x", "scopes": ["admin"]}),
        ("DELETE", f"/api/v1/me/tokens/{tid}", None),
        ("GET", "/api/v1/me/sessions", None),
        ("DELETE", "/api/v1/me/sessions/whatever", None),
        ("POST", "/api/v1/auth/logout", None),
    ):
        r = await client.request(method, path, json=body, headers=bearer(raw))
        assert r.status_code == 403, (method, path)
        assert r.json()["error"]["code"] == "insufficient_scope"
    for method, path in (
        ("POST", "/me/totp"),
        ("POST", "/me/totp/confirm"),
        ("DELETE", "/me/totp"),
    ):
        assert scopes.need(method, path) == scopes.SESSION
    # The token still works, and is still there.
    assert (await client.get("/api/v1/me", headers=bearer(raw))).status_code == 200
    assert len((await client.get("/api/v1/me/tokens", headers=admin.headers)).json()["items"]) == 1


async def test_the_role_still_applies_under_the_scope(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_user(app, "admin")
    boss = await make_user(app, "admin")
    raw = (await new_token(client, admin, ["admin"]))["token"]
    assert (await client.get("/api/v1/audit", headers=bearer(raw))).status_code == 200
    r = await client.patch(
        f"/api/v1/users/{admin.id}", json={"role": "agent"}, headers=boss.headers
    )
    assert r.status_code == 200
    r = await client.get("/api/v1/audit", headers=bearer(raw))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


async def test_revoked_expired_and_deactivated_tokens_are_401(
    app: FastAPI, client: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    agent = await make_user(app, "agent")
    other = await make_user(app, "agent")
    admin = await make_user(app, "admin")
    revoked = await new_token(client, agent, ["chats:read"])
    soon = iso(frozen_clock.now() + timedelta(hours=1))
    expiring = await new_token(client, agent, ["chats:read"], expires_at=soon)
    assert expiring["expires_at"] is not None
    kept = await new_token(client, other, ["chats:read"])

    # Another person's token is not there for them: 404, and it keeps working.
    r = await client.delete(f"/api/v1/me/tokens/{kept['id']}", headers=agent.headers)
    assert r.status_code == 404
    assert (await client.get("/api/v1/chats", headers=bearer(kept["token"]))).status_code == 200

    r = await client.delete(f"/api/v1/me/tokens/{revoked['id']}", headers=agent.headers)
    assert r.status_code == 204
    r = await client.get("/api/v1/chats", headers=bearer(revoked["token"]))
    assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated"
    assert (
        await client.delete(f"/api/v1/me/tokens/{revoked['id']}", headers=agent.headers)
    ).status_code == 404
    assert [
        t["id"]
        for t in (await client.get("/api/v1/me/tokens", headers=agent.headers)).json()["items"]
    ] == [expiring["id"]]

    assert (await client.get("/api/v1/chats", headers=bearer(expiring["token"]))).status_code == 200
    frozen_clock.advance(3600)
    assert (await client.get("/api/v1/chats", headers=bearer(expiring["token"]))).status_code == 401
    (listed,) = (await client.get("/api/v1/me/tokens", headers=agent.headers)).json()["items"]
    assert listed["expired"] is True

    r = await client.patch(
        f"/api/v1/users/{other.id}", json={"active": False}, headers=admin.headers
    )
    assert r.status_code == 200
    assert (await client.get("/api/v1/chats", headers=bearer(kept["token"]))).status_code == 401
    assert (await client.get("/api/v1/me", headers=bearer("hlp_" + "x" * 43))).status_code == 401


async def test_last_use_is_written_at_most_once_a_minute(
    app: FastAPI, client: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    agent = await make_user(app, "agent")
    raw = (await new_token(client, agent, ["chats:read"]))["token"]

    async def last_used() -> datetime | None:
        items = (await client.get("/api/v1/me/tokens", headers=agent.headers)).json()["items"]
        at = items[0]["last_used_at"]
        return datetime.fromisoformat(at) if at else None

    first = frozen_clock.now()
    await client.get("/api/v1/chats", headers=bearer(raw))
    assert await last_used() == first
    frozen_clock.advance(30)
    await client.get("/api/v1/chats", headers=bearer(raw))
    assert await last_used() == first
    frozen_clock.advance(31)
    await client.get("/api/v1/chats", headers=bearer(raw))
    assert await last_used() == first + timedelta(seconds=61)


async def test_created_and_revoked_are_audited_without_the_secret(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    agent = await make_user(app, "agent")
    created = await new_token(client, agent, ["chats:read"])
    await client.delete(f"/api/v1/me/tokens/{created['id']}", headers=agent.headers)
    async with ctx_of(app).db.read() as session:
        rows = list((await session.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars())
    assert [(e.action, e.actor_id, e.target_type, e.target_id) for e in rows] == [
        ("token.created", agent.id, "token", created["id"]),
        ("token.revoked", agent.id, "token", created["id"]),
    ]
    assert rows[0].details == {"name": "integration", "scopes": ["chats:read"], "expires_at": None}
    assert created["token"] not in json.dumps([e.details for e in rows])


def api_routes() -> set[tuple[str, str]]:
    """Every route of every `helpline.*.api` module, as (method, template)."""
    found: set[tuple[str, str]] = set()
    for info in pkgutil.iter_modules(helpline.__path__):
        if not info.ispkg:
            continue
        try:
            module = importlib.import_module(f"helpline.{info.name}.api")
        except ModuleNotFoundError:
            continue
        for route in module.router.routes:
            if isinstance(route, APIRoute):
                found |= {(m, route.path) for m in route.methods}
    return found


async def test_every_route_has_a_scope(app: FastAPI) -> None:
    routes = api_routes()
    assert ("GET", "/chats/{chat_id}") in routes and len(routes) > 50
    missing = sorted(r for r in routes if scopes.need(*r) is None)
    assert missing == [], f"add these to helpline/accounts/scopes.py ROUTES: {missing}"
    # And the schema the app serves names nothing the modules do not.
    served = {
        (m.upper(), p.removeprefix("/api/v1"))
        for p, ops in app.openapi()["paths"].items()
        if p.startswith("/api/v1/")
        for m in ops
    }
    assert served <= routes


async def test_a_route_missing_from_the_table_refuses_every_token() -> None:
    with pytest.raises(Exception, match="may not call this route") as refused:
        scopes.check(frozenset(ALL), "GET", "/not/in/the/table")
    assert getattr(refused.value, "code", None) == "insufficient_scope"


async def test_a_token_on_the_websocket(live_server: LiveServer) -> None:
    """Decision: a token opens the WebSocket with chats:read (it hears what its owner may);
    sending messages or typing also needs chats:write; revoking it closes its sockets (4401)."""
    app = live_server.app
    agent = await make_user(app, "agent")
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        reader = await new_token(http, agent, ["chats:read"])
        nothing = await new_token(http, agent, ["requests:read"])
        with pytest.raises(InvalidStatus) as refused:
            await connect(
                live_server.ws_url, additional_headers=bearer(nothing["token"]), open_timeout=5
            )
        assert refused.value.response.status_code == 403
        body = json.loads(bytes(refused.value.response.body or b""))
        assert body["error"]["code"] == "insufficient_scope"

        ws = await WSClient.open(live_server.ws_url, reader["token"])
        await ws.request({"type": "ping"}, lambda f: f["type"] == "pong")
        err = await ws.request(
            {"type": "message", "chat_id": "c1", "text": "hi", "client_id": "k1"},
            lambda f: f["type"] == "error",
        )
        assert err["error"]["code"] == "insufficient_scope"
        r = await http.delete(f"/api/v1/me/tokens/{reader['id']}", headers=agent.headers)
        assert r.status_code == 204
        code, _ = await asyncio.wait_for(ws.closed, 5)
        assert code == 4401


async def test_routes_that_authenticate_themselves_check_the_scope_too(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Uploads and hand-overs authenticate in two units of their own, not through the usual
    dependency: a token is let in (not 401) and held to its scopes there as well."""
    supervisor = await make_user(app, "supervisor")
    reader = (await new_token(client, supervisor, ["chats:read"]))["token"]
    writer = (await new_token(client, supervisor, ["chats:write"]))["token"]
    calls: list[tuple[str, dict[str, Any]]] = [
        ("/api/v1/chats/nochat/assign", {"json": {"agent_id": supervisor.id}}),
        ("/api/v1/chats/nochat/transfer", {"json": {"agent_id": supervisor.id}}),
        ("/api/v1/chats/nochat/files", {"files": {"file": ("a.txt", b"hi", "text/plain")}}),
    ]
    for path, kw in calls:
        r = await client.post(path, headers=bearer(reader), **kw)
        assert r.status_code == 403, (path, r.text)
        assert r.json()["error"]["code"] == "insufficient_scope"
        r = await client.post(path, headers=bearer(writer), **kw)
        assert r.status_code == 404, (path, r.text)  # in, and the chat does not exist
