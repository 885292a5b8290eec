"""The sites allowed to embed the widget's panel: the environment's plus those admins add."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.factories import make_user

pytestmark = pytest.mark.asyncio


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"widget_origins": "https://env.example.com"}


async def allowed(client: httpx.AsyncClient, origin: str) -> bool:
    r = await client.get("/widget/allowed", params={"origin": origin})
    return bool(r.json()["allowed"])


async def test_admins_add_sites_beside_the_environments_and_it_is_audited(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_user(app, "admin")
    assert not await allowed(client, "https://shop.example.org")
    r = await client.put(
        "/api/v1/widget/settings",
        json={"origins": ["https://Shop.example.org/", "http://localhost:8080"]},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["origins"] == ["http://localhost:8080", "https://shop.example.org"]
    assert body["env_origins"] == ["https://env.example.com"]
    assert await allowed(client, "https://shop.example.org")
    assert await allowed(client, "https://env.example.com")
    page = await client.get("/widget/chat")
    csp = page.headers["content-security-policy"]
    assert "https://shop.example.org" in csp and "https://env.example.com" in csp
    log = await client.get(
        "/api/v1/audit", params={"action": "widget.sites_changed"}, headers=admin.headers
    )
    assert log.json()["items"][0]["details"] == {
        "added": ["http://localhost:8080", "https://shop.example.org"],
        "removed": [],
    }
    r = await client.put("/api/v1/widget/settings", json={"origins": []}, headers=admin.headers)
    assert r.json()["origins"] == [] and not await allowed(client, "https://shop.example.org")


async def test_a_bad_site_is_422_and_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_user(app, "admin")
    await client.put(
        "/api/v1/widget/settings", json={"origins": ["https://a.example"]}, headers=admin.headers
    )
    for origins in (
        ["javascript:alert(1)"],
        ["https://a.example/path"],
        ["https://a.example", "https://b.example; script-src *"],
        "https://a.example",
    ):
        r = await client.put(
            "/api/v1/widget/settings", json={"origins": origins}, headers=admin.headers
        )
        assert r.status_code == 422, (origins, r.text)
    got = await client.get("/api/v1/widget/settings", headers=admin.headers)
    assert got.json()["origins"] == ["https://a.example"]
    agent = await make_user(app, "agent")
    r = await client.put("/api/v1/widget/settings", json={"origins": []}, headers=agent.headers)
    assert r.status_code == 403
