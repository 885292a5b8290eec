"""The webhook endpoints API: validation, the SSRF guard as admins meet it (private addresses
not allowed, the default), roles, the secret shown once, and the audit log."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from tests.fixtures.factories import Person, make_user

pytestmark = pytest.mark.asyncio

PUBLIC = "https://93.184.216.34/hooks/helpline"  # an address literal: no DNS needed
URL = "/api/v1/webhooks/endpoints"


@pytest_asyncio.fixture
async def admin(app: FastAPI) -> Person:
    return await make_user(app, "admin", name="Ada")


async def _create(client: httpx.AsyncClient, admin: Person, **body: Any) -> httpx.Response:
    return await client.post(
        URL, json={"url": PUBLIC, "events": ["chat.started"], **body}, headers=admin.headers
    )


@pytest.mark.parametrize(
    "url",
    [
        "ftp://93.184.216.34/x",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http:///no-host",
        "http://localhost:8080/hook",  # a name that resolves to 127.0.0.1
        "http://LOCALHOST./hook",
        "http://127.0.0.1/hook",
        "http://127.1/hook",
        "http://2130706433/hook",  # 127.0.0.1 as one number
        "http://10.1.2.3/hook",
        "http://172.16.0.1/hook",
        "http://192.168.1.10/hook",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata: link-local
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
        "http://224.0.0.1/hook",  # multicast
        "http://0.0.0.0/hook",
        "http://100.64.0.1/hook",  # shared address space (carrier NAT)
        "http://no-such-host.invalid/hook",
    ],
)
async def test_a_url_that_is_not_http_or_not_public_is_422(
    client: httpx.AsyncClient, admin: Person, url: str
) -> None:
    r = await _create(client, admin, url=url)
    assert r.status_code == 422, (url, r.text)
    error = r.json()["error"]
    assert error["code"] in {"invalid_url", "invalid"}, error
    if error["code"] == "invalid_url":
        assert error["field"] == "url"
    assert (await client.get(URL, headers=admin.headers)).json()["items"] == []


async def test_bad_bodies_are_422_and_create_nothing(
    client: httpx.AsyncClient, admin: Person
) -> None:
    r = await _create(client, admin, events=["chat.started", "chat.exploded"])
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "unknown_event" and r.json()["error"]["field"] == "events"
    assert "chat.exploded" in r.json()["error"]["message"]
    for body in (
        {"events": []},
        {"events": "chat.started"},
        {"secret": "short"},
        {"secret": "has a space in it ....."},
        {"active": "maybe"},
        {"colour": "red"},  # unknown fields are refused
        {"url": "x" * 2001},
    ):
        r = await _create(client, admin, **body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["code"] == "invalid"
    assert (await client.get(URL, headers=admin.headers)).json()["items"] == []


async def test_every_event_type_of_the_contract_is_accepted(
    client: httpx.AsyncClient, admin: Person
) -> None:
    events = [
        "request.created",
        "request.updated",
        "request.commented",
        "chat.started",
        "chat.accepted",
        "chat.transferred",
        "chat.requeued",
        "chat.solved",
        "chat.cancelled",
        "chat.expired",
        "chat.rated",
        "chat.sla_breached",
    ]
    r = await _create(client, admin, events=[*events, "chat.started"])
    assert r.status_code == 201, r.text
    assert r.json()["events"] == events  # each once, in the order given


async def test_the_secret_is_shown_once_and_never_listed_nor_audited(
    client: httpx.AsyncClient, admin: Person
) -> None:
    r = await _create(client, admin, secret="my-own-secret-0123456789")
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["secret"] == "my-own-secret-0123456789"
    assert made["active"] is True and made["url"] == PUBLIC
    generated = (await _create(client, admin)).json()["secret"]
    assert generated.startswith("whsec_") and len(generated) > 40

    url = f"{URL}/{made['id']}"
    r = await client.patch(url, json={"secret": "rotated-secret-0123456789"}, headers=admin.headers)
    assert r.status_code == 200 and "secret" not in r.json()
    listing = await client.get(URL, headers=admin.headers)
    one = await client.get(url, headers=admin.headers)
    audit = await client.get("/api/v1/audit", headers=admin.headers)
    for text in (listing.text, one.text, audit.text):
        for secret in ("my-own-secret-0123456789", "rotated-secret-0123456789", generated):
            assert secret not in text
    actions = [(a["action"], a["details"].get("fields")) for a in audit.json()["items"]]
    assert ("webhook_endpoint.updated", ["secret"]) in actions


async def test_patch_validates_like_create_and_changes_nothing_on_refusal(
    client: httpx.AsyncClient, admin: Person
) -> None:
    made = (await _create(client, admin)).json()
    url = f"{URL}/{made['id']}"
    for body, code in (
        ({"url": "http://localhost/hook"}, "invalid_url"),
        ({"url": "gopher://93.184.216.34/"}, "invalid_url"),
        ({"events": ["chat.started", "nope"]}, "unknown_event"),
        ({"events": []}, "invalid"),
        ({"url": None}, "invalid"),
    ):
        r = await client.patch(url, json=body, headers=admin.headers)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["code"] == code
    assert (await client.get(url, headers=admin.headers)).json() == {
        k: made[k] for k in made if k != "secret"
    }

    r = await client.patch(
        url,
        json={"events": ["chat.solved", "request.created"], "active": False},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["events"] == ["chat.solved", "request.created"] and r.json()["active"] is False

    audit = (await client.get("/api/v1/audit", headers=admin.headers)).json()["items"]
    assert [a["action"] for a in audit] == ["webhook_endpoint.updated", "webhook_endpoint.created"]
    assert audit[0]["details"]["fields"] == ["active", "events"]
    assert audit[0]["target"] == {"type": "webhook_endpoint", "id": made["id"]}

    assert (await client.delete(url, headers=admin.headers)).status_code == 204
    assert (await client.get(url, headers=admin.headers)).status_code == 404
    assert (await client.delete(url, headers=admin.headers)).status_code == 404
    audit = (await client.get("/api/v1/audit", headers=admin.headers)).json()["items"]
    assert audit[0]["action"] == "webhook_endpoint.deleted"


async def test_only_admins_manage_endpoints(
    client: httpx.AsyncClient, app: FastAPI, admin: Person
) -> None:
    made = (await _create(client, admin)).json()
    one = f"{URL}/{made['id']}"
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", URL, None),
        ("POST", URL, {"url": PUBLIC, "events": ["chat.started"]}),
        ("GET", one, None),
        ("PATCH", one, {"active": False}),
        ("DELETE", one, None),
        ("POST", f"{one}/test", None),
        ("GET", f"{one}/deliveries", None),
        ("POST", "/api/v1/webhooks/deliveries/abc/retry", None),
    ]
    for role in ("customer", "agent", "supervisor"):
        who = await make_user(app, role)
        for method, path, body in calls:
            r = await client.request(method, path, json=body, headers=who.headers)
            assert r.status_code == 403, (role, method, path, r.text)
    for method, path, body in calls:
        r = await client.request(method, path, json=body)
        assert r.status_code == 401, (method, path)
    assert (await client.get(one, headers=admin.headers)).json()["active"] is True

    for method, path in (("GET", f"{URL}/nope"), ("POST", f"{URL}/nope/test")):
        r = await client.request(method, path, headers=admin.headers)
        assert r.status_code == 404
    r = await client.post("/api/v1/webhooks/deliveries/nope/retry", headers=admin.headers)
    assert r.status_code == 404
