"""Exports: built in the background into a zip of what the customer may see, readable and
downloadable by the requester only, gone after 7 days."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from helpline.kit.clock import FrozenClock
from tests.fixtures.factories import make_queue, make_user
from tests.governance.support import audit_entries, history, stored_files

pytestmark = pytest.mark.asyncio


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Sign-ins outlive the week these tests move the clock by.
    return {"session_idle_s": 30 * 86400}


async def test_customer_exports_their_data_in_the_background(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    q = await make_queue(app, "Support")
    h = await history(app, client, q)
    r = await client.post("/api/v1/me/export", headers=h.customer.headers)
    assert r.status_code == 202, r.text
    export = r.json()
    assert export["status"] == "pending" and export["size"] is None
    url = f"/api/v1/exports/{export['id']}"
    # Not built in the request: pending until the background pass.
    assert (await client.get(url, headers=h.customer.headers)).json()["status"] == "pending"
    r = await client.get(f"{url}/download", headers=h.customer.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "export_not_ready"
    await app.state.sweeper.run_once()
    shown = (await client.get(url, headers=h.customer.headers)).json()
    assert shown["status"] == "ready" and shown["size"] > 0
    z = await client.get(f"{url}/download", headers=h.customer.headers)
    assert z.status_code == 200 and z.headers["content-type"] == "application/zip"
    assert z.headers["content-disposition"].startswith("attachment;")
    assert int(z.headers["content-length"]) == shown["size"]

    ref, sref = h.chat["reference"], h.request["reference"]
    with zipfile.ZipFile(io.BytesIO(z.content)) as zf:
        names = set(zf.namelist())
        assert names == {
            "customer.json",
            f"chats/{ref}.json",
            f"requests/{sref}.json",
            f"files/{ref}/{h.secret}-invoice.pdf",
        }
        me = json.loads(zf.read("customer.json"))
        assert me["email"] == h.customer.email and me["name"] == h.customer.name
        chat = json.loads(zf.read(f"chats/{ref}.json"))
        types = [e["type"] for e in chat["events"]]
        assert chat["chat"]["reference"] == ref
        assert "message.posted" in types and "file.shared" in types
        assert "note.added" not in types  # internal notes never
        assert "upset" not in zf.read(f"chats/{ref}.json").decode()
        req = json.loads(zf.read(f"requests/{sref}.json"))
        assert req["request"]["reference"] == sref
        assert [c["data"]["text"] for c in req["comments"]] == [f"Any news on {h.secret}?"]
        assert "called again" not in zf.read(f"requests/{sref}.json").decode()
        assert zf.read(f"files/{ref}/{h.secret}-invoice.pdf") == h.file_bytes


async def test_only_the_requester_sees_or_downloads_an_export(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    q = await make_queue(app, "Support")
    h = await history(app, client, q)
    other_admin = await make_user(app, "admin")
    stranger = await make_user(app, "customer")
    r = await client.post(f"/api/v1/customers/{h.customer.id}/export", headers=h.admin.headers)
    assert r.status_code == 202, r.text
    url = f"/api/v1/exports/{r.json()['id']}"
    [entry] = await audit_entries(client, h.admin, "customer.exported")
    assert entry["target"] == {"type": "customer", "id": h.customer.id}
    assert entry["details"] == {"export_id": r.json()["id"]}
    await app.state.sweeper.run_once()
    assert (await client.get(url, headers=h.admin.headers)).json()["status"] == "ready"
    assert (await client.get(f"{url}/download", headers=h.admin.headers)).status_code == 200
    for who in (other_admin, stranger, h.customer, h.agent):
        assert (await client.get(url, headers=who.headers)).status_code == 404
        assert (await client.get(f"{url}/download", headers=who.headers)).status_code == 404


async def test_who_may_ask_for_an_export(app: FastAPI, client: httpx.AsyncClient) -> None:
    q = await make_queue(app, "Support")
    customer = await make_user(app, "customer")
    agent = await make_user(app, "agent", queues=[q])
    supervisor = await make_user(app, "supervisor")
    admin = await make_user(app, "admin")
    path = f"/api/v1/customers/{customer.id}/export"
    for who in (agent, supervisor, customer):
        assert (await client.post(path, headers=who.headers)).status_code == 403
    assert (await client.post("/api/v1/me/export", headers=agent.headers)).status_code == 403
    assert (await client.post("/api/v1/me/export", headers=admin.headers)).status_code == 403
    assert (
        await client.post("/api/v1/customers/nobody/export", headers=admin.headers)
    ).status_code == 404
    # Staff are not customers.
    r = await client.post(f"/api/v1/customers/{agent.id}/export", headers=admin.headers)
    assert r.status_code == 404
    assert (await client.post("/api/v1/me/export")).status_code == 401


async def test_an_export_expires_after_seven_days_bytes_and_all(
    app: FastAPI, client: httpx.AsyncClient, frozen_clock: FrozenClock, data_dir: Path
) -> None:
    await make_queue(app, "Support")
    customer = await make_user(app, "customer")
    r = await client.post("/api/v1/me/export", headers=customer.headers)
    url = f"/api/v1/exports/{r.json()['id']}"
    await app.state.sweeper.run_once()
    assert (await client.get(url, headers=customer.headers)).json()["status"] == "ready"
    zips = [b for b in stored_files(data_dir) if b.startswith(b"PK")]
    assert len(zips) == 1
    frozen_clock.advance(7 * 86400 - 1)
    await app.state.sweeper.run_once()
    assert (await client.get(url, headers=customer.headers)).status_code == 200
    frozen_clock.advance(2)
    assert (await client.get(url, headers=customer.headers)).status_code == 404
    await app.state.sweeper.run_once()
    assert [b for b in stored_files(data_dir) if b.startswith(b"PK")] == []
    assert (await client.get(f"{url}/download", headers=customer.headers)).status_code == 404
