"""Single sign-on against a real OpenID provider (canaille on loopback), driven with httpx
through the provider's own login, password and consent forms."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import httpx2
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import func, select

from helpline.accounts.models import AuthSession, User, UserIdentity
from helpline.audit.models import AuditEntry
from helpline.kit.clock import FrozenClock
from helpline.web.oidc import OidcClient
from tests.conftest import LiveServer
from tests.fixtures.factories import make_user
from tests.fixtures.oidc import Canaille, ProviderBrowser
from tests.fixtures.wsclient import WSClient

pytestmark = pytest.mark.asyncio

TESTSERVER = "http://testserver"
CALLBACK = f"{TESTSERVER}/auth/oidc/callback"


@pytest.fixture(scope="session")
def relying_party(canaille: Canaille) -> dict[str, Any]:
    return canaille.create_client(CALLBACK)


@pytest.fixture
def groups() -> dict[str, str]:
    """This test's own group names at the shared provider, by the role they map to."""
    tag = os.urandom(3).hex()
    return {role: f"helpdesk-{role}s-{tag}" for role in ("admin", "supervisor", "agent")}


@pytest.fixture
def settings_overrides(
    canaille: Canaille, relying_party: dict[str, Any], groups: dict[str, str]
) -> dict[str, Any]:
    return {
        "oidc_issuer": canaille.url,
        "oidc_client_id": relying_party["client_id"],
        "oidc_client_secret": relying_party["secret"],
        "oidc_name": "Canaille",
        "oidc_role_map": ",".join(f"{g}={role}" for role, g in groups.items()),
    }


@pytest.fixture
def browser() -> Iterator[ProviderBrowser]:
    b = ProviderBrowser()
    yield b
    b.close()


async def start(client: httpx.AsyncClient, next_: str = "/console") -> httpx.Response:
    r = await client.get("/auth/oidc/login", params={"next": next_})
    assert r.status_code == 302, r.text
    return r


async def at_provider(
    browser: ProviderBrowser, start_response: httpx.Response, person: dict[str, str], **kw: Any
) -> str:
    """The callback URL the provider sends the browser back to (path and query)."""
    base = str(start_response.url).split("/auth/oidc")[0]
    back = await asyncio.to_thread(
        browser.sign_in, start_response.headers["location"], person, until=base, **kw
    )
    return back.removeprefix(base)


async def sso(
    client: httpx.AsyncClient,
    browser: ProviderBrowser,
    person: dict[str, str],
    next_: str = "/console",
) -> httpx.Response:
    return await client.get(await at_provider(browser, await start(client, next_), person))


def refused(r: httpx.Response, code: str, status: int = 400) -> None:
    assert r.status_code == status, r.text
    assert 'data-testid="sso-refused-page"' in r.text
    assert f'data-code="{code}"' in r.text, r.text.split("data-code=")[1][:40]
    assert "helpline_session=" not in r.headers.get("set-cookie", "")


async def count(app: FastAPI, model: Any) -> int:
    async with app.state.ctx.db.read() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def audit_log(app: FastAPI) -> list[tuple[str, dict[str, Any]]]:
    """(action, details) of every audit entry, oldest first."""
    async with app.state.ctx.db.read() as session:
        rows = await session.execute(select(AuditEntry).order_by(AuditEntry.id))
        return [(e.action, e.details) for e in rows.scalars()]


async def me(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/api/v1/me")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_first_sign_in_creates_the_user_with_the_mapped_role(
    app: FastAPI,
    client: httpx.AsyncClient,
    canaille: Canaille,
    browser: ProviderBrowser,
    groups: dict[str, str],
) -> None:
    ada = canaille.create_user("Ada Lovelace")
    canaille.create_group(groups["agent"], ada)

    r = await start(client, "/console?tab=requests")
    authorize = httpx.URL(r.headers["location"])
    assert str(authorize).startswith(canaille.url + "/oauth/authorize")
    assert authorize.params["code_challenge_method"] == "S256"
    assert authorize.params["nonce"] and authorize.params["state"]
    state_cookie = next(c for c in r.headers.get_list("set-cookie") if "helpline_oidc=" in c)
    assert "HttpOnly" in state_cookie and "Path=/auth/oidc" in state_cookie
    assert "Max-Age=600" in state_cookie

    r = await client.get(await at_provider(browser, r, ada))
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/console?tab=requests"
    assert "helpline_session=" in r.headers.get("set-cookie", "")
    assert 'helpline_oidc=""' in r.headers.get("set-cookie", "")  # the state is spent

    user = await me(client)
    assert (user["name"], user["email"], user["role"]) == ("Ada Lovelace", ada["email"], "agent")
    assert await count(app, UserIdentity) == 1
    assert await audit_log(app) == [
        ("user.created", {"role": "agent", "source": "oidc"}),
        ("login.succeeded", {"method": "oidc"}),
    ]


async def test_a_later_sign_in_updates_name_and_role_of_the_same_user(
    app: FastAPI,
    client: httpx.AsyncClient,
    canaille: Canaille,
    browser: ProviderBrowser,
    groups: dict[str, str],
) -> None:
    bob = canaille.create_user("Bob Builder")
    canaille.create_group(groups["agent"], bob)
    assert (await sso(client, browser, bob)).status_code == 303
    first = await me(client)

    canaille.set_name(bob, "Robert Builder")
    canaille.create_group(groups["admin"], bob)  # in both groups now: the higher role wins
    client.cookies.clear()
    second_browser = ProviderBrowser()
    try:
        assert (await sso(client, second_browser, bob)).status_code == 303
    finally:
        second_browser.close()
    second = await me(client)
    assert second["id"] == first["id"]
    assert (second["name"], second["role"]) == ("Robert Builder", "admin")
    assert await count(app, User) == 1
    assert await count(app, AuthSession) == 2
    assert (await audit_log(app))[2] == (
        "user.updated",
        {
            "fields": ["name", "role"],
            "from": {"name": "Bob Builder", "role": "agent"},
            "to": {"name": "Robert Builder", "role": "admin"},
            "source": "oidc",
        },
    )


async def test_no_mapped_group_signs_in_a_customer_who_lands_in_the_portal(
    client: httpx.AsyncClient, canaille: Canaille, browser: ProviderBrowser
) -> None:
    cid = canaille.create_user("Cid Customer")
    canaille.create_group(f"unmapped-{os.urandom(3).hex()}", cid)
    r = await sso(client, browser, cid, next_="/")
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert (await me(client))["role"] == "customer"


@pytest_asyncio.fixture
async def live_http(
    live_server: LiveServer, canaille: Canaille, relying_party: dict[str, Any]
) -> AsyncIterator[httpx.AsyncClient]:
    canaille.set_redirect_uris(relying_party, CALLBACK, f"{live_server.url}/auth/oidc/callback")
    async with httpx.AsyncClient(base_url=live_server.url) as c:
        yield c


async def test_removed_from_the_staff_group_loses_staff_rights_at_next_sign_in(
    live_server: LiveServer,
    live_http: httpx.AsyncClient,
    canaille: Canaille,
    browser: ProviderBrowser,
    groups: dict[str, str],
) -> None:
    eve = canaille.create_user("Eve Agent")
    keeper = canaille.create_user("Kim Keeper")
    canaille.create_group(groups["agent"], eve, keeper)
    assert (await sso(live_http, browser, eve)).status_code == 303
    token = live_http.cookies["helpline_session"]
    assert (await me(live_http))["role"] == "agent"
    ws = await WSClient.open(live_server.ws_url, token)
    await ws.request({"type": "ping"}, lambda f: f["type"] == "pong")

    canaille.set_members(groups["agent"], keeper)  # the provider's admin removes Eve
    assert (await sso(live_http, browser, eve)).status_code == 303
    assert (await me(live_http))["role"] == "customer"
    # Her open console socket reacts as to any role change: closed, to reconnect as a customer.
    assert await asyncio.wait_for(ws.closed, 5) == (4403, "role_changed")
    r = await live_http.get("/api/v1/chats", params={"status": "waiting"})
    assert r.status_code == 200 and r.json()["items"] == []


async def test_a_wrong_state_is_refused_and_creates_nothing(
    app: FastAPI, client: httpx.AsyncClient, canaille: Canaille, browser: ProviderBrowser
) -> None:
    ada = canaille.create_user()
    callback = await at_provider(browser, await start(client), ada)
    state = httpx.URL(callback).params["state"]
    refused(await client.get(callback.replace(state, "forged" + state[6:])), "invalid_state")
    # The right state from another browser (no state cookie) is refused just the same.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=TESTSERVER
    ) as stranger:
        refused(await stranger.get(callback), "invalid_state")
    assert await count(app, User) == 0
    assert await count(app, AuthSession) == 0
    failed = ("login.failed", {"method": "oidc", "reason": "invalid_state"})
    assert await audit_log(app) == [failed, failed]


async def test_a_replayed_code_is_refused(
    app: FastAPI, client: httpx.AsyncClient, canaille: Canaille, browser: ProviderBrowser
) -> None:
    ada = canaille.create_user()
    r = await start(client)
    state_cookie = client.cookies["helpline_oidc"]
    callback = await at_provider(browser, r, ada)
    assert (await client.get(callback)).status_code == 303
    assert await count(app, AuthSession) == 1
    # The same callback again: its state is spent.
    refused(await client.get(callback), "invalid_state")
    # Even with the old state cookie put back, the provider refuses the used code.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=TESTSERVER
    ) as replayer:
        r = await replayer.get(callback, headers={"Cookie": f"helpline_oidc={state_cookie}"})
    refused(r, "provider_refused")
    assert await count(app, AuthSession) == 1


@pytest.mark.parametrize(
    "next_", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"]
)
async def test_a_next_pointing_elsewhere_is_refused_before_the_provider(
    app: FastAPI, client: httpx.AsyncClient, next_: str
) -> None:
    r = await client.get("/auth/oidc/login", params={"next": next_})
    refused(r, "invalid_next")
    state_cookies = [c for c in r.headers.get_list("set-cookie") if "helpline_oidc=" in c]
    assert all('helpline_oidc=""' in c for c in state_cookies)  # only ever cleared
    assert "evil" not in r.text.split("<main", 1)[1].split("</main>")[0]


async def test_the_api_path_of_the_login_starts_the_same_sign_in(
    client: httpx.AsyncClient, canaille: Canaille
) -> None:
    r = await client.get("/api/v1/auth/oidc/login", params={"next": "/"})
    assert r.status_code == 302
    assert r.headers["location"].startswith(canaille.url + "/oauth/authorize")


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _unb64(part: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return loaded


def _escalated(id_token: str) -> str:
    """The provider's signed token with `groups` rewritten to an admin group: signature kept."""
    header, payload, signature = id_token.split(".")
    claims = _unb64(payload)
    claims["groups"] = [g.replace("agents", "admins") for g in claims.get("groups", [])]
    return f"{header}.{_b64(claims)}.{signature}"


def _unsigned(id_token: str) -> str:
    header, payload, _ = id_token.split(".")
    return f"{_b64({**_unb64(header), 'alg': 'none'})}.{payload}."


class AlterIdToken(httpx2.AsyncBaseTransport):
    """Passes Helpline's requests to the provider, and changes the ID token in its token
    answer on the way back (what a man in the middle or a forger would try)."""

    def __init__(self, alter: Callable[[str], str]) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.alter = alter
        self.altered = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        if not request.url.path.endswith("/oauth/token") or response.status_code != 200:
            return response
        body = json.loads(await response.aread())
        body["id_token"] = self.alter(body["id_token"])
        self.altered += 1
        return httpx2.Response(200, json=body)


@pytest.mark.parametrize("alter", [_escalated, _unsigned], ids=["escalated", "alg-none"])
async def test_a_tampered_id_token_is_refused_and_creates_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    canaille: Canaille,
    browser: ProviderBrowser,
    groups: dict[str, str],
    alter: Callable[[str], str],
) -> None:
    mallory = canaille.create_user("Mallory")
    canaille.create_group(groups["agent"], mallory)
    transport = AlterIdToken(alter)
    app.state.oidc = OidcClient(app.state.ctx.settings, transport=transport)
    refused(await sso(client, browser, mallory), "invalid_token")
    assert transport.altered == 1
    assert await count(app, User) == 0
    assert await count(app, AuthSession) == 0


async def test_an_expired_id_token_is_refused(
    app: FastAPI,
    client: httpx.AsyncClient,
    canaille: Canaille,
    browser: ProviderBrowser,
    frozen_clock: FrozenClock,
) -> None:
    ada = canaille.create_user()
    callback = await at_provider(browser, await start(client), ada)
    # canaille's ID tokens live an hour: by our clock this one arrives two hours late.
    frozen_clock.advance(2 * 3600)
    refused(await client.get(callback), "invalid_token")
    assert await count(app, User) == 0


async def test_declining_consent_at_the_provider_is_a_cancelled_sign_in(
    app: FastAPI, client: httpx.AsyncClient, canaille: Canaille, browser: ProviderBrowser
) -> None:
    ada = canaille.create_user()
    callback = await at_provider(browser, await start(client), ada, answer="deny")
    assert "error=access_denied" in callback
    refused(await client.get(callback), "cancelled")
    assert await count(app, User) == 0


async def test_an_existing_account_is_not_taken_over_by_an_unverified_email(
    app: FastAPI, client: httpx.AsyncClient, canaille: Canaille, browser: ProviderBrowser
) -> None:
    # canaille does not say whether an address is verified: no linking by e-mail.
    agent = await make_user(app, "agent", email=f"taken-{os.urandom(3).hex()}@example.org")
    twin = canaille.create_user("Twin", email=agent.email)
    refused(await sso(client, browser, twin), "email_taken", status=409)
    assert await count(app, UserIdentity) == 0
    assert await count(app, User) == 1


async def test_single_sign_on_works_where_password_sign_in_is_off(
    app: FastAPI,
    client: httpx.AsyncClient,
    canaille: Canaille,
    browser: ProviderBrowser,
    groups: dict[str, str],
) -> None:
    app.state.ctx.settings.password_login = "off"
    ada = canaille.create_user()
    canaille.create_group(groups["supervisor"], ada)
    assert (await sso(client, browser, ada)).status_code == 303
    assert (await me(client))["role"] == "supervisor"
    r = await client.post(
        "/api/v1/auth/login",
        json={"email": ada["email"], "password": "anything"},
        headers={"X-CSRF-Token": client.cookies.get("helpline_csrf", "")},
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "password_login_disabled"


async def test_without_a_provider_the_routes_say_so(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    app.state.oidc = None
    refused(await client.get("/auth/oidc/login"), "sso_not_configured", status=404)
    refused(await client.get("/auth/oidc/callback?code=x&state=y"), "sso_not_configured", 404)
