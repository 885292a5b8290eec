"""No secret in any log line: a webhook URL with credentials and a token, delivered for real."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from helpline.kit.clock import FrozenClock
from helpline.notify.outbox import Outbox
from tests.fixtures.factories import make_queue, make_user
from tests.notify.support import WEBHOOK_SECRET, WebhookReceiver, settle_all

pytestmark = pytest.mark.asyncio

USER, PASSWORD, TOKEN = "hookuser", "hook-pa55word-s3cret", "tok-9f8e7d6c5b4a"


@pytest.fixture
def settings_overrides(webhook_receiver: WebhookReceiver) -> dict[str, Any]:
    parts = urlsplit(webhook_receiver.url)
    url = f"http://{USER}:{PASSWORD}@{parts.netloc}{parts.path}?token={TOKEN}"
    return {"webhook_url": url, "webhook_secret": WEBHOOK_SECRET, "log_level": "DEBUG"}


async def test_webhook_credentials_and_token_never_reach_the_log(
    app: FastAPI,
    client: httpx.AsyncClient,
    outbox: Outbox,
    frozen_clock: FrozenClock,
    webhook_receiver: WebhookReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    webhook_receiver.fail_first = 1  # a failed attempt is logged too
    await make_queue(app, "Support")
    customer = await make_user(app, "customer")
    r = await client.post("/api/v1/requests", json={"summary": "Hi"}, headers=customer.headers)
    assert r.status_code == 201
    await settle_all(frozen_clock, outbox, step_s=5)

    assert len(webhook_receiver.accepted) == 1  # it really went out, with the credentials
    lines = [f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records]
    assert any("outbox" in line for line in lines)  # the capture saw the delivery's logging
    for secret in (PASSWORD, TOKEN, WEBHOOK_SECRET):
        leaked = [line for line in lines if secret in line]
        assert leaked == [], leaked
