"""E-mails go out in the recipient's language (their `locale`, else HELPLINE_DEFAULT_LOCALE),
through the outbox to a real SMTP server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from helpline.notify.outbox import Outbox
from tests.fixtures.factories import ctx_of, make_user
from tests.notify.support import (  # noqa: F401 - fixtures
    SmtpServer,
    body_of,
    outbox,
    smtp_server,
)

pytestmark = pytest.mark.asyncio


@pytest.fixture
def settings_overrides(smtp_server: SmtpServer) -> dict[str, Any]:  # noqa: F811
    return {"smtp_url": smtp_server.url, "default_locale": "fr"}


async def reset_mail(
    client: httpx.AsyncClient, app: FastAPI, box: Outbox, smtp: SmtpServer, email: str
) -> tuple[str, str]:
    r = await client.post("/api/v1/auth/password-reset", json={"email": email})
    assert r.status_code == 202
    await ctx_of(app).background.settle()
    await box.drain()
    mail = smtp.to(email)[-1]
    return str(mail["Subject"]), body_of(mail)


async def test_each_recipient_reads_their_own_language(
    client: httpx.AsyncClient,
    app: FastAPI,
    outbox: Outbox,  # noqa: F811
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    ana = await make_user(app, "agent", name="Ana", email="ana@example.com")
    bea = await make_user(app, "agent", name="Bea", email="bea@example.com")
    r = await client.patch("/api/v1/me", json={"locale": "de"}, headers=ana.headers)
    assert r.status_code == 200, r.text
    r = await client.patch("/api/v1/me", json={"locale": "ar"}, headers=bea.headers)
    assert r.status_code == 200, r.text

    subject, body = await reset_mail(client, app, outbox, smtp_server, ana.email)
    assert subject == "Ihr Helpline-Passwort zurücksetzen"
    assert body.startswith("Hallo Ana,") and "innerhalb von 60 Minuten" in body
    assert "http://testserver/reset-password?token=" in body

    subject, body = await reset_mail(client, app, outbox, smtp_server, bea.email)
    assert subject == "إعادة تعيين كلمة مرور Helpline"
    assert body.startswith("مرحبًا Bea،")


async def test_without_a_setting_the_default_applies(
    client: httpx.AsyncClient,
    app: FastAPI,
    outbox: Outbox,  # noqa: F811
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    cy = await make_user(app, "agent", name="Cy", email="cy@example.com")
    subject, body = await reset_mail(client, app, outbox, smtp_server, cy.email)
    assert subject == "Réinitialisez votre mot de passe Helpline"
    assert body.startswith("Bonjour Cy,")


async def test_a_guest_keeps_the_language_of_their_browser(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/v1/auth/guest",
        json={"name": "Lucía", "email": "lucia@example.org"},
        headers={"Accept-Language": "es-MX,es;q=0.9"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["user"]["locale"] == "es"
    client.cookies.clear()
    r = await client.post(
        "/api/v1/auth/guest",
        json={"name": "Kim", "email": "kim@example.org"},
        headers={"Accept-Language": "ko"},
    )
    assert r.json()["user"]["locale"] is None  # nothing we offer: the default applies later
