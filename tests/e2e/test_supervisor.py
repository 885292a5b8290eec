"""Routing in real browsers: the supervisor's live view (assign, move), a topic that is out
of hours, and a chat that expires with no agent — both ending in "leave a message"."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import (
    Browsers,
    HelplineServer,
    agent_sign_in,
    chat_row,
    guest_sign_in,
    patch_queue,
    start_chat,
)

pytestmark = pytest.mark.e2e

Shot = Callable[[Page, str], None]


def test_supervisor_moves_and_assigns_a_waiting_chat(people: Browsers, shot: Shot) -> None:
    """A waiting chat appears live in the supervisor view; the supervisor moves it to Billing
    and assigns it to Ben, who gets it in his console; the customer is with Ben."""
    sam = agent_sign_in(people.open_page("sam"), "supervisor@example.com")
    ben = agent_sign_in(people.open_page("ben"), "agent2@example.com")
    sam.get_by_test_id("nav-supervisor").click()
    expect(sam).to_have_url(re.compile(r"/console#supervisor$"))
    general = sam.get_by_test_id("sv-queue").filter(has_text="General support")
    expect(general.get_by_test_id("sv-waiting-count")).to_have_text("0")
    expect(sam.get_by_test_id("sv-agent").filter(has_text="Ben Agent")).to_have_attribute(
        "data-status", "available"
    )

    customer = guest_sign_in(people.open_page("customer"), "Hana Guest", "hana@example.org")
    chat_id = start_chat(customer, "General support", "Where is my refund?")

    row = sam.locator(f'[data-testid="sv-waiting-chat"][data-chat-id="{chat_id}"]')
    expect(row).to_contain_text("Hana Guest")
    expect(row).to_contain_text("General support")
    expect(general.get_by_test_id("sv-waiting-count")).to_have_text("1")
    shot(sam, "console-supervisor")

    # Move it to Billing (Ben's queue) …
    row.get_by_test_id("sv-move-queue").select_option(label="Billing")
    row.get_by_test_id("sv-move").click()
    billing = sam.get_by_test_id("sv-queue").filter(has_text="Billing")
    expect(billing.get_by_test_id("sv-waiting-count")).to_have_text("1")
    row = sam.locator(f'[data-testid="sv-waiting-chat"][data-chat-id="{chat_id}"]')
    expect(row).to_contain_text("Billing")
    expect(general.get_by_test_id("sv-waiting-count")).to_have_text("0")

    # … and assign it to Ben.
    ben_id = (
        sam.get_by_test_id("sv-agent").filter(has_text="Ben Agent").get_attribute("data-agent-id")
    )
    assert ben_id
    row.get_by_test_id("sv-assign-agent").select_option(ben_id)
    # A refresh (any chat or agent change, every 10 s) rebuilds the rows; the choice stays.
    row.evaluate("el => { el.dataset.before = '1'; }")
    sam.locator('[data-action="sv-refresh"]').click()
    expect(sam.locator(f'[data-chat-id="{chat_id}"][data-before]')).to_have_count(0)
    expect(row.get_by_test_id("sv-assign-agent")).to_have_value(ben_id)
    row.get_by_test_id("sv-assign").click()
    expect(row).to_have_count(0)
    expect(billing.get_by_test_id("sv-waiting-count")).to_have_text("0")
    expect(sam.get_by_test_id("sv-agent").filter(has_text="Ben Agent")).to_contain_text("1 / ")

    expect(chat_row(ben, chat_id)).to_have_attribute("data-status", "in_progress")
    chat_row(ben, chat_id).click()
    expect(ben.get_by_test_id("message-input")).to_be_enabled()
    expect(customer.get_by_test_id("chat-status")).to_have_text("In Progress")
    expect(customer.get_by_test_id("system-line").filter(has_text="Ben Agent")).to_be_visible()

    sam.set_viewport_size({"width": 375, "height": 800})
    shot(sam, "console-supervisor-phone")


def test_out_of_hours_topic_offers_leave_a_message(
    people: Browsers, server: HelplineServer, shot: Shot
) -> None:
    patch_queue(server, "Technical", hours={"timezone": "UTC", "weekly": {}, "exceptions": []})
    customer = guest_sign_in(people.open_page("customer"), "Ivy Guest", "ivy@example.org")
    expect(customer.get_by_test_id("queue-closed")).to_be_hidden()
    # Typed first, then the closed topic picked: the notice stands instead of the message box
    # and "Start chat", and "Leave a message" takes what was typed.
    customer.get_by_test_id("start-message").fill("The VPN drops every hour")
    customer.get_by_test_id("start-queue").select_option(label="Technical (closed now)")
    closed = customer.get_by_test_id("queue-closed")
    expect(closed).to_contain_text("Technical is closed right now")
    expect(customer.get_by_test_id("start-chat")).to_be_hidden()
    shot(customer, "portal-topic-closed")
    customer.get_by_test_id("leave-message-closed").click()
    expect(customer.get_by_test_id("leave-message-summary")).to_have_value(
        "The VPN drops every hour"
    )
    customer.get_by_test_id("leave-message-submit").click()
    row = customer.get_by_test_id("my-requests").get_by_test_id("request-row")
    expect(row.filter(has_text="The VPN drops every hour")).to_have_attribute("data-status", "new")


def test_chat_expired_with_no_agent_offers_leave_a_message(
    people: Browsers, server: HelplineServer, shot: Shot
) -> None:
    patch_queue(server, "General support", max_wait_s=10)
    customer = guest_sign_in(people.open_page("customer"), "Jon Guest", "jon@example.org")
    start_chat(customer, "General support", "Can someone call me back?")
    notice = customer.get_by_test_id("expired-notice")
    expect(notice).to_be_visible(timeout=20_000)
    expect(customer.get_by_test_id("chat-status")).to_have_text("Expired")
    shot(customer, "portal-expired")
    customer.get_by_test_id("expired-leave-message").click()
    expect(customer.get_by_test_id("leave-message-summary")).to_have_value(
        "Can someone call me back?"
    )
    customer.get_by_test_id("leave-message-submit").click()
    row = customer.get_by_test_id("my-requests").get_by_test_id("request-row")
    expect(row.filter(has_text="Can someone call me back?")).to_be_visible()
