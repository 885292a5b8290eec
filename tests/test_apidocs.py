"""/api/docs: Swagger UI from the package, same-origin only, under a strict CSP."""

from __future__ import annotations

import re

import httpx
import pytest

pytestmark = pytest.mark.asyncio

TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


async def test_docs_page_uses_only_same_origin_assets_under_a_strict_csp(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/api/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    refs = re.findall(r'(?:src|href|data-openapi-url)="([^"]*)"', r.text)
    assert any(ref.endswith("swagger-ui-bundle.js") for ref in refs)
    assert any(ref.endswith(".css") for ref in refs)
    assert "<script>" not in r.text  # no inline script: the CSP allows none
    for ref in refs:
        assert ref.startswith("/") and not ref.startswith("//"), ref

    csp = {
        part.split()[0]: part.split()[1:]
        for part in (p.strip() for p in r.headers["content-security-policy"].split(";"))
        if part
    }
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    for sources in csp.values():
        for source in sources:
            assert source.startswith("'") or source == "data:", f"external source {source}"

    for ref in refs:
        asset = await client.get(ref)
        assert asset.status_code == 200, ref
        if ref.endswith(".json"):
            assert asset.json()["openapi"].startswith("3.")
            continue
        ext = ref[ref.rfind(".") :]
        assert asset.headers["content-type"].split(";")[0] == TYPES[ext], ref
        assert len(asset.content) > 20
