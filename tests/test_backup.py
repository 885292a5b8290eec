"""`helpline backup` of a live installation under load, and `helpline restore` into a fresh one:
every chat, event, file and user acknowledged before the backup began is there afterwards.
On SQLite, or PostgreSQL (pg_dump/pg_restore) with HELPLINE_TEST_BACKEND=postgres."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BACKEND
from tests.fixtures.factories import app_settings, serving
from tests.fixtures.servers import create_database, free_port

pytestmark = pytest.mark.asyncio

ADMIN = ("backup-admin@example.com", "backup-admin-pw")
_n = itertools.count(1)


def _database(tmp: Path, name: str, request: pytest.FixtureRequest) -> str | None:
    """None: SQLite in the data directory; else a new, empty PostgreSQL database."""
    if BACKEND != "postgres":
        return None
    dsn: str = request.getfixturevalue("postgres_dsn")
    return create_database(dsn, f"bk_{name}_{os.getpid()}_{next(_n)}")


def _env(data_dir: Path, database_url: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
    env.update(
        HELPLINE_DATA_DIR=str(data_dir),
        HELPLINE_PASSWORD_FAST_HASH="true",
        HELPLINE_RATE_LIMITS="off",
        HELPLINE_LOG_LEVEL="WARNING",
        **extra,
    )
    if database_url:
        env["HELPLINE_DATABASE_URL"] = database_url
    return env


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "helpline", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@dataclass
class Acked:
    """What the server acknowledged, and when (monotonic clock of this test)."""

    users: list[tuple[float, str, dict[str, str]]] = field(default_factory=list)
    chats: list[tuple[float, str, dict[str, str]]] = field(default_factory=list)
    events: list[tuple[float, str, int, str]] = field(default_factory=list)  # chat, seq, text
    files: list[tuple[float, str, bytes]] = field(default_factory=list)  # url, bytes


async def _load(http: httpx.AsyncClient, queue_id: str, acked: Acked, stop: asyncio.Event) -> None:
    """One customer after another: sign up, start a chat, write, share a file."""
    while not stop.is_set():
        n = next(_n)
        r = await http.post(
            "/api/v1/auth/guest", json={"name": f"Guest {n}", "email": f"g{n}@example.com"}
        )
        assert r.status_code == 200, r.text
        who = {"Authorization": f"Bearer {r.json()['token']}"}
        acked.users.append((time.monotonic(), r.json()["user"]["id"], who))
        r = await http.post(
            "/api/v1/chats", json={"queue_id": queue_id, "message": f"hello {n}"}, headers=who
        )
        assert r.status_code == 201, r.text
        chat_id = r.json()["id"]
        acked.chats.append((time.monotonic(), chat_id, who))
        for i in range(3):
            text = f"message {i} of customer {n}"
            r = await http.post(
                f"/api/v1/chats/{chat_id}/messages",
                json={"text": text, "client_id": f"m{i}"},
                headers=who,
            )
            assert r.status_code == 201, r.text
            acked.events.append((time.monotonic(), chat_id, r.json()["seq"], text))
        payload = os.urandom(20_000 + n)
        r = await http.post(
            f"/api/v1/chats/{chat_id}/files",
            files={"file": (f"log-{n}.txt", payload, "text/plain")},
            headers=who,
        )
        assert r.status_code == 201, r.text
        acked.files.append((time.monotonic(), r.json()["data"]["attachment"]["url"], payload))


async def test_backup_under_load_restores_everything_acknowledged(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    source_dir = tmp_path / "source"
    source_url = _database(tmp_path, "src", request)
    env = _env(source_dir, source_url)
    assert _cli(env, "migrate").returncode == 0
    made = _cli(env, "create-user", "--email", ADMIN[0], "--name", "Ada", "--role", "admin",
                "--password", ADMIN[1])  # fmt: skip
    assert made.returncode == 0, made.stderr
    port = free_port()
    with (tmp_path / "serve.log").open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "helpline", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    backup_dir = tmp_path / "backup"
    acked = Acked()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=30, trust_env=False
        ) as http:
            for _ in range(600):
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            r = await http.post(
                "/api/v1/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]}
            )
            admin = {"Authorization": f"Bearer {r.json()['token']}"}
            r = await http.post("/api/v1/queues", json={"name": "Support"}, headers=admin)
            assert r.status_code == 201, r.text
            queue_id = r.json()["id"]

            stop = asyncio.Event()
            load = [asyncio.create_task(_load(http, queue_id, acked, stop)) for _ in range(4)]
            while len(acked.files) < 8:  # chats are flowing
                await asyncio.sleep(0.05)
                assert not any(t.done() for t in load), [t.exception() for t in load if t.done()]
            started = time.monotonic()
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "helpline", "backup", str(backup_dir), env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await proc.communicate()
            during = len(acked.files)
            await asyncio.sleep(0.3)  # and the load goes on after it
            stop.set()
            await asyncio.gather(*load)
        assert proc.returncode == 0, err.decode()
        assert "Backed up" in out.decode()
    finally:
        server.terminate()
        server.wait(30)
    before = [a for a in acked.files if a[0] < started]
    print(f"\nbackup under load: {len(before)} files acknowledged before it began, "
          f"{during - len(before)} during it, {len(acked.files) - during} after")  # fmt: skip
    assert len(acked.files) > during > len(before) > 0, "the backup ran while chats flowed"
    assert oct((backup_dir / "secret_key").stat().st_mode & 0o777) == "0o600"

    # Restore into a fresh data directory (and database).
    target_dir = tmp_path / "restored"
    target_url = _database(tmp_path, "dst", request)
    target_env = _env(target_dir, target_url)
    restored = _cli(target_env, "restore", str(backup_dir))
    assert restored.returncode == 0, restored.stderr
    assert (target_dir / "secret_key").read_text() == (source_dir / "secret_key").read_text()
    # A second restore into the same place is refused, and changes nothing.
    db_file = target_dir / "helpline.db"
    snapshot = db_file.read_bytes() if db_file.exists() else None
    again = _cli(target_env, "restore", str(backup_dir))
    assert again.returncode == 2
    assert "not empty" in again.stderr and "nothing was written" in again.stderr
    if snapshot is not None:
        assert db_file.read_bytes() == snapshot

    async with serving(app_settings(target_dir, target_url, secret_key=None)) as client:
        for at, user_id, who in acked.users:
            if at < started:  # the person, signed in as before (sessions are data too)
                r = await client.get("/api/v1/me", headers=who)
                assert r.status_code == 200 and r.json()["id"] == user_id, r.text
        tokens = {chat_id: who for at, chat_id, who in acked.chats}
        for at, chat_id, _ in acked.chats:
            if at < started:
                r = await client.get(f"/api/v1/chats/{chat_id}", headers=tokens[chat_id])
                assert r.status_code == 200, r.text
        seen: dict[str, dict[int, Any]] = {}
        for at, chat_id, seq, text in acked.events:
            if at < started:
                if chat_id not in seen:
                    r = await client.get(f"/api/v1/chats/{chat_id}/events", headers=tokens[chat_id])
                    seen[chat_id] = {e["seq"]: e for e in r.json()["items"]}
                assert seen[chat_id][seq]["data"]["text"] == text
        owners = {}
        for events in seen.values():
            for e in events.values():
                if e["type"] == "file.shared":
                    owners[e["data"]["attachment"]["url"]] = tokens[e["chat_id"]]
        for at, url, payload in acked.files:
            if at < started:
                r = await client.get(url, headers=owners[url])
                assert r.status_code == 200 and r.content == payload
        # What the backup holds of what came during it is whole: no file event without its file.
        for _, chat_id, who in acked.chats:
            r = await client.get(f"/api/v1/chats/{chat_id}/events", headers=who)
            if r.status_code in (401, 404):
                continue  # the person (401) or the chat (404) came after the snapshot
            for e in r.json()["items"]:
                if e["type"] == "file.shared":
                    f = await client.get(e["data"]["attachment"]["url"], headers=who)
                    assert f.status_code == 200, f.text
        r = await client.post("/api/v1/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})
        assert r.status_code == 200


async def test_restore_refuses_a_non_empty_data_directory_and_changes_nothing(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    source_dir = tmp_path / "source"
    env = _env(source_dir, _database(tmp_path, "src", request))
    assert _cli(env, "migrate").returncode == 0
    assert _cli(env, "backup", str(tmp_path / "b")).returncode == 0
    # A backup directory that is not empty is refused too.
    refused = _cli(env, "backup", str(tmp_path / "b"))
    assert refused.returncode == 2 and "not empty" in refused.stderr

    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    r = _cli(_env(busy, _database(tmp_path, "dst", request)), "restore", str(tmp_path / "b"))
    assert r.returncode == 2
    assert "not empty" in r.stderr and "nothing was written" in r.stderr
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]
    assert (busy / "notes.txt").read_text() == "mine"

    source_url = env.get("HELPLINE_DATABASE_URL")
    if source_url:  # PostgreSQL: a database with tables is refused, whatever the directory
        r = _cli(_env(tmp_path / "fresh", source_url), "restore", str(tmp_path / "b"))
        assert r.returncode == 2 and "is not empty" in r.stderr, r.stderr
        assert not (tmp_path / "fresh").exists()

    r = _cli(_env(tmp_path / "x", None), "restore", str(tmp_path / "nothing-here"))
    assert r.returncode == 2 and "not a Helpline backup" in r.stderr
