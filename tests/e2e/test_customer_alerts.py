"""Alerts for customers while their tab is hidden: the tab title counts the agent's new
messages (back when the tab shows again), a beep unless muted, in the portal."""

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
