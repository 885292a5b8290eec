"""A second agent joins to help: both write, one stays the owner, the customer sees who came."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.factories import accepted_chat, events, make_queue, make_user, start_chat

pytestmark = pytest.mark.asyncio


async def test_second_agent_joins_writes_and_parts(app: FastAPI, client: httpx.AsyncClient) -> None:
    q = await make_queue(app, "Support")
    customer = await make_user(app, "customer", name="Carla")
    owner = await make_user(app, "agent", name="Ana", queues=[q])
    helper = await make_user(app, "agent", name="Ben", queues=[q])
    outsider = await make_user(app, "agent", name="Olga")
    chat = await accepted_chat(client, customer, owner, q)
    cid = chat["id"]
    r = await client.post(
        f"/api/v1/chats/{cid}/messages",
        json={"text": "me too", "client_id": "h0"},
        headers=helper.headers,
    )
    assert r.status_code == 403  # not joined yet
    assert (
        await client.post(f"/api/v1/chats/{cid}/join", headers=outsider.headers)
    ).status_code == 404
    assert (
        await client.post(f"/api/v1/chats/{cid}/join", headers=customer.headers)
    ).status_code == 403
    assert (
        await client.post(f"/api/v1/chats/{cid}/join", headers=owner.headers)
    ).status_code == 409
    r = await client.post(f"/api/v1/chats/{cid}/join", headers=helper.headers)
    assert r.status_code == 200
    assert r.json()["agent"]["id"] == owner.id and r.json()["helpers"] == [
        {"id": helper.id, "name": "Ben"}
    ]
    assert (
        await client.post(f"/api/v1/chats/{cid}/join", headers=helper.headers)
    ).status_code == 409
    r = await client.post(
        f"/api/v1/chats/{cid}/messages",
        json={"text": "I know this one", "client_id": "h1"},
        headers=helper.headers,
    )
    assert r.status_code == 201
    # the owner keeps the chat's options
    assert (
        await client.post(f"/api/v1/chats/{cid}/solve", headers=helper.headers)
    ).status_code == 403
    r = await client.post(f"/api/v1/chats/{cid}/part", headers=helper.headers)
    assert r.status_code == 200 and r.json()["helpers"] == []
    assert (
        await client.post(f"/api/v1/chats/{cid}/part", headers=helper.headers)
    ).status_code == 409
    r = await client.post(
        f"/api/v1/chats/{cid}/messages",
        json={"text": "again", "client_id": "h2"},
        headers=helper.headers,
    )
    assert r.status_code == 403
    seen = [
        (e["type"], (e["data"].get("agent") or {}).get("name"))
        for e in await events(client, customer, cid)
    ]
    assert ("chat.joined", "Ben") in seen and ("chat.parted", "Ben") in seen


async def test_join_needs_an_in_progress_chat(app: FastAPI, client: httpx.AsyncClient) -> None:
    q = await make_queue(app, "Support")
    customer = await make_user(app, "customer")
    helper = await make_user(app, "agent", queues=[q])
    chat = await start_chat(client, customer, q)
    r = await client.post(f"/api/v1/chats/{chat['id']}/join", headers=helper.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition"
