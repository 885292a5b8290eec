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
    expect(
        customer.get_by_test_id("system-line").filter(has_text="Ana Agent joined")
    ).to_be_visible()
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
    expect(
        ben.get_by_test_id("system-line").filter(has_text="Customer wants a refund")
    ).to_be_visible()
    expect(message(ben, "ordered last week")).to_have_count(1)
    expect(
        customer.get_by_test_id("system-line").filter(has_text="Ben Agent joined")
    ).to_be_visible()
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
    ben.get_by_test_id("chat-options").click()  # harmless on desktop: the main options are inline
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
    with customer.context.expect_page() as printed:
        customer.get_by_test_id("print-transcript").click()
    print_view = printed.value
    expect(print_view.get_by_test_id("transcript-page")).to_contain_text(
        "let me check that for you"
    )
    expect(print_view.get_by_test_id("transcript-line").first).to_contain_text("started the chat")
    shot(print_view, "portal-transcript-print")
    print_view.close()
    row.click()
    expect(row.locator(".timeline")).to_be_visible()
    shot(customer, "portal-my-requests")
    shot(ben, "console-solved")


def test_agent_cancels_and_customer_leaves(people: Browsers, shot: Shot) -> None:
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    customer = guest_sign_in(people.open_page("customer"), "Carl Cancel", "carl@example.org")
    chat_id = start_chat(customer, "Technical", "The app crashes on start")
    accept_from_notification(ana, chat_id, "Carl Cancel", "Technical")

    ana.get_by_test_id("cancel-chat").click()
    ana.get_by_test_id("cancel-reason").fill("Needs an on-site visit")
    shot(ana, "console-cancel-dialog")
    ana.get_by_test_id("cancel-confirm").click()
    expect(ana.get_by_test_id("chat-status")).to_have_text("Cancelled")
    expect(chat_row(ana, chat_id)).to_have_attribute("data-status", "cancelled")
    expect(customer.get_by_test_id("chat-status")).to_have_text("Cancelled")
    line = customer.get_by_test_id("system-line").filter(has_text="cancelled the chat")
    expect(line).to_contain_text("Needs an on-site visit")
    expect(customer.get_by_test_id("message-input")).to_be_hidden()
    expect(customer.get_by_test_id("rating-submit")).to_be_visible()

    # A new chat, left by the customer while it waits: it leaves the agents' waiting list.
    customer.get_by_test_id("new-chat").click()
    second = start_chat(customer, "Technical", "Actually, one more thing")
    expect(chat_row(ana, second)).to_have_attribute("data-status", "waiting")
    customer.get_by_test_id("leave-chat").click()
    expect(customer.get_by_test_id("chat-status")).to_have_text("Cancelled")
    expect(
        customer.get_by_test_id("system-line").filter(has_text="You left the chat")
    ).to_be_visible()
    expect(chat_row(ana, second)).to_have_attribute("data-status", "cancelled")
    expect(ana.get_by_test_id("new-chat-notification")).to_have_count(0)
    ana.get_by_test_id("filter-waiting").click()
    expect(chat_row(ana, second)).to_have_count(0)


def test_two_agents_accept_together_one_wins(people: Browsers) -> None:
    ana_w = people.open_page("ana")
    ben_w = people.open_page("ben")
    for w in (ana_w, ben_w):  # the loser's accept answers 409, which the browser logs
        w.allow(r"status of 409 .*/accept")
    ana = agent_sign_in(ana_w, "agent1@example.com")
    ben = agent_sign_in(ben_w, "agent2@example.com")
    customer = guest_sign_in(people.open_page("customer"), "Rita Race", "rita@example.org")
    chat_id = start_chat(customer, "General support", "Who will take me?")
    for agent in (ana, ben):
        chat_row(agent, chat_id).click()
        expect(agent.get_by_test_id("accept-chat")).to_be_visible()

    ana.get_by_test_id("accept-chat").dispatch_event("click")
    ben.get_by_test_id("accept-chat").dispatch_event("click")

    expect(customer.get_by_test_id("chat-status")).to_have_text("In Progress")
    for agent in (ana, ben):
        expect(chat_row(agent, chat_id)).to_have_attribute("data-status", "in_progress")
        expect(agent.get_by_test_id("accept-chat")).to_be_hidden()
    for agent in (ana, ben):  # settled: either talking, or told a colleague took it
        settled = agent.locator(
            '[data-testid="message-input"]:visible, [data-testid="chat-notice"]:visible'
        )
        expect(settled.first).to_be_visible()
    winners = [a for a in (ana, ben) if a.get_by_test_id("message-input").is_visible()]
    assert len(winners) == 1
    loser = ben if winners[0] is ana else ana
    expect(loser.get_by_test_id("chat-notice")).to_contain_text("accepted this chat")
    expect(loser.get_by_test_id("mark-solved")).to_be_disabled()
    expect(customer.get_by_test_id("system-line").filter(has_text="joined the chat")).to_have_count(
        1
    )


def test_html_in_messages_and_names_is_shown_as_text(people: Browsers) -> None:
    dialogs: list[str] = []
    ana_w = people.open_page("ana")
    ana = agent_sign_in(ana_w, "agent1@example.com")
    customer_w = people.open_page("customer")
    for page in (ana, customer_w.page):
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    customer = guest_sign_in(customer_w, "<b>Eve</b>", "eve@example.org")
    payload = "<img src=x onerror=alert(1)>"
    chat_id = start_chat(customer, "General support", payload)
    accept_from_notification(ana, chat_id, "<b>Eve</b>", "General support")
    expect(message(ana, payload)).to_have_count(1)
    send(customer, "<script>alert(2)</script> javascript:alert(3)")
    expect(message(ana, "<script>alert(2)</script>")).to_have_count(1)
    for page in (ana, customer):
        expect(page.get_by_test_id("message-list").locator("img, script, b")).to_have_count(0)
        expect(page.get_by_test_id("message-list").locator("a")).to_have_count(0)
    expect(chat_row(ana, chat_id)).to_contain_text("<b>Eve</b>")
    assert dialogs == []


PHONE = {"width": 375, "height": 740}


def test_chat_on_phones(people: Browsers, shot: Shot) -> None:
    """Both sides on a 375 px phone: list ↔ chat navigation, options menu, no sideways scroll."""
    ana = agent_sign_in(
        people.open_page("ana", viewport=PHONE, is_mobile=True, has_touch=True),
        "agent1@example.com",
    )
    customer = guest_sign_in(
        people.open_page("customer", viewport=PHONE, is_mobile=True, has_touch=True),
        "Pia Phone",
        "pia@example.org",
    )
    shot(customer, "phone-portal-start")
    chat_id = start_chat(customer, "General support", "Hello from my phone")
    shot(customer, "phone-portal-waiting")
    expect(chat_row(ana, chat_id)).to_be_visible()
    shot(ana, "phone-console-list")
    chat_row(ana, chat_id).click()
    ana.get_by_test_id("accept-chat").click()
    expect(ana.get_by_test_id("message-input")).to_be_visible()
    send(ana, "Hi Pia, how can I help?")
    send(customer, "My screen is cracked, can you take a look at this long message please")
    expect(message(ana, "cracked")).to_have_count(1)
    shot(ana, "phone-console-chat")
    shot(customer, "phone-portal-chat")
    for page in (ana, customer):
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{width}px wide on a 375px phone"
    ana.get_by_test_id("chat-options").click()
    shot(ana, "phone-console-options")
    ana.get_by_test_id("mark-solved").click()
    expect(customer.get_by_test_id("chat-status")).to_have_text("Solved")
    shot(customer, "phone-portal-after")
    ana.get_by_role("button", name="Back to chats").click()
    expect(chat_row(ana, chat_id)).to_have_attribute("data-status", "solved")


def test_internal_notes_typing_and_a_helping_supervisor(people: Browsers, shot: Shot) -> None:
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    sam = agent_sign_in(people.open_page("sam"), "supervisor@example.com")
    customer = guest_sign_in(people.open_page("customer"), "Nina Note", "nina@example.org")
    chat_id = start_chat(customer, "General support", "Can I change my plan?")
    accept_from_notification(ana, chat_id, "Nina Note", "General support")

    # The customer's typing shows in the console.
    customer.get_by_test_id("message-input").press_sequentially("I mean the yearly one")
    expect(ana.get_by_test_id("typing-indicator")).to_contain_text("Nina Note is typing")
    customer.get_by_test_id("message-input").press("Enter")
    expect(message(ana, "I mean the yearly one")).to_have_count(1)
    expect(ana.get_by_test_id("typing-indicator")).to_be_hidden()

    # An internal note: visible to agents, never to the customer.
    ana.get_by_test_id("note-toggle").check()
    send(ana, "VIP customer, be generous")
    expect(ana.get_by_test_id("note").filter(has_text="VIP customer")).to_be_visible()
    ana.get_by_test_id("note-toggle").uncheck()
    send(ana, "Yes, you can switch any time")
    expect(message(customer, "switch any time")).to_have_count(1)
    expect(customer.get_by_text("VIP customer")).to_have_count(0)

    # The supervisor sees the chat and the note, joins to help and writes.
    chat_row(sam, chat_id).click()
    expect(sam.get_by_test_id("note").filter(has_text="VIP customer")).to_be_visible()
    sam.get_by_test_id("join-chat").click()
    expect(
        customer.get_by_test_id("system-line").filter(has_text="Sam Supervisor joined to help")
    ).to_be_visible()
    send(sam, "Supervisor here: the switch is free")
    expect(message(customer, "the switch is free")).to_have_count(1)
    expect(message(ana, "the switch is free")).to_have_count(1)
    shot(sam, "console-supervisor")


def test_closed_queue_offers_leave_a_message(people: Browsers, shot: Shot) -> None:
    admin = people.open_page("admin").page
    admin.goto("/")
    login = admin.context.request.post(
        "/api/v1/auth/login", data={"email": "admin@example.com", "password": "helpline-demo"}
    )
    assert login.ok
    token = next(c["value"] for c in admin.context.cookies() if c["name"] == "helpline_csrf")
    queues = admin.context.request.get("/api/v1/queues").json()["items"]
    billing = next(q for q in queues if q["name"] == "Billing")
    closed = admin.context.request.patch(
        f"/api/v1/queues/{billing['id']}",
        data={"hours": {"timezone": "UTC", "weekly": {}}},
        headers={"X-CSRF-Token": token},
    )
    assert closed.ok, closed.text()

    customer = guest_sign_in(people.open_page("customer"), "Lea Late", "lea@example.org")
    customer.get_by_test_id("start-queue").select_option(label="Billing (closed now)")
    closed_notice = customer.get_by_test_id("queue-closed")
    expect(closed_notice).to_contain_text("closed right now")
    # The notice replaces the start form (CONTRACT-2: the away text, with "leave a message").
    expect(customer.get_by_test_id("start-chat")).to_be_hidden()
    closed_notice.get_by_test_id("leave-message-closed").click()
    customer.get_by_test_id("leave-message-summary").fill("Please refund invoice 42")
    shot(customer, "portal-leave-message")
    customer.get_by_test_id("leave-message-submit").click()
    row = customer.get_by_test_id("request-row").filter(has_text="Please refund invoice 42")
    expect(row).to_be_visible()
    expect(row).to_have_attribute("data-status", "new")
