"""The chat session, end to end, clicked through by a customer and agents in real browsers."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

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

pytestmark = pytest.mark.e2e

Shot = Callable[[Page, str], None]


def accept_from_notification(agent: Page, chat_id: str, customer_name: str, queue: str) -> None:
    toast = agent.get_by_test_id("new-chat-notification")
    expect(toast).to_contain_text(f"New chat started by {customer_name} in queue {queue}")
    expect(chat_row(agent, chat_id)).to_have_attribute("data-status", "waiting")
    toast.click()
    expect(agent.get_by_test_id("accept-chat")).to_be_visible()
    agent.get_by_test_id("accept-chat").click()
    expect(chat_row(agent, chat_id)).to_have_attribute("data-status", "in_progress")
    expect(agent.get_by_test_id("message-input")).to_be_enabled()


def test_seed_journey(people: Browsers, shot: Shot, tmp_path: Path) -> None:
    """Start → notify → accept → talk → file → move → second agent → request → solve → rate."""
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    ben = agent_sign_in(people.open_page("ben"), "agent2@example.com")
    shot(ana, "console-empty")
    customer = guest_sign_in(people.open_page("customer"), "Grace Guest", "grace@example.org")
    shot(customer, "portal-start")

    # Start: the customer waits with a live position.
    chat_id = start_chat(customer, "General support", "My order #123 never arrived")
    expect(customer.get_by_test_id("queue-position")).to_have_text(
        re.compile(r"You are number 1 in the queue, (about \d+ minutes?|a few minutes)")
    )
    shot(customer, "portal-waiting")

    # Notify + accept (Ana is in General support).
    expect(ana).to_have_title(re.compile(r"^\(\d+\) Helpline Console"))
    shot(ana, "console-new-chat")
    accept_from_notification(ana, chat_id, "Grace Guest", "General support")
    expect(customer.get_by_test_id("chat-status")).to_have_text("In Progress")
    expect(customer.get_by_test_id("system-line").filter(has_text="Ana Agent joined")).to_be_visible()
    expect(customer.get_by_test_id("queue-position")).to_be_hidden()

    # Messages both ways, typing indicator, Shift+Enter newline.
    box = ana.get_by_test_id("message-input")
    box.press_sequentially("Sorry to hear")
    expect(customer.get_by_test_id("typing-indicator")).to_contain_text("Ana Agent is typing")
    box.press("Shift+Enter")
    box.press_sequentially("let me check that for you")
    box.press("Enter")
    expect(message(customer, "let me check that for you")).to_have_count(1)
    agent_msg = message(customer, "let me check that for you").locator(".msg__bubble")
    expect(agent_msg).to_have_text("Sorry to hear\nlet me check that for you")
    send(customer, "Thanks! It was ordered last week https://shop.example/orders/123")
    expect(message(ana, "ordered last week")).to_have_count(1)
    link = message(ana, "ordered last week").locator("a")
    expect(link).to_have_attribute("href", "https://shop.example/orders/123")
    expect(customer.get_by_test_id("message-pending")).to_have_count(0)

    # The agent sends a file; the customer is told and downloads identical bytes.
    payload = bytes(range(256)) * 40 + b"helpline-e2e"
    src = tmp_path / "label.pdf"
    src.write_bytes(payload)
    ana.get_by_test_id("attach-file").set_input_files(str(src))
    expect(ana.locator("#upload-dialog")).to_contain_text("label.pdf")
    expect(ana.get_by_test_id("upload-file-size")).to_contain_text("10 KB")
    shot(ana, "console-upload-confirm")
    ana.get_by_test_id("confirm-upload").click()
    expect(ana.get_by_test_id("upload-progress")).to_have_attribute("value", "100")
    expect(ana.get_by_test_id("file-link")).to_have_text("label.pdf")
    expect(customer.get_by_test_id("file-notification")).to_contain_text("sent you a file")
    with customer.expect_download() as dl_info:
        customer.get_by_test_id("file-link").click()
    download = dl_info.value
    assert download.suggested_filename == "label.pdf"
    assert Path(download.path()).read_bytes() == payload
    shot(customer, "portal-conversation")
    shot(ana, "console-conversation")

    # Move to Billing with a note (agents only); Ben (Billing) is notified and accepts.
    ana.get_by_test_id("move-queue").click()
    ana.get_by_test_id("move-queue-select").select_option(label="Billing")
    ana.get_by_test_id("move-queue-note").fill("Customer wants a refund")
    shot(ana, "console-move-dialog")
    ana.get_by_test_id("move-queue-confirm").click()
    expect(ana.get_by_test_id("chat-status")).to_have_text("Waiting")
    expect(customer.get_by_test_id("chat-status")).to_have_text("Waiting")
    expect(customer.get_by_test_id("system-line").filter(has_text="moved")).to_be_visible()
    expect(customer.get_by_text("Customer wants a refund")).to_have_count(0)
    accept_from_notification(ben, chat_id, "Grace Guest", "Billing")
    expect(ben.get_by_test_id("system-line").filter(has_text="Customer wants a refund")).to_be_visible()
    expect(message(ben, "ordered last week")).to_have_count(1)
    expect(customer.get_by_test_id("system-line").filter(has_text="Ben Agent joined")).to_be_visible()
    send(ben, "Hi, Ben from Billing here")
    expect(message(customer, "Ben from Billing")).to_have_count(1)

    # Raise a Service Manager request, prefilled from the chat.
    ben.get_by_test_id("raise-request").click()
    expect(ben.get_by_test_id("request-summary")).to_have_value("My order #123 never arrived")
    expect(ben.get_by_test_id("request-description")).to_have_value(re.compile("Ben from Billing"))
    ben.get_by_test_id("request-priority").select_option("high")
    shot(ben, "console-raise-request")
    ben.get_by_test_id("request-submit").click()
    reference = ben.get_by_test_id("request-reference")
    expect(reference).to_have_text(re.compile(r"^SR-\d{6}$"))
    ref = reference.inner_text()
    expect(ben.get_by_test_id("system-line").filter(has_text=ref)).to_be_visible()
    expect(customer.get_by_test_id("system-line").filter(has_text=ref)).to_be_visible()

    # Mark as solved; the customer rates and finds the request under My requests.
    ben.get_by_test_id("mark-solved").click()
    expect(ben.get_by_test_id("chat-status")).to_have_text("Solved")
    expect(chat_row(ben, chat_id)).to_have_attribute("data-status", "solved")
    expect(customer.get_by_test_id("chat-status")).to_have_text("Solved")
    expect(customer.get_by_test_id("message-input")).to_be_hidden()
    customer.get_by_test_id("rating-score").select_option("5")
    customer.get_by_test_id("rating-comment").fill("Quick and kind")
    customer.get_by_test_id("read-transcript").click()
    expect(customer.get_by_test_id("transcript")).to_contain_text("let me check that for you")
    shot(customer, "portal-after-chat")
    customer.get_by_test_id("rating-submit").click()
    expect(customer.get_by_test_id("rating-thanks")).to_contain_text("5/5")
    row = customer.get_by_test_id("my-requests").get_by_test_id("request-row").filter(has_text=ref)
    expect(row).to_be_visible()
    expect(row).to_contain_text("My order #123 never arrived")
    expect(ben.get_by_test_id("system-line").filter(has_text="rated the chat 5/5")).to_be_visible()
    with customer.expect_download() as transcript_dl:
        customer.get_by_test_id("download-transcript").click()
    assert "let me check that for you" in Path(transcript_dl.value.path()).read_text()
    row.click()
    expect(row.locator(".timeline")).to_be_visible()
    shot(customer, "portal-my-requests")
    shot(ben, "console-solved")
