"""Forwarding request events to an external desk: a real receiver on loopback that fails,
verifies signatures and drops repeats by event id."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from helpline.kit.clock import FrozenClock
from helpline.notify.outbox import Outbox
from tests.fixtures.factories import accepted_chat, make_user
from tests.notify.support import WEBHOOK_SECRET, WebhookReceiver, outbox_rows, settle_all

pytestmark = pytest.mark.asyncio


@pytest.fixture
def settings_overrides(webhook_receiver: WebhookReceiver) -> dict[str, Any]:
    return {
        "webhook_url": webhook_receiver.url,
        "webhook_secret": WEBHOOK_SECRET,
        "outbox_retry_s": 5,
    }


async def test_events_arrive_once_and_in_order_after_the_receiver_recovers(
    client: httpx.AsyncClient,
    app: FastAPI,
    outbox: Outbox,
    frozen_clock: FrozenClock,
    webhook_receiver: WebhookReceiver,
    world: dict[str, Any],
) -> None:
    webhook_receiver.fail_first = 2  # down
    webhook_receiver.lose_answers = 1  # then takes one in but its answer is lost
    agent, customer = world["agent"].headers, world["customer"].headers

    chat = await accepted_chat(client, world["customer"], world["agent"], world["q"])
    r = await client.post(
        f"/api/v1/chats/{chat['id']}/requests", json={"summary": "Broken"}, headers=agent
    )
    first = r.json()
    url = f"/api/v1/requests/{first['reference']}"
    second = (
        await client.post(
            "/api/v1/requests", json={"summary": "Other"}, headers=world["customer2"].headers
        )
    ).json()
    assert (await client.patch(url, json={"status": "open"}, headers=agent)).is_success
    for body, who in (
        ({"text": "checking with the vendor", "internal": True}, agent),
        ({"text": "any news?"}, customer),
    ):
        assert (await client.post(f"{url}/comments", json=body, headers=who)).status_code == 201
    r = await client.patch(
        f"/api/v1/requests/{second['reference']}", json={"priority": "high"}, headers=agent
    )
    assert r.is_success

    passes = await settle_all(frozen_clock, outbox, step_s=5)
    assert passes > 2  # it took retries

    assert webhook_receiver.rejected == []  # every attempt signed, fresh, id header = body id
    assert len(webhook_receiver.duplicates) == 1  # the replay after the lost answer
    ids = [d["id"] for d in webhook_receiver.accepted]
    assert len(ids) == len(set(ids)) == 6
    rows = await outbox_rows(app, "webhook")
    assert {r.status for r in rows} == {"delivered"}
    assert sorted(r.event_id for r in rows) == sorted(ids)

    events = webhook_receiver.for_request(first["id"])
    assert [e["type"] for e in events] == [
        "request.created",
        "request.updated",
        "request.commented",
        "request.commented",
    ]
    created, updated, internal, public = events
    assert set(created) == {"id", "type", "at", "actor", "request"}
    assert created["request"]["reference"] == first["reference"]
    assert created["request"]["chat_id"] == chat["id"] and created["request"]["status"] == "new"
    assert created["actor"]["name"] == "Ana"
    assert updated["changes"] == {"status": {"from": "new", "to": "open"}}
    assert updated["request"]["status"] == "open"
    assert internal["comment"]["internal"] is True
    assert internal["comment"]["text"] == "checking with the vendor"
    assert public["comment"]["internal"] is False and public["actor"]["role"] == "customer"
    assert [e["type"] for e in webhook_receiver.for_request(second["id"])] == [
        "request.created",
        "request.updated",
    ]


async def test_a_receiver_that_never_recovers_gets_a_dead_letter_after_24_hours(
    client: httpx.AsyncClient,
    app: FastAPI,
    outbox: Outbox,
    frozen_clock: FrozenClock,
    webhook_receiver: WebhookReceiver,
    world: dict[str, Any],
) -> None:
    webhook_receiver.always_fail = True
    start = frozen_clock.now()
    r = await client.post(
        "/api/v1/requests", json={"summary": "Lost cause"}, headers=world["customer"].headers
    )
    ref = r.json()["reference"]

    attempts_at: list[float] = []
    for _ in range(500):
        assert await outbox.drain() == 1
        attempts_at.append((frozen_clock.now() - start).total_seconds())
        (row,) = await outbox_rows(app)
        if row.status != "pending":
            break
        frozen_clock.advance((row.next_attempt_at - frozen_clock.now()).total_seconds())

    waits = [b - a for a, b in zip(attempts_at, attempts_at[1:], strict=False)]
    assert waits[:8] == [5, 10, 20, 40, 80, 160, 320, 600]
    assert set(waits[7:]) == {600}
    assert attempts_at[-2] < 24 * 3600 <= attempts_at[-1]
    assert row.status == "failed" and row.attempts == len(attempts_at) == len(
        webhook_receiver.requests
    )
    assert row.last_error is not None and row.last_error.startswith("HTTP 500")
    assert await outbox.drain() == 0  # a dead letter is left alone

    # A day has passed: the world's sessions have ended (HELPLINE_SESSION_IDLE_S); sign in anew.
    admin = await make_user(app, "admin")
    listing = await client.get(
        "/api/v1/webhooks/deliveries", params={"status": "failed"}, headers=admin.headers
    )
    assert listing.status_code == 200, listing.text
    (item,) = listing.json()["items"]
    assert listing.json()["next"] is None
    assert item["id"] == row.event_id and item["kind"] == "webhook"
    assert item["type"] == "request.created" and item["reference"] == ref
    assert item["status"] == "failed" and item["attempts"] == row.attempts
    assert item["next_attempt_at"] is None and item["payload"]["request"]["reference"] == ref
    for status in ("pending", "delivered"):
        r = await client.get(
            "/api/v1/webhooks/deliveries", params={"status": status}, headers=admin.headers
        )
        assert r.json() == {"items": [], "next": None}


async def test_only_admins_list_deliveries(
    client: httpx.AsyncClient, outbox: Outbox, world: dict[str, Any]
) -> None:
    for who in ("customer", "agent"):
        r = await client.get("/api/v1/webhooks/deliveries", headers=world[who].headers)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert (await client.get("/api/v1/webhooks/deliveries")).status_code == 401
    admin = world["admin"].headers
    r = await client.get("/api/v1/webhooks/deliveries", params={"status": "lost"}, headers=admin)
    assert r.status_code == 422


async def test_deliveries_page_newest_first(
    client: httpx.AsyncClient, outbox: Outbox, world: dict[str, Any]
) -> None:
    for i in range(3):
        r = await client.post(
            "/api/v1/requests", json={"summary": f"r{i}"}, headers=world["customer"].headers
        )
        assert r.status_code == 201
    admin = world["admin"].headers
    page = (
        await client.get("/api/v1/webhooks/deliveries", params={"limit": 2}, headers=admin)
    ).json()
    assert [i["reference"] for i in page["items"]] == ["SR-000003", "SR-000002"]
    rest = (
        await client.get(
            "/api/v1/webhooks/deliveries",
            params={"limit": 2, "cursor": page["next"]},
            headers=admin,
        )
    ).json()
    assert [i["reference"] for i in rest["items"]] == ["SR-000001"] and rest["next"] is None
    assert all(i["status"] == "pending" and i["next_attempt_at"] for i in page["items"])
