"""Read receipts in the browser: "Seen" under the last message the other side read, in the
portal and the console, and an agent's unread count following their reads in another tab."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import (
    Browsers,
    agent_sign_in,
    chat_row,
    guest_sign_in,
    message,
    send,
    start_chat,
)
from tests.e2e.test_journeys import accept_from_notification

Shot = Callable[[Page, str], None]

# Headless pages are always visible: these make one look hidden (then visible again) to its
# scripts, as switching tabs would.
HIDE = (
    "Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});"
    "Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});"
    "document.dispatchEvent(new Event('visibilitychange'))"
)
SHOW = (
    "delete document.visibilityState; delete document.hidden;"
    "document.dispatchEvent(new Event('visibilitychange'))"
)


def seen_under(page: Page, text: str) -> object:
    return message(page, text).get_by_test_id("seen")


def test_seen_both_ways_and_unread_follows_the_agents_other_tab(
    people: Browsers, shot: Shot
) -> None:
    ana_w = people.open_page("ana")
    ana = agent_sign_in(ana_w, "agent1@example.com")
    customer = guest_sign_in(people.open_page("customer"), "Rosa Read", "rosa@example.org")
    chat_id = start_chat(customer, "Technical", "My printer is on fire")
    accept_from_notification(ana, chat_id, "Rosa Read", "Technical")

    # Ana has the chat open: the customer sees that she read the message.
    expect(seen_under(customer, "My printer is on fire")).to_be_visible()
    expect(customer.get_by_test_id("seen")).to_have_count(1)

    # The customer looks away; Ana's reply is not seen until they come back.
    customer.evaluate(HIDE)
    send(ana, "Please unplug it first")
    expect(message(customer, "Please unplug it first")).to_be_visible()
    expect(seen_under(ana, "Please unplug it first")).to_have_count(0)
    customer.evaluate(SHOW)
    expect(seen_under(ana, "Please unplug it first")).to_be_visible()
    expect(ana.get_by_test_id("seen")).to_have_count(1)
    shot(ana, "console-read-receipt")
    shot(customer, "portal-read-receipt")

    # A second console tab of Ana's, on the list: the customer's next message is unread in
    # both while the first tab is hidden; reading it there clears it here too.
    tab2_w = people.watch(ana.context.new_page(), "ana-tab2")
    tab2 = tab2_w.page
    frames: list[str] = []
    tab2.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(str(f))))
    tab2.goto("/console")
    expect(tab2.locator('[data-role="conn-label"]')).to_have_text("Live")
    expect(chat_row(tab2, chat_id)).to_be_visible()
    # Once its subscription has caught up (`subscribed`), what comes is news there, not the
    # history a page opens with (which counts nothing unread): wait for it, bounded.
    for _ in range(200):
        if any('"subscribed"' in f and chat_id in f for f in frames):
            break
        tab2.wait_for_timeout(50)
    else:
        pytest.fail("the second tab never subscribed to the chat")
    ana.evaluate(HIDE)
    send(customer, "Done, it stopped")
    expect(chat_row(tab2, chat_id).get_by_test_id("unread-count")).to_have_text("1")
    expect(chat_row(ana, chat_id).get_by_test_id("unread-count")).to_have_text("1")
    ana.evaluate(SHOW)
    expect(chat_row(ana, chat_id).get_by_test_id("unread-count")).to_have_count(0)
    expect(chat_row(tab2, chat_id).get_by_test_id("unread-count")).to_have_count(0)
    expect(seen_under(customer, "Done, it stopped")).to_be_visible()
    expect(customer.get_by_test_id("seen")).to_have_count(1)
