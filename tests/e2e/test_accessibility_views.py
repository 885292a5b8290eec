"""axe-core over the views and dialogs that landed after the first sweep (test_accessibility.py):
the widget's earlier chats for a verified visitor, image thumbnails and the image viewer,
"Seen" receipts and the sound switch, the data export, a created API token and the confirm
dialog, the SLA chips at risk and overdue, the supervisor's chats in progress, the transfer
dialog with an agent to pick, the admin Webhooks tab, the queue settings with the weekly grid,
service levels and automatic messages, the widget settings with their snippets; and the main
screens of portal, widget and console on a phone (375 px). Light and dark
theme, zero violations of any impact.

One seeded server for the whole module (tests here only add data, each its own customers and
chats), one Chromium (the module's), so the scans cost one server start, not one per test."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.axe import Scanner
from tests.e2e.support import (
    Browsers,
    HelplineServer,
    agent_sign_in,
    api_call,
    chat_row,
    free_port,
    guest_sign_in,
    message,
    patch_queue,
    send,
    sign_in,
    start_chat,
    token_for,
)
from tests.e2e.test_accessibility import dialog_scan
from tests.e2e.test_images import DROP, PASTE, _args, confirm_upload, png_bytes
from tests.e2e.test_webhooks import Receiver
from tests.e2e.test_widget import Shop, widget_frame
from tests.e2e.test_widget_identity import embed_signed_in, open_panel, user_hash

pytestmark = pytest.mark.e2e

SECRET = "shop-widget-secret-3d9e"  # test_widget_identity's, so its user_hash() signs for it
PHONE = {"width": 375, "height": 740}


@pytest.fixture(scope="module")
def shop() -> Iterator[Shop]:
    s = Shop()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, shop: Shop) -> Iterator[HelplineServer]:
    """One seeded server for the module: the shop may embed the widget and sign its visitors,
    webhooks may go to the receiver on loopback."""
    srv = HelplineServer(tmp_path_factory.mktemp("a11y-views") / "data", free_port())
    srv.env.update(
        {
            "HELPLINE_WIDGET_ORIGINS": f"http://localhost:{shop.port}",
            "HELPLINE_WIDGET_SECRET": SECRET,
            "HELPLINE_WEBHOOK_ALLOW_PRIVATE": "on",
            "HELPLINE_OUTBOX_RETRY_S": "1",
        }
    )
    srv.data_dir.mkdir()
    srv.setup()
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def axe() -> Iterator[Scanner]:
    scanner = Scanner()
    yield scanner
    scanner.check()


def accept(agent: Page, chat_id: str) -> None:
    # The server is the module's: the grace after an earlier test's page closed may have set
    # this agent offline while they signed in here. Ask the server, not the select, and wait
    # for the console to show what the server says before changing it.
    status = agent.get_by_test_id("availability")
    on_server = agent.evaluate("fetch('/api/v1/me').then((r) => r.json()).then((u) => u.status)")
    expect(status).to_have_value(on_server)
    if on_server != "available":
        status.select_option("available")
        # The dot changes once the server has taken the change.
        expect(agent.locator('[data-role="availability-dot"]')).to_have_class("dot dot--available")
    chat_row(agent, chat_id).click()
    agent.get_by_test_id("accept-chat").click()
    expect(agent.get_by_test_id("message-input")).to_be_enabled()


def agent_image(agent: Page) -> None:
    """The agent drops an image onto the open conversation and sends it."""
    agent.evaluate(
        DROP,
        [".chat-window [data-testid='message-list']", *_args(png_bytes(), "map.png", "image/png")],
    )
    confirm_upload(agent, "map.png")


def test_widget_verified_visitor_images_receipts_and_earlier_chats(
    people: Browsers, server: HelplineServer, shop: Shop, axe: Scanner
) -> None:
    embed_signed_in(shop, server.url, "cust-7001", user_hash("cust-7001"))
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    visitor = people.open_page("visitor").page
    panel = open_panel(visitor, shop.port)
    expect(panel.get_by_test_id("start-message")).to_be_visible()
    axe.scan_both_themes(visitor, "widget: start, verified visitor", widget_frame(visitor))

    panel.get_by_test_id("start-message").fill("The parcel box is empty")
    panel.get_by_test_id("start-chat").click()
    expect(panel.get_by_test_id("chat-status")).to_have_text("Waiting")
    chat_id = widget_frame(visitor).evaluate(
        "document.querySelector('[data-view=\"chat\"]').dataset.chatId"
    )
    accept(ana, chat_id)
    send(ana, "Let me check the depot")
    expect(panel.get_by_test_id("message").filter(has_text="depot")).to_be_visible()
    agent_image(ana)
    thumb = panel.get_by_test_id("file-thumbnail")
    expect(thumb).to_have_count(1)
    expect(thumb).to_have_attribute("src", re.compile(r"^blob:"))
    # The visitor sends an image too, then a line the agent reads: "Seen" on both sides.
    assert widget_frame(visitor).evaluate(PASTE, _args(png_bytes(), "box.png", "image/png"))
    confirm_upload(panel, "box.png")
    panel.get_by_test_id("message-input").fill("Here is the box")
    panel.get_by_test_id("message-input").press("Enter")
    expect(message(ana, "Here is the box")).to_be_visible()
    expect(panel.get_by_test_id("seen")).to_have_count(1)
    expect(ana.get_by_test_id("seen")).to_have_count(1)
    expect(ana.get_by_test_id("file-thumbnail")).to_have_count(2)
    axe.scan_both_themes(visitor, "widget: conversation, images, seen", widget_frame(visitor))
    axe.scan_both_themes(ana, "console: conversation, images, seen")

    toggle = panel.get_by_test_id("sound-toggle")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    axe.scan_both_themes(visitor, "widget: sound off", widget_frame(visitor))

    panel.get_by_test_id("file-thumbnail").first.click()
    expect(panel.get_by_test_id("full-image")).to_be_visible()
    axe.scan_both_themes(visitor, "widget: image viewer dialog", widget_frame(visitor))
    panel.get_by_test_id("close-image").click()
    expect(panel.get_by_test_id("image-dialog")).to_have_count(0)

    panel.get_by_test_id("leave-chat").click()
    expect(panel.get_by_test_id("chat-ended")).to_be_visible()
    axe.scan_both_themes(visitor, "widget: chat ended", widget_frame(visitor))
    visitor.reload()
    visitor.get_by_test_id("widget-launcher").click()
    panel = visitor.frame_locator("iframe[data-helpline-frame]")
    row = panel.get_by_test_id("widget-history-row")
    expect(row).to_have_count(1)
    axe.scan_both_themes(visitor, "widget: earlier chats", widget_frame(visitor))
    row.click()
    expect(panel.get_by_test_id("message").filter(has_text="Here is the box")).to_be_visible()
    axe.scan_both_themes(visitor, "widget: an earlier chat", widget_frame(visitor))


def test_portal_images_sound_export_and_search(
    people: Browsers, server: HelplineServer, axe: Scanner
) -> None:
    ben = agent_sign_in(people.open_page("ben"), "agent2@example.com")
    customer = guest_sign_in(people.open_page("customer"), "Ines Image", "ines@example.org")
    chat_id = start_chat(customer, "Billing", "Two charges for one order")
    accept(ben, chat_id)
    send(ben, "I see both charges")
    agent_image(ben)
    expect(customer.get_by_test_id("file-thumbnail")).to_have_count(1)
    send(customer, "Thanks for checking")
    expect(message(ben, "Thanks for checking")).to_be_visible()
    expect(customer.get_by_test_id("seen")).to_have_count(1)
    toggle = customer.get_by_test_id("sound-toggle")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    axe.scan_both_themes(customer, "portal: conversation, image, seen, sound off")

    customer.get_by_test_id("download-my-data").click()
    expect(customer.get_by_test_id("export-status")).to_contain_text("ready", timeout=20_000)
    expect(customer.get_by_test_id("export-download")).to_be_visible()
    axe.scan_both_themes(customer, "portal: my data, export ready")

    # A signed-in customer with earlier chats: the history and a search with results.
    admin = token_for(server, "admin@example.com")
    agent = token_for(server, "agent1@example.com")
    api_call(
        server,
        "POST",
        "/users",
        {"email": "sami@x.org", "name": "Sami", "role": "customer", "password": "helpline-demo"},
        admin,
    )
    queues = api_call(server, "GET", "/queues")["items"]
    general = next(q["id"] for q in queues if q["name"] == "General support")
    chat = api_call(
        server,
        "POST",
        "/chats",
        {"queue_id": general, "message": "My quokkabrand kettle leaks"},
        token_for(server, "sami@x.org"),
    )
    api_call(server, "POST", f"/chats/{chat['id']}/accept", None, agent)
    api_call(server, "POST", f"/chats/{chat['id']}/solve", None, agent)
    sami = people.open_page("sami").page
    sign_in(sami, "/", "sami@x.org")
    expect(sami.get_by_test_id("chat-history")).to_be_visible()
    axe.scan_both_themes(sami, "portal: earlier chats")
    box = sami.get_by_test_id("portal-search")
    box.fill("quokkabrand")
    box.press("Enter")
    expect(sami.get_by_test_id("portal-search-result").first).to_be_visible()
    axe.scan_both_themes(sami, "portal: search results")


def test_console_sla_supervisor_transfer_tokens(
    people: Browsers, server: HelplineServer, axe: Scanner
) -> None:
    patch_queue(server, "Technical", sla={"first_response_s": 3600})
    sam = agent_sign_in(people.open_page("sam"), "supervisor@example.com")
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    waiting = guest_sign_in(people.open_page("waiting"), "Wim Wait", "wim@example.org")
    waiting_id = start_chat(waiting, "Technical", "The router blinks red")
    talking = guest_sign_in(people.open_page("talking"), "Tara Talk", "tara@example.org")
    talking_id = start_chat(talking, "Technical", "The VPN is slow")
    accept(ana, talking_id)
    send(ana, "Which office are you in?")

    # The supervisor's view: a waiting chat (Assign, Move) and one in progress (hand it over).
    sam.get_by_test_id("nav-supervisor").click()
    expect(
        sam.locator(f'[data-testid="sv-waiting-chat"][data-chat-id="{waiting_id}"]')
    ).to_be_visible()
    expect(
        sam.locator(f'[data-testid="sv-active-chat"][data-chat-id="{talking_id}"]')
    ).to_be_visible()
    axe.scan_both_themes(sam, "console: supervisor, waiting and in progress")

    # The transfer dialog with an available agent to pick.
    dialog_scan(
        axe,
        ana,
        ana.get_by_test_id("transfer-chat"),
        "#transfer-dialog",
        "console: transfer dialog, agents listed",
    )

    # The countdown chips at risk and overdue: the page's clock moved on (the chip's state
    # comes from the due times the server sent and the page's clock).
    clocked = agent_sign_in(people.open_page("clocked"), "agent1@example.com")
    chip = chat_row(clocked, waiting_id).get_by_test_id("sla-chip")
    expect(chip).to_have_attribute("data-sla", "ok")
    chat_row(clocked, waiting_id).click()
    expect(clocked.get_by_test_id("chat-sla")).to_be_visible()
    start = datetime.now(UTC)
    clocked.clock.set_fixed_time(start + timedelta(minutes=50))
    expect(chip).to_have_attribute("data-sla", "warning")
    axe.scan_both_themes(clocked, "console: SLA chips at risk")
    clocked.clock.set_fixed_time(start + timedelta(minutes=70))
    expect(chip).to_have_attribute("data-sla", "breached")
    axe.scan_both_themes(clocked, "console: SLA chips overdue")

    # An internal note (agents only, its own colours) with two chats open in tabs.
    ana.get_by_test_id("note-toggle").check()
    send(ana, "Customer is on the old VPN client")
    expect(ana.get_by_test_id("note").filter(has_text="old VPN client")).to_be_visible()
    ana.get_by_test_id("note-toggle").uncheck()
    chat_row(ana, waiting_id).click()
    expect(ana.locator('[data-role="open-tabs"] li')).to_have_count(2)
    chat_row(ana, talking_id).click()
    axe.scan_both_themes(ana, "console: internal note, two open chats")

    # A colleague in the queue reads along: the observe bar with "Join".
    cleo = agent_sign_in(people.open_page("cleo"), "agent3@example.com")
    chat_row(cleo, talking_id).click()
    expect(cleo.get_by_test_id("join-chat")).to_be_visible()
    axe.scan_both_themes(cleo, "console: observing a colleague's chat")

    # The snippet form's error, and a search that finds nothing.
    cleo.goto("/console#snippets")
    cleo.get_by_test_id("snippet-save").click()
    expect(cleo.get_by_test_id("snippet-error")).not_to_be_empty()
    axe.scan_both_themes(cleo, "console: snippet form with an error")
    cleo.goto("/console#search")
    cleo.get_by_test_id("search-input").fill("xylophonequartz")
    cleo.get_by_test_id("search-submit").click()
    expect(cleo.locator('[data-role="search-empty"]')).to_be_visible()
    axe.scan_both_themes(cleo, "console: search, nothing found")

    # A created API token (shown once) and the confirm dialog of revoking it.
    ana.get_by_test_id("user-menu").locator("summary").click()
    ana.get_by_test_id("menu-tokens").click()
    dialog = ana.get_by_test_id("tokens-dialog")
    dialog.get_by_test_id("token-name").fill("CRM sync")
    dialog.locator('[data-testid="token-scope"][value="chats:read"]').check()
    dialog.get_by_test_id("token-create").click()
    expect(dialog.get_by_test_id("token-secret")).to_contain_text("hlp_")
    axe.scan_both_themes(ana, "console: API token created dialog")
    dialog.get_by_test_id("token-row").get_by_test_id("token-revoke").click()
    expect(ana.get_by_test_id("confirm-ok")).to_be_visible()
    axe.scan_both_themes(ana, "console: confirm dialog")
    ana.keyboard.press("Escape")
    expect(ana.get_by_test_id("confirm-ok")).to_be_hidden()


def test_admin_webhooks_queue_settings_and_widget(
    people: Browsers, receiver: Receiver, axe: Scanner
) -> None:
    w = people.open_page("admin")
    w.allow("422")  # the refused save, as the browser logs it
    admin = w.page
    sign_in(admin, "/console/admin#webhooks", "admin@example.com")
    expect(admin.get_by_test_id("webhook-form")).to_be_visible()
    admin.get_by_test_id("webhook-url").fill(receiver.url)
    admin.get_by_test_id("webhook-event-chat.started").check()
    admin.get_by_test_id("webhook-save").click()
    expect(admin.get_by_test_id("webhook-secret-reveal")).to_be_visible()
    axe.scan_both_themes(admin, "admin: Webhooks, secret shown once")
    admin.get_by_test_id("webhook-secret-done").click()
    row = admin.get_by_test_id("webhook-row")
    row.get_by_test_id("webhook-test").click()
    expect(admin.get_by_test_id("webhook-deliveries")).to_be_visible()
    delivered = admin.locator('[data-testid="delivery-row"][data-status="delivered"]')
    for _ in range(120):  # the outbox delivers within a second or two (a busy machine: more)
        if delivered.count():
            break
        admin.get_by_test_id("webhook-deliveries-refresh").click()
        admin.wait_for_timeout(250)
    expect(delivered).to_have_count(1)
    axe.scan_both_themes(admin, "admin: Webhooks, delivery log")
    row.get_by_test_id("webhook-edit").click()
    expect(admin.get_by_test_id("webhook-cancel")).to_be_visible()
    axe.scan_both_themes(admin, "admin: Webhooks, editing an endpoint")
    admin.get_by_test_id("webhook-cancel").click()

    # The queue settings with everything open: the weekly grid, an exception, the automatic
    # reply, service levels, and an error beside its field.
    admin.get_by_test_id("admin-tab-queues").click()
    queue = admin.locator('[data-testid="queue-row"][data-queue-name="Billing"]')
    queue.get_by_test_id("queue-settings").click()
    dialog = admin.get_by_test_id("queue-settings-dialog")
    expect(dialog).to_be_visible()
    always = dialog.get_by_test_id("qs-always-open")
    if always.is_checked():
        always.uncheck()
    expect(dialog.get_by_test_id("hours-grid")).to_be_visible()
    dialog.get_by_test_id("hours-add-exception").click()
    expect(dialog.get_by_test_id("exception-date")).to_be_visible()
    auto = dialog.get_by_test_id("qs-auto-on")
    if not auto.is_checked():
        auto.check()
    dialog.get_by_test_id("qs-max-wait").fill("5")
    dialog.get_by_test_id("qs-routing-save").click()
    expect(dialog.locator("#qs-max-wait-error")).to_contain_text("greater than or equal to 10")
    axe.scan_both_themes(admin, "admin: queue settings, grid, automatic reply, service levels")
    admin.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    admin.get_by_test_id("admin-tab-widget").click()
    expect(admin.get_by_test_id("widget-snippet-python")).to_contain_text(SECRET)
    axe.scan_both_themes(admin, "admin: Widget, identity snippets")


def test_main_screens_on_a_phone(people: Browsers, server: HelplineServer, axe: Scanner) -> None:
    customer_w = people.open_page("customer", viewport=PHONE, is_mobile=True, has_touch=True)
    customer = customer_w.page
    customer.goto("/")
    expect(customer.get_by_test_id("guest-name")).to_be_visible()
    axe.scan_both_themes(customer, "phone: portal sign-in")
    customer = guest_sign_in(customer_w, "Pam Phone", "pam@example.org")
    axe.scan_both_themes(customer, "phone: portal start a chat")
    chat_id = start_chat(customer, "General support", "Typing on my phone")
    axe.scan_both_themes(customer, "phone: portal waiting")

    agent = agent_sign_in(
        people.open_page("agent", viewport=PHONE, is_mobile=True, has_touch=True),
        "agent2@example.com",
    )
    expect(chat_row(agent, chat_id)).to_be_visible()
    axe.scan_both_themes(agent, "phone: console chats")
    accept(agent, chat_id)
    send(agent, "Hello from a small screen")
    expect(message(customer, "small screen")).to_be_visible()
    axe.scan_both_themes(agent, "phone: console conversation")
    agent.get_by_test_id("chat-options").click()
    expect(agent.get_by_test_id("transfer-chat")).to_be_visible()
    axe.scan_both_themes(agent, "phone: console chat options open")
    agent.keyboard.press("Escape")
    axe.scan_both_themes(customer, "phone: portal conversation")
    assert agent.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for view in ["requests", "snippets", "search"]:
        agent.goto(f"/console#{view}")
        expect(agent.locator(f"#{view}-view")).to_be_visible()
        agent.wait_for_load_state("networkidle")
        axe.scan_both_themes(agent, f"phone: console {view}")
    sam = agent_sign_in(
        people.open_page("sam", viewport=PHONE, is_mobile=True, has_touch=True),
        "supervisor@example.com",
    )
    for view in ["supervisor", "reports"]:
        sam.goto(f"/console#{view}")
        expect(sam.locator(f"#{view}-view")).to_be_visible()
        sam.wait_for_load_state("networkidle")
        axe.scan_both_themes(sam, f"phone: console {view}")

    widget = people.open_page("visitor", viewport=PHONE, is_mobile=True, has_touch=True).page
    widget.goto("/widget/chat?queue=General%20support")
    expect(widget.get_by_test_id("guest-name")).to_be_visible()
    axe.scan_both_themes(widget, "phone: widget who are you")
    widget.get_by_test_id("guest-name").fill("Wil Widget")
    widget.get_by_test_id("guest-email").fill("wil@example.org")
    widget.get_by_test_id("guest-submit").click()
    expect(widget.get_by_test_id("start-message")).to_be_visible()
    axe.scan_both_themes(widget, "phone: widget start a chat")
    widget.get_by_test_id("start-message").fill("Small screen question")
    widget.get_by_test_id("start-chat").click()
    expect(widget.get_by_test_id("queue-position")).to_be_visible()
    axe.scan_both_themes(widget, "phone: widget waiting")
    widget_chat = widget.evaluate("document.querySelector('[data-view=\"chat\"]').dataset.chatId")
    agent.goto("/console")
    accept(agent, widget_chat)
    expect(widget.get_by_test_id("chat-status")).to_have_text("In Progress")
    send(agent, "Hi from support")
    expect(message(widget, "Hi from support")).to_be_visible()
    axe.scan_both_themes(widget, "phone: widget conversation")
