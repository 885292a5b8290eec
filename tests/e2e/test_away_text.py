"""A queue's away text in the portal (CONTRACT-2 "Automatic messages"): it stands instead of
the start form while the topic is closed, or while nobody is free when the queue has one, and
its "Leave a message" raises a request; an open topic with an agent free shows the form again.
(The widget's side: tests/e2e/test_widget_identity.py.)"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import (
    Browsers,
    HelplineServer,
    api_call,
    guest_sign_in,
    patch_queue,
    token_for,
)

pytestmark = pytest.mark.e2e

Shot = Callable[[Page, str], None]
CLOSED = {"timezone": "UTC", "weekly": {}, "exceptions": []}


def test_portal_shows_the_away_text_of_a_closed_topic_and_takes_a_message(
    people: Browsers, server: HelplineServer, shot: Shot
) -> None:
    patch_queue(server, "Technical", hours=CLOSED, away_text="Back on Monday at 9. Write to us!")
    page = guest_sign_in(people.open_page("customer"), "Olga Offhours", "olga@example.org")
    page.get_by_test_id("start-queue").select_option(label="Technical (closed now)")
    notice = page.get_by_test_id("queue-closed")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Back on Monday at 9. Write to us!")
    expect(page.get_by_test_id("start-chat")).to_be_hidden()
    expect(page.get_by_test_id("start-message")).to_be_hidden()
    shot(page, "portal-away-text-closed")

    notice.get_by_test_id("leave-message-closed").click()
    expect(page.locator("#leave-message-form")).to_contain_text("Technical is closed right now")
    page.get_by_test_id("leave-message-summary").fill("VPN certificate expired")
    page.get_by_test_id("leave-message-submit").click()
    row = page.get_by_test_id("my-requests").get_by_test_id("request-row")
    expect(row).to_contain_text("VPN certificate expired")


def test_portal_shows_the_away_text_while_nobody_is_free_then_the_form(
    people: Browsers, server: HelplineServer
) -> None:
    patch_queue(server, "Billing", away_text="All our billing agents are busy. Leave a note.")
    admin = token_for(server, "admin@example.com")
    staff = {u["email"]: u["id"] for u in api_call(server, "GET", "/users", token=admin)["items"]}

    def set_status(email: str, status: str) -> None:
        api_call(server, "PUT", f"/users/{staff[email]}/status", {"status": status}, admin)

    page = guest_sign_in(people.open_page("customer"), "Nina Noone", "nina@example.org")
    for email in ("agent2@example.com", "agent3@example.com"):  # Billing's members
        set_status(email, "away")
    page.reload()
    page.get_by_test_id("start-queue").select_option(label="Billing")
    notice = page.get_by_test_id("queue-closed")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("All our billing agents are busy. Leave a note.")
    expect(page.get_by_test_id("start-chat")).to_be_hidden()

    # Billing's agents are free again: the form is back, and the chat starts.
    for email in ("agent2@example.com", "agent3@example.com"):
        set_status(email, "available")
    page.reload()
    page.get_by_test_id("start-queue").select_option(label="Billing")
    expect(page.get_by_test_id("start-chat")).to_be_visible()
    expect(notice).to_be_hidden()
    page.get_by_test_id("start-message").fill("Where is my invoice?")
    page.get_by_test_id("start-chat").click()
    expect(page.get_by_test_id("chat-status")).to_have_text("Waiting")
