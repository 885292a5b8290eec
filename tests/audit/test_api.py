"""The audit log (CONTRACT-2 "Audit log"): entries for the actions that exist, written in the
same transaction as the change, GET /audit with its filters and cursor, GET /audit.csv, and a
table the database itself keeps append-only."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import IntegrityError

from helpline.accounts.models import User
from helpline.audit.models import AuditEntry
from helpline.kit.clock import FrozenClock, iso
from helpline.queues import service as queues
from helpline.queues.schemas import QueueCreate
from tests.fixtures.factories import PASSWORD, Person, ctx_of, make_queue, make_user

pytestmark = pytest.mark.asyncio


async def entries(client: httpx.AsyncClient, admin: Person, **params: Any) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/audit", params=params, headers=admin.headers)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def stored(app: FastAPI) -> list[AuditEntry]:
    async with ctx_of(app).db.read() as session:
        return list((await session.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars())


async def test_user_changes_are_recorded_with_changed_fields_never_secrets(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_user(app, "admin", name="Ada Admin")
    r = await client.post(
        "/api/v1/users",
        json={
            "email": "new@example.com",
            "name": "Nina",
            "role": "agent",
            "password": "s3cret-pass",
        },
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    r = await client.patch(
        f"/api/v1/users/{uid}",
        json={"name": "Nina Agent", "role": "supervisor", "password": "an0ther-pass"},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    r = await client.patch(f"/api/v1/users/{uid}", json={"active": False}, headers=admin.headers)
    assert r.status_code == 200, r.text

    items = await entries(client, admin)
    assert [e["action"] for e in items] == ["user.deactivated", "user.updated", "user.created"]
    deactivated, updated, created = items
    for e in items:
        assert e["actor"] == {"id": admin.id, "name": "Ada Admin"}
        assert e["target"] == {"type": "user", "id": uid}
        assert e["ip"] == "127.0.0.1"
    assert created["details"] == {"role": "agent", "max_chats": 3}
    assert updated["details"] == {
        "fields": ["name", "role", "password"],
        "from": {"name": "Nina", "role": "agent"},
        "to": {"name": "Nina Agent", "role": "supervisor"},
    }
    raw = (await client.get("/api/v1/audit", headers=admin.headers)).text
    assert "s3cret" not in raw and "an0ther" not in raw and "argon" not in raw
    assert deactivated["details"] == {}


async def test_queue_changes_are_recorded(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_user(app, "admin")
    agent = await make_user(app, "agent")
    r = await client.post("/api/v1/queues", json={"name": "Billing"}, headers=admin.headers)
    assert r.status_code == 201, r.text
    qid = r.json()["id"]
    r = await client.patch(
        f"/api/v1/queues/{qid}", json={"max_wait_s": 120, "name": "Billing"}, headers=admin.headers
    )
    assert r.status_code == 200, r.text
    r = await client.put(
        f"/api/v1/queues/{qid}/members", json={"user_ids": [agent.id]}, headers=admin.headers
    )
    assert r.status_code == 200, r.text
    # Setting the same members again changes nothing and records nothing.
    r = await client.put(
        f"/api/v1/queues/{qid}/members", json={"user_ids": [agent.id]}, headers=admin.headers
    )
    members, updated, created = await entries(client, admin, target_type="queue")
    assert created["action"] == "queue.created"
    assert created["details"]["name"] == "Billing"
    assert updated["action"] == "queue.updated"
    assert updated["details"] == {
        "fields": ["max_wait_s"],
        "from": {"max_wait_s": 600},
        "to": {"max_wait_s": 120},
    }
    assert members["action"] == "queue.members_changed"
    assert members["details"] == {"added": [agent.id], "removed": []}
    assert {e["target"]["id"] for e in (members, updated, created)} == {qid}


async def test_sign_ins_are_recorded_with_their_address(app: FastAPI) -> None:
    admin = await make_user(app, "admin")
    agent = await make_user(app, "agent", email="ana@example.com")
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        ok = await c.post("/api/v1/auth/login", json={"email": agent.email, "password": PASSWORD})
        bad = await c.post("/api/v1/auth/login", json={"email": agent.email, "password": "nope"})
        unknown = await c.post(
            "/api/v1/auth/login", json={"email": "who@example.com", "password": "nope"}
        )
        assert (ok.status_code, bad.status_code, unknown.status_code) == (200, 401, 401)
        r = await c.get("/api/v1/audit", headers=admin.headers)
    unknown_e, bad_e, ok_e = r.json()["items"]
    assert ok_e["action"] == "login.succeeded" and ok_e["actor"]["id"] == agent.id
    assert ok_e["target"] == {"type": "user", "id": agent.id}
    assert bad_e["action"] == "login.failed" and bad_e["actor"] is None
    assert bad_e["target"] == {"type": "user", "id": agent.id}
    assert bad_e["details"] == {"reason": "password"}
    # An address nobody has is not written down (nothing personal the log could not erase).
    assert unknown_e["target"] == {"type": "user", "id": None}
    assert unknown_e["details"] == {"reason": "unknown_account"}
    assert "who@example.com" not in r.text
    assert {e["ip"] for e in (unknown_e, bad_e, ok_e)} == {"203.0.113.7"}


async def test_a_refused_change_leaves_no_entry(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_user(app, "admin")
    await make_user(app, "agent", email="taken@example.com")
    qid = await make_queue(app, "Sales")
    body = {"email": "taken@example.com", "name": "X", "role": "agent", "password": "long-enough"}
    assert (await client.post("/api/v1/users", json=body, headers=admin.headers)).status_code == 409
    r = await client.put(
        f"/api/v1/queues/{qid}/members", json={"user_ids": ["nobody"]}, headers=admin.headers
    )
    assert r.status_code == 422
    r = await client.patch(
        f"/api/v1/users/{admin.id}", json={"active": False}, headers=admin.headers
    )
    assert r.status_code == 409
    assert await stored(app) == []


async def test_the_entry_commits_with_the_change_or_not_at_all(app: FastAPI) -> None:
    """The change and its entry share one transaction: a unit that fails after the service
    recorded the entry leaves neither the queue nor the entry."""
    admin = await make_user(app, "admin")
    boundary = ctx_of(app).boundary

    class Boom(Exception):
        pass

    async with boundary.read() as uow:
        actor = await uow.session.get(User, admin.id)
    assert actor is not None
    seen_inside: list[str] = []

    async def fail_after_the_change() -> None:
        async with boundary.write() as uow:
            await queues.create(uow, actor, QueueCreate(name="Ghost"))
            seen_inside.extend(e.action for e in await stored_in(uow))
            raise Boom

    with pytest.raises(Boom):
        await fail_after_the_change()
    assert seen_inside == ["queue.created"]
    assert await stored(app) == []
    async with boundary.write() as uow:
        await queues.create(uow, actor, QueueCreate(name="Real"))
    assert [e.action for e in await stored(app)] == ["queue.created"]


async def stored_in(uow: Any) -> list[AuditEntry]:
    return list((await uow.session.execute(select(AuditEntry))).scalars())


async def test_filters_and_cursor(
    app: FastAPI, client: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    admin = await make_user(app, "admin")
    other = await make_user(app, "admin")
    start = frozen_clock.now()
    for i in range(5):
        r = await client.post("/api/v1/queues", json={"name": f"Q{i}"}, headers=admin.headers)
        assert r.status_code == 201
        frozen_clock.advance(3600)
    r = await client.post("/api/v1/queues", json={"name": "Theirs"}, headers=other.headers)
    assert r.status_code == 201

    mine = await entries(client, admin, actor_id=admin.id)
    assert [e["details"]["name"] for e in mine] == ["Q4", "Q3", "Q2", "Q1", "Q0"]
    assert len(await entries(client, admin, action="queue.created")) == 6
    assert await entries(client, admin, action="user.created") == []
    assert await entries(client, admin, target_type="user") == []
    window = await entries(
        client,
        admin,
        **{"from": iso(start + timedelta(hours=1)), "to": iso(start + timedelta(hours=3))},
    )
    assert [e["details"]["name"] for e in window] == ["Q2", "Q1"]
    # A time without an offset is UTC.
    naive = (start + timedelta(hours=4)).replace(tzinfo=None).isoformat()
    assert [e["details"]["name"] for e in await entries(client, admin, **{"from": naive})] == [
        "Theirs",
        "Q4",
    ]

    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        r = await client.get("/api/v1/audit", params=params, headers=admin.headers)
        body = r.json()
        seen += [e["details"]["name"] for e in body["items"]]
        if body["next"] is None:
            break
        params["cursor"] = body["next"]
    assert seen == ["Theirs", "Q4", "Q3", "Q2", "Q1", "Q0"]


async def test_only_admins_read_the_log_and_bad_filters_are_422(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_user(app, "admin")
    for role in ("supervisor", "agent", "customer"):
        person = await make_user(app, role)
        for path in ("/api/v1/audit", "/api/v1/audit.csv"):
            r = await client.get(path, headers=person.headers)
            assert r.status_code == 403, (role, path)
            assert r.json()["error"]["code"] == "forbidden"
    assert (await client.get("/api/v1/audit")).status_code == 401
    assert (await client.get("/api/v1/audit.csv")).status_code == 401
    for params in (
        {"from": "yesterday"},
        {"to": "2026-13-01T00:00:00Z"},
        {"cursor": "abc"},
        {"cursor": "-1"},
        {"limit": 0},
        {"limit": 201},
        {"action": ""},
        {"actor_id": "x" * 65},
    ):
        r = await client.get("/api/v1/audit", params=params, headers=admin.headers)
        assert r.status_code == 422, params
        assert r.json()["error"]["code"] == "invalid"


async def test_csv_export_has_every_entry_and_is_safe_in_a_spreadsheet(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_user(app, "admin", name='=HYPERLINK("http://evil")')
    for name in ("One", "Two", "+Three"):
        r = await client.post("/api/v1/queues", json={"name": name}, headers=admin.headers)
        assert r.status_code == 201
    r = await client.get("/api/v1/audit.csv", headers=admin.headers)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["action"] for row in rows] == ["queue.created"] * 3
    assert rows[0]["actor_name"] == '\'=HYPERLINK("http://evil")'
    assert rows[0]["actor_id"] == admin.id
    assert '"name": "+Three"' in rows[0]["details"]
    assert all(row[k][:1] not in "=+-@" for row in rows for k in row)
    filtered = await client.get(
        "/api/v1/audit.csv", params={"action": "user.created"}, headers=admin.headers
    )
    assert filtered.text.strip().splitlines() == [
        "id,at,actor_id,actor_name,action,target_type,target_id,ip,details"
    ]


async def test_csv_export_pages_through_a_long_log(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpline.audit import api

    monkeypatch.setattr(api, "CSV_BATCH", 2)
    admin = await make_user(app, "admin")
    for i in range(5):
        await client.post("/api/v1/queues", json={"name": f"Q{i}"}, headers=admin.headers)
    r = await client.get("/api/v1/audit.csv", headers=admin.headers)
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [int(row["id"]) for row in rows] == sorted(
        (int(row["id"]) for row in rows), reverse=True
    )
    assert len(rows) == 5


async def test_the_database_refuses_to_change_or_delete_an_entry(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_user(app, "admin")
    await client.post("/api/v1/queues", json={"name": "Kept"}, headers=admin.headers)
    db = ctx_of(app).db
    for stmt in (
        update(AuditEntry).values(action="queue.updated"),
        delete(AuditEntry),
    ):
        with pytest.raises(IntegrityError, match="append-only"):
            async with db.write() as uow:
                await uow.session.execute(stmt)
    if not db.is_sqlite:
        with pytest.raises(IntegrityError, match="append-only"):
            async with db.write() as uow:
                await uow.session.execute(text("TRUNCATE audit_entries"))
    assert [e.action for e in await stored(app)] == ["queue.created"]
