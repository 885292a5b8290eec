"""Teamwork on live chats in real browsers: an agent hands a chat to a colleague with a note,
a supervisor hands one over from the supervisor view, and an agent set offline hands their
chat back to the queue (the customer sees their position again)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import (
    Browsers,
    HelplineServer,
    agent_sign_in,
    api_call,
    chat_row,
    guest_sign_in,
    message,
    send,
    start_chat,
    token_for,
)

pytestmark = pytest.mark.e2e

Shot = Callable[[Page, str], None]
NOTE = "Refund approved; ask for the invoice number"


def _accept(agent: Page, chat_id: str) -> None:
    chat_row(agent, chat_id).click()
    agent.get_by_test_id("accept-chat").click()
    expect(chat_row(agent, chat_id)).to_have_attribute("data-status", "in_progress")
    expect(agent.get_by_test_id("message-input")).to_be_enabled()


def test_agent_transfers_with_a_note_to_a_colleague(people: Browsers, shot: Shot) -> None:
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    ben = agent_sign_in(people.open_page("ben"), "agent2@example.com")
    customer = guest_sign_in(people.open_page("customer"), "Hana Guest", "hana@example.org")
    chat_id = start_chat(customer, "General support", "Where is my refund?")
    _accept(ana, chat_id)
    send(ana, "Let me check that for you.")
    expect(message(customer, "Let me check that for you.")).to_be_visible()

    # Ana: chat options → Transfer; the picker lists the queue's colleagues with status and
    # load, herself disabled with the reason.
    ana.get_by_test_id("chat-options").click()
    ana.get_by_test_id("transfer-chat").click()
    dialog = ana.locator("#transfer-dialog")
    expect(dialog).to_be_visible()
    own = dialog.locator('[data-testid="transfer-agent"][data-reason="owner"]')
    expect(own).to_contain_text("Ana Agent")
    expect(own).to_contain_text("Has this chat")
    expect(own.locator("input")).to_be_disabled()
    option = dialog.get_by_test_id("transfer-agent").filter(has_text="Ben Agent")
    expect(option).to_contain_text("Available · 0/3 chats")
    # Keyboard: the first colleague who can take it has focus; arrows move between them.
    expect(dialog.locator("input:focus")).to_have_count(1)
    option.locator("input").check()
    dialog.get_by_test_id("transfer-note").fill(NOTE)
    shot(ana, "console-transfer-dialog")
    dialog.get_by_test_id("transfer-confirm").click()
    expect(dialog).to_be_hidden()

    # Ben is alerted like for a new chat and gets it with its history and the note.
    toast = ben.get_by_test_id("assigned-notification")
    expect(toast).to_contain_text("handed to you by Ana Agent")
    expect(toast).to_contain_text(NOTE)
    toast.click()
    expect(chat_row(ben, chat_id)).to_have_attribute("data-status", "in_progress")
    expect(message(ben, "Where is my refund?")).to_be_visible()
    expect(message(ben, "Let me check that for you.")).to_be_visible()
    note = ben.get_by_test_id("note").filter(has_text=NOTE)
    expect(note).to_contain_text("Ana Agent handed the chat to Ben Agent")
    expect(ben.get_by_test_id("message-input")).to_be_enabled()
    shot(ben, "console-transferred-to-me")

    # Ana keeps reading as a member of the queue, but no longer writes or solves.
    expect(ana.get_by_test_id("note").filter(has_text=NOTE)).to_be_visible()
    expect(ana.locator('[data-role="composer-wrap"]')).to_be_hidden()
    expect(ana.get_by_test_id("join-chat")).to_be_visible()
    ana.get_by_test_id("chat-options").click()
    expect(ana.get_by_test_id("mark-solved")).to_be_disabled()
    expect(ana.get_by_test_id("transfer-chat")).to_be_disabled()
    ana.keyboard.press("Escape")

    # The customer sees who took over, never the note.
    expect(
        customer.get_by_test_id("system-line").filter(has_text="Ben Agent took over")
    ).to_be_visible()
    expect(customer.get_by_text(NOTE)).to_have_count(0)
    send(ben, "Hi Hana, Ben here. What is your invoice number?")
    expect(message(customer, "Ben here")).to_be_visible()
    shot(customer, "portal-transferred")

    # Going offline with a chat in progress asks first; "Cancel" keeps Ben available.
    ben.get_by_test_id("availability").select_option("offline")
    confirm = ben.locator("#confirm-dialog")
    expect(confirm).to_contain_text("Your chat in progress goes back to the queue")
    confirm.locator('[data-action="close"]').click()
    expect(ben.get_by_test_id("availability")).to_have_value("available")
    expect(customer.get_by_test_id("chat-status")).to_have_text("In Progress")


def test_supervisor_hands_over_then_sets_the_agent_offline(
    people: Browsers, server: HelplineServer, shot: Shot
) -> None:
    sam = agent_sign_in(people.open_page("sam"), "supervisor@example.com")
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    ben = agent_sign_in(people.open_page("ben"), "agent2@example.com")
    customer = guest_sign_in(people.open_page("customer"), "Ivo Guest", "ivo@example.org")
    chat_id = start_chat(customer, "General support", "My parcel is late")
    _accept(ana, chat_id)

    # The supervisor view lists the chat in progress; hand it to Ben.
    sam.get_by_test_id("nav-supervisor").click()
    row = sam.locator(f'[data-testid="sv-active-chat"][data-chat-id="{chat_id}"]')
    expect(row.get_by_test_id("sv-active-agent")).to_have_text("with Ana Agent")
    ben_option = row.get_by_test_id("sv-reassign-agent").locator("option", has_text="Ben Agent")
    value = ben_option.get_attribute("value")
    assert value
    expect(
        row.get_by_test_id("sv-reassign-agent").locator("option", has_text="Ana Agent")
    ).to_be_disabled()
    row.get_by_test_id("sv-reassign-agent").select_option(value)
    shot(sam, "console-supervisor-in-progress")
    row.get_by_test_id("sv-reassign").click()
    expect(row.get_by_test_id("sv-active-agent")).to_have_text("with Ben Agent")
    expect(ben.get_by_test_id("assigned-notification")).to_contain_text("by Sam Supervisor")
    expect(
        customer.get_by_test_id("system-line").filter(has_text="Ben Agent took over")
    ).to_be_visible()

    # Ben is set offline by the supervisor: the chat goes back to the queue, the customer
    # sees their position again and Ana is offered it as a new chat.
    sam_token = token_for(server, "supervisor@example.com")
    ben_id = api_call(server, "GET", "/me", token=token_for(server, "agent2@example.com"))["id"]
    api_call(server, "PUT", f"/users/{ben_id}/status", {"status": "offline"}, sam_token)
    expect(customer.get_by_test_id("chat-status")).to_have_text("Waiting")
    expect(customer.get_by_test_id("queue-position")).to_contain_text(
        "You are number 1 in the queue"
    )
    expect(
        customer.get_by_test_id("system-line").filter(has_text="Your agent went offline")
    ).to_be_visible()
    shot(customer, "portal-requeued")
    expect(ana.get_by_test_id("new-chat-notification")).to_contain_text("Ivo Guest")
    expect(chat_row(ana, chat_id)).to_have_attribute("data-status", "waiting")
    expect(ben.locator("#availability")).to_have_value("offline")
