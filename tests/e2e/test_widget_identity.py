"""A visitor the embedding site has signed in (CONTRACT-2 "The widget knows the visitor"): the
same customer in every browser, who finds the chat they started on one device on another, and
their earlier chats; a wrong signature leaves the widget a plain guest one."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

import pytest
from playwright.sync_api import FrameLocator, Page, expect

from tests.e2e.support import Browsers, HelplineServer, api_call, patch_queue, token_for
from tests.e2e.test_widget import Shop, shop  # noqa: F401 - fixture: the embedding site

pytestmark = pytest.mark.e2e

SECRET = "shop-widget-secret-3d9e"


def user_hash(user_id: str, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
def server_env(shop: Shop) -> dict[str, str]:  # noqa: F811
    return {
        "HELPLINE_WIDGET_ORIGINS": f"http://localhost:{shop.port}",
        "HELPLINE_WIDGET_SECRET": SECRET,
    }


def embed_signed_in(shop: Shop, helpline_url: str, user_id: str, signature: str) -> None:  # noqa: F811
    shop.html = (
        "<!doctype html><html lang=en><title>Shop</title><link rel=icon href='data:,'>"
        "<h1>Your account</h1>"
        f"<script src='{helpline_url}/widget.js' data-queue='Technical' async"
        f" data-user-id='{user_id}' data-user-name='Vera Visitor'"
        f" data-user-email='vera@example.org' data-user-hash='{signature}'></script>"
    ).encode()


def open_panel(page: Page, shop_port: int) -> FrameLocator:
    page.goto(f"http://localhost:{shop_port}/")
    page.get_by_test_id("widget-launcher").click()
    return page.frame_locator("iframe[data-helpline-frame]")


def test_verified_visitor_finds_their_chat_on_another_device(
    people: Browsers,
    server: HelplineServer,
    shop: Shop,  # noqa: F811
    shot: Callable[[Page, str], None],
) -> None:
    embed_signed_in(shop, server.url, "cust-1001", user_hash("cust-1001"))
    laptop = people.open_page("laptop").page
    panel = open_panel(laptop, shop.port)
    # No name-and-e-mail form: the site said who this is.
    expect(panel.get_by_test_id("start-message")).to_be_visible()
    expect(panel.get_by_test_id("guest-name")).to_be_hidden()
    panel.get_by_test_id("start-message").fill("My order 1001 has not arrived")
    panel.get_by_test_id("start-chat").click()
    expect(panel.get_by_test_id("chat-status")).to_have_text("Waiting")

    # Another browser (no shared storage or cookies): the same person, the same open chat.
    phone = people.open_page("phone", viewport={"width": 390, "height": 800}).page
    panel2 = open_panel(phone, shop.port)
    expect(panel2.get_by_test_id("chat-status")).to_have_text("Waiting")
    expect(
        panel2.get_by_test_id("message").filter(has_text="My order 1001 has not arrived")
    ).to_be_visible()
    expect(panel2.get_by_test_id("guest-name")).to_be_hidden()
    shot(phone, "widget-verified-visitor-second-device")

    # They end it on the phone; back on the laptop, it is among their earlier chats.
    panel2.get_by_test_id("leave-chat").click()
    expect(panel2.get_by_test_id("chat-ended")).to_be_visible()
    laptop.reload()
    laptop.get_by_test_id("widget-launcher").click()
    panel = laptop.frame_locator("iframe[data-helpline-frame]")
    expect(panel.get_by_test_id("start-message")).to_be_visible()
    row = panel.get_by_test_id("widget-history-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("CS-")
    shot(laptop, "widget-verified-visitor-history")
    row.click()
    expect(panel.get_by_test_id("chat-status")).to_have_text("Cancelled")
    expect(
        panel.get_by_test_id("message").filter(has_text="My order 1001 has not arrived")
    ).to_be_visible()


def test_a_wrong_signature_leaves_a_guest(
    people: Browsers,
    server: HelplineServer,
    shop: Shop,  # noqa: F811
) -> None:
    embed_signed_in(shop, server.url, "cust-1001", user_hash("cust-2002"))
    w = people.open_page("mallory")
    w.allow("the visitor was not verified")
    w.allow("401")  # the refused sign-in, as the browser logs it
    panel = open_panel(w.page, shop.port)
    expect(panel.get_by_test_id("guest-name")).to_be_visible()


def test_a_closed_queue_shows_its_away_text_and_takes_a_message(
    people: Browsers,
    server: HelplineServer,
    shop: Shop,  # noqa: F811
) -> None:
    patch_queue(
        server,
        "Technical",
        hours={"timezone": "UTC", "weekly": {}, "exceptions": []},
        away_text="We are out until Monday. Leave us a note!",
    )
    shop.embed(server.url, "Technical")
    visitor = people.open_page("visitor").page
    panel = open_panel(visitor, shop.port)
    panel.get_by_test_id("guest-name").fill("Olga Offhours")
    panel.get_by_test_id("guest-email").fill("olga@example.org")
    panel.get_by_test_id("guest-submit").click()
    expect(panel.get_by_test_id("away-text")).to_have_text(
        "We are out until Monday. Leave us a note!"
    )
    expect(panel.get_by_test_id("start-chat")).to_be_hidden()
    panel.get_by_test_id("leave-message-closed").click()
    panel.get_by_test_id("leave-message-summary").fill("Invoice question")
    panel.get_by_test_id("leave-message-description").fill("Please send a copy of invoice 7.")
    panel.get_by_test_id("leave-message-submit").click()
    expect(panel.get_by_test_id("leave-message-sent")).to_contain_text("SR-")
    token = token_for(server, "admin@example.com")
    requests = api_call(server, "GET", "/requests", token=token)["items"]
    assert any(r["summary"] == "Invoice question" for r in requests)
