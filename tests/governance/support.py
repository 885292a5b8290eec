"""A customer with a full history (messages, a note, a file, a rating, a request with public
and internal comments, mail in the outbox), and a dump of every row of every table."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import AsyncSession

from tests.fixtures.factories import Person, ctx_of, make_user

ORDER_FIELD = {"fields": [{"key": "order", "label": "Order number", "type": "text"}]}
BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


@dataclass
class History:
    customer: Person
    agent: Person
    admin: Person
    queue: str
    chat: dict[str, Any]
    request: dict[str, Any]
    file_id: str
    file_bytes: bytes
    secret: str  # a word only the customer's own texts contain


async def history(
    app: FastAPI, client: httpx.AsyncClient, queue: str, *, tag: str = "Zanzibar"
) -> History:
    """A solved chat (with pre-chat answer and page context) and a request raised from it, in
    `queue`, which is made to ask the pre-chat field `order`."""
    secret = f"{tag}quokka{os.urandom(3).hex()}"
    customer = await make_user(
        app, "customer", name=f"Wilhelmina {tag}", email=f"{tag.lower()}@example.org"
    )
    agent = await make_user(app, "agent", name="Ana Agent", queues=[queue])
    admin = await make_user(app, "admin", name="Ada Admin")
    r = await client.patch(f"/api/v1/queues/{queue}", json=ORDER_FIELD, headers=admin.headers)
    assert r.status_code == 200, r.text
    r = await client.post(
        "/api/v1/chats",
        json={
            "queue_id": queue,
            "message": f"Hello, about {secret}",
            "subject": f"Order {secret}",
            "fields": {"order": f"#{secret}"},
            "context": {"page_url": f"https://shop.example/{secret}", "locale": "en-GB"},
        },
        # A browser's user agent (its parts are stored with the chat), the secret in it.
        headers={**customer.headers, "User-Agent": f"{BROWSER} {secret}"},
    )
    assert r.status_code == 201, r.text
    chat = r.json()
    assert chat["context"]["device"] == {"browser": "Chrome 120", "os": "Windows", "model": None}
    cid = chat["id"]
    r = await client.post(f"/api/v1/chats/{cid}/accept", headers=agent.headers)
    assert r.status_code == 200, r.text
    for who, text in (
        (customer, f"My account number is {secret}, please help"),
        (agent, f"Hello {customer.name}, looking at {secret} now"),
    ):
        r = await client.post(
            f"/api/v1/chats/{cid}/messages",
            json={"text": text, "client_id": os.urandom(8).hex()},
            headers=who.headers,
        )
        assert r.status_code == 201, r.text
    r = await client.post(
        f"/api/v1/chats/{cid}/notes",
        json={"text": f"internal: {customer.name} sounds upset about {secret}"},
        headers=agent.headers,
    )
    assert r.status_code == 201, r.text
    payload = os.urandom(2048) + secret.encode()
    r = await client.post(
        f"/api/v1/chats/{cid}/files",
        files={"file": (f"{secret}-invoice.pdf", payload, "application/pdf")},
        headers=customer.headers,
    )
    assert r.status_code == 201, r.text
    file_id = r.json()["data"]["attachment"]["id"]
    r = await client.post(
        f"/api/v1/chats/{cid}/requests",
        json={"summary": f"Refund for {secret}", "description": f"{customer.name} wants money"},
        headers=agent.headers,
    )
    assert r.status_code == 201, r.text
    request = r.json()
    ref = request["reference"]
    for who, text, internal in (
        (customer, f"Any news on {secret}?", False),
        (agent, f"{customer.name} called again", True),
    ):
        r = await client.post(
            f"/api/v1/requests/{ref}/comments",
            json={"text": text, "internal": internal},
            headers=who.headers,
        )
        assert r.status_code == 201, r.text
    assert (await client.post(f"/api/v1/chats/{cid}/solve", headers=agent.headers)).is_success
    r = await client.post(
        f"/api/v1/chats/{cid}/rating",
        json={"score": 4, "comment": f"thanks, {secret} sorted"},
        headers=customer.headers,
    )
    assert r.status_code == 200, r.text
    return History(customer, agent, admin, queue, chat, request, file_id, payload, secret)


async def _tables(session: AsyncSession) -> list[str]:
    """Every table in the database, not only the models': the search index's tables (SQLite's
    FTS5 tables and their shadow tables) and whatever else a migration made."""
    if session.get_bind().dialect.name == "sqlite":
        # The message index's file too (decision 034), attached as `search`.
        stmt = sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' UNION ALL "
            "SELECT 'search.' || name FROM search.sqlite_master WHERE type = 'table'"
        )
    else:
        stmt = sql(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        )
    return sorted(str(n) for n in (await session.execute(stmt)).scalars())


async def dump(app: FastAPI, *, merged: bool = False) -> str:
    """Every row of every table as text, lower-cased, bytes included as they are stored: what a
    person's data could hide in. `merged` first merges the message index's segments, for two
    dumps that must be equal (see below); never for a search of what erasure left behind, whose
    own merging is under test there."""
    out = []
    # SQLite indexes new messages in the background (decision 029): settle that first, so two
    # dumps differ only by what the code under test changed.
    db = ctx_of(app).db
    pending = db.services.get("search_backlog")
    if pending is not None:
        await pending.catch_up()
    if pending is not None and merged:
        # The indexer merges the index's segments a little every 0.1 s (decision 031), which
        # rewrites its pages without changing what it holds: merge them all now, so a merge
        # step between two dumps has nothing left to do.
        await pending.settle()
    async with ctx_of(app).db.read() as session:
        for name in await _tables(session):
            quoted = ".".join(f'"{part}"' for part in name.split("."))
            for row in (await session.execute(sql(f"SELECT * FROM {quoted}"))).all():
                cells = [
                    bytes(v).decode("latin-1") if isinstance(v, bytes | memoryview) else str(v)
                    for v in row
                ]
                out.append(f"{name}: {cells!r}")
    return "\n".join(out).lower()


async def search(client: httpx.AsyncClient, who: Person, words: str) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/search", params={"q": words}, headers=who.headers)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def stored_files(data_dir: Path) -> list[bytes]:
    return [p.read_bytes() for p in (data_dir / "files").rglob("*") if p.is_file()]


async def audit_entries(
    client: httpx.AsyncClient, admin: Person, action: str
) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/audit", params={"action": action}, headers=admin.headers)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])
