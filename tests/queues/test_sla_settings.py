"""A queue's service-level targets: PATCH /queues/{id} `sla` and `request_sla`."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.factories import make_queue, make_user

pytestmark = pytest.mark.asyncio


async def test_admin_sets_changes_and_clears_targets(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_user(app, "admin")
    q = await make_queue(app, "Support")
    body = {
        "sla": {"first_response_s": 120},
        "request_sla": {
            "urgent": {"response_s": 900, "resolve_s": 14400},
            "low": {"resolve_s": 604800},
        },
    }
    r = await client.patch(f"/api/v1/queues/{q}", json=body, headers=admin.headers)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["sla"] == {"first_response_s": 120}
    assert got["request_sla"]["urgent"] == {"response_s": 900, "resolve_s": 14400}
    assert got["request_sla"]["low"] == {"response_s": None, "resolve_s": 604800}
    assert got["request_sla"]["normal"] is None
    listed = (await client.get("/api/v1/queues", headers=admin.headers)).json()["items"]
    assert listed[0]["sla"] == {"first_response_s": 120}
    r = await client.patch(f"/api/v1/queues/{q}", json={"sla": None}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["sla"] is None
    assert r.json()["request_sla"]["urgent"]["response_s"] == 900  # untouched
    audit = (await client.get("/api/v1/audit", headers=admin.headers)).json()["items"]
    assert any(a["action"] == "queue.updated" and "sla" in a["details"]["fields"] for a in audit)


@pytest.mark.parametrize(
    "body",
    [
        {"sla": {"first_response_s": 0}},
        {"sla": {"first_response_s": -30}},
        {"sla": {"first_response_s": "soon"}},
        {"sla": {}},
        {"sla": {"first_response_s": 60, "warn_at": 10}},
        {"request_sla": {"urgent": {"response_s": 0}}},
        {"request_sla": {"high": {"resolve_s": -1}}},
        {"request_sla": {"blocker": {"response_s": 60}}},
    ],
)
async def test_bad_targets_are_422_and_change_nothing(
    app: FastAPI, client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    admin = await make_user(app, "admin")
    q = await make_queue(app, "Support", sla={"first_response_s": 300})
    r = await client.patch(f"/api/v1/queues/{q}", json=body, headers=admin.headers)
    assert r.status_code == 422, r.text
    assert set(r.json()["error"]) >= {"code", "message"}
    got = (await client.get("/api/v1/queues", headers=admin.headers)).json()["items"][0]
    assert got["sla"] == {"first_response_s": 300} and got["request_sla"] is None


async def test_only_admins_set_targets(app: FastAPI, client: httpx.AsyncClient) -> None:
    q = await make_queue(app, "Support")
    for role in ("agent", "supervisor"):
        who = await make_user(app, role, queues=[q])
        r = await client.patch(
            f"/api/v1/queues/{q}", json={"sla": {"first_response_s": 60}}, headers=who.headers
        )
        assert r.status_code == 403, r.text
