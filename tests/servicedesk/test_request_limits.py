"""Nobody can make Helpline mail an address over and over: request creation is rate-limited
per person, per customer e-mail address and per client address; mail per recipient is capped
per hour (the excess is dropped, visibly). Against a real SMTP server on loopback."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from helpline.kit.clock import FrozenClock
from helpline.notify.outbox import Outbox
from tests.fixtures.factories import Person, accepted_chat, make_queue, make_user
from tests.notify.support import SmtpServer, outbox_rows

pytestmark = pytest.mark.asyncio

VICTIM = "victim@example.com"


@pytest.fixture
def rate_limits() -> str:
    """HELPLINE_RATE_LIMITS; a test parametrizes it to "off"."""
    return "on"


@pytest.fixture
def settings_overrides(smtp_server: SmtpServer, rate_limits: str) -> dict[str, Any]:
    return {
        "smtp_url": smtp_server.url,
        "rate_limits": rate_limits,
        "rate_limit_requests": "3/hour",
        "rate_limit_requests_address": "6/hour",
        "mail_per_recipient_hour": 3,
    }


@pytest_asyncio.fixture
async def queue(app: FastAPI) -> str:
    return await make_queue(app, "Support")


async def _create(client: httpx.AsyncClient, who: Person, summary: str = "Hi") -> httpx.Response:
    return await client.post("/api/v1/requests", json={"summary": summary}, headers=who.headers)


def _assert_limited(r: httpx.Response) -> None:
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "rate_limited" and r.json()["error"]["message"]
    assert int(r.headers["retry-after"]) > 0


async def test_request_creation_is_limited_per_person_address_and_client(
    app: FastAPI, client: httpx.AsyncClient, outbox: Outbox, queue: str
) -> None:
    guest = await make_user(app, "customer", email=VICTIM, is_guest=True)
    for i in range(3):
        assert (await _create(client, guest, f"spam {i}")).status_code == 201
    _assert_limited(await _create(client, guest))

    # A new guest with the same victim's address: that address has had its share.
    again = await make_user(app, "customer", email=VICTIM, is_guest=True)
    _assert_limited(await _create(client, again))

    # Others from the same client address: its ceiling (6) is higher, but there is one.
    others = [await make_user(app, "customer") for _ in range(4)]
    assert (await _create(client, others[0])).status_code == 201
    assert (await _create(client, others[1])).status_code == 201
    assert (await _create(client, others[2])).status_code == 201
    _assert_limited(await _create(client, others[3]))

    # Refusals changed nothing: six requests, six mails queued.
    rows = await outbox_rows(app, "email")
    assert len(rows) == 6
    assert sum(1 for r in rows if r.payload["to"] == VICTIM) == 3


async def test_requests_raised_from_chats_count_for_the_customer(
    app: FastAPI, client: httpx.AsyncClient, outbox: Outbox, queue: str
) -> None:
    customer = await make_user(app, "customer", email=VICTIM)
    agent = await make_user(app, "agent", queues=[queue])
    for _ in range(3):
        assert (await _create(client, customer)).status_code == 201
    chat = await accepted_chat(client, customer, agent, queue)
    r = await client.post(
        f"/api/v1/chats/{chat['id']}/requests", json={"summary": "From chat"}, headers=agent.headers
    )
    _assert_limited(r)
    listed = await client.get("/api/v1/requests", headers=agent.headers)
    assert [i["summary"] for i in listed.json()["items"]].count("From chat") == 0
    assert len(await outbox_rows(app, "email")) == 3


@pytest.mark.parametrize("rate_limits", ["off"])
async def test_rate_limits_off_lets_requests_through(
    app: FastAPI, client: httpx.AsyncClient, queue: str
) -> None:
    guest = await make_user(app, "customer", email=VICTIM, is_guest=True)
    for _ in range(5):
        assert (await _create(client, guest)).status_code == 201


@pytest.mark.parametrize("rate_limits", ["off"])  # the mail cap holds on its own
async def test_mail_per_recipient_is_capped_per_hour_and_drops_are_logged_masked(
    app: FastAPI,
    client: httpx.AsyncClient,
    outbox: Outbox,
    frozen_clock: FrozenClock,
    smtp_server: SmtpServer,
    queue: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    guest = await make_user(app, "customer", email=VICTIM, is_guest=True)
    bystander = await make_user(app, "customer", email="bystander@example.com")
    refs = [(await _create(client, guest, f"spam {i}")).json()["reference"] for i in range(5)]
    assert (await _create(client, bystander)).status_code == 201
    await outbox.drain()

    assert len(smtp_server.to(VICTIM)) == 3  # the cap
    assert len(smtp_server.to("bystander@example.com")) == 1  # nobody else is held up
    rows = [r for r in await outbox_rows(app, "email") if r.payload["to"] == VICTIM]
    assert [r.status for r in rows] == ["delivered"] * 3 + ["failed"] * 2
    assert [r.reference for r in rows] == refs
    for row in rows[3:]:
        assert row.last_error == "dropped: 3 mails to this address in the last hour"

    dropped = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == 2 and all("v***@example.com" in r.getMessage() for r in dropped)
    ours = [r for r in caplog.records if r.name != "mail.log"]  # not the test SMTP server's
    assert not [r for r in ours if VICTIM in r.getMessage()]

    # An hour after the first mails, the address may receive mail again.
    frozen_clock.advance(3600)
    assert (await _create(client, guest)).status_code == 201
    await outbox.drain()
    assert len(smtp_server.to(VICTIM)) == 4
