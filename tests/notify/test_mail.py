"""E-mail through the outbox against a real SMTP server: outages delay mail, never lose it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from helpline.kit.clock import FrozenClock
from helpline.notify.outbox import Outbox
from tests.fixtures.factories import make_queue, make_user
from tests.notify.support import SmtpServer, outbox_of, outbox_rows

pytestmark = pytest.mark.asyncio


@pytest.fixture
def smtp_down() -> Iterator[SmtpServer]:
    """A server whose port is known but which is not running yet."""
    server = SmtpServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def settings_overrides(smtp_down: SmtpServer) -> dict[str, Any]:
    return {"smtp_url": smtp_down.url, "outbox_retry_s": 5}


async def _raise(client: httpx.AsyncClient, app: FastAPI, email: str) -> str:
    await make_queue(app, "Support")
    customer = await make_user(app, "customer", name="Carla", email=email)
    r = await client.post("/api/v1/requests", json={"summary": "Hi"}, headers=customer.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["reference"])


async def test_smtp_outage_delays_mail_then_it_arrives_exactly_once(
    client: httpx.AsyncClient,
    app: FastAPI,
    outbox: Outbox,
    frozen_clock: FrozenClock,
    smtp_down: SmtpServer,
) -> None:
    ref = await _raise(client, app, "carla@example.com")

    assert await outbox.drain() == 1  # refused: nothing listens yet
    (row,) = await outbox_rows(app)
    assert row.status == "pending" and row.attempts == 1 and row.last_error
    assert (row.next_attempt_at - frozen_clock.now()).total_seconds() == 5

    smtp_down.start()
    assert await outbox.drain() == 0  # not due before its backoff
    frozen_clock.advance(4.9)
    assert await outbox.drain() == 0
    frozen_clock.advance(0.1)
    assert await outbox.drain() == 1
    frozen_clock.advance(3600)
    assert await outbox.drain() == 0

    (mail,) = smtp_down.messages
    assert ref in mail["Subject"] and mail["To"] == "Carla <carla@example.com>"
    (row,) = await outbox_rows(app)
    assert row.status == "delivered" and row.attempts == 2 and row.delivered_at is not None
    assert row.claimed_by is None and row.last_error is None


async def test_the_worker_sends_right_after_commit_without_waiting_for_its_poll(
    client: httpx.AsyncClient, app: FastAPI, smtp_down: SmtpServer
) -> None:
    smtp_down.start()
    outbox = outbox_of(app)
    await outbox.stop()
    outbox.poll_s = 30  # only the after-commit poke can make this prompt
    outbox.start()
    await asyncio.sleep(0.05)  # the task is now waiting out its 30 s poll

    started = time.monotonic()
    await _raise(client, app, "carla@example.com")
    while not smtp_down.messages and time.monotonic() - started < 5:
        await asyncio.sleep(0.01)
    assert len(smtp_down.messages) == 1
    assert time.monotonic() - started < 2
