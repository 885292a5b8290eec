"""The outbox machinery: backoff, claiming across workers, lease takeover, signing."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from helpline.app import create_app
from helpline.config import Settings
from helpline.kit.clock import FrozenClock
from helpline.notify import repository as repo
from helpline.notify.models import DeliveryKind
from helpline.notify.outbox import LEASE_S, Outbox, backoff_s
from helpline.notify.transports import SmtpTarget, sign
from tests.fixtures.factories import ctx_of, make_queue, make_user
from tests.notify.support import WEBHOOK_SECRET, WebhookReceiver, outbox_of, outbox_rows


@pytest.fixture
def settings_overrides(webhook_receiver: WebhookReceiver) -> dict[str, Any]:
    return {"webhook_url": webhook_receiver.url, "webhook_secret": WEBHOOK_SECRET}


def test_backoff_doubles_from_the_retry_setting_up_to_ten_minutes() -> None:
    assert [backoff_s(5, n) for n in range(1, 10)] == [5, 10, 20, 40, 80, 160, 320, 600, 600]
    assert backoff_s(1, 1) == 1 and backoff_s(700, 1) == 600


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"id":"e1","type":"request.created"}'
    mac = hmac.new(b"s3cret", b"1764158400." + body, hashlib.sha256).hexdigest()
    assert sign("s3cret", 1764158400, body) == f"t=1764158400,v1={mac}"


def test_smtp_url_forms() -> None:
    assert SmtpTarget.parse("smtp://mail.local:2525") == SmtpTarget(
        "mail.local", 2525, None, None, use_tls=False
    )
    t = SmtpTarget.parse("smtps://desk%40corp:p%2Fw@smtp.corp")
    assert (t.port, t.username, t.password, t.use_tls) == (465, "desk@corp", "p/w", True)
    assert "p/w" not in t.describe()
    with pytest.raises(ValueError, match="smtp://"):
        SmtpTarget.parse("http://mail.local")


@pytest_asyncio.fixture
async def second_app(settings: Settings, app: FastAPI) -> AsyncIterator[FastAPI]:
    """Another server process, as far as the database can tell: same database, own worker."""
    other = create_app(settings)
    async with LifespanManager(other):
        yield other


async def _requests_with_events(client: httpx.AsyncClient, app: FastAPI, n: int) -> None:
    """`n` requests with three events each (created, updated, commented)."""
    q = await make_queue(app, "Support")
    agent = await make_user(app, "agent", queues=[q])
    for i in range(n):
        customer = await make_user(app, "customer")
        r = await client.post(
            "/api/v1/requests", json={"summary": f"r{i}"}, headers=customer.headers
        )
        url = f"/api/v1/requests/{r.json()['reference']}"
        assert (await client.patch(url, json={"status": "open"}, headers=agent.headers)).is_success
        r = await client.post(f"{url}/comments", json={"text": "on it"}, headers=agent.headers)
        assert r.status_code == 201


@pytest.mark.asyncio
async def test_two_workers_on_one_database_never_deliver_a_row_twice(
    client: httpx.AsyncClient,
    app: FastAPI,
    second_app: FastAPI,
    webhook_receiver: WebhookReceiver,
) -> None:
    workers = [outbox_of(app), outbox_of(second_app)]
    for ob in workers:
        await ob.stop()
        ob.batch = 2  # small bites, so both get some
    await _requests_with_events(client, app, 8)
    webhook_receiver.delay_s = 0.005

    done: Counter[int] = Counter()

    async def work(i: int, ob: Outbox) -> None:
        for _ in range(200):
            n = await ob.run_once()
            done[i] += n
            if n == 0 and all(r.status != "pending" for r in await outbox_rows(app)):
                return
            if n == 0:
                await asyncio.sleep(0.005)

    await asyncio.gather(*(work(i, ob) for i, ob in enumerate(workers)))

    arrivals = Counter(d["id"] for d in webhook_receiver.requests)
    assert len(arrivals) == 24 and set(arrivals.values()) == {1}
    assert webhook_receiver.duplicates == [] and webhook_receiver.rejected == []
    assert done[0] > 0 and done[1] > 0 and done[0] + done[1] == 24
    # Still in order per request, though two workers shared the work.
    by_request: dict[str, list[str]] = {}
    for d in webhook_receiver.accepted:
        by_request.setdefault(d["request"]["id"], []).append(d["type"])
    assert set(map(tuple, by_request.values())) == {
        ("request.created", "request.updated", "request.commented")
    }


@pytest.mark.asyncio
async def test_rows_of_a_crashed_worker_are_taken_over_when_its_lease_runs_out(
    client: httpx.AsyncClient,
    app: FastAPI,
    outbox: Outbox,
    frozen_clock: FrozenClock,
    webhook_receiver: WebhookReceiver,
) -> None:
    await _requests_with_events(client, app, 1)
    at = frozen_clock.now()
    async with ctx_of(app).db.write() as uow:  # a worker claims, then dies before sending
        claimed = await repo.claim(
            uow.session,
            "crashed:1",
            at,
            at + timedelta(seconds=LEASE_S),
            10,
            [DeliveryKind.webhook],
        )
    assert [m.event_type for m in claimed] == ["request.created"]  # one per request at a time

    assert await outbox.drain() == 0  # leased: hands off
    frozen_clock.advance(LEASE_S - 1)
    assert await outbox.drain() == 0
    frozen_clock.advance(1)
    assert await outbox.drain() == 3
    assert [d["type"] for d in webhook_receiver.accepted] == [
        "request.created",
        "request.updated",
        "request.commented",
    ]
    # The crashed worker coming back to record an outcome changes nothing.
    async with ctx_of(app).db.write() as uow:
        kept = await repo.settle(
            uow.session,
            claimed[0].id,
            "crashed:1",
            status=claimed[0].status,  # type: ignore[arg-type]
            attempts=1,
            at=frozen_clock.now(),
        )
    assert kept is False
    assert {r.status for r in await outbox_rows(app)} == {"delivered"}


@pytest.mark.asyncio
async def test_a_worker_without_webhook_settings_leaves_webhook_rows_to_one_that_has_them(
    client: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    smtp_server: Any,
    webhook_receiver: WebhookReceiver,
) -> None:
    # Another process on the same database, configured for e-mail only.
    mail_only = create_app(
        settings.model_copy(
            update={"webhook_url": None, "webhook_secret": None, "smtp_url": smtp_server.url}
        )
    )
    async with LifespanManager(mail_only):
        lacking, able = outbox_of(mail_only), outbox_of(app)
        for ob in (lacking, able):
            await ob.stop()
        # Every process delivers to admin-managed endpoints; this one lacks the environment's.
        assert lacking.env_webhook is False
        await _requests_with_events(client, app, 2)
        assert {r.kind for r in await outbox_rows(app)} == {"webhook"}

        assert await lacking.drain() == 0  # nothing it could deliver: not claimed, not failed
        rows = await outbox_rows(app)
        assert {(r.status, r.attempts, r.claimed_by) for r in rows} == {("pending", 0, None)}

        assert await able.drain() == 6
        assert len(webhook_receiver.accepted) == 6
        assert {r.status for r in await outbox_rows(app)} == {"delivered"}
