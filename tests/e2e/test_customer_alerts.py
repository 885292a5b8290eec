"""Alerts for customers while their tab is hidden: the tab title counts the agent's new
messages (back when the tab shows again), a beep unless muted, and a desktop notification
once the customer allowed it when starting the chat, in the portal (the widget's:
test_widget_customer.py)."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.e2e.support import Browsers, agent_sign_in, guest_sign_in, send, start_chat
from tests.e2e.test_journeys import accept_from_notification
from tests.e2e.test_receipts import HIDE, SHOW

Shot = Callable[[Page, str], None]


def test_hidden_tab_title_and_sound_with_a_mute_switch(people: Browsers, shot: Shot) -> None:
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    customer = guest_sign_in(people.open_page("customer"), "Hedda Hidden", "hedda@example.org")
    expect(customer.get_by_test_id("start-notify")).to_be_visible()
    title = customer.title()
    chat_id = start_chat(customer, "Technical", "Is anybody there?")
    customer.evaluate(HIDE)
    accept_from_notification(ana, chat_id, "Hedda Hidden", "Technical")
    # The agent joining (and their greeting) counts while the customer looks elsewhere.
    expect(customer).to_have_title(re.compile(r"^\(2\) New messages · "))
    expect(customer.locator("body")).to_have_attribute("data-unseen", "2")
    beeps = customer.locator("body").get_attribute("data-beeps")
    assert beeps == "2"
    customer.evaluate(SHOW)
    expect(customer).to_have_title(title)
    expect(customer.locator("body")).to_have_attribute("data-unseen", "0")

    # Muted: the title still changes, no sound.
    toggle = customer.get_by_test_id("sound-toggle")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(toggle).to_contain_text("Sound off")
    shot(customer, "portal-sound-off")
    customer.evaluate(HIDE)
    send(ana, "Yes, I am here")
    expect(customer).to_have_title(re.compile(r"^\(1\) New message · "))
    assert customer.locator("body").get_attribute("data-beeps") == "2"
    customer.evaluate(SHOW)
    expect(customer).to_have_title(title)
    # The switch is remembered in this browser.
    customer.reload()
    expect(customer.get_by_test_id("sound-toggle")).to_have_attribute("aria-pressed", "true")


# The browser's permission prompt, stood in for: "default" until the page asks, then the
# customer's answer "granted"; every notification shown is recorded instead of shown.
FAKE_NOTIFICATIONS = """
window.__asked = 0;
window.__notified = [];
let permission = "default";
window.Notification = class {
  static get permission() { return permission; }
  static requestPermission() { window.__asked += 1; permission = "granted"; return Promise.resolve(permission); }
  constructor(title, options) { window.__notified.push({ title, body: options?.body || "" }); }
  close() {}
};
"""


def test_desktop_notification_after_the_customer_allowed_it_at_the_start(
    people: Browsers,
) -> None:
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    w = people.open_page("customer")
    w.page.context.add_init_script(FAKE_NOTIFICATIONS)
    customer = guest_sign_in(w, "Nele Notify", "nele@example.org")
    box = customer.get_by_test_id("start-notify")
    expect(box).to_be_visible()
    box.check()
    chat_id = start_chat(customer, "Technical", "Please tell me when you are here")
    assert customer.evaluate("window.__asked") == 1  # asked inside the click that started it
    customer.evaluate(HIDE)
    accept_from_notification(ana, chat_id, "Nele Notify", "Technical")
    expect(customer.locator("body")).to_have_attribute("data-unseen", "2")
    notified = customer.evaluate("window.__notified")
    assert notified[0]["title"] == "Ana Agent joined the chat"
    assert [n["title"] for n in notified[1:]] == ["New message from Ana Agent"]
    send(ana, "Hello Nele")
    expect(customer.locator("body")).to_have_attribute("data-unseen", "3")
    assert customer.evaluate("window.__notified")[-1] == {
        "title": "New message from Ana Agent",
        "body": "Hello Nele",
    }
    # Visible: nothing more pops up.
    customer.evaluate(SHOW)
    send(ana, "Still there?")
    expect(customer.get_by_test_id("message").filter(has_text="Still there?")).to_be_visible()
    assert len(customer.evaluate("window.__notified")) == 3
