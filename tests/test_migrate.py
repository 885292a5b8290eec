"""Upgrades that keep data, `helpline migrate`'s plan, its refusal of a newer schema, and two
`helpline migrate` at once on one PostgreSQL database."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from helpline.accounts.passwords import hash_password
from helpline.db import Database, UTCDateTime
from helpline.migrate import head, upgrade
from tests.conftest import BACKEND
from tests.fixtures.factories import app_settings, serving
from tests.fixtures.servers import create_database

PASSWORD = "first-revision-pw"
T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


# fmt: off
def _tables() -> dict[str, sa.TableClause]:
    """The tables as revision 0001 had them (only the columns written here)."""
    dt = UTCDateTime()

    def t(name: str, *cols: Any) -> sa.TableClause:
        return sa.table(name, *cols)

    c = sa.column
    return {
        "queues": t("queues", c("id"), c("name"), c("description"), c("active", sa.Boolean),
                    c("routing_mode"), c("max_wait_s"), c("offer_timeout_s"),
                    c("created_at", dt)),
        "users": t("users", c("id"), c("email"), c("name"), c("role"), c("password_hash"),
                   c("is_guest", sa.Boolean), c("active", sa.Boolean), c("status"),
                   c("max_chats"), c("created_at", dt), c("updated_at", dt)),
        "queue_members": t("queue_members", c("queue_id"), c("user_id")),
        "chats": t("chats", c("id"), c("number"), c("reference"), c("customer_id"),
                   c("queue_id"), c("agent_id"), c("subject"), c("status"), c("last_seq"),
                   c("created_at", dt), c("accepted_at", dt), c("updated_at", dt)),
        "chat_events": t("chat_events", c("chat_id"), c("seq"), c("type"), c("at", dt),
                         c("actor_id"), c("actor_role"), c("actor_name"),
                         c("data", sa.JSON), c("client_id"), c("internal", sa.Boolean)),
        "attachments": t("attachments", c("id"), c("chat_id"), c("uploader_id"), c("filename"),
                         c("content_type"), c("size"), c("sha256"), c("storage_key"),
                         c("created_at", dt)),
        "service_requests": t("service_requests", c("id"), c("number"), c("reference"),
                              c("customer_id"), c("team_id"), c("chat_id"), c("summary"),
                              c("description"), c("priority"), c("status"),
                              c("created_at", dt), c("updated_at", dt)),
        "request_entries": t("request_entries", c("request_id"), c("type"), c("at", dt),
                             c("actor_id"), c("actor_role"), c("actor_name"),
                             c("data", sa.JSON), c("internal", sa.Boolean)),
        "counters": t("counters", c("name"), c("value")),
    }


PAYLOAD = b"a log file written before the first upgrade\n" * 100
KEY = "0f" + "a1" * 15


async def _fill_at_first_revision(url: str, files_dir: Path) -> None:
    tb = _tables()
    ids = {"q": "q" * 32, "cu": "c" * 32, "ag": "a" * 32, "ch": "h" * 32, "f": "f" * 32}
    pw = hash_password(PASSWORD, fast=True)
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            ins = conn.execute
            await ins(tb["queues"].insert().values(
                id=ids["q"], name="Support", description="", active=True,
                routing_mode="broadcast", max_wait_s=600, offer_timeout_s=30, created_at=T0))
            for uid, email, name, role in (
                (ids["cu"], "old.customer@example.com", "Olga Old", "customer"),
                (ids["ag"], "old.agent@example.com", "Arne Agent", "agent"),
            ):
                await ins(tb["users"].insert().values(
                    id=uid, email=email, name=name, role=role, password_hash=pw,
                    is_guest=False, active=True, status="offline", max_chats=3,
                    created_at=T0, updated_at=T0))
            await ins(tb["queue_members"].insert().values(queue_id=ids["q"], user_id=ids["ag"]))
            await ins(tb["chats"].insert().values(
                id=ids["ch"], number=1, reference="CS-000001", customer_id=ids["cu"],
                queue_id=ids["q"], agent_id=ids["ag"], subject="Printer on fire",
                status="in_progress", last_seq=3, created_at=T0, accepted_at=T0,
                updated_at=T0))
            actor_c = {"actor_id": ids["cu"], "actor_role": "customer", "actor_name": "Olga Old"}
            actor_a = {"actor_id": ids["ag"], "actor_role": "agent", "actor_name": "Arne Agent"}
            await ins(tb["attachments"].insert().values(
                id=ids["f"], chat_id=ids["ch"], uploader_id=ids["cu"], filename="fire.log",
                content_type="text/plain", size=len(PAYLOAD),
                sha256=hashlib.sha256(PAYLOAD).hexdigest(), storage_key=KEY, created_at=T0))
            attachment = {"id": ids["f"], "filename": "fire.log", "content_type": "text/plain",
                          "size": len(PAYLOAD), "url": f"/api/v1/files/{ids['f']}"}
            for seq, type_, data, actor in (
                (1, "message.posted", {"text": "My printer is on fire", "client_id": None},
                 actor_c),
                (2, "message.posted", {"text": "Please step away from it", "client_id": None},
                 actor_a),
                (3, "file.shared", {"attachment": attachment}, actor_c),
            ):
                await ins(tb["chat_events"].insert().values(
                    chat_id=ids["ch"], seq=seq, type=type_, at=T0, data=data, client_id=None,
                    internal=False, **actor))
            await ins(tb["service_requests"].insert().values(
                id="r" * 32, number=1, reference="SR-000001", customer_id=ids["cu"],
                team_id=ids["q"], chat_id=ids["ch"], summary="Replace the printer",
                description="It burnt", priority="medium", status="new", created_at=T0,
                updated_at=T0))
            await ins(tb["request_entries"].insert().values(
                request_id="r" * 32, type="created", at=T0, data={}, internal=False, **actor_a))
            await ins(tb["counters"].insert().values(name="chat", value=1))
            await ins(tb["counters"].insert().values(name="request", value=1))
    finally:
        await db.dispose()
    (files_dir / KEY[:2]).mkdir(parents=True)
    (files_dir / KEY[:2] / KEY).write_bytes(PAYLOAD)
# fmt: on


def _empty_database(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if BACKEND == "postgres":
        dsn: str = request.getfixturevalue("postgres_dsn")
        name = f"mig{os.getpid()}_{time.monotonic_ns() % 10**9}"
        return create_database(dsn, name).replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"sqlite+aiosqlite:///{tmp_path / 'var' / 'helpline.db'}"


@pytest.mark.asyncio
async def test_a_database_filled_at_the_first_revision_keeps_everything_at_head(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    url = _empty_database(tmp_path, request)
    upgrade(url, "0001")
    await _fill_at_first_revision(url, data_dir / "files")
    upgrade(url)  # every migration since, on a database with rows in every table they touch

    async with serving(app_settings(data_dir, url)) as client:
        tokens = {}
        for who in ("old.customer", "old.agent"):
            r = await client.post(
                "/api/v1/auth/login", json={"email": f"{who}@example.com", "password": PASSWORD}
            )
            assert r.status_code == 200, r.text
            tokens[who] = {"Authorization": f"Bearer {r.json()['token']}"}
        chat = await client.get("/api/v1/chats/" + "h" * 32, headers=tokens["old.customer"])
        assert chat.status_code == 200, chat.text
        assert chat.json()["reference"] == "CS-000001"
        assert chat.json()["status"] == "in_progress"
        events = await client.get(
            "/api/v1/chats/" + "h" * 32 + "/events", headers=tokens["old.agent"]
        )
        items = events.json()["items"]
        assert [(e["seq"], e["type"]) for e in items] == [
            (1, "message.posted"),
            (2, "message.posted"),
            (3, "file.shared"),
        ]
        assert items[0]["data"]["text"] == "My printer is on fire"
        f = await client.get(items[2]["data"]["attachment"]["url"], headers=tokens["old.agent"])
        assert f.status_code == 200 and f.content == PAYLOAD
        req = await client.get("/api/v1/requests/SR-000001", headers=tokens["old.customer"])
        assert req.status_code == 200, req.text
        assert req.json()["summary"] == "Replace the printer"
        # And the upgraded database takes new work: the counters carried on.
        r = await client.post(
            "/api/v1/chats/" + "h" * 32 + "/messages",
            json={"text": "still here", "client_id": "after-upgrade"},
            headers=tokens["old.customer"],
        )
        assert r.status_code == 201 and r.json()["seq"] == 4


def _migrate(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "helpline", "migrate"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _cli_env(tmp_path: Path, database_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
    env["HELPLINE_DATA_DIR"] = str(tmp_path / "var")
    if database_url:
        env["HELPLINE_DATABASE_URL"] = database_url
    return env


def test_migrate_prints_its_plan_then_finds_nothing_to_do(tmp_path: Path) -> None:
    env = _cli_env(tmp_path)
    first = subprocess.run(
        [sys.executable, "-m", "helpline", "migrate"], env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    newest = head("sqlite+aiosqlite:///x")
    assert "Migrating from an empty database to " + str(newest) in first.stdout
    assert "  0001  " in first.stdout and f"  {newest}  " in first.stdout
    again = subprocess.run(
        [sys.executable, "-m", "helpline", "migrate"], env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert again.returncode == 0
    assert f"Nothing to do: the database is up to date (at {newest})" in again.stdout
    assert "Migrating" not in again.stdout


def test_migrate_and_serve_refuse_a_schema_newer_than_they_know(tmp_path: Path) -> None:
    import sqlite3

    env = _cli_env(tmp_path)
    assert subprocess.run(
        [sys.executable, "-m", "helpline", "migrate"], env=env, capture_output=True, timeout=120,
        check=False,
    ).returncode == 0  # fmt: skip
    db = tmp_path / "var" / "helpline.db"
    with sqlite3.connect(db) as conn:  # as a newer release would leave it
        conn.execute("UPDATE alembic_version SET version_num = '0999'")
        conn.execute("CREATE TABLE from_the_future (id INTEGER)")
    for command in ("migrate", "serve"):
        r = subprocess.run(
            [sys.executable, "-m", "helpline", command], env=env, capture_output=True,
            text=True, timeout=120, check=False,
        )  # fmt: skip
        assert r.returncode == 2, (command, r.stdout, r.stderr)
        assert "0999" in r.stderr and "newer release" in r.stderr
    with sqlite3.connect(db) as conn:  # nothing was changed
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("0999",)]
        conn.execute("SELECT count(*) FROM from_the_future")


@pytest.mark.postgres
def test_two_migrates_at_once_on_postgresql_one_waits_then_finds_nothing_to_do(
    tmp_path: Path, postgres_dsn: str
) -> None:
    import asyncpg  # type: ignore[import-untyped]

    from helpline.migrate import MIGRATE_LOCK_KEY

    name = f"migrace{os.getpid()}"
    url = create_database(postgres_dsn, name)
    env = _cli_env(tmp_path, url)

    async def scenario() -> list[tuple[int, str]]:
        # The test holds the lock first, so both processes are certainly there at once.
        holder = await asyncpg.connect(postgres_dsn.rsplit("/", 1)[0] + f"/{name}")
        await holder.execute("SELECT pg_advisory_lock($1)", MIGRATE_LOCK_KEY)
        procs = [_migrate(env), _migrate(env)]
        try:
            deadline = time.monotonic() + 60
            while True:
                waiting = await holder.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    " AND database = (SELECT oid FROM pg_database WHERE datname = $1)",
                    name,
                )
                if waiting == 2:
                    break
                assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
                assert time.monotonic() < deadline, "both migrate processes did not queue up"
                await asyncio.sleep(0.05)
            await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATE_LOCK_KEY)
            outs = [await asyncio.to_thread(p.communicate, timeout=120) for p in procs]
            return [(p.returncode, out[0]) for p, out in zip(procs, outs, strict=True)]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
            await holder.close()

    results = asyncio.run(scenario())
    assert [rc for rc, _ in results] == [0, 0], results
    outputs = [out for _, out in results]
    assert all("waiting for it to finish" in out for out in outputs)
    migrated = [out for out in outputs if "Migrating from an empty database" in out]
    idle = [out for out in outputs if "Nothing to do" in out]
    assert len(migrated) == 1 and len(idle) == 1, outputs
    assert "Traceback" not in "".join(outputs)
