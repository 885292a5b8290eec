"""HELPLINE_PASSWORD_LOGIN: who may sign in with a password, and what the sign-in pages offer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from helpline.config import Settings
from tests.fixtures.factories import PASSWORD, make_user

pytestmark = pytest.mark.asyncio

OIDC = {
    "oidc_issuer": "https://id.example.org",
    "oidc_client_id": "helpline",
    "oidc_client_secret": "s3cret",
    "oidc_name": "Example ID",
}


async def _login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


async def _sessions(app: FastAPI) -> int:
    from sqlalchemy import func, select

    from helpline.accounts.models import AuthSession

    async with app.state.ctx.db.read() as session:
        return int((await session.execute(select(func.count(AuthSession.id)))).scalar_one())


@pytest.mark.parametrize("settings_overrides", [{"password_login": "off"}])
async def test_off_refuses_everyone_before_checking_anything(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_user(app, "admin", email="root@example.com")
    customer = await make_user(app, "customer", email="cust@example.com")
    before = await _sessions(app)
    for email, password in (
        (admin.email, PASSWORD),
        (customer.email, PASSWORD),
        ("nobody@example.com", "wrong"),
    ):
        r = await _login(client, email, password)
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "password_login_disabled"
        assert "helpline_session" not in r.headers.get("set-cookie", "")
    assert await _sessions(app) == before


@pytest.mark.parametrize("settings_overrides", [{"password_login": "customers"}])
async def test_customers_only_lets_customers_in_and_refuses_staff(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    customer = await make_user(app, "customer", email="cust@example.com")
    agent = await make_user(app, "agent", email="ana@example.com")
    before = await _sessions(app)

    r = await _login(client, customer.email)
    assert r.status_code == 200, r.text
    assert r.json()["user"]["role"] == "customer"
    assert await _sessions(app) == before + 1

    # A wrong password is the same 401 as anywhere: nothing told about the account.
    wrong = await _login(client, agent.email, "wrong")
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_credentials"
    # The right one: staff must use single sign-on, and no session is opened.
    r = await _login(client, agent.email)
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "password_login_disabled"
    assert await _sessions(app) == before + 1


async def test_on_is_the_default_and_lets_staff_in(app: FastAPI, client: httpx.AsyncClient) -> None:
    agent = await make_user(app, "agent", email="ana@example.com")
    assert (await _login(client, agent.email)).status_code == 200


def _page_offers(html: str) -> tuple[bool, bool]:
    return 'data-testid="login-password"' in html, 'data-testid="sso-login"' in html


@pytest.mark.parametrize(
    ("settings_overrides", "console", "portal"),
    [
        ({}, (True, False), (True, False)),
        ({**OIDC}, (True, True), (True, True)),
        ({**OIDC, "password_login": "customers"}, (False, True), (True, True)),
        ({**OIDC, "password_login": "off"}, (False, True), (False, True)),
        ({"password_login": "off"}, (False, False), (False, False)),
    ],
)
async def test_sign_in_pages_offer_what_applies_to_their_people(
    client: httpx.AsyncClient,
    settings_overrides: dict[str, Any],
    console: tuple[bool, bool],
    portal: tuple[bool, bool],
) -> None:
    for path, expected in (("/console", console), ("/console/admin", console), ("/", portal)):
        html = (await client.get(path)).text
        assert _page_offers(html) == expected, path
        if expected[1]:
            assert "Sign in with Example ID" in html
            assert f'href="/auth/oidc/login?next={path}"' in html
        if not any(expected):
            assert 'data-testid="signin-unavailable"' in html


async def test_settings_refuse_half_an_identity_provider_and_unknown_roles() -> None:
    with pytest.raises(ValidationError, match="go together"):
        Settings(oidc_issuer="https://id.example.org", oidc_client_id="helpline")
    with pytest.raises(ValidationError, match="group=role"):
        Settings(oidc_role_map="helpdesk-admins=root")
    with pytest.raises(ValidationError):
        Settings(password_login="sometimes")
    s = Settings(
        oidc_role_map=" helpdesk-admins=admin, helpdesk-agents = agent ,", password_login="OFF"
    )
    assert s.oidc_roles == {"helpdesk-admins": "admin", "helpdesk-agents": "agent"}
    assert s.password_login == "off"
