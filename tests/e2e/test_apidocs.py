"""/api/docs renders the API's operations in a real browser, from same-origin files only,
without a CSP violation (any would be a console error, which fails the test)."""

from __future__ import annotations

from playwright.sync_api import Request, expect

from tests.e2e.support import Browsers


def test_api_docs_render_the_operations_offline(people: Browsers) -> None:
    w = people.open_page("reader")
    requested: list[str] = []

    def record(request: Request) -> None:
        requested.append(request.url)

    w.page.on("request", record)
    w.page.goto("/api/docs")
    login = w.page.locator(".opblock", has_text="/api/v1/auth/login").first
    expect(login).to_be_visible()
    expect(w.page.locator(".opblock").nth(20)).to_be_attached()  # the whole API, not a stub
    origin = people.server.url
    foreign = [u for u in requested if not (u.startswith(origin + "/") or u.startswith("data:"))]
    assert requested and foreign == []
