"""'E-mail me the transcript': through the outbox to a real SMTP server, notes never included."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from helpline.notify.outbox import Outbox
from tests.fixtures.factories import accepted_chat, make_queue, make_user
from tests.notify.support import SmtpServer, body_of, outbox, smtp_server  # noqa: F401 - fixtures

pytestmark = pytest.mark.asyncio


@pytest.fixture
def settings_overrides(smtp_server: SmtpServer) -> dict[str, Any]:  # noqa: F811
    return {"smtp_url": smtp_server.url}


async def test_customer_gets_the_transcript_without_internal_notes(
    app: FastAPI,
    client: httpx.AsyncClient,
    outbox: Outbox,  # noqa: F811
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    q = await make_queue(app, "Support")
    customer = await make_user(app, "customer", name="Carla", email="carla@example.com")
    agent = await make_user(app, "agent", name="Ana", queues=[q])
    other = await make_user(app, "agent", name="Ben", queues=[q])
    chat = await accepted_chat(client, customer, agent, q)
    cid = chat["id"]
    await client.post(
        f"/api/v1/chats/{cid}/notes", json={"text": "VIP customer"}, headers=agent.headers
    )
    await client.post(
        f"/api/v1/chats/{cid}/messages",
        json={"text": "Fixed, thanks!", "client_id": "c1"},
        headers=customer.headers,
    )
    await client.post(f"/api/v1/chats/{cid}/solve", headers=agent.headers)
    assert (
        await client.post(f"/api/v1/chats/{cid}/transcript/email", headers=other.headers)
    ).status_code == 403
    r = await client.post(f"/api/v1/chats/{cid}/transcript/email", headers=customer.headers)
    assert r.status_code == 202 and r.json() == {"status": "queued", "to": "carla@example.com"}
    await outbox.drain()
    (mail,) = smtp_server.to("carla@example.com")
    assert chat["reference"] in mail["Subject"]
    text = body_of(mail)
    assert "Carla: Fixed, thanks!" in text and "VIP" not in text
