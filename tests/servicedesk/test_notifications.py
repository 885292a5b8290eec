"""Who is e-mailed about what, against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from helpline.notify.outbox import Outbox
from tests.fixtures.factories import accepted_chat, make_queue, make_user
from tests.notify.support import SmtpServer, body_of, outbox_rows

pytestmark = pytest.mark.asyncio


@pytest.fixture
def settings_overrides(smtp_server: SmtpServer) -> dict[str, Any]:
    return {"smtp_url": smtp_server.url, "mail_from": "Helpline <desk@helpline.test>"}


@pytest_asyncio.fixture
async def world(app: FastAPI) -> dict[str, Any]:
    q = await make_queue(app, "Support")
    return {
        "q": q,
        "customer": await make_user(app, "customer", name="Carla", email="carla@example.com"),
        "agent": await make_user(app, "agent", name="Ana", email="ana@example.com", queues=[q]),
        "agent2": await make_user(app, "agent", name="Ben", email="ben@example.com", queues=[q]),
        "supervisor": await make_user(app, "supervisor", name="Sue", email="sue@example.com"),
    }


async def _raise_from_chat(client: httpx.AsyncClient, world: dict[str, Any]) -> dict[str, Any]:
    chat = await accepted_chat(client, world["customer"], world["agent"], world["q"])
    r = await client.post(
        f"/api/v1/chats/{chat['id']}/requests",
        json={"summary": "Printer on fire", "priority": "high"},
        headers=world["agent"].headers,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_customer_is_mailed_on_raise_status_change_and_public_comment_only(
    client: httpx.AsyncClient, outbox: Outbox, smtp_server: SmtpServer, world: dict[str, Any]
) -> None:
    req = await _raise_from_chat(client, world)
    ref, url = req["reference"], f"/api/v1/requests/{req['reference']}"
    agent, customer = world["agent"].headers, world["customer"].headers
    assert (await client.patch(url, json={"status": "in_progress"}, headers=agent)).is_success
    for body, who in (
        ({"text": "A technician is on the way."}, agent),
        ({"text": "Supplier SLA is 3 days", "internal": True}, agent),
        ({"text": "Thanks, I'll be in."}, customer),
    ):
        assert (await client.post(f"{url}/comments", json=body, headers=who)).status_code == 201
    assert await outbox.drain() == 3

    mails = smtp_server.to("carla@example.com")
    assert len(mails) == 3 and len(smtp_server.messages) == 3
    raised, status, reply = mails
    for m in mails:
        assert m["From"] == "Helpline <desk@helpline.test>"
        assert m["Subject"].startswith(f"[{ref}] ")
        text = body_of(m)
        assert ref in text and "Printer on fire" in text
        assert f"http://testserver/#requests/{ref}" in text
        assert "Supplier SLA" not in text and "I'll be in" not in text
    # Subjects: the reference and fixed words, never the customer's summary.
    assert [m["Subject"] for m in mails] == [
        f"[{ref}] We received your request",
        f"[{ref}] Your request is now in progress",
        f"[{ref}] New reply to your request",
    ]
    assert "Status:    New" in body_of(raised) and "Priority:  High" in body_of(raised)
    assert "from your chat CS-" in body_of(raised)
    assert "from new to in progress" in body_of(status)
    assert "Status:    In progress" in body_of(status)
    assert "Ana replied" in body_of(reply) and "A technician is on the way." in body_of(reply)
    # Message-IDs are the outbox event ids: stable across retries.
    rows = await outbox_rows(outbox, "email")
    assert [m["Message-ID"] for m in mails] == [f"<{r.event_id}@helpline.test>" for r in rows]
    assert [r.event_type for r in rows] == [
        "request.created",
        "request.status_changed",
        "request.commented",
    ]


async def test_assignee_is_mailed_when_someone_else_assigns_them(
    client: httpx.AsyncClient, outbox: Outbox, smtp_server: SmtpServer, world: dict[str, Any]
) -> None:
    req = await _raise_from_chat(client, world)
    url = f"/api/v1/requests/{req['reference']}"
    r = await client.patch(
        url, json={"assignee_id": world["agent2"].id}, headers=world["supervisor"].headers
    )
    assert r.status_code == 200 and r.json()["assignee"]["name"] == "Ben"
    # Taking one yourself is not news to you.
    r = await client.patch(
        url, json={"assignee_id": world["agent"].id}, headers=world["agent"].headers
    )
    assert r.status_code == 200
    await outbox.drain()
    (mail,) = smtp_server.to("ben@example.com")
    assert mail["Subject"] == f"[{req['reference']}] Assigned to you"  # no customer text
    text = body_of(mail)
    assert "Sue assigned request" in text and "Customer:  Carla" in text
    assert f"http://testserver/console#requests/{req['reference']}" in text
    assert smtp_server.to("ana@example.com") == []
    assert len(smtp_server.to("carla@example.com")) == 1  # only "raised": no status change


async def test_guest_who_leaves_a_message_gets_mail(
    client: httpx.AsyncClient, outbox: Outbox, smtp_server: SmtpServer, world: dict[str, Any]
) -> None:
    r = await client.post("/api/v1/auth/guest", json={"name": "Gus", "email": "gus@guest.test"})
    assert r.status_code == 200, r.text
    client.cookies.clear()
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    r = await client.post(
        "/api/v1/requests", json={"summary": "Call me back, please"}, headers=headers
    )
    assert r.status_code == 201, r.text
    await outbox.drain()
    (mail,) = smtp_server.to("gus@guest.test")
    assert "Hello Gus," in body_of(mail) and r.json()["reference"] in mail["Subject"]
    assert "from your chat" not in body_of(mail)


async def test_a_change_that_fails_queues_nothing(
    client: httpx.AsyncClient, app: FastAPI, outbox: Outbox, world: dict[str, Any]
) -> None:
    req = await _raise_from_chat(client, world)
    r = await client.patch(
        f"/api/v1/requests/{req['reference']}",
        json={"status": "open", "team_id": "no-such-team"},
        headers=world["agent"].headers,
    )
    assert r.status_code == 422
    assert [m.event_type for m in await outbox_rows(app)] == ["request.created"]
    got = await client.get(f"/api/v1/requests/{req['reference']}", headers=world["agent"].headers)
    assert got.json()["status"] == "new"


@pytest.mark.parametrize("settings_overrides", [{}])
async def test_without_smtp_url_mail_is_not_queued_and_it_is_logged_once(
    client: httpx.AsyncClient,
    app: FastAPI,
    world: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="helpline.outbox")
    for _ in range(2):
        r = await client.post(
            "/api/v1/requests", json={"summary": "Hello?"}, headers=world["customer"].headers
        )
        assert r.status_code == 201
    assert await outbox_rows(app) == []
    notes = [r for r in caplog.records if "HELPLINE_SMTP_URL is not configured" in r.getMessage()]
    assert len(notes) == 1
