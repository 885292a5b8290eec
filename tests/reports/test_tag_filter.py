"""Reports filtered by tag: only the tagged chats count (summary and CSV); an unknown tag is 422."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.factories import accepted_chat, make_queue, make_user

pytestmark = pytest.mark.asyncio


async def test_reports_count_only_the_chats_with_the_tag(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    q = await make_queue(app, "Support")
    ana = await make_user(app, "agent", queues=[q], max_chats=5)
    sup = await make_user(app, "supervisor")
    admin = await make_user(app, "admin")
    r = await client.post("/api/v1/tags", json={"name": "VIP"}, headers=admin.headers)
    vip = r.json()["id"]
    chats = [
        await accepted_chat(client, await make_user(app, "customer"), ana, q) for _ in range(3)
    ]
    for c in chats[:2]:
        r = await client.put(
            f"/api/v1/chats/{c['id']}/tags", json={"tag_ids": [vip]}, headers=ana.headers
        )
        assert r.status_code == 200, r.text
    r = await client.post(
        f"/api/v1/chats/{chats[0]['id']}/requests", json={"summary": "S"}, headers=ana.headers
    )
    assert r.status_code == 201
    r = await client.post(
        f"/api/v1/chats/{chats[2]['id']}/requests", json={"summary": "T"}, headers=ana.headers
    )
    assert r.status_code == 201

    r = await client.get("/api/v1/reports/summary", headers=sup.headers)
    assert r.json()["totals"]["chats"] == 3 and r.json()["tag_id"] is None
    r = await client.get("/api/v1/reports/summary", params={"tag": vip}, headers=sup.headers)
    report = r.json()
    assert r.status_code == 200 and report["tag_id"] == vip
    assert report["totals"]["chats"] == 2 and report["totals"]["requests_raised"] == 1
    assert report["agents"][0]["chats"] == 2
    r = await client.get(
        "/api/v1/reports/export.csv", params={"tag": vip, "table": "agents"}, headers=sup.headers
    )
    assert r.status_code == 200 and ",2," in r.text

    r = await client.get("/api/v1/reports/summary", params={"tag": "nope"}, headers=sup.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_tag"
