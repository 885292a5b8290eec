"""Two-factor sign-in (CONTRACT-2 "Identity", two-factor): setup, sign-in with a code or a
recovery code (each once), turning it off, the login limits, and HELPLINE_REQUIRE_TOTP on HTTP
and on the WebSocket handshake."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pyotp
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select
from websockets.exceptions import InvalidStatus

from helpline.accounts.models import RecoveryCode, User
from helpline.kit import clock as clock_mod
from helpline.kit.clock import FrozenClock
from tests.conftest import LiveServer
from tests.fixtures.factories import PASSWORD, Person, ctx_of, make_user
from tests.fixtures.wsclient import WSClient

pytestmark = pytest.mark.asyncio

LOGIN = "/api/v1/auth/login"
TOTP = "/api/v1/me/totp"


async def login(client: httpx.AsyncClient, person: Person, **extra: Any) -> httpx.Response:
    client.cookies.clear()
    return await client.post(LOGIN, json={"email": person.email, "password": PASSWORD, **extra})


async def turn_on(client: httpx.AsyncClient, person: Person) -> tuple[pyotp.TOTP, list[str]]:
    """Set up two-factor sign-in as a person would: scan, then confirm with the app's code."""
    r = await client.post(TOTP, headers=person.headers)
    assert r.status_code == 200, r.text
    app_ = pyotp.TOTP(r.json()["secret"])
    # The server's clock (a FrozenClock when the test froze it).
    code = app_.at(clock_mod.now())
    r = await client.post(f"{TOTP}/confirm", json={"code": code}, headers=person.headers)
    assert r.status_code == 200, r.text
    return app_, r.json()["recovery_codes"]


def code_at(app_: pyotp.TOTP, clock: FrozenClock) -> str:
    return app_.at(clock.now())


def other_than(code: str) -> str:
    """A well-formed code that is not `code`."""
    return "000000" if code != "000000" else "111111"


async def stored(app: FastAPI, user_id: str) -> User:
    async with ctx_of(app).db.read() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return user


async def test_setup_gives_a_secret_and_an_otpauth_uri_and_ten_recovery_codes(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    agent = await make_user(app, "agent", email="ana@example.com")
    r = await client.post(TOTP, headers=agent.headers)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"secret", "otpauth_uri"}
    assert re.fullmatch(r"[A-Z2-7]{32}", body["secret"])
    parsed = pyotp.parse_uri(body["otpauth_uri"])
    assert parsed.secret == body["secret"]
    assert parsed.name == "ana@example.com" and parsed.issuer == "Helpline"
    # Not on until confirmed: sign-in still takes the password alone.
    assert (await client.get("/api/v1/me", headers=agent.headers)).json()["totp_enabled"] is False
    assert (await login(client, agent)).status_code == 200

    r = await client.post(
        f"{TOTP}/confirm",
        json={"code": pyotp.TOTP(body["secret"]).now()},
        headers=agent.headers,
    )
    assert r.status_code == 200
    codes = r.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert (await client.get("/api/v1/me", headers=agent.headers)).json()["totp_enabled"] is True

    # The secret is stored encrypted and the codes hashed; no answer shows them again.
    user = await stored(app, agent.id)
    assert user.totp_secret is not None and body["secret"] not in user.totp_secret
    async with ctx_of(app).db.read() as session:
        hashes = list(
            (
                await session.execute(
                    select(RecoveryCode.code_hash).where(RecoveryCode.user_id == agent.id)
                )
            ).scalars()
        )
    assert len(hashes) == 10 and not set(hashes) & set(codes)
    me = (await client.get("/api/v1/me", headers=agent.headers)).text
    assert body["secret"] not in me and not any(c in me for c in codes)


async def test_sign_in_needs_a_code_and_a_code_works_once(
    client: httpx.AsyncClient, app: FastAPI, frozen_clock: FrozenClock
) -> None:
    agent = await make_user(app, "agent")
    app_, _ = await turn_on(client, agent)

    missing = await login(client, agent)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "totp_required"
    assert "helpline_session" not in missing.cookies

    wrong_code = other_than(code_at(app_, frozen_clock))
    wrong = await login(client, agent, totp=wrong_code)
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "totp_required"

    # The code confirmed at setup was used then: it cannot sign in within its window.
    replay = await login(client, agent, totp=code_at(app_, frozen_clock))
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "totp_required"

    frozen_clock.advance(30)
    ok = await login(client, agent, totp=code_at(app_, frozen_clock))
    assert ok.status_code == 200, ok.text
    assert ok.json()["user"]["totp_enabled"] is True
    again = await login(client, agent, totp=code_at(app_, frozen_clock))
    assert again.status_code == 401

    # A code from one step back still works (clocks drift), once; two steps back never.
    earlier = app_.at(frozen_clock.now(), counter_offset=-2)
    assert (await login(client, agent, totp=earlier)).status_code == 401
    frozen_clock.advance(30)
    late = app_.at(frozen_clock.now(), counter_offset=-1)
    # That step (the one signed in with above) was used: refused.
    assert (await login(client, agent, totp=late)).status_code == 401
    assert (await login(client, agent, totp=code_at(app_, frozen_clock))).status_code == 200


async def test_a_recovery_code_signs_in_once(client: httpx.AsyncClient, app: FastAPI) -> None:
    agent = await make_user(app, "agent")
    _, codes = await turn_on(client, agent)
    first = await login(client, agent, totp=codes[3])
    assert first.status_code == 200
    # Written as people copy it: spaces, capitals, no dashes.
    reused = await login(client, agent, totp=" " + codes[3].upper().replace("-", " ") + " ")
    assert reused.status_code == 401 and reused.json()["error"]["code"] == "totp_required"
    other = await login(client, agent, totp=codes[4].upper())
    assert other.status_code == 200
    assert (await login(client, agent, totp="not-a-recovery-code")).status_code == 401


async def test_wrong_code_at_confirm_is_refused_and_nothing_changes(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    agent = await make_user(app, "agent")
    not_started = await client.post(
        f"{TOTP}/confirm", json={"code": "123456"}, headers=agent.headers
    )
    assert not_started.status_code == 409
    assert not_started.json()["error"]["code"] == "totp_not_started"

    secret = (await client.post(TOTP, headers=agent.headers)).json()["secret"]
    right = pyotp.TOTP(secret).now()
    for code in (other_than(right), "12345", "abcdef", "1234567"):
        r = await client.post(f"{TOTP}/confirm", json={"code": code}, headers=agent.headers)
        assert r.status_code == 422, code
        assert r.json()["error"]["code"] == "totp_invalid"
    assert (await stored(app, agent.id)).totp_enabled_at is None
    assert (await login(client, agent)).status_code == 200

    for body in ({}, {"code": ""}, {"code": "1" * 65}, {"code": right, "secret": "x"}):
        r = await client.post(f"{TOTP}/confirm", json=body, headers=agent.headers)
        assert r.status_code == 422, body
    assert (await stored(app, agent.id)).totp_enabled_at is None


async def test_setup_again_while_on_is_refused(client: httpx.AsyncClient, app: FastAPI) -> None:
    agent = await make_user(app, "agent")
    await turn_on(client, agent)
    before = (await stored(app, agent.id)).totp_secret
    r = await client.post(TOTP, headers=agent.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "totp_already_enabled"
    assert (await stored(app, agent.id)).totp_secret == before


async def test_turning_off_needs_a_right_code(
    client: httpx.AsyncClient, app: FastAPI, frozen_clock: FrozenClock
) -> None:
    agent = await make_user(app, "agent")
    app_, codes = await turn_on(client, agent)
    frozen_clock.advance(30)
    wrong = other_than(code_at(app_, frozen_clock))
    r = await client.request("DELETE", TOTP, json={"code": wrong}, headers=agent.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "totp_invalid"
    r = await client.request("DELETE", TOTP, json={}, headers=agent.headers)
    assert r.status_code == 422
    assert (await stored(app, agent.id)).totp_enabled_at is not None

    # A recovery code turns it off (the phone is lost); then the password alone signs in.
    r = await client.request("DELETE", TOTP, json={"code": codes[0]}, headers=agent.headers)
    assert r.status_code == 204
    user = await stored(app, agent.id)
    assert user.totp_enabled_at is None and user.totp_secret is None
    assert (await login(client, agent)).status_code == 200
    r = await client.request("DELETE", TOTP, json={"code": codes[1]}, headers=agent.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "totp_not_enabled"

    # Turned on again: the old recovery codes are gone with the old secret.
    await turn_on(client, agent)
    assert (await login(client, agent, totp=codes[1])).status_code == 401


async def test_turning_off_with_the_current_code(
    client: httpx.AsyncClient, app: FastAPI, frozen_clock: FrozenClock
) -> None:
    agent = await make_user(app, "agent")
    app_, _ = await turn_on(client, agent)
    frozen_clock.advance(30)
    r = await client.request(
        "DELETE", TOTP, json={"code": code_at(app_, frozen_clock)}, headers=agent.headers
    )
    assert r.status_code == 204


async def test_qr_code_is_svg_of_the_pending_setup_and_never_cached(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    agent = await make_user(app, "agent")
    r = await client.get(f"{TOTP}/qr.svg", headers=agent.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "totp_not_started"
    await client.post(TOTP, headers=agent.headers)
    r = await client.get(f"{TOTP}/qr.svg", headers=agent.headers)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("image/svg+xml")
    assert r.headers["cache-control"] == "no-store"
    assert r.text.lstrip().startswith("<svg") and "<script" not in r.text
    await turn_on(client, agent)
    r = await client.get(f"{TOTP}/qr.svg", headers=agent.headers)
    assert r.status_code == 409


async def test_signed_out_callers_get_401(client: httpx.AsyncClient) -> None:
    for method, path in (
        ("POST", TOTP),
        ("POST", f"{TOTP}/confirm"),
        ("DELETE", TOTP),
        ("GET", f"{TOTP}/qr.svg"),
    ):
        r = await client.request(method, path, json={"code": "123456"})
        assert r.status_code == 401, path


class TestLimits:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"rate_limits": "on"}

    async def test_wrong_codes_count_as_failed_sign_ins(
        self, client: httpx.AsyncClient, app: FastAPI, frozen_clock: FrozenClock
    ) -> None:
        agent = await make_user(app, "agent")
        app_, _ = await turn_on(client, agent)
        frozen_clock.advance(30)
        right = code_at(app_, frozen_clock)
        wrong = other_than(right)
        statuses = [(await login(client, agent, totp=wrong)).status_code for _ in range(10)]
        assert statuses == [401] * 10
        locked = await login(client, agent, totp=right)
        assert locked.status_code == 429
        # Per account and address: another account at the same address still signs in.
        other = await make_user(app, "agent")
        assert (await login(client, other)).status_code == 200

    async def test_wrong_codes_when_turning_off_count_too(
        self, client: httpx.AsyncClient, app: FastAPI, frozen_clock: FrozenClock
    ) -> None:
        agent = await make_user(app, "agent")
        app_, _ = await turn_on(client, agent)
        frozen_clock.advance(30)
        right = code_at(app_, frozen_clock)
        wrong = other_than(right)
        for _ in range(10):
            r = await client.request("DELETE", TOTP, json={"code": wrong}, headers=agent.headers)
            assert r.status_code == 422
        r = await client.request("DELETE", TOTP, json={"code": right}, headers=agent.headers)
        assert r.status_code == 429
        assert (await stored(app, agent.id)).totp_enabled_at is not None


async def test_require_totp_names_staff_roles_only() -> None:
    from pydantic import ValidationError

    from helpline.config import Settings

    assert Settings(require_totp=" Supervisor, admin ").totp_required_roles == {
        "admin",
        "supervisor",
    }
    for bad in ("customer", "admin,root"):
        with pytest.raises(ValidationError, match="HELPLINE_REQUIRE_TOTP"):
            Settings(require_totp=bad)


class TestRequired:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"require_totp": "admin,supervisor"}

    async def test_required_roles_may_only_set_it_up(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        admin = await make_user(app, "admin")
        agent = await make_user(app, "agent")
        r = await client.get("/api/v1/users", headers=admin.headers)
        assert r.status_code == 403 and r.json()["error"]["code"] == "totp_setup_required"
        r = await client.post("/api/v1/queues", json={"name": "Sneaky"}, headers=admin.headers)
        assert r.status_code == 403 and r.json()["error"]["code"] == "totp_setup_required"
        me = await client.get("/api/v1/me", headers=admin.headers)
        assert me.status_code == 200 and me.json()["totp_setup_required"] is True
        # Other roles are not asked.
        assert (await client.get("/api/v1/chats", headers=agent.headers)).status_code == 200
        me = await client.get("/api/v1/me", headers=agent.headers)
        assert me.json()["totp_setup_required"] is False

        await turn_on(client, admin)
        assert (await client.get("/api/v1/users", headers=admin.headers)).status_code == 200
        me = await client.get("/api/v1/me", headers=admin.headers)
        assert me.json()["totp_setup_required"] is False

    @pytest.mark.parametrize(
        "settings_overrides", [{"require_totp": "admin", "password_login": "customers"}]
    )
    async def test_not_where_the_role_signs_in_only_through_the_provider(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        admin = await make_user(app, "admin")
        assert (await client.get("/api/v1/users", headers=admin.headers)).status_code == 200

    async def test_the_admin_page_sends_them_to_the_console(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        admin = await make_user(app, "admin")
        r = await client.get("/console/admin", headers=admin.headers)
        assert r.status_code == 303 and r.headers["location"] == "/console"
        console = await client.get("/console", headers=admin.headers)
        assert console.status_code == 200 and 'data-testid="totp-dialog"' in console.text
        await turn_on(client, admin)
        assert (await client.get("/console/admin", headers=admin.headers)).status_code == 200

    async def test_signing_out_is_allowed(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        supervisor = await make_user(app, "supervisor")
        r = await client.post("/api/v1/auth/logout", headers=supervisor.headers)
        assert r.status_code == 204


@pytest_asyncio.fixture
async def live_http(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server.url) as c:
        yield c


@pytest.mark.parametrize("settings_overrides", [{"require_totp": "admin,supervisor"}])
async def test_websocket_handshake_is_refused_until_set_up(
    live_server: LiveServer, live_http: httpx.AsyncClient
) -> None:
    supervisor = await make_user(live_server.app, "supervisor")
    with pytest.raises(InvalidStatus) as refused:
        await WSClient.open(live_server.ws_url, supervisor.token)
    assert refused.value.response.status_code == 403
    assert b"totp_setup_required" in refused.value.response.body

    agent = await make_user(live_server.app, "agent")
    ws = await WSClient.open(live_server.ws_url, agent.token)
    await ws.request({"type": "ping"}, lambda f: f["type"] == "pong")
    await ws.conn.close()

    await turn_on(live_http, supervisor)
    ws = await WSClient.open(live_server.ws_url, supervisor.token)
    await ws.request({"type": "ping"}, lambda f: f["type"] == "pong")
    await ws.conn.close()


async def test_audit_log_names_the_change_never_the_secret(
    client: httpx.AsyncClient, app: FastAPI, frozen_clock: FrozenClock
) -> None:
    admin = await make_user(app, "admin")
    agent = await make_user(app, "agent")
    secret = (await client.post(TOTP, headers=agent.headers)).json()["secret"]
    app_ = pyotp.TOTP(secret)
    r = await client.post(
        f"{TOTP}/confirm", json={"code": code_at(app_, frozen_clock)}, headers=agent.headers
    )
    codes = r.json()["recovery_codes"]
    frozen_clock.advance(30)
    wrong = other_than(code_at(app_, frozen_clock))
    assert (await login(client, agent, totp=wrong)).status_code == 401
    assert (await login(client, agent, totp=codes[0])).status_code == 200
    r = await client.request("DELETE", TOTP, json={"code": codes[1]}, headers=agent.headers)
    assert r.status_code == 204

    r = await client.get("/api/v1/audit", params={"actor_id": agent.id}, headers=admin.headers)
    entries = r.json()["items"][::-1]  # oldest first
    summary = [(e["action"], e["details"]) for e in entries]
    on = {"fields": ["totp_enabled"], "from": {"totp_enabled": False}, "to": {"totp_enabled": True}}
    off = {
        "fields": ["totp_enabled"],
        "from": {"totp_enabled": True},
        "to": {"totp_enabled": False},
    }
    assert summary == [
        ("user.updated", on),
        ("login.succeeded", {"method": "password", "second_factor": "recovery_code"}),
        ("user.updated", off),
    ]
    r = await client.get("/api/v1/audit", params={"action": "login.failed"}, headers=admin.headers)
    (failed,) = r.json()["items"]
    assert failed["target"]["id"] == agent.id and failed["details"] == {"reason": "totp"}
    raw = (await client.get("/api/v1/audit.csv", headers=admin.headers)).text
    assert secret not in raw and not any(c in raw for c in codes) and wrong not in raw
