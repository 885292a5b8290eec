"""Context in real browsers: the admin's start-form builder and a customer filling it on the
portal, the agent's customer panel (answers, visit, earlier chats opening their transcript,
open requests, rating), and tagging a chat by keyboard then finding it by the tag filter."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from helpline.accounts.devices import parts
from tests.e2e.support import (
    Browsers,
    HelplineServer,
    agent_sign_in,
    api_call,
    chat_row,
    guest_sign_in,
    message,
    queue_id,
    sign_in,
    start_chat,
    token_for,
)

pytestmark = pytest.mark.e2e

Shot = Callable[[Page, str], None]
PHONE = {"width": 390, "height": 844}


def add_field(
    page: Page, label: str, kind: str, *, required: bool = False, options: str = ""
) -> None:
    page.get_by_test_id("fb-add").click()
    row = page.get_by_test_id("fb-row").last
    expect(row.get_by_test_id("fb-label")).to_be_focused()
    page.keyboard.type(label)
    row.get_by_test_id("fb-type").select_option(kind)
    if required:
        row.get_by_test_id("fb-required").check()
    if options:
        row.get_by_test_id("fb-options").fill(options)


def test_admin_builds_a_start_form_the_customer_fills_it_the_agent_sees_it(
    people: Browsers, shot: Shot
) -> None:
    admin = people.open_page("admin")
    a = admin.page
    sign_in(a, "/console/admin", "admin@example.com")
    expect(a.get_by_test_id("user-row").first).to_be_visible()  # the page is wired
    a.get_by_test_id("admin-tab-queues").click()
    row = a.locator('[data-testid="queue-row"][data-queue-name="General support"]')
    row.get_by_test_id("queue-fields").click()
    dialog = a.get_by_test_id("fields-dialog")
    expect(dialog).to_be_visible()

    add_field(a, "Order number", "number", required=True)
    expect(dialog.get_by_test_id("fb-key").first).to_have_value("order_number")
    add_field(a, "Topic", "select")  # no options yet: refused next to the field
    add_field(a, "Remove me", "text")
    dialog.get_by_test_id("fb-save").click()
    rows = dialog.get_by_test_id("fb-row")
    expect(rows.nth(1).get_by_test_id("fb-error")).to_have_text("A list needs at least one option.")
    rows.nth(1).get_by_test_id("fb-options").fill("Delivery\nRefund")
    rows.nth(2).get_by_test_id("fb-remove").click()
    expect(rows).to_have_count(2)
    rows.nth(1).get_by_test_id("fb-up").click()  # Topic first
    expect(rows.nth(0).get_by_test_id("fb-label")).to_have_value("Topic")
    shot(a, "admin-start-form")
    dialog.get_by_test_id("fb-save").click()
    expect(dialog).to_be_hidden()
    expect(row.get_by_test_id("queue-fields")).to_have_text("Start form (2)")

    # The customer: the form follows the queue picked.
    customer = guest_sign_in(people.open_page("customer"), "Fay Guest", "fay@example.org")
    fields = customer.get_by_test_id("prechat-field")
    customer.get_by_test_id("start-queue").select_option(label="General support")
    expect(fields).to_have_count(2)
    expect(fields.nth(0)).to_contain_text("Topic")
    customer.get_by_test_id("start-queue").select_option(label="Billing")
    expect(fields).to_have_count(1)  # Billing's own form: the demo's optional invoice number
    expect(fields.nth(0)).to_have_attribute("data-key", "invoice")
    customer.get_by_test_id("start-queue").select_option(label="General support")
    customer.get_by_test_id("start-message").fill("Where is my parcel?")
    customer.get_by_test_id("start-chat").click()
    order = customer.locator('[data-testid="prechat-field"][data-key="order_number"]')
    expect(order).to_contain_text("Order number: this is required.")
    expect(order.locator("input")).to_be_focused()
    expect(customer.get_by_test_id("queue-position")).to_be_hidden()
    order.locator("input").fill("1234")
    customer.locator('[data-testid="prechat-field"][data-key="topic"] select').select_option(
        "Refund"
    )
    shot(customer, "portal-start-form-fields")
    customer.get_by_test_id("start-chat").click()
    expect(customer.get_by_test_id("chat-status")).to_have_text("Waiting")
    chat_id = customer.evaluate("sessionStorage.getItem('helpline.portal.chat')")

    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    chat_row(ana, chat_id).click()
    panel = ana.get_by_test_id("customer-panel")
    expect(panel).to_be_visible()
    expect(panel.get_by_test_id("cp-name")).to_have_text("Fay Guest")
    expect(panel.locator('[data-testid="cp-answer"][data-key="order_number"]')).to_have_text("1234")
    expect(panel.locator('[data-testid="cp-answer"][data-key="topic"]')).to_have_text("Refund")
    expect(panel.get_by_test_id("cp-answers")).to_contain_text("Order number")
    expect(panel.get_by_test_id("cp-page")).to_contain_text("127.0.0.1")
    # The server's parts of the customer's user agent (the same browser here), in words.
    device = parts(customer.evaluate("navigator.userAgent"))
    assert device is not None and device.os is not None
    expect(panel.get_by_test_id("cp-browser")).to_have_text(f"{device.browser} on {device.os}")
    expect(panel.get_by_test_id("cp-language")).not_to_be_empty()
    expect(panel.get_by_test_id("cp-chats")).to_contain_text("This is their first chat.")
    shot(ana, "console-customer-panel-answers")


def _earlier_chat(server: HelplineServer) -> tuple[str, str]:
    """Carla's solved chat (rated 4) with a request raised from it: (chat id, reference)."""
    carla = token_for(server, "customer1@example.com")
    ana = token_for(server, "agent1@example.com")
    general = queue_id(server, "General support")
    chat = api_call(
        server, "POST", "/chats", {"queue_id": general, "message": "My invoice is wrong"}, carla
    )
    api_call(server, "POST", f"/chats/{chat['id']}/accept", {}, ana)
    body = {"text": "I will raise a request for billing.", "client_id": "e2e-1"}
    api_call(server, "POST", f"/chats/{chat['id']}/messages", body, ana)
    req = api_call(
        server, "POST", f"/chats/{chat['id']}/requests", {"summary": "Correct the invoice"}, ana
    )
    api_call(server, "POST", f"/chats/{chat['id']}/solve", {}, ana)
    api_call(server, "POST", f"/chats/{chat['id']}/rating", {"score": 4}, carla)
    return str(chat["id"]), str(req["reference"])


def test_customer_panel_shows_earlier_chats_and_opens_their_transcript(
    people: Browsers, server: HelplineServer, shot: Shot
) -> None:
    earlier_id, request_ref = _earlier_chat(server)
    carla = people.open_page("carla").page
    sign_in(carla, "/", "customer1@example.com")
    chat_id = start_chat(carla, "General support", "Hello again")

    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    chat_row(ana, chat_id).click()
    panel = ana.get_by_test_id("customer-panel")
    earlier = panel.get_by_test_id("cp-chat")
    expect(earlier).to_have_count(1)
    expect(earlier).to_have_attribute("data-chat-id", earlier_id)
    expect(earlier).to_contain_text("Solved")
    expect(panel.get_by_test_id("cp-request")).to_contain_text(request_ref)
    expect(panel.get_by_test_id("cp-request")).to_contain_text("Correct the invoice")
    expect(panel.get_by_test_id("cp-rating-value")).to_have_text("4.0 / 5")
    expect(panel).not_to_contain_text("null")
    shot(ana, "console-customer-panel")

    # Opening the earlier chat shows its whole conversation, read-only.
    earlier.click()
    expect(ana.get_by_test_id("open-chat-tab")).to_have_count(2)
    expect(message(ana, "My invoice is wrong")).to_be_visible()
    expect(message(ana, "I will raise a request for billing.")).to_be_visible()
    expect(ana.locator('[data-role="closed-bar"]')).to_contain_text("solved")
    expect(ana.get_by_test_id("message-input")).to_be_hidden()

    # Collapsible: hidden, then shown again by keyboard.
    toggle = ana.get_by_test_id("customer-panel-toggle")
    toggle.click()
    expect(panel).to_be_hidden()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.focus()
    ana.keyboard.press("Enter")
    expect(panel).to_be_visible()


def test_customer_panel_on_a_phone(people: Browsers, server: HelplineServer, shot: Shot) -> None:
    _earlier_chat(server)
    carla = people.open_page("carla").page
    sign_in(carla, "/", "customer1@example.com")
    chat_id = start_chat(carla, "General support", "Hello from my phone")
    watched = people.open_page("ana", viewport=PHONE, is_mobile=True, has_touch=True)
    ana = agent_sign_in(watched, "agent1@example.com")
    chat_row(ana, chat_id).click()
    panel = ana.get_by_test_id("customer-panel")
    expect(panel).to_be_hidden()  # collapsed on a phone until asked for
    ana.get_by_test_id("customer-panel-toggle").click()
    expect(panel).to_be_visible()
    expect(panel.get_by_test_id("cp-chat")).to_have_count(1)
    box = panel.bounding_box()
    assert box is not None and box["width"] >= PHONE["width"] - 2
    shot(ana, "console-customer-panel-phone")
    panel.get_by_role("button", name="Hide customer details").click()
    expect(panel).to_be_hidden()
    expect(ana.get_by_test_id("message-list")).to_be_visible()


def test_tag_a_chat_by_keyboard_and_find_it_by_the_tag_filter(
    people: Browsers, server: HelplineServer, shot: Shot
) -> None:
    # A desk without tags yet (the demo seeds four): the admin makes the first two.
    admin_token = token_for(server, "admin@example.com")
    for seeded in api_call(server, "GET", "/tags", token=admin_token)["items"]:
        api_call(server, "DELETE", f"/tags/{seeded['id']}", token=admin_token)
    admin = people.open_page("admin")
    # The name taken below is a 409 the page shows; the browser logs the failed request.
    admin.allow(r"Failed to load resource: the server responded with a status of 409")
    a = admin.page
    sign_in(a, "/console/admin", "admin@example.com")
    expect(a.get_by_test_id("user-row").first).to_be_visible()  # the page is wired
    a.get_by_test_id("admin-tab-tags").click()
    for name in ("VIP", "Refund"):
        a.get_by_test_id("tag-name").fill(name)
        a.get_by_test_id("tag-create").click()
        expect(a.locator(f'[data-testid="tag-row"][data-tag-name="{name}"]')).to_be_visible()
    a.get_by_test_id("tag-name").fill("vip")  # taken, whatever the case
    a.get_by_test_id("tag-create").click()
    expect(a.locator("#tag-form [data-role=error]")).to_contain_text("exists")
    expect(a.get_by_test_id("tag-row")).to_have_count(2)
    shot(a, "admin-tags")

    first = guest_sign_in(people.open_page("first"), "Gil Guest", "gil@example.org")
    tagged = start_chat(first, "General support", "Please call me back")
    second = guest_sign_in(people.open_page("second"), "Hal Guest", "hal@example.org")
    other = start_chat(second, "General support", "Just a question")

    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    chat_row(ana, tagged).click()
    ana.get_by_test_id("accept-chat").click()
    expect(ana.get_by_test_id("message-input")).to_be_enabled()
    panel = ana.get_by_test_id("customer-panel")
    box = panel.get_by_test_id("tag-input")
    box.focus()
    box.press_sequentially("vi")
    expect(box).to_have_attribute("aria-expanded", "true")
    options = panel.get_by_test_id("tag-option")
    expect(options).to_have_count(1)
    box.press("Enter")
    expect(panel.get_by_test_id("chat-tags").get_by_test_id("tag-chip")).to_contain_text(["VIP"])
    box.fill("")
    box.press("ArrowDown")  # the list is by name: Refund, then VIP (ticked)
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    box.press("Enter")
    chips = panel.get_by_test_id("chat-tags").get_by_test_id("tag-chip")
    expect(chips).to_contain_text(["Refund", "VIP"])
    box.press("Backspace")  # the empty box: the last tag comes off
    expect(chips).to_contain_text(["Refund"])
    box.press("Escape")
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(chat_row(ana, tagged).get_by_test_id("chat-row-tag")).to_have_count(1)
    expect(chat_row(ana, other).get_by_test_id("chat-row-tag")).to_have_count(0)
    shot(ana, "console-tags")

    ana.get_by_test_id("tag-filter").select_option(label="Refund")
    expect(ana.get_by_test_id("chat-row")).to_have_count(1)
    expect(chat_row(ana, tagged)).to_be_visible()
    ana.get_by_test_id("tag-filter").select_option("")
    expect(chat_row(ana, other)).to_be_visible()
    # The customer never sees the tags.
    chat = api_call(
        server, "GET", f"/chats/{tagged}", token=token_for(server, "agent1@example.com")
    )
    assert len(chat["tags"]) == 1


def test_reports_filtered_by_tag(people: Browsers, server: HelplineServer, shot: Shot) -> None:
    admin = token_for(server, "admin@example.com")
    vip = next(
        t for t in api_call(server, "GET", "/tags", token=admin)["items"] if t["name"] == "VIP"
    )
    ana = token_for(server, "agent1@example.com")
    general = queue_id(server, "General support")
    for n, email in enumerate(("customer1@example.com", "customer2@example.com")):
        chat = api_call(
            server,
            "POST",
            "/chats",
            {"queue_id": general, "message": "Hi"},
            token_for(server, email),
        )
        api_call(server, "POST", f"/chats/{chat['id']}/accept", {}, ana)
        if n == 0:
            api_call(server, "PUT", f"/chats/{chat['id']}/tags", {"tag_ids": [vip["id"]]}, ana)

    sam = agent_sign_in(people.open_page("sam"), "supervisor@example.com")
    sam.get_by_test_id("nav-reports").click()
    expect(sam.get_by_test_id("report-total-chats")).to_have_text("2")
    sam.get_by_test_id("report-tag").select_option(label="VIP")
    sam.get_by_test_id("report-apply").click()
    expect(sam.get_by_test_id("report-total-chats")).to_have_text("1")
    shot(sam, "console-reports-by-tag")
