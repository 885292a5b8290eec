"""Keyboard-only journeys (no mouse, no element.click()): an agent accepts, answers and ends a
chat in the console; a customer starts a chat, writes and rates it in the portal; a visitor
starts a chat in the widget, writes, attaches a file and leaves. Every
control the Tab key lands on shows a visible focus indicator. Plus the dark theme and
`prefers-reduced-motion` as the browser asks for them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.support import (
    PASSWORD,
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

# How the focused element shows it: an outline, or a ring drawn with box-shadow. A control
# hidden from sight (the paperclip's file input) shows its focus on its visible label.
FOCUS_STYLE = """() => {
  let el = document.activeElement;
  if (!el || el === document.body) return null;
  if (getComputedStyle(el).opacity === "0" && el.labels && el.labels.length) el = el.labels[el.labels.length - 1];
  const s = getComputedStyle(el);
  const outline = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0;
  const ring = s.boxShadow !== "none";
  return {
    tag: el.tagName.toLowerCase(),
    name: el.getAttribute("aria-label") || el.dataset.testid || el.id || el.textContent.trim().slice(0, 30),
    visible: outline || ring,
    style: `${el.matches(":focus")} ${el.matches(":focus-visible")} ${s.boxShadow} ${s.outlineStyle}`,
  };
}"""


def tab_to(page: Page, target: Locator, *, limit: int = 80, back: bool = False) -> None:
    """Press Tab (Shift+Tab with `back`) until `target` has the focus; every stop on the way
    must show a visible focus indicator."""
    for _ in range(limit):
        if target.evaluate("el => el === document.activeElement"):
            return
        page.keyboard.press("Shift+Tab" if back else "Tab")
        focus = page.evaluate(FOCUS_STYLE)
        if focus is not None:
            assert focus["visible"], f"no visible focus on {focus['tag']} {focus['name']!r}"
    raise AssertionError(f"Tab never reached {target} in {limit} presses")


def walk_focus(page: Page, presses: int) -> int:
    """Tab through a page: every stop shows a visible focus indicator. Returns the stops."""
    seen = 0
    for _ in range(presses):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS_STYLE)
        if focus is not None:
            seen += 1
            assert focus["visible"], (
                f"no visible focus on {focus['tag']} {focus['name']!r} {focus['style']}"
            )
    return seen


def type_into(page: Page, target: Locator, text: str) -> None:
    tab_to(page, target)
    page.keyboard.type(text)


def test_console_journey_with_the_keyboard_alone(people: Browsers, shot: Shot) -> None:
    customer = guest_sign_in(people.open_page("customer"), "Kim Keys", "kim@example.org")
    chat_id = start_chat(customer, "General support", "Can you hear me?")

    agent = people.open_page("agent").page
    agent.goto("/console")
    type_into(agent, agent.get_by_test_id("login-email"), "agent1@example.com")
    type_into(agent, agent.get_by_test_id("login-password"), PASSWORD)
    agent.keyboard.press("Enter")
    expect(agent.locator('[data-role="conn-label"]')).to_have_text("Live")

    # The waiting chat in the list, then the accept button.
    row = chat_row(agent, chat_id).locator("button").first
    tab_to(agent, row)
    agent.keyboard.press("Enter")
    accept = agent.get_by_test_id("accept-chat")
    expect(accept).to_be_visible()
    tab_to(agent, accept)
    agent.keyboard.press("Enter")
    expect(chat_row(agent, chat_id)).to_have_attribute("data-status", "in_progress")
    expect(customer.get_by_test_id("chat-status")).to_have_text("In Progress")

    # Reply: the message box has the focus after accepting, or Tab finds it.
    box = agent.get_by_test_id("message-input")
    expect(box).to_be_enabled()
    tab_to(agent, box)
    agent.keyboard.type("Loud and clear")
    agent.keyboard.press("Enter")
    expect(message(customer, "Loud and clear")).to_have_count(1)
    send(customer, "Great, thanks")
    expect(message(agent, "Great, thanks")).to_have_count(1)
    shot(agent, "keyboard-console-reply")
    for scheme in ("dark", "light"):  # the open chat's controls: tabs, header, composer, panel
        agent.emulate_media(color_scheme=scheme)
        assert walk_focus(agent, 30) > 10

    # End it: back through the header to "Mark as Solved".
    solve = agent.get_by_test_id("mark-solved")
    tab_to(agent, solve, back=True)
    agent.keyboard.press("Enter")
    expect(chat_row(agent, chat_id)).to_have_attribute("data-status", "solved")
    expect(customer.get_by_test_id("rating-submit")).to_be_visible()


def test_portal_journey_with_the_keyboard_alone(people: Browsers, shot: Shot) -> None:
    page = people.open_page("customer").page
    page.goto("/")
    type_into(page, page.get_by_test_id("guest-name"), "Kai Keyboard")
    type_into(page, page.get_by_test_id("guest-email"), "kai@example.org")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("start-chat")).to_be_visible()

    # Topic: a <select> answers to the arrow keys; then the message and Start chat.
    queue = page.get_by_test_id("start-queue")
    tab_to(page, queue)
    for _ in range(5):
        if queue.evaluate("el => el.selectedOptions[0]?.textContent") == "General support":
            break
        page.keyboard.press("ArrowDown")
    expect(queue.locator("option:checked")).to_have_text("General support")
    type_into(page, page.get_by_test_id("start-message"), "Typing only, no mouse")
    tab_to(page, page.get_by_test_id("start-chat"))
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("chat-status")).to_have_text("Waiting")

    agent = agent_sign_in(people.open_page("agent"), "agent1@example.com")
    chat_id = str(page.evaluate("sessionStorage.getItem('helpline.portal.chat')"))
    chat_row(agent, chat_id).click()
    agent.get_by_test_id("accept-chat").click()
    expect(page.get_by_test_id("chat-status")).to_have_text("In Progress")

    box = page.get_by_test_id("message-input")
    tab_to(page, box)
    page.keyboard.type("Hello from the keyboard")
    page.keyboard.press("Enter")
    expect(message(agent, "Hello from the keyboard")).to_have_count(1)
    send(agent, "Hello back")
    expect(message(page, "Hello back")).to_have_count(1)
    # The agent's line is announced to screen readers; the customer's own is not.
    announcer = page.get_by_test_id("announcer")
    expect(announcer).to_contain_text("Hello back")
    expect(announcer).not_to_contain_text("Hello from the keyboard")
    for scheme in ("dark", "light"):  # the chat's controls, the sound switch, my data, search
        page.emulate_media(color_scheme=scheme)
        assert walk_focus(page, 25) > 6

    agent.get_by_test_id("mark-solved").click()
    score = page.get_by_test_id("rating-score")
    expect(score).to_be_visible()
    tab_to(page, score)
    page.keyboard.press("ArrowDown")
    expect(score).to_have_value("4")
    type_into(page, page.get_by_test_id("rating-comment"), "Quick and kind")
    tab_to(page, page.get_by_test_id("rating-submit"))
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("rating-thanks")).to_be_visible()
    shot(page, "keyboard-portal-rated")


def test_widget_journey_with_the_keyboard_alone(people: Browsers, shot: Shot) -> None:
    """The widget's panel: who you are, start, write, attach a file, leave; new messages and
    status changes reach screen readers through live regions."""
    page = people.open_page("visitor").page
    # Playwright turns the browser's file-chooser interception on without waiting for it when
    # the first listener comes: under load `expect_file_chooser` could lose that race against
    # the Space press below (a fifth-round CI run). A listener from the start turns it on early.
    page.on("filechooser", lambda _chooser: None)
    page.goto("/widget/chat?queue=General%20support")
    type_into(page, page.get_by_test_id("guest-name"), "Vic Visitor")
    type_into(page, page.get_by_test_id("guest-email"), "vic@example.org")
    page.keyboard.press("Enter")
    type_into(page, page.get_by_test_id("start-message"), "Keys only in the widget")
    tab_to(page, page.get_by_test_id("start-chat"))
    page.keyboard.press("Enter")
    status = page.get_by_test_id("chat-status")
    expect(status).to_have_text("Waiting")
    expect(status).to_have_attribute("role", "status")  # a live region: changes are read out
    expect(page.get_by_test_id("queue-position")).to_have_attribute("aria-live", "polite")

    agent = agent_sign_in(people.open_page("agent"), "agent1@example.com")
    row = agent.locator('[data-testid="chat-row"]').filter(has_text="Vic Visitor")
    row.click()
    agent.get_by_test_id("accept-chat").click()
    expect(status).to_have_text("In Progress")
    send(agent, "Hello, what do you need?")
    expect(message(page, "what do you need")).to_have_count(1)
    announcer = page.get_by_test_id("announcer")
    expect(announcer).to_contain_text("Hello, what do you need?")

    box = page.get_by_test_id("message-input")
    tab_to(page, box)
    page.keyboard.type("Typed in the widget")
    page.keyboard.press("Enter")
    expect(message(agent, "Typed in the widget")).to_have_count(1)
    expect(announcer).not_to_contain_text("Typed in the widget")  # one's own line is not read
    for scheme in ("dark", "light"):  # the panel's controls, the sound switch among them
        page.emulate_media(color_scheme=scheme)
        assert walk_focus(page, 12) > 4

    # The paperclip: Shift+Tab back from the message box to the file input, Space opens the
    # file chooser; the confirm dialog is answered with Tab and Enter.
    attach = page.get_by_test_id("attach-file")
    tab_to(page, attach, back=True)
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(
        files=[{"name": "serial.txt", "mimeType": "text/plain", "buffer": b"SN-2231"}]
    )
    expect(page.get_by_test_id("upload-file-name")).to_have_text("serial.txt")
    tab_to(page, page.get_by_test_id("confirm-upload"))
    page.keyboard.press("Enter")
    expect(agent.get_by_test_id("file-link").filter(has_text="serial.txt")).to_have_count(1)
    shot(page, "keyboard-widget-file")

    # Leave: the header's button, back through the panel.
    tab_to(page, page.get_by_test_id("leave-chat"), back=True)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("chat-ended")).to_be_visible()
    expect(status).not_to_have_text("In Progress")
    expect(chat_row(agent, page.evaluate(CHAT_ID))).not_to_have_attribute(
        "data-status", "in_progress"
    )


CHAT_ID = "document.querySelector('[data-view=\"chat\"]').dataset.chatId"


def test_every_tab_stop_shows_the_focus(people: Browsers) -> None:
    """Admin sections, the queue settings dialog and the console's other views, light and
    dark: no invisible focus."""
    admin = agent_sign_in(people.open_page("admin"), "admin@example.com")
    for scheme in ("light", "dark"):
        admin.emulate_media(color_scheme=scheme)
        for view in ("requests", "snippets", "search", "supervisor", "reports"):
            admin.goto(f"/console#{view}")
            expect(admin.locator(f"#{view}-view")).to_be_visible()
            assert walk_focus(admin, 25) > 5
        admin.goto("/console/admin")
        expect(admin.get_by_test_id("user-row").first).to_be_visible()
        assert walk_focus(admin, 60) > 20
        # Every other section, and the queue settings dialog with its weekly grid open.
        for section in ("queues", "tags", "webhooks", "audit", "data", "widget"):
            admin.get_by_test_id(f"admin-tab-{section}").focus()
            admin.keyboard.press("Enter")
            expect(admin.locator(f"#{section}-section")).to_be_visible()
            admin.wait_for_load_state("networkidle")
            assert walk_focus(admin, 30) > 5, section
        admin.get_by_test_id("admin-tab-queues").focus()
        admin.keyboard.press("Enter")
        admin.get_by_test_id("queue-row").first.get_by_test_id("queue-settings").focus()
        admin.keyboard.press("Enter")
        dialog = admin.get_by_test_id("queue-settings-dialog")
        expect(dialog).to_be_visible()
        always = dialog.get_by_test_id("qs-always-open")
        if always.is_checked():
            always.focus()
            admin.keyboard.press("Space")
        expect(dialog.get_by_test_id("hours-grid")).to_be_visible()
        assert walk_focus(admin, 60) > 30
        admin.keyboard.press("Escape")
