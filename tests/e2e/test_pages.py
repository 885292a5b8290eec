"""Every page renders for every kind of visitor with a clean console, on desktop and phone."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import (
    Browsers,
    agent_sign_in,
    chat_row,
    guest_sign_in,
    sign_in,
    start_chat,
)

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


def test_sign_in_forms_point_at_the_first_empty_field(people: Browsers) -> None:
    page = people.open_page("visitor").page
    page.goto("/")
    login, guest = page.locator("#login-form"), page.locator("#guest-form")
    page.get_by_test_id("login-submit").click()
    expect(login.locator("[data-role=error]")).to_have_text("Enter your e-mail and password.")
    expect(page.get_by_test_id("login-email")).to_be_focused()
    page.get_by_test_id("login-email").fill("customer1@example.com")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-password")).to_be_focused()
    page.get_by_test_id("guest-name").fill("   ")
    page.get_by_test_id("guest-submit").click()
    expect(guest.locator("[data-role=error]")).to_have_text("Enter your name and e-mail.")
    expect(page.get_by_test_id("guest-name")).to_be_focused()
    page.get_by_test_id("guest-name").fill("Eva")
    page.get_by_test_id("guest-submit").click()
    expect(page.get_by_test_id("guest-email")).to_be_focused()
    page.get_by_test_id("guest-email").fill("eva@example.com")
    page.get_by_test_id("guest-submit").click()
    expect(page.get_by_test_id("start-chat")).to_be_visible()


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


def test_availability_switch_is_kept_and_away_agents_are_not_alerted(people: Browsers) -> None:
    w = people.open_page("agent")
    page = agent_sign_in(w, "agent3@example.com")
    page.get_by_test_id("availability").select_option("away")
    expect(page.get_by_text("You are now away")).to_be_visible()
    page.reload()
    expect(page.get_by_test_id("availability")).to_have_value("away")
    customer = people.open_page("customer").page
    sign_in(customer, "/", "customer2@example.com")
    customer.get_by_test_id("start-queue").select_option(label="Technical")
    customer.get_by_test_id("start-message").fill("Anyone there?")
    customer.get_by_test_id("start-chat").click()
    expect(customer.get_by_test_id("chat-status")).to_have_text("Waiting")
    expect(page.get_by_test_id("new-chat-notification")).to_have_count(0)
    page.get_by_test_id("availability").select_option("available")
    expect(page.get_by_text("You are now available")).to_be_visible()


def test_widget_on_another_site_opens_the_portal_with_its_queue(people: Browsers) -> None:
    shop_html = (
        "<!doctype html><title>Shop</title><link rel=icon href='data:,'><h1>Shop</h1>"
        f"<script src='{people.server.url}/widget.js' data-queue='Technical' async></script>"
    ).encode()

    class Shop(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(shop_html)

        def log_message(self, *args: object) -> None:
            pass

    shop = ThreadingHTTPServer(("127.0.0.1", 0), Shop)
    threading.Thread(target=shop.serve_forever, daemon=True).start()
    try:
        page = people.open_page("visitor").page
        page.goto(f"http://127.0.0.1:{shop.server_address[1]}/")
        button = page.locator("[data-helpline-widget]").get_by_role("button")
        expect(button).to_contain_text("Chat with us")
        with page.context.expect_page() as popup_info:
            button.click()
        popup = people.watch(popup_info.value, "widget window").page
        popup.wait_for_load_state()
        assert popup.url.startswith(f"{people.server.url}/?queue=Technical")
        popup.get_by_test_id("guest-name").fill("Wanda Widget")
        popup.get_by_test_id("guest-email").fill("wanda@example.org")
        popup.get_by_test_id("guest-submit").click()
        selected = popup.get_by_test_id("start-queue").locator("option:checked")
        expect(selected).to_have_text("Technical")
    finally:
        shop.shutdown()
        shop.server_close()


def test_no_transcript_email_button_without_mail(people: Browsers) -> None:
    """Without SMTP the portal does not offer to e-mail the transcript (it would fail)."""
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    customer = guest_sign_in(people.open_page("customer"), "Pia Guest", "pia@example.org")
    chat_id = start_chat(customer, "General support", "Hello")
    chat_row(ana, chat_id).click()
    ana.get_by_test_id("accept-chat").click()
    ana.get_by_test_id("mark-solved").click()
    expect(customer.get_by_test_id("chat-status")).to_have_text("Solved")
    expect(customer.get_by_test_id("download-transcript")).to_be_visible()
    expect(customer.get_by_test_id("email-transcript")).to_be_hidden()
