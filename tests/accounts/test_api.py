"""Sign-in, guests, cookies with CSRF, sign-out, users and availability."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from helpline.app import HelplineCSRF
from tests.fixtures.factories import PASSWORD, make_queue, make_user

pytestmark = pytest.mark.asyncio


async def test_login_returns_token_and_sets_httponly_cookie(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    agent = await make_user(app, "agent", email="ana@example.com", name="Ana")
    r = await client.post(
        "/api/v1/auth/login", json={"email": "ANA@example.com", "password": PASSWORD}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"]["id"] == agent.id and body["user"]["role"] == "agent"
    assert "password" not in r.text and "hash" not in r.text
    cookie = r.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookie if c.startswith("helpline_session="))
    assert "HttpOnly" in session_cookie and "SameSite=lax" in session_cookie
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.json()["email"] == "ana@example.com"


async def test_wrong_password_and_unknown_email_look_the_same(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await make_user(app, "agent", email="ana@example.com")
    a = await client.post(
        "/api/v1/auth/login", json={"email": "ana@example.com", "password": "wrong"}
    )
    b = await client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": "wrong"}
    )
    assert a.status_code == b.status_code == 401
    assert a.json() == b.json()


async def test_login_bad_input(client: httpx.AsyncClient) -> None:
    for body in (
        {"email": "not-an-email", "password": "x"},
        {"email": "a@b.co"},
        {"email": "a@b.co", "password": "x", "role": "admin"},
    ):
        assert (await client.post("/api/v1/auth/login", json=body)).status_code == 422


async def test_guest_becomes_a_customer_and_can_start_a_chat(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    q = await make_queue(app, "Support")
    r = await client.post(
        "/api/v1/auth/guest", json={"name": "Gina Guest", "email": "gina@example.com"}
    )
    assert r.status_code == 200
    user = r.json()["user"]
    assert user["role"] == "customer" and user["is_guest"] is True
    # the cookie is set; with it, an unsafe request also needs the CSRF header
    csrf = client.cookies.get("helpline_csrf")
    assert csrf
    r = await client.post("/api/v1/chats", json={"queue_id": q, "message": "hi"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    r = await client.post(
        "/api/v1/chats", json={"queue_id": q, "message": "hi"}, headers={"X-CSRF-Token": "forged"}
    )
    assert r.status_code == 403
    r = await client.post(
        "/api/v1/chats", json={"queue_id": q, "message": "hi"}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 201


async def test_a_response_mints_one_csrf_token_and_it_works(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """starlette-csrf sets its cookie on every message of a response (the body's is thrown
    away), minting a token each time; ours mints one a response (each costs a key derivation
    and a signature), and that one is the cookie that works."""
    minted: list[str] = []
    generate = HelplineCSRF._generate_csrf_token

    def counting(self: HelplineCSRF) -> str:
        minted.append(generate(self))
        return minted[-1]

    monkeypatch.setattr(HelplineCSRF, "_generate_csrf_token", counting)
    q = await make_queue(app, "Support")
    r = await client.post("/api/v1/auth/guest", json={"name": "Gina", "email": "g@example.com"})
    assert r.status_code == 200
    assert minted == [client.cookies.get("helpline_csrf")]
    r = await client.post(
        "/api/v1/chats", json={"queue_id": q, "message": "hi"}, headers={"X-CSRF-Token": minted[0]}
    )
    assert r.status_code == 201
    assert len(minted) == 1  # the request carried the cookie: nothing new minted


async def test_two_guests_with_one_email_are_different_people(client: httpx.AsyncClient) -> None:
    a = (
        await client.post("/api/v1/auth/guest", json={"name": "A", "email": "same@example.com"})
    ).json()
    client.cookies.clear()
    b = (
        await client.post("/api/v1/auth/guest", json={"name": "B", "email": "same@example.com"})
    ).json()
    assert a["user"]["id"] != b["user"]["id"]


async def test_guest_bad_input(client: httpx.AsyncClient) -> None:
    for body in (
        {"name": "", "email": "a@b.co"},
        {"name": "A", "email": "nope"},
        {"name": "A", "email": "a@b.co", "role": "admin"},
    ):
        assert (await client.post("/api/v1/auth/guest", json=body)).status_code == 422


async def test_logout_revokes_the_token(app: FastAPI, client: httpx.AsyncClient) -> None:
    agent = await make_user(app, "agent")
    assert (await client.post("/api/v1/auth/logout", headers=agent.headers)).status_code == 204
    assert (await client.get("/api/v1/me", headers=agent.headers)).status_code == 401


async def test_availability(app: FastAPI, client: httpx.AsyncClient) -> None:
    agent = await make_user(app, "agent")
    r = await client.put("/api/v1/me/status", json={"status": "away"}, headers=agent.headers)
    assert r.status_code == 200 and r.json()["status"] == "away"
    assert (
        await client.put("/api/v1/me/status", json={"status": "sleeping"}, headers=agent.headers)
    ).status_code == 422
    customer = await make_user(app, "customer")
    assert (
        await client.put("/api/v1/me/status", json={"status": "away"}, headers=customer.headers)
    ).status_code == 403


async def test_admin_manages_users(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_user(app, "admin")
    body = {
        "email": "new@example.com",
        "name": "New Agent",
        "role": "agent",
        "password": "long-enough-1",
        "max_chats": 5,
    }
    r = await client.post("/api/v1/users", json=body, headers=admin.headers)
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["max_chats"] == 5 and "password" not in r.text
    assert (await client.post("/api/v1/users", json=body, headers=admin.headers)).status_code == 409
    login = await client.post(
        "/api/v1/auth/login", json={"email": "new@example.com", "password": "long-enough-1"}
    )
    assert login.status_code == 200
    r = await client.patch(
        f"/api/v1/users/{new['id']}",
        json={"role": "supervisor", "max_chats": 2},
        headers=admin.headers,
    )
    assert r.json()["role"] == "supervisor" and r.json()["max_chats"] == 2
    assert (
        await client.patch(
            f"/api/v1/users/{new['id']}", json={"max_chats": -1}, headers=admin.headers
        )
    ).status_code == 422
    assert (
        await client.patch(
            f"/api/v1/users/{new['id']}", json={"role": "god"}, headers=admin.headers
        )
    ).status_code == 422
    r = await client.patch(
        f"/api/v1/users/{new['id']}", json={"active": False}, headers=admin.headers
    )
    assert r.json()["active"] is False
    token = login.json()["token"]
    assert (
        await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 401
    listed = (await client.get("/api/v1/users", headers=admin.headers)).json()["items"]
    assert new["id"] in [u["id"] for u in listed]


async def test_users_endpoints_are_for_admins(app: FastAPI, client: httpx.AsyncClient) -> None:
    agent = await make_user(app, "agent")
    body = {"email": "x@example.com", "name": "X", "role": "admin", "password": "long-enough-1"}
    assert (await client.post("/api/v1/users", json=body, headers=agent.headers)).status_code == 403
    assert (await client.get("/api/v1/users", headers=agent.headers)).status_code == 403
    assert (
        await client.patch(
            f"/api/v1/users/{agent.id}", json={"role": "admin"}, headers=agent.headers
        )
    ).status_code == 403


async def test_admin_finds_customers_guests_included_by_part_of_name_or_email(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_user(app, "admin")
    await make_user(app, "customer", name="Olga Ostrova", email="olga@example.org")
    await make_user(app, "customer", name="Guest 100%", email="g_1@example.org", is_guest=True)
    await make_user(app, "agent", name="Olaf Agent", email="olaf@example.com")

    async def names(**params: object) -> list[str]:
        r = await client.get("/api/v1/users", params=params, headers=admin.headers)
        assert r.status_code == 200, r.text
        return sorted(u["name"] for u in r.json()["items"])

    assert await names(role="customer", q="OSTR") == ["Olga Ostrova"]
    assert await names(q="ol") == ["Olaf Agent", "Olga Ostrova"]
    assert await names(role="customer", q="100%") == []  # guests only when asked for
    assert await names(role="customer", q="100%", guests="true") == ["Guest 100%"]
    assert await names(role="customer", q="g_1", guests="true") == ["Guest 100%"]
    assert await names(role="customer", q="%", guests="true") == ["Guest 100%"]  # "%" is "%"
