"""Every page renders for every kind of visitor with a clean console, on desktop and phone."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import Browsers, agent_sign_in, sign_in

pytestmark = pytest.mark.e2e

PHONE = {"width": 375, "height": 740}


def test_signed_out_pages_make_no_failing_requests(
    people: Browsers, shot: Callable[[Page, str], None]
) -> None:
    w = people.open_page("visitor")
    page = w.page
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto("/")
    expect(page.get_by_test_id("guest-submit")).to_be_visible()
    expect(page.get_by_test_id("login-submit")).to_be_visible()
    shot(page, "portal-signed-out")
    page.goto("/console")
    expect(page.get_by_test_id("login-submit")).to_be_visible()
    shot(page, "console-signed-out")
    page.goto("/console/admin")
    expect(page.get_by_test_id("login-submit")).to_be_visible()
    assert page.request.get("/favicon.ico").ok
    assert not failed


def test_wrong_password_shows_the_api_error(people: Browsers) -> None:
    w = people.open_page("agent")
    w.allow(r"status of 401 .*/api/v1/auth/login")  # the failed sign-in itself
    page = w.page
    sign_in(page, "/console", "agent1@example.com", "not-the-password")
    expect(page.locator("#login-form [data-role=error]")).not_to_be_empty()
    expect(page.get_by_test_id("availability")).to_have_count(0)


def test_customer_at_console_is_pointed_to_the_portal(people: Browsers) -> None:
    page = people.open_page("customer").page
    sign_in(page, "/", "customer1@example.com")
    expect(page.get_by_test_id("start-chat")).to_be_visible()
    page.goto("/console")
    expect(page.get_by_test_id("customer-page")).to_contain_text("support portal")


def test_agent_at_portal_goes_to_console_and_admin_is_admins_only(people: Browsers) -> None:
    w = people.open_page("agent")
    agent_sign_in(w, "agent1@example.com")
    w.page.goto("/")
    expect(w.page).to_have_url(f"{people.server.url}/console")
    w.page.goto("/console/admin")
    expect(w.page.get_by_test_id("forbidden-page")).to_be_visible()


def test_phone_layouts(people: Browsers, shot: Callable[[Page, str], None]) -> None:
    page = people.open_page("phone", viewport=PHONE, is_mobile=True, has_touch=True).page
    page.goto("/")
    expect(page.get_by_test_id("guest-submit")).to_be_visible()
    shot(page, "phone-portal-signed-out")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"page is {width}px wide on a 375px phone"
