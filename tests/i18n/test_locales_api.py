"""GET /locales, PATCH /me {locale}, and pages rendered in the negotiated locale."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from helpline.kit import i18n
from tests.fixtures.factories import make_user

pytestmark = pytest.mark.asyncio


def html_lang(page: str) -> tuple[str, str]:
    found = re.search(r'<html lang="([^"]+)" dir="([^"]+)">', page)
    assert found, page[:300]
    return found.group(1), found.group(2)


async def test_locales_lists_every_language_without_sign_in(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/locales")
    assert r.status_code == 200, r.text
    body = r.json()
    assert [item["code"] for item in body["items"]] == ["en", "de", "es", "fr", "ar"]
    assert {item["code"]: item["dir"] for item in body["items"]}["ar"] == "rtl"
    assert body["default"] == "en"
    assert i18n.PSEUDO not in {item["code"] for item in body["items"]}


async def test_a_user_sets_a_locale_and_bad_ones_are_422(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ana = await make_user(app, "agent", name="Ana")
    r = await client.patch("/api/v1/me", json={"locale": "de"}, headers=ana.headers)
    assert r.status_code == 200, r.text
    assert r.json()["locale"] == "de"
    for bad in ("xx", "DE", "de-DE", i18n.PSEUDO, ""):
        r = await client.patch("/api/v1/me", json={"locale": bad}, headers=ana.headers)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["error"]["code"] == "invalid"
    r = await client.patch("/api/v1/me", json={"locale": 5}, headers=ana.headers)
    assert r.status_code == 422
    r = await client.patch("/api/v1/me", json={"locale": "es", "name": "x"}, headers=ana.headers)
    assert r.status_code == 422  # unknown fields are refused, and nothing changes
    r = await client.get("/api/v1/me", headers=ana.headers)
    assert r.json()["locale"] == "de"
    r = await client.patch("/api/v1/me", json={"locale": None}, headers=ana.headers)
    assert r.status_code == 200 and r.json()["locale"] is None
    r = await client.patch("/api/v1/me", json={"locale": "es"})
    assert r.status_code == 401


async def test_pages_follow_the_contracts_order(app: FastAPI, client: httpx.AsyncClient) -> None:
    ana = await make_user(app, "agent", name="Ana")
    r = await client.patch("/api/v1/me", json={"locale": "fr"}, headers=ana.headers)
    assert r.status_code == 200, r.text
    german = {"Accept-Language": "de-CH,de;q=0.9,en;q=0.5"}

    async def lang(path: str, headers: dict[str, Any], cookie: str | None = None) -> str:
        extra = {"Cookie": f"{i18n.COOKIE}={cookie}"} if cookie else {}
        client.cookies.clear()
        r = await client.get(path, headers={**headers, **extra})
        assert r.status_code == 200, r.text
        found, _ = html_lang(r.text)
        assert r.headers["content-language"] == found
        return found

    assert await lang("/", {}) == "en"
    assert await lang("/", german) == "de"
    assert await lang("/?lang=es", german) == "es"
    assert await lang("/?lang=nope", german) == "de"
    assert await lang("/", german, cookie="ar") == "ar"
    assert await lang("/?lang=es", german, cookie="ar") == "es"
    # Signed in: the user's locale comes after the cookie, before the browser's.
    assert await lang("/console", {**german, **ana.headers}) == "fr"
    assert await lang("/console", {**german, **ana.headers}, cookie="es") == "es"
    assert await lang("/console", {"Accept-Language": ";;q=x,,", **ana.headers}) == "fr"
    assert (
        await lang("/console", {"Accept-Language": "\xff;q=1e9,de;q=-1".encode("latin-1")}) == "en"
    )


async def test_arabic_pages_are_right_to_left(client: httpx.AsyncClient) -> None:
    r = await client.get("/?lang=ar")
    assert html_lang(r.text) == ("ar", "rtl")
    r = await client.get("/?lang=de")
    assert html_lang(r.text) == ("de", "ltr")


class TestConfiguredDefault:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {"default_locale": "es"}

    async def test_the_configured_default_applies_last(self, client: httpx.AsyncClient) -> None:
        assert html_lang((await client.get("/")).text)[0] == "es"
        r = await client.get("/", headers={"Accept-Language": "de"})
        assert html_lang(r.text)[0] == "de"
        assert (await client.get("/api/v1/locales")).json()["default"] == "es"
