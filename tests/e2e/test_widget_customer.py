"""The customer's side in the web-site widget (a cross-site iframe on another origin): "Seen"
both ways, the hidden-tab alert (the host page's title, the panel's sound and its mute switch,
and the host site's own desktop notification where the site opted in, since browsers refuse
notifications to a cross-site frame), and several files dropped on the panel's conversation,
each sent with its progress."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import FrameLocator, Page, expect

from tests.e2e.support import Browsers, HelplineServer, agent_sign_in, chat_row, message, send
from tests.e2e.test_images import DROP_MANY, _args, png_bytes
from tests.e2e.test_receipts import HIDE, SHOW
from tests.e2e.test_widget import Shop, frame_state, open_and_start, widget_frame
from tests.e2e.test_widget import server as server
from tests.e2e.test_widget import shop as shop

pytestmark = pytest.mark.e2e

Shot = Callable[[Page, str], None]

# In the host page only: every desktop notification it shows, recorded instead of shown.
RECORD_NOTIFICATIONS = """
if (window === window.top) {
  window.__notified = [];
  const Real = window.Notification;
  window.Notification = class {
    static get permission() { return Real.permission; }
    static requestPermission() { return Real.requestPermission(); }
    constructor(title, options) { window.__notified.push({ title, tag: options?.tag || null }); }
    close() {}
  };
}
"""


def embed(shop: Shop, helpline_url: str, extra: str = "") -> None:
    shop.html = (
        "<!doctype html><html lang=en><title>Shop</title><link rel=icon href='data:,'>"
        "<h1>Our shop</h1>"
        f"<script src='{helpline_url}/widget.js' data-queue='Technical' {extra} async></script>"
    ).encode()


def accept(ana: Page, chat_id: str, panel: FrameLocator) -> None:
    chat_row(ana, chat_id).click()
    ana.get_by_test_id("accept-chat").click()
    expect(panel.get_by_test_id("chat-status")).to_have_text("In Progress")


def test_widget_seen_both_ways_and_the_hidden_tab_alert(
    people: Browsers, server: HelplineServer, shop: Shop, shot: Shot
) -> None:
    embed(shop, server.url, "data-notifications='on'")
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    watched = people.open_page("visitor")
    visitor = watched.page
    # The visitor allowed the shop's own notifications (never the panel's origin).
    host = f"http://localhost:{shop.port}"
    visitor.context.grant_permissions(["notifications"], origin=host)
    visitor.context.add_init_script(RECORD_NOTIFICATIONS)
    visitor.goto(f"{host}/")

    # The panel is a cross-site frame: it never offers desktop notifications itself.
    visitor.get_by_test_id("widget-launcher").click()
    panel = visitor.frame_locator("iframe[data-helpline-frame]")
    panel.get_by_test_id("guest-name").fill("Wim Widget")
    panel.get_by_test_id("guest-email").fill("wim@example.org")
    panel.get_by_test_id("guest-submit").click()
    expect(panel.get_by_test_id("start-message")).to_be_visible()
    expect(panel.get_by_test_id("start-notify")).to_be_hidden()
    panel.get_by_test_id("start-message").fill("Where is my parcel?")
    panel.get_by_test_id("start-chat").click()
    expect(panel.get_by_test_id("chat-status")).to_have_text("Waiting")
    chat_id = frame_state(visitor)["chat"]
    accept(ana, chat_id, panel)

    # Ana has the chat open: "Seen" under the visitor's message in the panel.
    mine = panel.get_by_test_id("message").filter(has_text="Where is my parcel?")
    expect(mine.get_by_test_id("seen")).to_be_visible()
    expect(panel.get_by_test_id("seen")).to_have_count(1)

    # The panel closed on the host page: Ana's reply arrives but is not seen until it opens.
    launcher = visitor.get_by_test_id("widget-launcher")
    panel.get_by_test_id("widget-close").click()
    expect(visitor.locator("iframe[data-helpline-frame]")).to_be_hidden()
    send(ana, "It left the warehouse today")
    expect(panel.get_by_test_id("message").filter(has_text="left the warehouse")).to_have_count(1)
    expect(message(ana, "left the warehouse").get_by_test_id("seen")).to_have_count(0)
    launcher.click()
    expect(message(ana, "left the warehouse").get_by_test_id("seen")).to_be_visible()
    expect(ana.get_by_test_id("seen")).to_have_count(1)
    shot(visitor, "widget-read-receipt")

    # The visitor's tab is hidden: the host page's title counts Ana's replies, the panel beeps
    # and the shop shows its own notification with the alert's title (not the message).
    frame = widget_frame(visitor)
    title = visitor.title()
    assert title == "Shop"
    frame.evaluate(HIDE)
    send(ana, "Tracking number follows")
    expect(visitor).to_have_title("(1) Shop")
    expect(panel.locator("body")).to_have_attribute("data-unseen", "1")
    expect(panel.locator("body")).to_have_attribute("data-beeps", "1")
    expect(message(ana, "Tracking number follows").get_by_test_id("seen")).to_have_count(0)
    notified = visitor.evaluate("window.__notified")
    assert notified == [{"title": "New message from Ana Agent", "tag": "helpline-widget"}]
    send(ana, "It is 00340434")
    expect(visitor).to_have_title("(2) Shop")
    frame.evaluate(SHOW)
    expect(visitor).to_have_title(title)
    expect(panel.locator("body")).to_have_attribute("data-unseen", "0")
    expect(message(ana, "It is 00340434").get_by_test_id("seen")).to_be_visible()

    # Muted with the panel's switch: the title still counts, no sound.
    toggle = panel.get_by_test_id("sound-toggle")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(toggle).to_contain_text("Sound off")
    shot(visitor, "widget-sound-off")
    frame.evaluate(HIDE)
    send(ana, "Anything else?")
    expect(visitor).to_have_title("(1) Shop")
    expect(panel.locator("body")).to_have_attribute("data-unseen", "1")
    assert panel.locator("body").get_attribute("data-beeps") == "2"
    assert len(visitor.evaluate("window.__notified")) == 3
    frame.evaluate(SHOW)
    expect(visitor).to_have_title(title)


def test_widget_without_the_sites_opt_in_shows_no_notification(
    people: Browsers, server: HelplineServer, shop: Shop
) -> None:
    """The same allowed site without data-notifications: the title counts, nothing pops up."""
    embed(shop, server.url)
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    visitor = people.open_page("visitor").page
    host = f"http://localhost:{shop.port}"
    visitor.context.grant_permissions(["notifications"], origin=host)
    visitor.context.add_init_script(RECORD_NOTIFICATIONS)
    visitor.goto(f"{host}/")
    panel = open_and_start(visitor, "Nora Quiet", "nora@example.org", "Do you ship abroad?")
    accept(ana, frame_state(visitor)["chat"], panel)
    widget_frame(visitor).evaluate(HIDE)
    send(ana, "Yes, to most countries")
    expect(visitor).to_have_title("(1) Shop")
    assert visitor.evaluate("window.__notified") == []


def test_several_files_dropped_on_the_widget_each_with_progress(
    people: Browsers, server: HelplineServer, shop: Shop, shot: Shot
) -> None:
    embed(shop, server.url)
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    watched = people.open_page("visitor")
    watched.allow(r"status of 422 .*/files")  # the empty file, refused on purpose
    visitor = watched.page
    visitor.goto(f"http://localhost:{shop.port}/")
    panel = open_and_start(visitor, "Dora Drop", "dora@example.org", "Three files for you")
    accept(ana, frame_state(visitor)["chat"], panel)

    frame = widget_frame(visitor)
    result = frame.evaluate(
        DROP_MANY,
        [
            "[data-testid='message-list']",
            [
                _args(png_bytes(), "screen.png", "image/png"),
                _args(b"order 1234\n" * 40, "order.txt", "text/plain"),
                _args(b"", "empty.log", "text/plain"),
            ],
        ],
    )
    assert result == {"shown": True, "after": False}
    # One dialog, each file with its name and size.
    expect(panel.locator("#upload-title")).to_have_text("Send these 3 files?")
    expect(panel.get_by_test_id("upload-file-name")).to_have_text(
        ["screen.png", "order.txt", "empty.log"]
    )
    expect(panel.get_by_test_id("upload-file-size")).to_have_count(3)
    expect(panel.get_by_test_id("confirm-upload")).to_have_text("Send 3 files")
    shot(visitor, "widget-drop-several")
    panel.get_by_test_id("confirm-upload").click()

    # Each goes on its own; the empty one is refused, says why, and the others arrive.
    expect(ana.get_by_test_id("file-link")).to_have_text(["screen.png", "order.txt"])
    expect(ana.get_by_test_id("file-thumbnail")).to_have_count(1)
    expect(panel.get_by_test_id("file-link")).to_have_text(["screen.png", "order.txt"])
    row = panel.locator('[data-role="upload"]')
    expect(row).to_have_class("upload upload--error")
    expect(row).to_contain_text("empty.log")
    expect(row).to_contain_text("The file is empty.")

    # One file dropped later: the dialog for one file again.
    frame.evaluate(
        DROP_MANY,
        ["[data-testid='message-list']", [_args(b"one more\n", "more.txt", "text/plain")]],
    )
    expect(panel.locator("#upload-title")).to_have_text("Send this file?")
    expect(panel.get_by_test_id("upload-file-name")).to_have_text("more.txt")
    panel.get_by_test_id("confirm-upload").click()
    expect(panel.get_by_test_id("upload-progress")).to_have_attribute("value", "100")
    expect(ana.get_by_test_id("file-link")).to_have_text(["screen.png", "order.txt", "more.txt"])
