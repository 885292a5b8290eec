"""The agent's alert settings: kept in localStorage across reloads; with "repeat until seen"
the new-chat alert (sound + title flash) repeats until the agent opens the chat; with sound
off no beep is played.

The repeats are timers in the page: the agent's page runs on Playwright's clock
(`page.clock.install()`, time flows as usual) and the test moves it on by the repeat interval
instead of waiting for it in real time."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import Browsers, agent_sign_in, chat_row, guest_sign_in, start_chat

pytestmark = pytest.mark.e2e

Shot = Callable[[Page, str], None]


REPEAT_MS = 4000  # alerts.js


def test_alert_settings_persist_and_repeat_until_seen(people: Browsers, shot: Shot) -> None:
    watched = people.open_page("ana")
    watched.page.clock.install()
    ana = agent_sign_in(watched, "agent1@example.com")
    ana.get_by_test_id("alert-settings").click()
    expect(ana.get_by_test_id("alert-sound")).to_be_checked()
    expect(ana.get_by_test_id("alert-repeat")).not_to_be_checked()
    ana.get_by_test_id("alert-repeat").check()
    ana.get_by_test_id("alert-desktop").uncheck()
    shot(ana, "console-alert-settings")
    ana.get_by_test_id("alert-settings-done").click()

    ana.reload()
    expect(ana.locator('[data-role="conn-label"]')).to_have_text("Live")
    ana.get_by_test_id("alert-settings").click()
    expect(ana.get_by_test_id("alert-repeat")).to_be_checked()
    expect(ana.get_by_test_id("alert-desktop")).not_to_be_checked()
    ana.keyboard.press("Escape")
    stored = ana.evaluate("JSON.parse(localStorage.getItem('helpline.console.alerts'))")
    assert stored == {"sound": True, "desktop": False, "repeat": True}

    customer = guest_sign_in(people.open_page("customer"), "Mia Guest", "mia@example.org")
    chat_id = start_chat(customer, "General support", "Hello?")
    body = ana.locator("body")
    expect(body).to_have_attribute("data-alerting", "true")
    expect(ana).to_have_title(re.compile(r"^🔔 New chat waiting"))
    ana.clock.run_for(REPEAT_MS)  # one interval on: repeated at least once more
    expect(body).to_have_attribute("data-alert-repeats", re.compile(r"^([2-9]|\d{2,})$"))
    assert int(body.get_attribute("data-beeps") or 0) >= 3  # the alert + two repeats

    chat_row(ana, chat_id).click()  # seen: the reminders stop
    expect(body).to_have_attribute("data-alerting", "false")
    expect(ana).to_have_title(re.compile(r"^\(1\) Helpline Console$"))
    repeats = body.get_attribute("data-alert-repeats")
    ana.clock.run_for(2 * REPEAT_MS)  # two more intervals: no reminder
    assert body.get_attribute("data-alert-repeats") == repeats


def test_sound_off_plays_no_beep(people: Browsers) -> None:
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    ana.get_by_test_id("alert-settings").click()
    ana.get_by_test_id("alert-sound").uncheck()
    ana.get_by_test_id("alert-settings-done").click()
    customer = guest_sign_in(people.open_page("customer"), "Noa Guest", "noa@example.org")
    start_chat(customer, "General support", "Hi")
    expect(ana.get_by_test_id("new-chat-notification")).to_be_visible()
    assert ana.locator("body").get_attribute("data-beeps") is None
    expect(ana.locator("body")).to_have_attribute("data-alerting", "false")  # repeat is off
