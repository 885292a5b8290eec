"""Sign-ins and guests arriving together are written together (`helpline.boundary.Inserts`, a
group commit): each still gets its own working session and audit entry, in fewer writes than
callers; one caller's conflicting row fails that caller only; an outage fails them all; a
caller that gives up does not stop the others' write."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from helpline.accounts.models import AuthSession, User
from helpline.accounts.repository import hash_token
from helpline.audit.models import AuditEntry
from helpline.audit.service import new_entry
from helpline.errors import Unavailable
from helpline.kit.ids import new_id, new_token
from tests.conftest import BACKEND
from tests.fixtures.factories import PASSWORD, ctx_of, make_user

pytestmark = pytest.mark.asyncio


async def _count(app: FastAPI, stmt: object) -> int:
    async with ctx_of(app).db.read() as session:
        return int((await session.execute(stmt)).scalar_one())  # type: ignore[call-overload]


async def test_guests_arriving_together_each_get_their_own_account_in_fewer_writes(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    inserts = ctx_of(app).inserts
    before = inserts.batches
    answers = await asyncio.gather(
        *(
            client.post("/api/v1/auth/guest", json={"name": f"G{i}", "email": f"g{i}@example.com"})
            for i in range(30)
        )
    )
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
    bodies = [r.json() for r in answers]
    assert len({b["user"]["id"] for b in bodies}) == 30
    assert all(b["user"]["role"] == "customer" and b["user"]["is_guest"] for b in bodies)
    assert inserts.batches - before < 30
    for i, b in enumerate(bodies):  # every token works, for its own guest
        me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {b['token']}"})
        assert me.status_code == 200 and me.json()["name"] == f"G{i}"
        assert me.json()["email"] == f"g{i}@example.com"


async def test_sign_ins_arriving_together_each_get_a_session_and_an_audit_entry(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    agents = [await make_user(app, "agent") for _ in range(12)]
    ctx = ctx_of(app)
    inserts = ctx.inserts
    before, added = inserts.batches, inserts.added
    # Each sign-in's hash ends on its own thread at its own moment, and on SQLite a write is
    # over within the loop turn that starts it: SQLite's writer is held until every sign-in has
    # handed in its rows, as a busy writer would hold them at a shift start.
    holder = ctx.db.write_lock()
    await holder.__aenter__()
    try:
        signing_in = asyncio.gather(
            *(
                client.post("/api/v1/auth/login", json={"email": a.email, "password": PASSWORD})
                for a in agents
            )
        )
        for _ in range(1000):  # bounded: 12 hashes at the tests' cost
            if inserts.added - added == 12:
                break
            await asyncio.sleep(0.01)
    finally:
        await holder.__aexit__(None, None, None)
    answers = await asyncio.wait_for(signing_in, 30)
    assert [r.status_code for r in answers] == [200] * 12, [r.text for r in answers]
    assert inserts.batches - before < 12
    for agent, r in zip(agents, answers, strict=True):
        token = r.json()["token"]
        assert r.json()["user"]["id"] == agent.id
        me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["id"] == agent.id
        async with ctx_of(app).db.read() as session:
            entries = (
                await session.scalars(
                    select(AuditEntry).where(
                        AuditEntry.action == "login.succeeded", AuditEntry.target_id == agent.id
                    )
                )
            ).all()
        # Written as plain INSERTs: the database numbers the entry, its JSON and time intact.
        assert len(entries) == 1
        assert entries[0].id > 0 and entries[0].actor_id == agent.id
        assert entries[0].details == {"method": "password"} and entries[0].at is not None
    # A wrong password among them still fails alone, and writes no session.
    sessions = await _count(app, select(func.count(AuthSession.id)))
    wrong, right = await asyncio.gather(
        client.post("/api/v1/auth/login", json={"email": agents[0].email, "password": "nope"}),
        client.post("/api/v1/auth/login", json={"email": agents[1].email, "password": PASSWORD}),
    )
    assert wrong.status_code == 401 and right.status_code == 200
    assert await _count(app, select(func.count(AuthSession.id))) == sessions + 1


def _sign_in_rows(user_id: str, token_hash: str | None = None) -> list[object]:
    session = AuthSession(
        id=new_id(), user_id=user_id, token_hash=token_hash or hash_token(new_token())
    )
    entry = new_entry(actor=None, action="login.succeeded", target_type="user", target_id=user_id)
    return [session, entry]


async def test_a_conflicting_row_fails_its_own_caller_only(app: FastAPI) -> None:
    ctx = ctx_of(app)
    people = [await make_user(app, "agent") for _ in range(4)]
    taken = hash_token(new_token())
    await ctx.inserts.add(*_sign_in_rows(people[0].id, taken))  # type: ignore[arg-type]
    entries = await _count(app, select(func.count(AuditEntry.id)))
    # Arriving together: one of them repeats a token hash (unique), the others are fine.
    rows = [
        _sign_in_rows(people[1].id, taken),
        _sign_in_rows(people[2].id),
        _sign_in_rows(people[3].id),
    ]
    results = await asyncio.gather(
        *(ctx.inserts.add(*r) for r in rows),  # type: ignore[arg-type]
        return_exceptions=True,
    )
    assert isinstance(results[0], IntegrityError)
    assert results[1] is None and results[2] is None
    for p in people[2:]:
        n = await _count(app, select(func.count(AuthSession.id)).where(AuthSession.user_id == p.id))
        assert n == 2  # make_user's session and this one
    assert (
        await _count(
            app, select(func.count(AuthSession.id)).where(AuthSession.user_id == people[1].id)
        )
        == 1
    )  # make_user's only
    # Two audit entries written (the conflicting caller's was not), numbered afresh.
    assert await _count(app, select(func.count(AuditEntry.id))) == entries + 2
    # And the writer goes on.
    await ctx.inserts.add(*_sign_in_rows(people[1].id))  # type: ignore[arg-type]


async def test_an_outage_fails_every_caller_of_the_write(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = ctx_of(app)
    people = [await make_user(app, "agent") for _ in range(3)]

    async def down(groups: object) -> None:
        raise Unavailable("The database is unavailable; try again shortly.")

    monkeypatch.setattr(ctx.inserts, "_write", down)
    results = await asyncio.gather(
        *(ctx.inserts.add(*_sign_in_rows(p.id)) for p in people),  # type: ignore[arg-type]
        return_exceptions=True,
    )
    assert all(isinstance(r, Unavailable) for r in results)
    monkeypatch.undo()
    await ctx.inserts.add(*_sign_in_rows(people[0].id))  # type: ignore[arg-type]


@pytest.mark.skipif(BACKEND != "sqlite", reason="holds SQLite's in-process writer lock")
async def test_a_caller_that_gives_up_leaves_the_write_to_finish(app: FastAPI) -> None:
    ctx = ctx_of(app)
    people = [await make_user(app, "agent") for _ in range(2)]
    rows = [_sign_in_rows(p.id) for p in people]
    holder = ctx.db.write_lock()
    await holder.__aenter__()  # the shared write waits for SQLite's writer
    try:
        quitter = asyncio.create_task(ctx.inserts.add(*rows[0]))  # type: ignore[arg-type]
        stayer = asyncio.create_task(ctx.inserts.add(*rows[1]))  # type: ignore[arg-type]
        for _ in range(100):  # bounded: the write is waiting for the lock
            if ctx.db._write_lock.waiting:
                break
            await asyncio.sleep(0.01)
        quitter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await quitter
    finally:
        await holder.__aexit__(None, None, None)
    await asyncio.wait_for(stayer, 5)
    for r in rows:  # both written: the write was under way for both
        session = r[0]
        assert isinstance(session, AuthSession)
        n = await _count(
            app, select(func.count(AuthSession.id)).where(AuthSession.id == session.id)
        )
        assert n == 1


async def test_a_guest_is_a_customer_with_the_usual_defaults(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    r = await client.post(
        "/api/v1/auth/guest",
        json={"name": "Gina", "email": "Gina@Example.com"},
        headers={"Accept-Language": "de"},
    )
    assert r.status_code == 200, r.text
    async with ctx_of(app).db.read() as session:
        user = await session.get(User, r.json()["user"]["id"])
    assert user is not None
    assert (user.email, user.role, user.is_guest, user.active) == (
        "gina@example.com",
        "customer",
        True,
        True,
    )
    assert user.password_hash is None and user.created_at is not None
    assert user.locale == "de"
    assert r.json()["user"]["status"] == user.status
    # The answer shows what was stored, defaults included (set before the INSERT, not read back).
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {r.json()['token']}"})
    fields = ("id", "email", "role", "is_guest", "active", "status", "max_chats", "created_at")
    assert {k: r.json()["user"][k] for k in fields} == {k: me.json()[k] for k in fields}


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's own connection (Database.write_raw)")
async def test_rows_written_on_sqlites_own_connection_are_those_a_session_writes(
    app: FastAPI,
) -> None:
    """`Inserts` on SQLite writes through `write_raw` (no session); the rows it stores are the
    ones the session's INSERTs store, value for value: times, flags, enums, JSON, defaults."""
    from functools import partial

    from sqlalchemy import inspect as sa_inspect

    from helpline.boundary import NewRows, _insert, _insert_sqlite

    ctx = ctx_of(app)
    assert ctx.db.writes_in_loop
    agent = await make_user(app, "agent")

    def rows(n: int) -> list[object]:
        guest = User(id=new_id(), email=f"twin{n}@example.com", name="Twin", role="customer",
                     is_guest=True, locale="de")  # fmt: skip
        session = AuthSession(id=new_id(), user_id=guest.id, token_hash=hash_token(new_token()),
                              ip="192.0.2.1", user_agent="test")  # fmt: skip
        entry = new_entry(actor=None, action="login.succeeded", target_type="user",
                          target_id=agent.id, details={"via": "password", "n": n})  # fmt: skip
        return [guest, session, entry]

    by_session, raw = rows(1), rows(2)
    await ctx.boundary.write_now(partial(_insert, [NewRows(by_session)]))  # type: ignore[arg-type]
    await ctx.boundary.write_raw(
        partial(_insert_sqlite, [NewRows(raw)], ctx.db.now_dialect)  # type: ignore[arg-type]
    )

    async def stored(objs: list[object], nth: int) -> list[dict[str, object]]:
        out = []
        async with ctx.db.read() as session:
            for obj in objs:
                mapper = sa_inspect(obj).mapper
                if isinstance(obj, AuditEntry):  # numbered by the database: the nth for agent
                    found = (
                        await session.scalars(
                            select(AuditEntry)
                            .where(AuditEntry.target_id == agent.id)
                            .order_by(AuditEntry.id)
                        )
                    ).all()[nth]
                else:
                    found = await session.get(type(obj), mapper.primary_key_from_instance(obj))
                assert found is not None
                out.append({c.key: getattr(found, c.key) for c in mapper.column_attrs})
        return out

    unique = {"id", "email", "user_id", "token_hash", "created_at", "updated_at", "at",
              "last_seen_at", "details"}  # fmt: skip
    first, second = await stored(by_session, 0), await stored(raw, 1)
    for a, b in zip(first, second, strict=True):
        assert {k: v for k, v in a.items() if k not in unique} == {
            k: v for k, v in b.items() if k not in unique
        }
        for k in unique & a.keys():  # the same kind of value, stored and read back alike
            assert type(a[k]) is type(b[k]), k
    assert second[2]["details"] == {"via": "password", "n": 2}
    assert first[2]["details"] == {"via": "password", "n": 1}
    # Stored as the same SQLite text, not only read back alike (times, JSON).
    path = ctx.db.sqlite_path
    assert path is not None
    with contextlib.closing(sqlite3.connect(path)) as conn:
        shapes = [
            conn.execute(
                "SELECT typeof(u.created_at), length(u.created_at), length(s.created_at),"
                " length(a.at), substr(a.details, 1, 8) FROM users u"
                " JOIN auth_sessions s ON s.user_id = u.id"
                " JOIN audit_entries a ON a.id = (SELECT id FROM audit_entries"
                "  WHERE target_id = ? ORDER BY id LIMIT 1 OFFSET ?) WHERE u.id = ?",
                (agent.id, nth, objs[0].id),  # type: ignore[attr-defined]
            ).fetchone()
            for nth, objs in ((0, by_session), (1, raw))
        ]
    assert shapes[0] is not None and shapes[0] == shapes[1]
    assert second[1]["user_id"] == raw[0].id  # type: ignore[attr-defined]
