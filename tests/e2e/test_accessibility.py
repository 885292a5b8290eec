"""axe-core over every page, view and open dialog, in the light and the dark theme: zero
violations of any impact (CONTRACT-2 "Languages and accessibility"). The counts per scan are
printed at the end of the run and written to test-output/axe-results.txt. One seeded server
for the module; views that came later and the phone width: test_accessibility_views.py."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.axe import Scanner
from tests.e2e.support import (
    PASSWORD,
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

pytestmark = pytest.mark.e2e

Shot = Callable[[Page, str], None]


@pytest.fixture
def axe() -> Iterator[Scanner]:
    scanner = Scanner()
    yield scanner
    scanner.check()


def dialog_scan(axe: Scanner, page: Page, opener: Locator, dialog: str, label: str) -> None:
    """Open a dialog, scan it in both themes, close it with Escape."""
    opener.click()
    box = page.locator(dialog)
    expect(box).to_be_visible()
    axe.scan_both_themes(page, label)
    page.keyboard.press("Escape")
    expect(box).to_be_hidden()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HelplineServer]:
    """One seeded server for the module (its tests only add data), plus a customer with a
    password (the demo has none)."""
    srv = HelplineServer(tmp_path_factory.mktemp("a11y") / "data", free_port())
    srv.data_dir.mkdir()
    srv.setup()
    srv.cli(
        "create-user",
        "--email",
        "egon@example.org",
        "--name",
        "Egon Customer",
        "--role",
        "customer",
        "--password",
        PASSWORD,
    )
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def test_signed_out_and_message_pages(people: Browsers, axe: Scanner) -> None:
    visitor = people.open_page("visitor")
    visitor.allow(r"status of 404 .*/transcript/no-such-chat")
    page = visitor.page
    for path, label in [
        ("/", "portal: sign-in"),
        ("/console", "console: sign-in"),
        ("/console/admin", "admin: sign-in"),
        ("/reset-password", "reset password: ask for a link"),
        ("/reset-password#token=not-a-real-token", "reset password: choose a new one"),
    ]:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        axe.scan_both_themes(page, label)
    arabic = people.open_page("arabic").page
    arabic.goto("/?lang=ar")
    expect(arabic.locator("html")).to_have_attribute("dir", "rtl")
    axe.scan_both_themes(arabic, "portal: sign-in in Arabic (right to left)")
    sign_in(page, "/console", "egon@example.org")
    expect(page.get_by_role("heading", name="This page is for the support team")).to_be_visible()
    axe.scan_both_themes(page, "console: signed in as a customer")
    page.goto("/transcript/no-such-chat")
    axe.scan_both_themes(page, "transcript: not found")
    agent = people.open_page("agent").page
    sign_in(agent, "/console/admin", "agent1@example.com")
    expect(agent.get_by_role("heading", name="Administrators only")).to_be_visible()
    axe.scan_both_themes(agent, "admin: not an administrator")


def test_widget_panel(people: Browsers, axe: Scanner) -> None:
    page = people.open_page("visitor").page
    page.goto("/widget/chat?queue=General%20support")
    expect(page.get_by_test_id("guest-name")).to_be_visible()
    axe.scan_both_themes(page, "widget: who are you")
    page.get_by_test_id("guest-name").fill("Wanda Widget")
    page.get_by_test_id("guest-email").fill("wanda@example.org")
    page.get_by_test_id("guest-submit").click()
    expect(page.get_by_test_id("start-message")).to_be_visible()
    axe.scan_both_themes(page, "widget: start a chat")
    page.get_by_test_id("start-message").fill("Where is my parcel?")
    page.get_by_test_id("start-chat").click()
    expect(page.get_by_test_id("queue-position")).to_be_visible()
    axe.scan_both_themes(page, "widget: waiting")
    # Talking: the agent's reply, the sound switch off; then two files to send.
    chat_id = page.evaluate("sessionStorage.getItem('helpline.widget.chat')").strip('"')
    ana = token_for(people.server, "agent1@example.com")
    api_call(people.server, "POST", f"/chats/{chat_id}/accept", {}, ana)
    api_call(
        people.server,
        "POST",
        f"/chats/{chat_id}/messages",
        {"text": "Let me check", "client_id": "a11y-1"},
        ana,
    )
    expect(page.get_by_test_id("message").filter(has_text="Let me check")).to_be_visible()
    page.get_by_test_id("sound-toggle").click()
    expect(page.get_by_test_id("sound-toggle")).to_have_attribute("aria-pressed", "true")
    axe.scan_both_themes(page, "widget: conversation, sound off")
    page.get_by_test_id("attach-file").set_input_files(
        files=[
            {"name": "a.txt", "mimeType": "text/plain", "buffer": b"a"},
            {"name": "b.txt", "mimeType": "text/plain", "buffer": b"b"},
        ]
    )
    expect(page.get_by_test_id("upload-file-name")).to_have_count(2)
    axe.scan_both_themes(page, "widget: upload dialog (two files)")
    page.keyboard.press("Escape")


def test_closed_topic_and_leave_a_message(people: Browsers, axe: Scanner) -> None:
    """Out of hours: the closed notice and the leave-a-message forms, portal and widget."""
    patch_queue(
        people.server, "Technical", hours={"timezone": "UTC", "weekly": {}, "exceptions": []}
    )
    page = guest_sign_in(people.open_page("customer"), "Ivy Guest", "ivy@example.org")
    page.get_by_test_id("start-queue").select_option(label="Technical (closed now)")
    expect(page.get_by_test_id("queue-closed")).to_be_visible()
    axe.scan_both_themes(page, "portal: topic closed")
    page.get_by_test_id("leave-message-closed").click()
    expect(page.get_by_test_id("leave-message-summary")).to_be_visible()
    page.get_by_test_id("leave-message-summary").fill("The VPN drops every hour")
    axe.scan_both_themes(page, "portal: leave a message")
    page.get_by_test_id("leave-message-submit").click()
    expect(page.get_by_test_id("my-requests").get_by_test_id("request-row")).to_be_visible()
    axe.scan_both_themes(page, "portal: message left")

    widget = people.open_page("visitor").page
    widget.goto("/widget/chat?queue=Technical")
    widget.get_by_test_id("guest-name").fill("Wes Widget")
    widget.get_by_test_id("guest-email").fill("wes@example.org")
    widget.get_by_test_id("guest-submit").click()
    expect(widget.get_by_test_id("queue-closed")).to_be_visible()
    axe.scan_both_themes(widget, "widget: topic closed")
    widget.get_by_test_id("leave-message-closed").click()
    expect(widget.get_by_test_id("leave-message-summary")).to_be_visible()
    axe.scan_both_themes(widget, "widget: leave a message")
    widget.get_by_test_id("leave-message-summary").fill("Call me back")
    widget.get_by_test_id("leave-message-submit").click()
    expect(widget.get_by_test_id("leave-message-sent")).to_be_visible()
    axe.scan_both_themes(widget, "widget: message left")


def test_portal_and_console(people: Browsers, axe: Scanner) -> None:
    # Targets for chats and requests: the countdown chips in the lists, headers and requests.
    target = {"response_s": 3600, "resolve_s": 86400}
    patch_queue(
        people.server,
        "General support",
        sla={"first_response_s": 3600},
        request_sla=dict.fromkeys(("urgent", "high", "normal", "low"), target),
    )
    customer = guest_sign_in(people.open_page("customer"), "Grace Guest", "grace@example.org")
    axe.scan_both_themes(customer, "portal: start a chat")
    chat_id = start_chat(customer, "General support", "My order never arrived")
    axe.scan_both_themes(customer, "portal: waiting")

    ana = agent_sign_in(people.open_page("ana"), "supervisor@example.com")
    expect(ana.get_by_test_id("sla-chip").first).to_be_visible()
    axe.scan_both_themes(ana, "console: chats")
    chat_row(ana, chat_id).click()
    expect(ana.get_by_test_id("accept-chat")).to_be_visible()
    axe.scan_both_themes(ana, "console: waiting chat")
    ana.get_by_test_id("accept-chat").click()
    expect(ana.get_by_test_id("message-input")).to_be_enabled()
    send(ana, "Hello, let me look")
    expect(message(customer, "let me look")).to_have_count(1)
    send(customer, "Thanks!")
    expect(message(ana, "Thanks!")).to_have_count(1)
    axe.scan_both_themes(ana, "console: conversation")
    axe.scan_both_themes(customer, "portal: conversation")

    customer.get_by_test_id("attach-file").set_input_files(
        files=[
            {"name": "receipt.txt", "mimeType": "text/plain", "buffer": b"paid"},
            {"name": "invoice.txt", "mimeType": "text/plain", "buffer": b"due"},
        ]
    )
    dialog_box = customer.locator("#upload-dialog")
    expect(dialog_box).to_be_visible()
    expect(customer.get_by_test_id("upload-file-name")).to_have_count(2)
    axe.scan_both_themes(customer, "portal: upload dialog (two files)")
    customer.keyboard.press("Escape")
    expect(dialog_box).to_be_hidden()

    panel = ana.get_by_test_id("customer-panel")
    if panel.get_attribute("data-open") != "true":
        ana.get_by_test_id("customer-panel-toggle").click()
    expect(panel).to_have_attribute("data-open", "true")
    expect(panel).to_contain_text("grace@example.org")
    axe.scan_both_themes(ana, "console: customer panel")

    for testid, dialog, label in [
        ("transfer-chat", "#transfer-dialog", "transfer"),
        ("move-queue", "#move-dialog", "move queue"),
        ("cancel-chat", "#cancel-dialog", "cancel chat"),
    ]:
        dialog_scan(axe, ana, ana.get_by_test_id(testid), dialog, f"console: {label} dialog")
    dialog_scan(
        axe, ana, ana.get_by_test_id("alert-settings"), "#alerts-dialog", "console: alerts dialog"
    )
    ana.get_by_test_id("snippets").click()
    expect(ana.get_by_test_id("snippet-picker")).to_be_visible()
    axe.scan_both_themes(ana, "console: snippet picker")
    ana.keyboard.press("Escape")

    ana.get_by_test_id("user-menu").locator("summary").click()
    axe.scan_both_themes(ana, "console: user menu")
    ana.keyboard.press("Escape")
    for testid, dialog, label in [
        ("menu-totp", "#totp-dialog", "two-factor"),
        ("menu-tokens", "#tokens-dialog", "API tokens"),
        ("menu-sessions", "#sessions-dialog", "sessions"),
    ]:
        if not ana.get_by_test_id(testid).is_visible():
            ana.get_by_test_id("user-menu").locator("summary").click()
        dialog_scan(axe, ana, ana.get_by_test_id(testid), dialog, f"console: {label} dialog")

    # A request raised from the chat: the dialog, then the request in both places.
    ana.get_by_test_id("raise-request").click()
    expect(ana.locator("#request-dialog")).to_be_visible()
    axe.scan_both_themes(ana, "console: raise request dialog")
    ana.get_by_test_id("request-submit").click()
    expect(ana.get_by_test_id("request-reference")).to_have_text(re.compile(r"^SR-\d{6}$"))
    reference = ana.get_by_test_id("request-reference").inner_text().strip()

    ana.get_by_test_id("mark-solved").click()
    expect(customer.get_by_test_id("rating-submit")).to_be_visible()
    axe.scan_both_themes(customer, "portal: ended, rating")
    axe.scan_both_themes(ana, "console: solved chat")
    customer.get_by_test_id("rating-submit").click()
    expect(customer.get_by_test_id("rating-thanks")).to_be_visible()
    customer.get_by_test_id("read-transcript").click()
    expect(customer.get_by_test_id("transcript")).to_be_visible()
    axe.scan_both_themes(customer, "portal: rated, transcript open")

    customer.goto(f"/#requests/{reference}")
    customer.wait_for_load_state("networkidle")
    axe.scan_both_themes(customer, "portal: a request")
    customer.goto(f"/transcript/{chat_id}")
    axe.scan_both_themes(customer, "transcript page")

    for view in ["requests", "snippets", "search", "supervisor", "reports"]:
        ana.goto(f"/console#{view}")
        expect(ana.locator(f"#{view}-view")).to_be_visible()
        ana.wait_for_load_state("networkidle")
        axe.scan_both_themes(ana, f"console: {view}")
    ana.goto(f"/console#requests/{reference}")
    expect(ana.get_by_test_id("sr-status")).to_be_visible()
    axe.scan_both_themes(ana, "console: a request")
    ana.goto("/console#search")
    ana.get_by_test_id("search-input").fill("order")
    ana.get_by_test_id("search-submit").click()
    expect(ana.get_by_test_id("search-results").locator("li").first).to_be_visible()
    axe.scan_both_themes(ana, "console: search results")


def test_admin_sections_and_dialogs(people: Browsers, axe: Scanner) -> None:
    admin = agent_sign_in(people.open_page("admin"), "admin@example.com")
    admin.goto("/console/admin")
    expect(admin.get_by_test_id("user-row").first).to_be_visible()
    for tab in admin.locator("[data-section]").all():
        name = tab.inner_text().strip()
        tab.click()
        admin.wait_for_load_state("networkidle")
        axe.scan_both_themes(admin, f"admin: {name}")
        if tab.get_attribute("data-section") == "queues":
            row = admin.get_by_test_id("queue-row").first
            dialog_scan(
                axe,
                admin,
                row.get_by_test_id("queue-members"),
                "#members-dialog",
                "admin: members dialog",
            )
            dialog_scan(
                axe,
                admin,
                row.get_by_test_id("queue-fields"),
                "#fields-dialog",
                "admin: start form dialog",
            )
            dialog_scan(
                axe,
                admin,
                row.get_by_test_id("queue-settings"),
                "#queue-settings-dialog",
                "admin: queue settings dialog",
            )
        if tab.get_attribute("data-section") == "data":
            admin.get_by_test_id("customer-search").fill("egon")
            row = admin.get_by_test_id("customer-row").filter(has_text="egon@example.org")
            expect(row).to_be_visible()
            axe.scan_both_themes(admin, "admin: customer found")
            dialog_scan(
                axe,
                admin,
                row.get_by_test_id("customer-erase"),
                "#erase-dialog",
                "admin: erase dialog",
            )


PULSE = """() => {
  const s = getComputedStyle(document.querySelector('[data-role="waiting"] .waiting-panel__pulse'));
  return {count: s.animationIterationCount, duration: parseFloat(s.animationDuration)};
}"""


def test_dark_theme_and_reduced_motion(people: Browsers, shot: Shot) -> None:
    """The browser's preferences decide: dark colours, and no motion when asked for less."""
    calm = guest_sign_in(
        people.open_page("calm", color_scheme="dark", reduced_motion="reduce"),
        "Dee Dark",
        "dee@example.org",
    )
    start_chat(calm, "General support", "Dark and still, please")
    body = calm.evaluate("getComputedStyle(document.body).backgroundColor")
    assert body == "rgb(16, 19, 26)", body  # --color-bg of the dark theme
    assert calm.evaluate(PULSE) == {"count": "1", "duration": 0.00001}
    shot(calm, "dark-portal-waiting")

    busy = guest_sign_in(people.open_page("busy"), "Lee Light", "lee@example.org")
    start_chat(busy, "General support", "Light and lively")
    assert busy.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(244, 246, 251)"
    assert busy.evaluate(PULSE)["count"] == "infinite"

    agent = agent_sign_in(people.open_page("agent", color_scheme="dark"), "supervisor@example.com")
    shot(agent, "dark-console-chats")
    agent.goto("/console#reports")
    expect(agent.locator("#reports-view")).to_be_visible()
    agent.wait_for_load_state("networkidle")
    shot(agent, "dark-console-reports")
