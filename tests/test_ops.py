"""Health, readiness, metrics and request ids."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.factories import make_queue, make_user, start_chat

pytestmark = pytest.mark.asyncio


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
    body = (await client.get("/metrics")).text
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
