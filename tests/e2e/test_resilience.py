"""Nothing typed is lost or doubled when the server restarts mid-chat, or the page reloads."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, WebSocketRoute, expect

from tests.e2e.support import (
    Browsers,
    agent_sign_in,
    api_call,
    chat_row,
    guest_sign_in,
    message,
    send,
    sign_in,
    start_chat,
    token_for,
)

pytestmark = pytest.mark.e2e

Shot = Callable[[Page, str], None]
# While the server is down the browser logs its failed reconnection attempts; nothing else.
OUTAGE_NOISE = (
    r"WebSocket connection to .* failed",
    r"net::ERR_CONNECTION_REFUSED",
    r"Failed to load resource: net::ERR_CONNECTION_(REFUSED|RESET)",
)


def seqs(page: Page) -> list[int]:
    values = (
        page.get_by_test_id("message-list")
        .locator("[data-seq]")
        .evaluate_all("els => els.map(e => Number(e.dataset.seq))")
    )
    return [int(v) for v in values]


def test_server_restart_mid_chat_loses_and_doubles_nothing(people: Browsers, shot: Shot) -> None:
    agent_w = people.open_page("ana")
    customer_w = people.open_page("customer")
    for w in (agent_w, customer_w):
        for pattern in OUTAGE_NOISE:
            w.allow(pattern)
    ana = agent_sign_in(agent_w, "agent1@example.com")
    customer = guest_sign_in(customer_w, "Rhea Restart", "rhea@example.org")
    chat_id = start_chat(customer, "General support", "Before the restart")
    chat_row(ana, chat_id).click()
    ana.get_by_test_id("accept-chat").click()
    send(ana, "Agent before restart")
    expect(message(customer, "Agent before restart")).to_have_count(1)

    people.server.stop(kill=True)
    expect(customer.get_by_text("Connection lost")).to_be_visible()
    expect(ana.locator('[data-role="conn-label"]')).not_to_have_text("Live")
    # Typed while the server is down: kept in the outbox, sent after reconnecting.
    send(customer, "Typed during the outage")
    expect(customer.get_by_test_id("message-pending")).to_contain_text("Waiting for connection")
    shot(customer, "portal-reconnecting")

    people.server.start()
    expect(ana.locator('[data-role="conn-label"]')).to_have_text("Live", timeout=30_000)
    expect(customer.get_by_text("Connection lost")).to_be_hidden(timeout=30_000)
    expect(message(ana, "Typed during the outage")).to_have_count(1)
    expect(customer.get_by_test_id("message-pending")).to_have_count(0)

    send(customer, "Customer after restart")
    send(ana, "Agent after restart")
    expect(message(ana, "Customer after restart")).to_have_count(1)
    expect(message(customer, "Agent after restart")).to_have_count(1)
    for page in (ana, customer):
        for text in ("Before the restart", "Agent before restart", "Typed during the outage"):
            expect(message(page, text)).to_have_count(1)
        got = seqs(page)
        assert got == sorted(set(got)), f"seqs out of order or doubled: {got}"

    # A reload resumes the conversation from the log: same messages, nothing doubled.
    customer.reload()
    expect(message(customer, "Agent after restart")).to_have_count(1)
    expect(message(customer, "Typed during the outage")).to_have_count(1)
    assert seqs(customer) == sorted(set(seqs(customer)))


def _ana_with_fay_and_sid(
    people: Browsers, *, last: str = "sid"
) -> tuple[Page, Page, Page, str, str]:
    """Ana has accepted Fay's chat and Sid's, the `last` one accepted last (and in front).
    Returns Ana's, Fay's and Sid's pages and the two chat ids."""
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    first = guest_sign_in(people.open_page("first"), "Fay First", "fay@example.org")
    second = guest_sign_in(people.open_page("second"), "Sid Second", "sid@example.org")
    one = start_chat(first, "General support", "First question")
    two = start_chat(second, "Technical", "Second question")
    for chat_id in (one, two) if last == "sid" else (two, one):
        chat_row(ana, chat_id).click()
        ana.get_by_test_id("accept-chat").click()
        expect(ana.get_by_test_id("message-input")).to_be_visible()
    return ana, first, second, one, two


def test_drafts_survive_switching_chats_and_reloading(people: Browsers) -> None:
    ana, first, second, one, two = _ana_with_fay_and_sid(people)

    chat_row(ana, one).click()
    ana.get_by_test_id("message-input").fill("half-typed answer for Fay")
    chat_row(ana, two).click()
    expect(ana.get_by_test_id("message-input")).to_have_value("")
    ana.get_by_test_id("message-input").fill("draft for Sid")
    chat_row(ana, one).click()
    expect(ana.get_by_test_id("message-input")).to_have_value("half-typed answer for Fay")

    # A message in the chat not in focus: unread count and a "New message from" toast.
    send(second, "Are you there?")
    expect(ana.get_by_test_id("new-message-notification")).to_contain_text(
        "New message from Sid Second"
    )
    expect(chat_row(ana, two).get_by_test_id("unread-count")).to_have_text("1")

    ana.reload()
    expect(ana.get_by_test_id("open-chat-tab")).to_have_count(2)
    chat_row(ana, two).click()
    expect(ana.get_by_test_id("message-input")).to_have_value("draft for Sid")
    expect(chat_row(ana, two).get_by_test_id("unread-count")).to_have_count(0)
    chat_row(ana, one).click()
    expect(ana.get_by_test_id("message-input")).to_have_value("half-typed answer for Fay")


def _press_while(page: Page, target: Locator, meanwhile: Callable[[], None]) -> None:
    """Mouse down on `target`, `meanwhile()` (which re-renders it), mouse up."""
    box = target.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    meanwhile()
    page.mouse.up()


def test_a_click_on_a_chat_lands_while_the_list_renders(people: Browsers) -> None:
    """On a busy desk the list renders many times a second: a row or tab clicked while an
    event re-renders it (between the mouse going down and up) still opens its chat."""
    ana, first, second, one, two = _ana_with_fay_and_sid(people, last="fay")

    def sid_writes() -> None:  # the row shows its unread count: the list renders
        send(second, "Are you there?")
        expect(chat_row(ana, two).get_by_test_id("unread-count")).to_have_text("1")

    _press_while(ana, chat_row(ana, two).locator("button"), sid_writes)
    expect(chat_row(ana, two)).to_have_attribute("aria-current", "true")
    expect(message(ana, "Are you there?")).to_have_count(1)

    # The same for the open chats' tabs, which show the unread count too.
    tab = ana.locator(f'[data-testid="open-chat-tab"][data-chat-id="{one}"]')

    def fay_writes() -> None:
        send(first, "Still there?")
        expect(tab.locator(".count")).to_have_text("1")

    _press_while(ana, tab.locator("button").first, fay_writes)
    expect(tab).to_have_attribute("data-selected", "true")
    expect(message(ana, "Still there?")).to_have_count(1)


def test_a_status_change_before_the_console_first_connects_shows_once_it_does(
    people: Browsers,
) -> None:
    """The page shows the availability it was rendered with; a change before its socket first
    opens (the offline grace of an earlier page, a supervisor) has no socket to arrive by."""
    server = people.server
    sup = token_for(server, "supervisor@example.com")
    cara = api_call(server, "GET", "/me", token=token_for(server, "agent3@example.com"))
    w = people.open_page("cara")
    w.allow(r"WebSocket connection to .* failed")
    page = w.page
    held = {"on": True}

    def socket(ws: WebSocketRoute) -> None:
        if held["on"]:
            ws.close()  # as if the connection failed: the console retries
        else:
            ws.connect_to_server()

    page.route_web_socket(re.compile(r"/api/v1/ws"), socket)
    sign_in(page, "/console", "agent3@example.com")
    status = page.get_by_test_id("availability")
    expect(status).to_have_value("available")
    expect(page.locator('[data-role="conn-label"]')).not_to_have_text("Live")

    api_call(server, "PUT", f"/users/{cara['id']}/status", {"status": "offline"}, sup)
    held["on"] = False
    # The network is back: the console reconnects at once rather than after its back-off.
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator('[data-role="conn-label"]')).to_have_text("Live")
    expect(status).to_have_value("offline")
    expect(page.locator('[data-role="availability-dot"]')).to_have_class("dot dot--offline")
    expect(page.get_by_test_id("offline-notification")).to_be_visible()  # said, not only shown
