"""A real `helpline serve` for the fuzzer, seeded through the API with something of everything
(queues, chats waiting, in progress, solved and cancelled, a file, a note, requests, snippets)
so that the fuzzer's path parameters can name things that exist."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BACKEND
from tests.e2e.support import HelplineServer, free_port
from tests.fixtures.servers import create_database

ROLES = ("anonymous", "customer", "agent", "supervisor", "admin")


@dataclass
class Seeded:
    url: str
    tokens: dict[str, str]  # role → bearer token of the account the fuzzer signs in as
    # path parameter name → real values the fuzzer may put there (besides generated ones)
    ids: dict[str, list[str]] = field(default_factory=dict)


def _login(c: httpx.Client, email: str) -> str:
    r = c.post("/api/v1/auth/login", json={"email": email, "password": "helpline-demo"})
    r.raise_for_status()
    return str(r.json()["token"])


def _call(c: httpx.Client, method: str, path: str, token: str, **kw: Any) -> Any:
    r = c.request(method, f"/api/v1{path}", headers={"Authorization": f"Bearer {token}"}, **kw)
    assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
    return r.json() if r.content else None


def seed(url: str) -> Seeded:
    with httpx.Client(base_url=url, timeout=10) as c:
        t = {
            role: _login(c, f"{name}@example.com")
            for role, name in (
                ("admin", "admin"),
                ("supervisor", "supervisor"),
                ("agent", "agent1"),
                ("agent2", "agent2"),
                ("customer", "customer1"),
                ("customer2", "customer2"),
            )
        }
        queues = {q["name"]: q["id"] for q in _call(c, "GET", "/queues", t["admin"])["items"]}
        general = queues["General support"]
        guests = []
        for n in range(2):
            r = c.post("/api/v1/auth/guest", json={"name": f"Guest {n}", "email": f"g{n}@ex.com"})
            r.raise_for_status()
            guests.append(str(r.json()["token"]))

        def start(token: str) -> str:
            body = {"queue_id": general, "message": "Hello, I need help"}
            return str(_call(c, "POST", "/chats", token, json=body)["id"])

        waiting = start(t["customer"])
        talking = start(t["customer2"])
        _call(c, "POST", f"/chats/{talking}/accept", t["agent"])
        _call(
            c,
            "POST",
            f"/chats/{talking}/messages",
            t["agent"],
            json={"text": "Hi!", "client_id": "seed-1"},
        )
        _call(c, "POST", f"/chats/{talking}/notes", t["agent"], json={"text": "VIP"})
        shared = _call(
            c,
            "POST",
            f"/chats/{talking}/files",
            t["agent"],
            files={"file": ("notes.txt", b"hello", "text/plain")},
        )
        file_id = shared["data"]["attachment"]["id"]
        raised = _call(
            c, "POST", f"/chats/{talking}/requests", t["agent"], json={"summary": "Refund"}
        )
        solved = start(guests[0])
        _call(c, "POST", f"/chats/{solved}/accept", t["agent2"])
        _call(c, "POST", f"/chats/{solved}/solve", t["agent2"])
        _call(c, "POST", f"/chats/{solved}/rating", guests[0], json={"score": 4})
        cancelled = start(guests[1])
        _call(c, "POST", f"/chats/{cancelled}/cancel", t["agent"], json={"reason": "gone"})
        own = _call(c, "POST", "/requests", t["customer"], json={"summary": "Invoice copy"})
        shared_snippet = {"title": "Hi", "content": "Hi {customer.name}", "queue_id": general}
        snippets = [
            _call(c, "POST", "/snippets", t["supervisor"], json=shared_snippet)["id"],
            _call(c, "POST", "/snippets", t["agent"], json={"title": "Bye", "content": "Bye"})[
                "id"
            ],
        ]
        users = {u["email"]: u["id"] for u in _call(c, "GET", "/users", t["admin"])["items"]}
    return Seeded(
        url=url,
        tokens={role: t[role] for role in ROLES if role != "anonymous"},
        ids={
            "chat_id": [waiting, talking, solved, cancelled],
            "queue_id": list(queues.values()),
            "file_id": [file_id],
            "reference": [raised["reference"], own["reference"]],
            "snippet_id": snippets,
            # Never the fuzzer's own accounts: an admin deactivating itself ends the run.
            "user_id": [users["agent3@example.com"], users["customer2@example.com"]],
        },
    )


@pytest.fixture(scope="module")
def seeded(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Seeded]:
    data = Path(tmp_path_factory.mktemp("fuzz")) / "data"
    data.mkdir()
    server = HelplineServer(data, free_port())
    if BACKEND == "postgres":
        dsn = create_database(request.getfixturevalue("postgres_dsn"), f"fuzz{os.getpid()}")
        server.env["HELPLINE_DATABASE_URL"] = dsn.replace("postgresql://", "postgresql+asyncpg://")
    server.setup()
    server.start()
    try:
        yield seed(server.url)
    finally:
        server.stop()
        log = server.log()
        if "Traceback" in log:
            print(log)  # shown with the failure: what the server raised
