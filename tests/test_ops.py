"""Health, readiness, metrics and request ids."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from helpline.app import create_app
from helpline.config import Settings
from tests.fixtures.factories import make_queue, make_user, start_chat

pytestmark = pytest.mark.asyncio

METRICS_TOKEN = "scrape-token-0123456789"
SCRAPER = {"Authorization": f"Bearer {METRICS_TOKEN}"}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"metrics_token": METRICS_TOKEN}


@asynccontextmanager
async def client_with(settings: Settings, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a second app on the same database, with some settings changed."""
    application = create_app(Settings(**{**settings.model_dump(), **changes}))
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_health_and_readiness(app: FastAPI, client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"] == {"database": "ok", "bus": "ok"}
    app.state.ctx.bus.healthy = False
    try:
        r = await client.get("/readyz")
        assert r.status_code == 503 and r.json()["checks"]["bus"] == "unavailable"
    finally:
        app.state.ctx.bus.healthy = True


async def test_metrics_expose_waiting_chats_and_http_latency(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    q = await make_queue(app, "Metrics queue")
    await start_chat(client, await make_user(app, "customer"), q)
    body = (await client.get("/metrics", headers=SCRAPER)).text
    assert 'helpline_chats_waiting{queue="Metrics queue"} 1.0' in body
    assert "helpline_ws_connections" in body
    assert (
        'helpline_http_request_seconds_count{method="POST",route="/api/v1/chats",status="201"}'
        in body
    )
    assert "helpline_events_published_total" in body


async def test_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    assert len((await client.get("/healthz")).headers["x-request-id"]) >= 8


async def test_unknown_paths_answer_in_the_error_format(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = await client.delete("/api/v1/queues")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


async def test_metrics_need_the_token_when_one_is_set(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": METRICS_TOKEN}):
        r = await client.get("/metrics", headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated"
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert "helpline_" not in r.text
    r = await client.get("/metrics", headers=SCRAPER)
    assert r.status_code == 200 and "helpline_http_request_seconds" in r.text


async def test_metrics_without_a_token_are_open_on_loopback_only(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="helpline")
    for public_url in ("http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"):
        async with client_with(settings, metrics_token=None, public_url=public_url) as c:
            assert (await c.get("/metrics")).status_code == 200, public_url
    assert not [r for r in caplog.records if "/metrics" in r.getMessage()]

    async with client_with(
        settings, metrics_token=None, public_url="https://help.example.com"
    ) as c:
        r = await c.get("/metrics")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    (warning,) = [r for r in caplog.records if "/metrics" in r.getMessage()]
    assert "HELPLINE_METRICS_TOKEN" in warning.getMessage()

    changes = {"metrics_token": None, "metrics_open": True, "public_url": "https://h.example.com"}
    async with client_with(settings, **changes) as c:
        assert (await c.get("/metrics")).status_code == 200


async def test_coop_always_and_hsts_only_over_https(settings: Settings) -> None:
    async with client_with(settings, public_url="http://help.example.com") as c:
        for path in ("/healthz", "/api/v1/nope", "/"):
            r = await c.get(path)
            assert r.headers["cross-origin-opener-policy"] == "same-origin", path
            assert "strict-transport-security" not in r.headers, path
    async with client_with(settings, public_url="https://help.example.com") as c:
        for path in ("/healthz", "/api/v1/nope", "/"):
            r = await c.get(path)
            assert r.headers["cross-origin-opener-policy"] == "same-origin", path
            assert r.headers["strict-transport-security"] == "max-age=31536000", path
