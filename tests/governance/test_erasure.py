"""Erasure: a wrong confirmation changes nothing; a right one leaves nothing of the person in
any answer, export, transcript, file store or database row, and reports keep their counts."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from helpline.accounts.models import UserIdentity
from helpline.kit.clock import now
from helpline.notify.outbox import Outbox
from tests.conftest import LiveServer
from tests.fixtures.factories import ctx_of, make_queue, make_user, start_chat
from tests.fixtures.wsclient import WSClient
from tests.governance.support import audit_entries, dump, history, search, stored_files
from tests.notify.support import outbox  # noqa: F401 - fixture

pytestmark = pytest.mark.asyncio


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Mail is "configured" towards a closed port: it waits in the outbox (and must be dropped).
    return {"smtp_url": "smtp://127.0.0.1:9", "outbox_retry_s": 3600}


async def _erase(client: httpx.AsyncClient, admin: Any, cid: str, confirm: str) -> httpx.Response:
    return await client.post(
        f"/api/v1/customers/{cid}/erase", json={"confirm": confirm}, headers=admin.headers
    )


async def test_wrong_confirmation_is_422_and_changes_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    # Stopped: its task would try the history's mail between the two dumps, changing its row.
    outbox: Outbox,  # noqa: F811
) -> None:
    q = await make_queue(app, "Support")
    h = await history(app, client, q)
    before = await dump(app, merged=True)
    for confirm in ("", "someone@example.org", h.customer.name):
        r = await _erase(client, h.admin, h.customer.id, confirm)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] in {"confirmation_mismatch", "validation_error"}
    assert await dump(app, merged=True) == before
    assert await audit_entries(client, h.admin, "customer.erased") == []
    assert (await client.get("/api/v1/me", headers=h.customer.headers)).status_code == 200


async def test_who_may_erase_and_what(app: FastAPI, client: httpx.AsyncClient) -> None:
    q = await make_queue(app, "Support")
    customer = await make_user(app, "customer")
    agent = await make_user(app, "agent", queues=[q])
    supervisor = await make_user(app, "supervisor")
    admin = await make_user(app, "admin")
    for who in (agent, supervisor, customer):
        assert (await _erase(client, who, customer.id, customer.email)).status_code == 403
    assert (await _erase(client, admin, "nope", customer.email)).status_code == 404
    # Staff are not customers: not found as such.
    assert (await _erase(client, admin, agent.id, agent.email)).status_code == 404
    # An open chat must end first.
    await start_chat(client, customer, q)
    r = await _erase(client, admin, customer.id, customer.email.upper())
    assert r.status_code == 409 and r.json()["error"]["code"] == "chat_open"
    r = await client.post(
        "/api/v1/customers/x/erase", json={"confirm": "a", "also": 1}, headers=admin.headers
    )
    assert r.status_code == 422


async def _report(client: httpx.AsyncClient, admin: Any) -> dict[str, Any]:
    day = now().date().isoformat()
    r = await client.get(
        "/api/v1/reports/summary", params={"from": day, "to": day}, headers=admin.headers
    )
    assert r.status_code == 200, r.text
    body = dict(r.json())
    return {k: body[k] for k in ("totals", "ratings", "handling_time", "waiting_time")}


async def test_erasure_leaves_nothing_of_the_person(
    app: FastAPI, client: httpx.AsyncClient, data_dir: Path
) -> None:
    q = await make_queue(app, "Support")
    h = await history(app, client, q)
    other = await history(app, client, q, tag="Kept")
    ref = h.request["reference"]
    cid = h.chat["id"]
    async with ctx_of(app).db.write() as uow:  # they also signed in at an identity provider
        uow.session.add(
            UserIdentity(user_id=h.customer.id, issuer="https://idp.example", subject=h.secret)
        )
    r = await client.post(f"/api/v1/chats/{cid}/transcript/email", headers=h.agent.headers)
    assert r.status_code in (200, 202), r.text
    dumped = await dump(app)
    needles = [h.customer.name.lower(), h.customer.email.lower(), h.secret.lower()]
    assert all(n in dumped for n in needles)  # the test could fail: they are there now
    for words in (h.secret, h.customer.email, h.customer.name):
        assert await search(client, h.admin, words), words
    assert h.file_bytes in stored_files(data_dir)
    report_before = await _report(client, h.admin)

    r = await _erase(client, h.admin, h.customer.id, f"  {h.customer.email.upper()} ")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "id": h.customer.id,
        "name": "Erased customer",
        "email": "",
        "active": False,
        "chats": 1,
        "requests": 1,
        "files": 1,
    }
    # Audited with the customer's id only.
    [entry] = await audit_entries(client, h.admin, "customer.erased")
    assert entry["target"] == {"type": "customer", "id": h.customer.id}
    assert entry["details"] == {} and entry["actor"]["id"] == h.admin.id
    # Signed out everywhere; a second erasure has nothing to confirm against.
    assert (await client.get("/api/v1/me", headers=h.customer.headers)).status_code == 401
    r = await _erase(client, h.admin, h.customer.id, h.customer.email)
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_erased"

    # What staff see: the chat and request remain, every text replaced.
    events = (await client.get(f"/api/v1/chats/{cid}/events", headers=h.agent.headers)).json()
    texts = [e["data"].get("text") for e in events["items"] if "text" in e["data"]]
    assert texts and set(texts) <= {"[erased]"}
    chat = (await client.get(f"/api/v1/chats/{cid}", headers=h.agent.headers)).json()
    assert chat["subject"] == "[erased]" and chat["customer"]["name"] == "Erased customer"
    assert chat["rating"]["score"] == 4 and chat["rating"]["comment"] == "[erased]"
    assert chat["context"] == {
        "fields": {"order": "[erased]"},
        "page_url": "[erased]",
        "referrer": None,
        "locale": "[erased]",
        "user_agent": "[erased]",
        "device": None,  # its parts went with the user agent
    }
    req = (await client.get(f"/api/v1/requests/{ref}", headers=h.agent.headers)).json()
    assert req["summary"] == "[erased]" and req["description"] == "[erased]"
    transcript = await client.get(f"/api/v1/chats/{cid}/transcript", headers=h.agent.headers)
    assert transcript.status_code == 200
    assert not any(n in transcript.text.lower() for n in needles)
    assert (
        await client.get(f"/api/v1/files/{h.file_id}", headers=h.agent.headers)
    ).status_code == 404
    assert h.file_bytes not in stored_files(data_dir)
    assert other.file_bytes in stored_files(data_dir)

    # An export made afterwards holds none of it either.
    r = await client.post(f"/api/v1/customers/{h.customer.id}/export", headers=h.admin.headers)
    assert r.status_code == 202
    await app.state.sweeper.run_once()
    z = await client.get(f"/api/v1/exports/{r.json()['id']}/download", headers=h.admin.headers)
    assert z.status_code == 200
    with zipfile.ZipFile(io.BytesIO(z.content)) as zf:
        everything = b"".join(zf.read(n) for n in zf.namelist()).decode().lower()
        assert json.loads(zf.read("customer.json"))["name"] == "Erased customer"
    assert not any(n in everything for n in needles)

    # Search finds none of it, for anyone; the other customer's words still are found.
    for words in (h.secret, h.customer.email, h.customer.name, "Zanzibar", f"{h.secret[:12]}*"):
        assert await search(client, h.admin, words) == [], words
    assert await search(client, other.admin, other.secret)

    # Every row of every table (the search index's included): nothing of the person, and the other customer untouched.
    dumped = await dump(app)
    for needle in needles:
        assert needle not in dumped, needle
    assert other.secret.lower() in dumped and other.customer.email.lower() in dumped
    # Reports count the same.
    assert await _report(client, h.admin) == report_before


async def test_erasure_closes_the_customers_sockets(live_server: LiveServer) -> None:
    app = live_server.app
    customer = await make_user(app, "customer")
    admin = await make_user(app, "admin")
    ws = await WSClient.open(live_server.ws_url, customer.token)
    await ws.request({"type": "ping"}, lambda f: f["type"] == "pong")
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        r = await http.post(
            f"/api/v1/customers/{customer.id}/erase",
            json={"confirm": customer.email},
            headers=admin.headers,
        )
    assert r.status_code == 200, r.text
    code, reason = await asyncio.wait_for(ws.closed, 5)
    assert code == 4401 and reason == "erased"
