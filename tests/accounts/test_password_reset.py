"""Password reset by e-mail (CONTRACT-2 "Identity", password reset): the same answer for every
address, a mail through the outbox to a real SMTP server (aiosmtpd) with a single-use link
valid one hour, and what using it does (sessions end, sockets close with 4401)."""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select

from helpline.accounts.models import PasswordReset
from helpline.kit.clock import FrozenClock
from helpline.notify.outbox import Outbox
from tests.conftest import LiveServer
from tests.fixtures.factories import PASSWORD, Person, ctx_of, make_user
from tests.fixtures.wsclient import WSClient
from tests.notify.support import (  # noqa: F401 - fixtures
    SmtpServer,
    body_of,
    outbox,
    outbox_rows,
    smtp_server,
)

pytestmark = pytest.mark.asyncio

RESET = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"
NEW_PASSWORD = "a-brand-new-passphrase"


@pytest.fixture
def settings_overrides(smtp_server: SmtpServer) -> dict[str, Any]:  # noqa: F811
    return {"smtp_url": smtp_server.url}


async def ask(client: httpx.AsyncClient, app: FastAPI, email: str) -> httpx.Response:
    """Ask for a reset, and wait for the work the answer did not wait for."""
    r = await client.post(RESET, json={"email": email})
    await ctx_of(app).background.settle()
    return r


def token_in(mail_body: str) -> str:
    found = re.search(r"http://testserver/reset-password\?token=([A-Za-z0-9_-]+)", mail_body)
    assert found, mail_body
    return found.group(1)


async def mailed_token(
    client: httpx.AsyncClient, app: FastAPI, box: Outbox, smtp: SmtpServer, who: Person
) -> str:
    r = await ask(client, app, who.email)
    assert r.status_code == 202
    await box.drain()
    return token_in(body_of(smtp.to(who.email)[-1]))


@dataclass
class Mailed:
    agent: Person
    token: str  # from the link in the mail the agent received


@pytest_asyncio.fixture
async def mailed(
    client: httpx.AsyncClient,
    app: FastAPI,
    outbox: Outbox,  # noqa: F811
    smtp_server: SmtpServer,  # noqa: F811
) -> Mailed:
    """An agent who asked for a reset, and the token of the link they were mailed."""
    agent = await make_user(app, "agent")
    return Mailed(agent, await mailed_token(client, app, outbox, smtp_server, agent))


async def login(client: httpx.AsyncClient, email: str, password: str) -> int:
    client.cookies.clear()
    return (
        await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    ).status_code


async def test_the_mailed_link_sets_a_new_password_once(
    client: httpx.AsyncClient,
    app: FastAPI,
    outbox: Outbox,  # noqa: F811
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    agent = await make_user(app, "agent", name="Ana Agent")
    r = await ask(client, app, agent.email.upper())  # addresses match whatever their case
    assert r.status_code == 202 and r.json() == {"status": "accepted"}
    await outbox.drain()
    (mail,) = smtp_server.to(agent.email)
    assert mail["Subject"] == "Reset your Helpline password"
    body = body_of(mail)
    assert "Hello Ana Agent" in body and "60 minutes" in body
    token = token_in(body)
    # Only a hash of the token is stored.
    async with ctx_of(app).db.read() as session:
        stored = list((await session.execute(select(PasswordReset.token_hash))).scalars())
    assert len(stored) == 1 and token not in stored[0]

    r = await client.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD})
    assert r.status_code == 204
    assert await login(client, agent.email, PASSWORD) == 401
    assert await login(client, agent.email, NEW_PASSWORD) == 200
    # Every session of theirs ended.
    assert (await client.get("/api/v1/me", headers=agent.headers)).status_code == 401

    again = await client.post(CONFIRM, json={"token": token, "password": "yet-another-one"})
    assert again.status_code == 422
    assert again.json()["error"]["code"] == "reset_token_invalid"
    assert await login(client, agent.email, NEW_PASSWORD) == 200


async def test_unknown_guest_and_inactive_addresses_get_the_same_answer_and_no_mail(
    client: httpx.AsyncClient,
    app: FastAPI,
    outbox: Outbox,  # noqa: F811
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    agent = await make_user(app, "agent")
    guest = await make_user(app, "customer", is_guest=True)
    gone = await make_user(app, "agent")
    admin = await make_user(app, "admin")
    await client.patch(f"/api/v1/users/{gone.id}", json={"active": False}, headers=admin.headers)
    answers = [
        await ask(client, app, email)
        for email in (agent.email, "nobody@example.com", guest.email, gone.email)
    ]
    assert {(r.status_code, r.content) for r in answers} == {(202, b'{"status":"accepted"}')}
    # Headers alike too, but for the request id and the CSRF cookie (set on a first visit).
    alike = [
        {k: v for k, v in r.headers.items() if k not in {"x-request-id", "set-cookie"}}
        for r in answers
    ]
    assert alike[1:] == alike[:1] * 3
    await outbox.drain()
    assert [m["To"].addresses[0].addr_spec for m in smtp_server.messages] == [agent.email]
    async with ctx_of(app).db.read() as session:
        assert len(list((await session.execute(select(PasswordReset))).scalars())) == 1


async def test_an_expired_link_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    frozen_clock: FrozenClock,
    mailed: Mailed,
) -> None:
    agent = mailed.agent
    token = mailed.token
    frozen_clock.advance(3600)
    r = await client.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD})
    assert r.status_code == 422 and r.json()["error"]["code"] == "reset_token_invalid"
    assert await login(client, agent.email, PASSWORD) == 200
    assert (await client.get("/api/v1/me", headers=agent.headers)).status_code == 200


async def test_bad_input_changes_nothing_and_the_link_still_works(
    client: httpx.AsyncClient,
    app: FastAPI,
    mailed: Mailed,
) -> None:
    agent = mailed.agent
    token = mailed.token
    for body in (
        {"token": token, "password": "short"},  # the rules of every password: 8 or more
        {"token": token},
        {"token": token, "password": NEW_PASSWORD, "email": agent.email},
        {"token": "", "password": NEW_PASSWORD},
    ):
        r = await client.post(CONFIRM, json=body)
        assert r.status_code == 422, body
        assert r.json()["error"]["code"] == "invalid"
    r = await client.post(CONFIRM, json={"token": "made-up", "password": NEW_PASSWORD})
    assert r.status_code == 422 and r.json()["error"]["code"] == "reset_token_invalid"
    for body in ({}, {"email": "not-an-address"}, {"email": agent.email, "x": 1}):
        assert (await client.post(RESET, json=body)).status_code == 422
    assert await login(client, agent.email, PASSWORD) == 200
    r = await client.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD})
    assert r.status_code == 204


async def test_a_newer_password_voids_the_other_links(
    client: httpx.AsyncClient,
    app: FastAPI,
    outbox: Outbox,  # noqa: F811
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    agent = await make_user(app, "agent")
    first = await mailed_token(client, app, outbox, smtp_server, agent)
    second = await mailed_token(client, app, outbox, smtp_server, agent)
    assert first != second
    assert (
        await client.post(CONFIRM, json={"token": second, "password": NEW_PASSWORD})
    ).status_code == 204
    r = await client.post(CONFIRM, json={"token": first, "password": "an-older-link-123"})
    assert r.status_code == 422
    assert await login(client, agent.email, NEW_PASSWORD) == 200


class TestLimits:
    @pytest.fixture
    def settings_overrides(self, smtp_server: SmtpServer) -> dict[str, Any]:  # noqa: F811
        return {
            "smtp_url": smtp_server.url,
            "rate_limits": "on",
            "rate_limit_password_reset": "3/hour",
            "rate_limit_password_reset_address": "5/hour",
        }

    async def test_requests_are_limited_per_address_and_per_e_mail(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        outbox: Outbox,  # noqa: F811
        smtp_server: SmtpServer,  # noqa: F811
    ) -> None:
        agent = await make_user(app, "agent")
        statuses = [(await ask(client, app, agent.email)).status_code for _ in range(4)]
        assert statuses == [202, 202, 202, 429]
        # The same for an address that has no account: the limit tells nothing either.
        statuses = [(await ask(client, app, "nobody@example.com")).status_code for _ in range(2)]
        assert statuses == [202, 429]  # the 5th and 6th from this client address
        await outbox.drain()
        assert len(smtp_server.to(agent.email)) == 3


@pytest_asyncio.fixture
async def live_http(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server.url) as c:
        yield c


async def test_using_the_link_closes_the_users_sockets_with_4401(
    live_server: LiveServer,
    live_http: httpx.AsyncClient,
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    app = live_server.app
    agent = await make_user(app, "agent")
    ws = await WSClient.open(live_server.ws_url, agent.token)
    await ws.request({"type": "ping"}, lambda f: f["type"] == "pong")
    assert (await live_http.post(RESET, json={"email": agent.email})).status_code == 202
    await ctx_of(app).background.settle()
    # The live server's own outbox worker sends it: wait for it to arrive (bounded).
    for _ in range(100):
        if smtp_server.to(agent.email):
            break
        await asyncio.sleep(0.05)
    token = re.search(r"token=([A-Za-z0-9_-]+)", body_of(smtp_server.to(agent.email)[0]))
    assert token
    r = await live_http.post(CONFIRM, json={"token": token.group(1), "password": NEW_PASSWORD})
    assert r.status_code == 204
    code, _ = await asyncio.wait_for(ws.closed, 5)
    assert code == 4401


async def test_known_and_unknown_addresses_take_the_same_time(
    live_server: LiveServer,
    live_http: httpx.AsyncClient,
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    """Timed over real HTTP, alternating; each request's background work is waited for
    outside the timed span. Medians are compared with a margin far above their noise, yet far
    below the work the known address sets off (a write and a mail row)."""
    app = live_server.app
    await app.state.outbox.stop()  # no mail going out in the middle of a timed request
    agent = await make_user(app, "agent")
    known: list[float] = []
    unknown: list[float] = []
    for i in range(20):
        pair = [(agent.email, known), (f"nobody{i}@example.com", unknown)]
        for email, times in pair if i % 2 else pair[::-1]:
            started = time.perf_counter()
            r = await live_http.post(RESET, json={"email": email})
            times.append(time.perf_counter() - started)
            assert r.status_code == 202
            await ctx_of(app).background.settle()
    k, u = statistics.median(known) * 1000, statistics.median(unknown) * 1000
    print(f"password reset answer, median of 20: known {k:.2f} ms, unknown {u:.2f} ms")
    assert abs(k - u) < 25
    rows = await outbox_rows(app, "email")
    assert len(rows) == 20


class TestPasswordLoginForCustomersOnly:
    @pytest.fixture
    def settings_overrides(self, smtp_server: SmtpServer) -> dict[str, Any]:  # noqa: F811
        return {"smtp_url": smtp_server.url, "password_login": "customers"}

    async def test_no_mail_where_password_sign_in_is_off_for_that_user(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        outbox: Outbox,  # noqa: F811
        smtp_server: SmtpServer,  # noqa: F811
    ) -> None:
        agent = await make_user(app, "agent")
        customer = await make_user(app, "customer")
        for who in (agent, customer):
            assert (await ask(client, app, who.email)).status_code == 202
        await outbox.drain()
        sent_to = [m["To"].addresses[0].addr_spec for m in smtp_server.messages]
        assert sent_to == [customer.email]


async def test_the_reset_is_in_the_audit_log_without_the_password(
    client: httpx.AsyncClient,
    app: FastAPI,
    mailed: Mailed,
) -> None:
    admin = await make_user(app, "admin")
    agent = mailed.agent
    token = mailed.token
    r = await client.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD})
    assert r.status_code == 204
    r = await client.get("/api/v1/audit", params={"actor_id": agent.id}, headers=admin.headers)
    (entry,) = r.json()["items"]
    assert entry["action"] == "user.updated" and entry["target"]["id"] == agent.id
    assert entry["details"] == {"fields": ["password"], "via": "password_reset"}
    raw = (await client.get("/api/v1/audit.csv", headers=admin.headers)).text
    assert NEW_PASSWORD not in raw and token not in raw


async def test_admins_list_the_mail_without_its_link(
    client: httpx.AsyncClient,
    app: FastAPI,
    mailed: Mailed,
) -> None:
    admin = await make_user(app, "admin")
    agent = mailed.agent
    token = mailed.token
    r = await client.get("/api/v1/webhooks/deliveries", headers=admin.headers)
    (item,) = [i for i in r.json()["items"] if i["type"] == "password.reset"]
    assert item["status"] == "delivered" and item["payload"]["to"] == agent.email
    assert token not in r.text and "not shown" in item["payload"]["body"]


async def test_api_tokens_stay_after_a_reset(
    client: httpx.AsyncClient,
    app: FastAPI,
    mailed: Mailed,
) -> None:
    agent = mailed.agent
    r = await client.post(
        "/api/v1/me/tokens",
        json={"name": "integration", "scopes": ["chats:read"]},
        headers=agent.headers,
    )
    assert r.status_code == 201
    api_token = {"Authorization": f"Bearer {r.json()['token']}"}
    reset = mailed.token
    assert (
        await client.post(CONFIRM, json={"token": reset, "password": NEW_PASSWORD})
    ).status_code == 204
    assert (await client.get("/api/v1/me", headers=agent.headers)).status_code == 401
    # The API token still works and is still listed in a new session.
    assert (await client.get("/api/v1/chats", headers=api_token)).status_code == 200
    client.cookies.clear()
    signed_in = await client.post(
        "/api/v1/auth/login", json={"email": agent.email, "password": NEW_PASSWORD}
    )
    session = {"Authorization": f"Bearer {signed_in.json()['token']}"}
    listed = (await client.get("/api/v1/me/tokens", headers=session)).json()["items"]
    assert [t["name"] for t in listed] == ["integration"]
