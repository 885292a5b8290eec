"""The pseudo-locale `qps` (HELPLINE_PSEUDO_LOCALE=on): every message of the catalogs renders
as "[Ŝéàŕçĥ]", so any visible text, placeholder, label or title still in plain English did not
go through the catalogs, and fails here. Data (names, queue names, references, e-mails, what
people wrote) is allowed by value.

The walk covers every page, console view, admin tab and dialog: signed out (portal, console and
admin sign-in, reset password, widget, transcript not found, away links used and fresh), the
portal (start, closed topic, leave a message, waiting, conversation, upload dialog, an image,
ended and rated, transcript, a request), the console (chats, a waiting chat, the conversation
with an image and "Seen", the customer panel, the transfer, move, cancel, alerts, raise-request
dialogs, the snippet picker, the user menu with two-factor set-up and recovery codes, API
tokens, sessions; the requests, a request, snippets, search and results, supervisor and reports
views), the transcript page, and the admin page (every tab, the members, start form, queue
settings, erase and confirm dialogs, a webhook endpoint with its deliveries, the widget tab).
Each screen's findings are collected, and the test fails at the end with all of them."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pyotp
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.support import (
    PASSWORD,
    Browsers,
    api_call,
    chat_row,
    patch_queue,
    sign_in,
    token_for,
)

pytestmark = pytest.mark.e2e

# Collects what a person sees: visible text nodes, and the labels of controls.
# Skipped: other languages, code, recorded values marked translate="no", and times.
COLLECT = """() => {
  const SKIP = 'script, style, [lang]:not(html), [translate="no"], code, pre, kbd, time';
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    const text = node.textContent.trim();
    if (!text || !el || el.closest(SKIP)) continue;
    if (!el.checkVisibility({ visibilityProperty: true })) continue;
    out.push(text);
  }
  for (const el of document.querySelectorAll("[placeholder], [aria-label], [title], img[alt]")) {
    if (el.closest('[lang]:not(html), [translate="no"]') || !el.checkVisibility({ visibilityProperty: true })) continue;
    for (const attr of ["placeholder", "aria-label", "title", "alt"]) {
      const value = el.getAttribute(attr);
      if (value) out.push(value);
    }
  }
  out.push(document.title);
  return out;
}"""

BRACKETED = re.compile(r"\[[^\[\]]*\]")
# Data the page formats rather than translates: references, and dates and times, which the
# pseudo-locale formats as English does (Intl has no locale for it).
DATA_PATTERNS = re.compile(
    r"\b(?:CS|SR)-\d+\b"
    r"|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2}(?:, \d{4})?"
    r"|\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b"
    r"|\b\d{1,2}:\d{2}(?::\d{2})? ?(?:AM|PM)\b"
    r"|\b\d+(?:\.\d+)? ?(?:B|kB|KB|MB|GB)\b"
    r"|https?://\S+"
    r"|\b(?:image|text|application|audio|video)/[\w.+-]+"  # a file's type
    r"|\b(?:chat|request|webhook)\.[a-z_]+\b"  # an event's type, as the API names it
    r"|\b[0-9a-f]{8}\b"  # a record's id, shortened as the audit log shows it (random: 5ca6eece)
    # A language's name, which the page asks Intl for in its own language (English for qps).
    r"|\bAmerican English \(en-US\)"
)
WORD = re.compile(r"[A-Za-z]{2,}")


def untranslated(page: Page, data: set[str]) -> list[str]:
    found = []
    for text in page.evaluate(COLLECT):
        rest = BRACKETED.sub(" ", text)
        for value in sorted(data, key=len, reverse=True):
            rest = rest.replace(value, " ")
        rest = DATA_PATTERNS.sub(" ", rest)
        if WORD.search(rest):
            found.append(text)
    return sorted(set(found))


@pytest.fixture
def server_env() -> dict[str, str]:
    # The webhook endpoint of the walk is the server itself, on loopback.
    return {"HELPLINE_PSEUDO_LOCALE": "on", "HELPLINE_WEBHOOK_ALLOW_PRIVATE": "on"}


# Data: the demo's names, queues, tags and start-form fields, and what the walk types.
DATA = {
    "Helpline",
    "General support",
    "Billing",
    "Technical",
    "Bug",
    "Feature request",
    "Refund",
    "VIP",
    "Pia Pseudo",
    "pia@example.org",
    "Egon Customer",
    "egon@example.org",
    "Ana Agent",
    "agent1@example.com",
    "Ben Agent",
    "agent2@example.com",
    "Cleo Agent",
    "agent3@example.com",
    "Sam Supervisor",
    "supervisor@example.com",
    "Ada Admin",
    "admin@example.com",
    "Carla Customer",
    "customer1@example.com",
    "Dan Customer",
    "customer2@example.com",
    "Invoice number",
    "Where does it happen?",
    "Web browser",
    "iPhone or iPad",
    "Android",
    "Desktop app",
    "Hello from qps",
    "Reply from qps",
    "Thanks qps",
    # The same, cut where search marks the word found.
    "Hello from",
    "Reply from",
    "Thanks",
    "screen.png",
    "Pseudo snippet",
    "Snippet body qps",
    "Pseudo request",
    "CRM pseudo",
    "qps",
}


class Walk:
    """Renders screens in `qps` and keeps what each shows in plain English."""

    def __init__(self, data: set[str]) -> None:
        self.data = set(data)
        self.findings: dict[str, list[str]] = {}
        self.screens: list[str] = []

    def check(self, page: Page, label: str, *extra: str) -> None:
        page.wait_for_load_state("networkidle")
        expect(page.locator("html")).to_have_attribute("lang", "qps")
        self.screens.append(label)
        # The customer's browser, as the console shows it.
        browser = str(page.evaluate("navigator.userAgent"))
        found = untranslated(page, self.data | {browser} | set(extra))
        if found:
            self.findings[label] = found

    def dialog(
        self, page: Page, opener: Locator, dialog: str, label: str, loaded: str | None = None
    ) -> None:
        opener.click()
        expect(page.locator(dialog)).to_be_visible()
        if loaded is not None:  # what the dialog fetches, shown before the screen is read
            expect(page.locator(dialog).get_by_test_id(loaded).first).to_be_visible()
        self.check(page, label)
        page.keyboard.press("Escape")
        expect(page.locator(dialog)).to_be_hidden()

    def done(self) -> None:
        report = "\n".join(
            f"{label}:\n" + "\n".join(f"    {text!r}" for text in texts)
            for label, texts in self.findings.items()
        )
        assert not self.findings, (
            f"text outside the catalogs on {len(self.findings)} screens:\n{report}"
        )


def in_pseudo(people: Browsers, name: str, **ctx_args: object) -> Page:
    w = people.open_page(name, **ctx_args)  # type: ignore[arg-type]
    w.page.context.add_cookies(
        [{"name": "helpline_lang", "value": "qps", "url": people.server.url}]
    )
    return w.page


def qps_agent(people: Browsers, name: str, email: str) -> Page:
    page = in_pseudo(people, name)
    sign_in(page, "/console", email)
    expect(page.get_by_test_id("availability")).to_be_visible()
    expect(page.locator('[data-role="conn-dot"]')).to_have_class(re.compile(r"dot--open"))
    return page


def qps_guest(page: Page, name: str, email: str) -> None:
    page.goto("/")
    page.get_by_test_id("guest-name").fill(name)
    page.get_by_test_id("guest-email").fill(email)
    page.get_by_test_id("guest-submit").click()
    expect(page.get_by_test_id("start-chat")).to_be_visible()


def qps_start(page: Page, queue: str, text: str) -> str:
    page.get_by_test_id("start-queue").select_option(label=queue)
    page.get_by_test_id("start-message").fill(text)
    page.get_by_test_id("start-chat").click()
    expect(page.get_by_test_id("queue-position")).to_be_visible()
    chat_id = page.evaluate("sessionStorage.getItem('helpline.portal.chat')")
    assert chat_id
    return str(chat_id)


def qps_send(page: Page, text: str) -> None:
    box = page.get_by_test_id("message-input")
    box.fill(text)
    box.press("Enter")


def queue_descriptions(page: Page) -> set[str]:
    found = page.evaluate(
        "fetch('/api/v1/queues').then(r => r.json()).then(b => b.items.map(q => q.description || ''))"
    )
    return {d for d in found if d}


def png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 120, 200)).save(out, "PNG")
    return out.getvalue()


def away_token(server_dir: Path, chat_id: str, user_id: str) -> str:
    """A fresh away link, written as the away mail would (only its hash is stored)."""
    token = "qps-" + uuid4().hex
    now = datetime.now(UTC).replace(tzinfo=None)
    with sqlite3.connect(server_dir / "helpline.db") as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(away_links)")}
        values = {
            "id": uuid4().hex,
            "chat_id": chat_id,
            "user_id": user_id,
            "token_hash": hashlib.sha256(token.encode()).hexdigest(),
            "created_at": now.isoformat(" "),
            "expires_at": (now + timedelta(hours=24)).isoformat(" "),
        }
        values = {k: v for k, v in values.items() if k in columns}
        db.execute(
            f"INSERT INTO away_links ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
            list(values.values()),
        )
    return token


def test_signed_out_pages_speak_only_catalog_text(people: Browsers) -> None:
    walk = Walk(DATA)
    w = people.open_page("pseudo-pages")
    w.allow(r"status of 404 .*/transcript/no-such-chat")
    w.allow(r"status of 410 .*/away")
    page = w.page
    page.context.add_cookies([{"name": "helpline_lang", "value": "qps", "url": people.server.url}])
    for path, label in [
        ("/", "portal: sign-in"),
        ("/console", "console: sign-in"),
        ("/console/admin", "admin: sign-in"),
        ("/reset-password", "reset password: ask for a link"),
        ("/reset-password#token=not-a-real-token", "reset password: choose a new one"),
        ("/transcript/no-such-chat", "transcript: not found"),
        ("/away?token=made-up", "away link: used or expired"),
        ("/widget/chat?queue=General%20support", "widget: who are you"),
    ]:
        page.goto(path)
        walk.check(page, label)

    page.get_by_test_id("guest-name").fill("Pia Pseudo")
    page.get_by_test_id("guest-email").fill("pia@example.org")
    page.get_by_test_id("guest-submit").click()
    expect(page.get_by_test_id("start-message")).to_be_visible()
    walk.check(page, "widget: start a chat", *queue_descriptions(page))
    page.get_by_test_id("start-message").fill("Hello from qps")
    page.get_by_test_id("start-chat").click()
    expect(page.get_by_test_id("queue-position")).to_be_visible()
    walk.check(page, "widget: waiting")

    # The launcher on a host page: its button label comes from the catalog too.
    host = in_pseudo(people, "host")
    host.goto("/widget/allowed")  # a same-origin page to host the script
    host.set_content(
        f'<html lang="en"><body><script src="{people.server.url}/widget.js" '
        'data-lang="qps" data-queue="General support"></script></body></html>'
    )
    launcher = host.locator("button, [role=button]").first
    expect(launcher).to_be_visible()
    label = launcher.inner_text().strip() or (launcher.get_attribute("aria-label") or "")
    if WORD.search(DATA_PATTERNS.sub(" ", BRACKETED.sub(" ", label))):
        walk.findings["widget: launcher"] = [label]
    walk.screens.append("widget: launcher")

    # The customer signed in to the console, an agent on the admin page.
    people.server.cli(
        "create-user", "--email", "egon@example.org", "--name", "Egon Customer",
        "--role", "customer", "--password", PASSWORD,
    )  # fmt: skip
    egon = in_pseudo(people, "egon")
    sign_in(egon, "/console", "egon@example.org")
    expect(egon.get_by_test_id("login-email")).to_have_count(0)
    expect(egon.locator("h1")).to_be_visible()
    walk.check(egon, "console: signed in as a customer")
    agent = in_pseudo(people, "agent")
    sign_in(agent, "/console/admin", "agent1@example.com")
    expect(agent.get_by_test_id("login-email")).to_have_count(0)
    expect(agent.locator("h1")).to_be_visible()
    walk.check(agent, "admin: not an administrator")
    walk.done()


def test_portal_console_and_transcript_speak_only_catalog_text(people: Browsers) -> None:
    walk = Walk(DATA)
    server = people.server
    target = {"response_s": 3600, "resolve_s": 86400}
    patch_queue(
        server,
        "General support",
        sla={"first_response_s": 3600},
        request_sla=dict.fromkeys(("urgent", "high", "normal", "low"), target),
    )
    patch_queue(server, "Technical", hours={"timezone": "UTC", "weekly": {}, "exceptions": []})

    cw = people.open_page("pseudo-customer")
    customer = cw.page
    customer.context.add_cookies([{"name": "helpline_lang", "value": "qps", "url": server.url}])
    qps_guest(customer, "Pia Pseudo", "pia@example.org")
    descriptions = queue_descriptions(customer)
    walk.data |= descriptions
    walk.check(customer, "portal: start a chat")
    customer.get_by_test_id("start-queue").select_option(index=0)
    for option in customer.get_by_test_id("start-queue").locator("option").all():
        if option.get_attribute("value") and "Technical" in option.inner_text():
            customer.get_by_test_id("start-queue").select_option(option.get_attribute("value"))
    expect(customer.get_by_test_id("queue-closed")).to_be_visible()
    walk.check(customer, "portal: topic closed")
    expect(customer.get_by_test_id("start-message")).to_be_hidden()  # the notice replaces it
    customer.get_by_test_id("leave-message-closed").click()
    expect(customer.get_by_test_id("leave-message-summary")).to_be_visible()
    walk.check(customer, "portal: leave a message")
    customer.get_by_test_id("leave-message-summary").fill("Pseudo request")
    customer.get_by_test_id("leave-message-submit").click()
    expect(customer.get_by_test_id("my-requests").get_by_test_id("request-row")).to_be_visible()
    walk.check(customer, "portal: message left, my requests")

    chat_id = qps_start(customer, "General support", "Hello from qps")
    walk.check(customer, "portal: waiting")

    ana = qps_agent(people, "pseudo-agent", "supervisor@example.com")
    walk.check(ana, "console: chats")
    chat_row(ana, chat_id).click()
    expect(ana.get_by_test_id("accept-chat")).to_be_visible()
    walk.check(ana, "console: waiting chat")
    ana.get_by_test_id("accept-chat").click()
    expect(ana.get_by_test_id("message-input")).to_be_enabled()
    qps_send(ana, "Reply from qps")
    expect(customer.get_by_test_id("message").filter(has_text="Reply from qps")).to_have_count(1)
    qps_send(customer, "Thanks qps")
    expect(ana.get_by_test_id("message").filter(has_text="Thanks qps")).to_have_count(1)

    # An image from the customer: the upload dialog, then the thumbnail on both sides.
    customer.get_by_test_id("attach-file").set_input_files(
        files=[{"name": "screen.png", "mimeType": "image/png", "buffer": png()}]
    )
    expect(customer.locator("#upload-dialog")).to_be_visible()
    walk.check(customer, "portal: upload dialog")
    customer.get_by_test_id("confirm-upload").click()
    expect(ana.get_by_test_id("file-thumbnail")).to_have_count(1)
    expect(customer.get_by_test_id("file-thumbnail")).to_have_count(1)
    walk.check(customer, "portal: conversation with an image")
    walk.check(ana, "console: conversation with an image and receipts")

    panel = ana.get_by_test_id("customer-panel")
    if panel.get_attribute("data-open") != "true":
        ana.get_by_test_id("customer-panel-toggle").click()
    expect(panel).to_have_attribute("data-open", "true")
    walk.check(ana, "console: customer panel")
    for testid, dialog, label in [
        ("transfer-chat", "#transfer-dialog", "transfer"),
        ("move-queue", "#move-dialog", "move queue"),
        ("cancel-chat", "#cancel-dialog", "cancel chat"),
        ("alert-settings", "#alerts-dialog", "alerts"),
    ]:
        walk.dialog(ana, ana.get_by_test_id(testid), dialog, f"console: {label} dialog")
    ana.get_by_test_id("snippets").click()
    expect(ana.get_by_test_id("snippet-picker")).to_be_visible()
    walk.check(ana, "console: snippet picker")
    ana.keyboard.press("Escape")

    ana.get_by_test_id("user-menu").locator("summary").click()
    walk.check(ana, "console: user menu")
    ana.keyboard.press("Escape")
    for testid, dialog, label, loaded in [
        ("menu-tokens", "#tokens-dialog", "API tokens", None),
        # The browser's session, its device in words ("HeadlessChrome 156 on Linux").
        ("menu-sessions", "#sessions-dialog", "sessions", "session-current"),
    ]:
        if not ana.get_by_test_id(testid).is_visible():
            ana.get_by_test_id("user-menu").locator("summary").click()
        walk.dialog(ana, ana.get_by_test_id(testid), dialog, f"console: {label} dialog", loaded)

    # Two-factor set-up to the recovery codes, and the codes' text file.
    if not ana.get_by_test_id("menu-totp").is_visible():
        ana.get_by_test_id("user-menu").locator("summary").click()
    ana.get_by_test_id("menu-totp").click()
    expect(ana.get_by_test_id("totp-dialog")).to_be_visible()
    walk.check(ana, "console: two-factor dialog")
    ana.get_by_test_id("totp-start").click()
    expect(ana.get_by_test_id("totp-secret")).not_to_be_empty()
    walk.check(ana, "console: two-factor set-up")
    secret = ana.get_by_test_id("totp-secret").inner_text().replace(" ", "")
    ana.get_by_test_id("totp-code").fill(pyotp.TOTP(secret).now())
    ana.get_by_test_id("totp-confirm").click()
    expect(ana.get_by_test_id("recovery-code")).to_have_count(10)
    walk.check(
        ana, "console: recovery codes", *ana.get_by_test_id("recovery-code").all_inner_texts()
    )
    with ana.expect_download() as download:
        ana.get_by_test_id("recovery-download").click()
    saved = Path(download.value.path()).read_text(encoding="utf-8")
    codes = ana.get_by_test_id("recovery-code").all_inner_texts()
    prose = [
        line
        for line in saved.splitlines()
        if line.strip()
        and line.strip() not in codes
        and WORD.search(BRACKETED.sub(" ", line.replace("supervisor@example.com", " ")))
    ]
    walk.screens.append("console: recovery codes file")
    if prose:
        walk.findings["console: recovery codes file"] = prose
    ana.get_by_test_id("totp-done").click()
    expect(ana.get_by_test_id("totp-dialog")).to_be_hidden()

    ana.get_by_test_id("raise-request").click()
    expect(ana.locator("#request-dialog")).to_be_visible()
    walk.check(ana, "console: raise request dialog")
    ana.locator("#request-summary").fill("Pseudo request")
    ana.get_by_test_id("request-submit").click()
    expect(ana.get_by_test_id("request-reference")).to_be_visible()
    reference = ana.get_by_test_id("request-reference").inner_text().strip()

    ana.get_by_test_id("mark-solved").click()
    expect(customer.get_by_test_id("rating-submit")).to_be_visible()
    walk.check(customer, "portal: ended, rating")
    walk.check(ana, "console: solved chat")
    customer.get_by_test_id("rating-submit").click()
    expect(customer.get_by_test_id("rating-thanks")).to_be_visible()
    customer.get_by_test_id("read-transcript").click()
    expect(customer.get_by_test_id("transcript")).to_be_visible()
    walk.check(customer, "portal: rated, transcript open")
    customer.goto(f"/#requests/{reference}")
    walk.check(customer, "portal: a request")
    customer.goto(f"/transcript/{chat_id}")
    walk.check(customer, "transcript page")

    # The away link of this chat: the page that spends it.
    me = customer.evaluate("fetch('/api/v1/me').then(r => r.json())")
    token = away_token(server.data_dir, chat_id, me["id"])
    customer.goto(f"/away?token={token}")
    expect(customer.get_by_test_id("away-link-continue")).to_be_visible()
    walk.check(customer, "away link: continue to the chat")

    # The snippets view with one snippet, then every other view.
    ana.goto("/console#snippets")
    expect(ana.get_by_test_id("snippet-form")).to_be_visible()
    ana.get_by_test_id("snippet-title").fill("Pseudo snippet")
    ana.get_by_test_id("snippet-content").fill("Snippet body qps")
    ana.get_by_test_id("snippet-save").click()
    expect(ana.get_by_test_id("snippet-row")).to_have_count(1)
    for view in ["requests", "snippets", "search", "supervisor", "reports"]:
        ana.goto(f"/console#{view}")
        expect(ana.locator(f"#{view}-view")).to_be_visible()
        walk.check(ana, f"console: {view}")
    ana.goto(f"/console#requests/{reference}")
    expect(ana.get_by_test_id("sr-status")).to_be_visible()
    walk.check(ana, "console: a request")
    ana.goto("/console#search")
    ana.get_by_test_id("search-input").fill("qps")
    ana.get_by_test_id("search-submit").click()
    expect(ana.get_by_test_id("search-results").locator("li").first).to_be_visible()
    walk.check(ana, "console: search results")
    walk.done()


def test_admin_page_speaks_only_catalog_text(people: Browsers) -> None:
    walk = Walk(DATA)
    server = people.server
    server.cli(
        "create-user", "--email", "egon@example.org", "--name", "Egon Customer",
        "--role", "customer", "--password", PASSWORD,
    )  # fmt: skip
    token = token_for(server, "admin@example.com")
    endpoint = api_call(
        server,
        "POST",
        "/webhooks/endpoints",
        {"url": f"{server.url}/healthz?crm=pseudo", "events": ["chat.started"]},
        token,
    )
    walk.data |= {endpoint["url"]}
    # The test delivery's error is the endpoint's own answer (POST /healthz: 405 and its JSON),
    # shown verbatim: data, like the URL. Whether the log shows it depends on whether the outbox
    # had tried before the log loaded (it failed the walk when it had).
    walk.data |= {
        'HTTP 405: {"error":{"code":"method_not_allowed","message":"Method Not Allowed"}}'
    }
    w = people.open_page("pseudo-admin")
    w.allow(r"status of 4\d\d ")
    admin = w.page
    admin.context.add_cookies([{"name": "helpline_lang", "value": "qps", "url": server.url}])
    sign_in(admin, "/console/admin", "admin@example.com")
    expect(admin.get_by_test_id("user-row").first).to_be_visible()
    walk.data |= queue_descriptions(admin)
    for tab in admin.locator("[data-section]").all():
        section = tab.get_attribute("data-section")
        tab.click()
        walk.check(admin, f"admin: {section}")
        if section == "queues":
            row = admin.get_by_test_id("queue-row").first
            for testid, dialog, label in [
                ("queue-members", "#members-dialog", "members"),
                ("queue-fields", "#fields-dialog", "start form"),
                ("queue-settings", "#queue-settings-dialog", "queue settings"),
            ]:
                walk.dialog(admin, row.get_by_test_id(testid), dialog, f"admin: {label} dialog")
            # Every group of the queue settings, opened.
            row.get_by_test_id("queue-settings").click()
            dialog = admin.locator("#queue-settings-dialog")
            expect(dialog).to_be_visible()
            for summary in dialog.locator("details:not([open]) > summary").all():
                summary.click()
            walk.check(admin, "admin: queue settings, every group open")
            admin.keyboard.press("Escape")
            expect(dialog).to_be_hidden()
        if section == "webhooks":
            row = admin.get_by_test_id("webhook-row")
            expect(row).to_have_count(1)
            row.get_by_test_id("webhook-test").click()
            expect(admin.get_by_test_id("webhook-deliveries")).to_be_visible()
            expect(admin.get_by_test_id("delivery-row").first).to_be_visible()
            walk.check(admin, "admin: webhook deliveries")
            row.get_by_test_id("webhook-edit").click()
            walk.check(admin, "admin: webhook being edited")
            admin.get_by_test_id("webhook-cancel").click()
            row.get_by_test_id("webhook-delete").click()
            expect(admin.locator("#confirm-dialog")).to_be_visible()
            walk.check(admin, "admin: confirm dialog")
            admin.keyboard.press("Escape")
        if section == "data":
            admin.get_by_test_id("customer-search").fill("egon")
            row = admin.get_by_test_id("customer-row").filter(has_text="egon@example.org")
            expect(row).to_be_visible()
            walk.check(admin, "admin: customer found")
            walk.dialog(
                admin, row.get_by_test_id("customer-erase"), "#erase-dialog", "admin: erase dialog"
            )
    walk.done()
