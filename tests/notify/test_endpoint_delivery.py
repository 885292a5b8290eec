"""Admin-managed webhook endpoints, delivered for real: two receivers on loopback with their own
secrets and event filters, one of them failing first; a dead letter re-sent by its button.

The receivers listen on 127.0.0.1, so these tests run with HELPLINE_WEBHOOK_ALLOW_PRIVATE=on
(the guard itself: test_endpoints_api.py and test_ssrf.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from helpline.kit.clock import FrozenClock
from helpline.notify.outbox import Outbox
from helpline.sweeper import Sweeper
from tests.fixtures.factories import (
    Person,
    accepted_chat,
    ctx_of,
    make_queue,
    make_user,
    start_chat,
)
from tests.notify.support import WebhookReceiver, outbox_rows, settle_all

pytestmark = pytest.mark.asyncio

ALERTS_SECRET = "alerts-secret-0123456789abcdef"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"webhook_allow_private": "on", "outbox_retry_s": 5}


async def _running(secret: str) -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver(secret=secret)
    await receiver.start()
    try:
        yield receiver
    finally:
        await receiver.stop()


@pytest_asyncio.fixture
async def crm() -> AsyncIterator[WebhookReceiver]:
    async for receiver in _running("(set from the endpoint's answer)"):
        yield receiver


@pytest_asyncio.fixture
async def alerts() -> AsyncIterator[WebhookReceiver]:
    async for receiver in _running(ALERTS_SECRET):
        yield receiver


async def _endpoint(
    client: httpx.AsyncClient, admin: Person, url: str, events: list[str], **more: Any
) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/webhooks/endpoints",
        json={"url": url, "events": events, **more},
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _for_chat(receiver: WebhookReceiver, chat_id: str) -> list[str]:
    return [d["type"] for d in receiver.accepted if d.get("chat", {}).get("id") == chat_id]


async def test_chat_events_reach_two_endpoints_each_by_its_own_filter_and_secret(
    client: httpx.AsyncClient,
    app: FastAPI,
    outbox: Outbox,
    frozen_clock: FrozenClock,
    crm: WebhookReceiver,
    alerts: WebhookReceiver,
    world: dict[str, Any],
) -> None:
    admin, agent, customer = world["admin"], world["agent"], world["customer"]
    crm_events = [
        "chat.started",
        "chat.accepted",
        "chat.solved",
        "chat.rated",
        "request.created",
        "request.commented",
    ]
    made = await _endpoint(client, admin, crm.url, crm_events)
    assert made["secret"].startswith("whsec_")  # generated, shown this once
    crm.secret = made["secret"]
    await _endpoint(
        client,
        admin,
        alerts.url,
        ["chat.accepted", "chat.cancelled", "chat.transferred"],
        secret=ALERTS_SECRET,
    )
    alerts.fail_first = 2  # down at first: its events wait, crm's do not

    chat = await accepted_chat(client, customer, agent, world["q"])
    base = f"/api/v1/chats/{chat['id']}"
    r = await client.post(
        f"{base}/notes", json={"text": "VIP, handle gently"}, headers=agent.headers
    )
    assert r.status_code == 201, r.text
    r = await client.post(f"{base}/requests", json={"summary": "Refund"}, headers=agent.headers)
    assert r.status_code == 201, r.text
    request_url = f"/api/v1/requests/{r.json()['reference']}"
    for body in ({"text": "the vendor owes us", "internal": True}, {"text": "refund on its way"}):
        r = await client.post(f"{request_url}/comments", json=body, headers=agent.headers)
        assert r.status_code == 201, r.text
    assert (await client.post(f"{base}/solve", headers=agent.headers)).is_success
    r = await client.post(f"{base}/rating", json={"score": 5}, headers=customer.headers)
    assert r.is_success, r.text
    other = await start_chat(client, world["customer2"], world["q"])
    r = await client.post(f"/api/v1/chats/{other['id']}/leave", headers=world["customer2"].headers)
    assert r.is_success, r.text

    # One row per endpoint per event, nothing for the (unset) environment URL.
    rows = await outbox_rows(app, "webhook")
    assert all(row.endpoint_id is not None for row in rows)
    assert len(rows) == 4 + 1 + 1 + 1 + 2  # crm chat + request + comment + other; alerts 2

    assert await settle_all(frozen_clock, outbox, step_s=5) > 1  # alerts took retries
    for receiver in (crm, alerts):
        assert receiver.rejected == []  # signed with its own secret, fresh, id header = body
        assert receiver.duplicates == []
    assert len(alerts.requests) == 2 + 2  # two refused while down, then each event once

    assert _for_chat(crm, chat["id"]) == [
        "chat.started",
        "chat.accepted",
        "chat.solved",
        "chat.rated",
    ]
    assert _for_chat(crm, other["id"]) == ["chat.started"]
    assert _for_chat(alerts, chat["id"]) == ["chat.accepted"]
    assert _for_chat(alerts, other["id"]) == ["chat.cancelled"]
    requests_seen = [d for d in crm.accepted if "request" in d]
    assert [d["type"] for d in requests_seen] == ["request.created", "request.commented"]
    assert requests_seen[1]["comment"]["text"] == "refund on its way"  # never the internal one

    # The same event carries the same id to every endpoint.
    (crm_accept,) = [d for d in crm.accepted if d["type"] == "chat.accepted"]
    (alerts_accept,) = [d for d in alerts.accepted if d["type"] == "chat.accepted"]
    assert crm_accept == alerts_accept
    assert set(crm_accept) == {"id", "type", "at", "actor", "chat", "seq", "data"}
    assert crm_accept["actor"]["name"] == "Ana"
    assert crm_accept["chat"]["status"] == "in_progress"
    assert crm_accept["chat"]["agent_id"] == agent.id
    (rated,) = [d for d in crm.accepted if d["type"] == "chat.rated"]
    assert rated["chat"]["status"] == "solved" and rated["data"]["score"] == 5
    everything = str(crm.requests + alerts.requests)
    assert "VIP, handle gently" not in everything and "the vendor owes us" not in everything


async def test_a_dead_letter_is_listed_per_endpoint_and_re_sent_by_the_button(
    client: httpx.AsyncClient,
    app: FastAPI,
    outbox: Outbox,
    frozen_clock: FrozenClock,
    alerts: WebhookReceiver,
    world: dict[str, Any],
) -> None:
    admin = world["admin"]
    endpoint = await _endpoint(client, admin, alerts.url, ["chat.started"], secret=ALERTS_SECRET)
    alerts.always_fail = True
    chat = await start_chat(client, world["customer"], world["q"])

    assert await outbox.drain() == 1  # attempt 1 fails
    frozen_clock.advance(25 * 3600)  # a day of outage later, the next attempt gives up
    assert await outbox.drain() == 1
    (row,) = await outbox_rows(app, "webhook")
    assert row.status == "failed" and row.attempts == 2

    # A day has passed: sessions ended; sign in anew.
    admin = await make_user(app, "admin")
    log_url = f"/api/v1/webhooks/endpoints/{endpoint['id']}/deliveries"
    r = await client.get(log_url, params={"status": "failed"}, headers=admin.headers)
    assert r.status_code == 200, r.text
    (item,) = r.json()["items"]
    assert item["id"] == row.event_id and item["endpoint_id"] == endpoint["id"]
    assert item["type"] == "chat.started" and item["attempts"] == 2
    assert item["last_error"].startswith("HTTP 500") and item["next_attempt_at"] is None
    assert item["event_id"] == item["payload"]["id"] and item["payload"]["chat"]["id"] == chat["id"]

    alerts.always_fail = False  # the receiver is fixed; the admin presses "retry"
    r = await client.post(f"/api/v1/webhooks/deliveries/{item['id']}/retry", headers=admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "pending" and r.json()["next_attempt_at"] is not None
    again = await client.post(
        f"/api/v1/webhooks/deliveries/{item['id']}/retry", headers=admin.headers
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_failed"

    assert await outbox.drain() == 1
    assert [d["type"] for d in alerts.accepted] == ["chat.started"]
    assert alerts.rejected == []
    (row,) = await outbox_rows(app, "webhook")
    assert row.status == "delivered" and row.attempts == 3
    r = await client.get(log_url, headers=admin.headers)
    assert [i["status"] for i in r.json()["items"]] == ["delivered"]

    audit = (
        await client.get(
            "/api/v1/audit", params={"action": "webhook_delivery.retried"}, headers=admin.headers
        )
    ).json()["items"]
    assert [a["target"]["id"] for a in audit] == [item["id"]]


async def test_send_test_event_goes_to_that_endpoint_only_even_when_inactive(
    client: httpx.AsyncClient,
    app: FastAPI,
    outbox: Outbox,
    frozen_clock: FrozenClock,
    crm: WebhookReceiver,
    alerts: WebhookReceiver,
    world: dict[str, Any],
) -> None:
    admin = world["admin"]
    made = await _endpoint(client, admin, crm.url, ["chat.started"], active=False)
    crm.secret = made["secret"]
    await _endpoint(client, admin, alerts.url, ["chat.started"], secret=ALERTS_SECRET)
    r = await client.post(f"/api/v1/webhooks/endpoints/{made['id']}/test", headers=admin.headers)
    assert r.status_code == 202, r.text
    assert r.json()["type"] == "webhook.test" and r.json()["endpoint_id"] == made["id"]
    await start_chat(client, world["customer"], world["q"])  # inactive: crm gets no chat.started
    await settle_all(frozen_clock, outbox, step_s=5)
    (test_event,) = crm.accepted
    assert crm.rejected == []
    assert test_event["type"] == "webhook.test" and test_event["endpoint"]["id"] == made["id"]
    assert [d["type"] for d in alerts.accepted] == ["chat.started"]


async def test_a_breached_service_level_reaches_the_endpoint_that_asked_for_it(
    client: httpx.AsyncClient,
    app: FastAPI,
    outbox: Outbox,
    frozen_clock: FrozenClock,
    alerts: WebhookReceiver,
    world: dict[str, Any],
) -> None:
    # An internal event (staff only), yet one the contract forwards to webhooks.
    q = await make_queue(app, "Urgent", sla={"first_response_s": 60}, max_wait_s=3600)
    await _endpoint(client, world["admin"], alerts.url, ["chat.sla_breached"], secret=ALERTS_SECRET)
    chat = await start_chat(client, world["customer"], q)
    sweeper = Sweeper(ctx_of(app))
    frozen_clock.advance(49)
    await sweeper.run_once()  # the warning at 80 % (staff only, no webhook)
    frozen_clock.advance(12)
    await sweeper.run_once()  # the breach
    await settle_all(frozen_clock, outbox, step_s=5)
    (breach,) = alerts.accepted
    assert alerts.rejected == []
    assert breach["type"] == "chat.sla_breached" and breach["chat"]["id"] == chat["id"]
    assert breach["data"]["first_response_s"] == 60 and breach["actor"] is None
