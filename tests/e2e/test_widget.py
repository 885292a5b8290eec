"""The web-site widget on another origin: the launcher opens an iframe chat panel served by
Helpline that signs in as a guest and talks to the API and WebSocket by bearer token; a site
that is not allowed gets a console message and cannot frame the panel."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Frame, FrameLocator, Page, expect

from tests.e2e.support import (
    Browsers,
    HelplineServer,
    agent_sign_in,
    api_call,
    chat_row,
    free_port,
    message,
    queue_id,
    send,
    token_for,
)

pytestmark = pytest.mark.e2e

Shot = Callable[[Page, str], None]


class Shop:
    """A tiny web site on its own port that embeds widget.js."""

    def __init__(self) -> None:
        self.html = b""
        shop = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(shop.html)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.httpd.server_address[1])
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def embed(self, helpline_url: str, queue: str) -> None:
        self.html = (
            "<!doctype html><html lang=en><title>Shop</title><link rel=icon href='data:,'>"
            "<h1>Our shop</h1>"
            f"<script src='{helpline_url}/widget.js' data-queue='{queue}' async></script>"
        ).encode()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def shop() -> Iterator[Shop]:
    s = Shop()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def server(tmp_path: Path, shop: Shop, seeded_data: Path) -> Iterator[HelplineServer]:
    """Helpline allowing the shop (on `localhost`, another site than 127.0.0.1) to embed it."""
    srv = HelplineServer(tmp_path / "data", free_port())
    srv.env["HELPLINE_WIDGET_ORIGINS"] = f"http://localhost:{shop.port}, https://other.example"
    srv.data_dir.mkdir()
    srv.copy_data(seeded_data)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def widget_frame(page: Page) -> Frame:
    """The panel's frame (to read its storage)."""
    for frame in page.frames:
        if "/widget/chat" in frame.url:
            return frame
    raise AssertionError("no widget frame")


def frame_state(page: Page) -> dict[str, Any]:
    """The panel's session (as only the panel itself can get it back) and its chat's id."""
    state: dict[str, Any] = widget_frame(page).evaluate(
        """async () => ({
            session: await (await fetch("/widget/resume", {method: "POST"})).json(),
            chat: document.querySelector('[data-view="chat"]').dataset.chatId || null})"""
    )
    return state


def open_and_start(visitor: Page, name: str, email: str, text: str) -> FrameLocator:
    """Open the panel on the host page, sign in as a guest and start a chat."""
    visitor.get_by_test_id("widget-launcher").click()
    panel = visitor.frame_locator("iframe[data-helpline-frame]")
    panel.get_by_test_id("guest-name").fill(name)
    panel.get_by_test_id("guest-email").fill(email)
    panel.get_by_test_id("guest-submit").click()
    panel.get_by_test_id("start-message").fill(text)
    panel.get_by_test_id("start-chat").click()
    expect(panel.get_by_test_id("chat-status")).to_have_text("Waiting")
    return panel


def only_the_panels_cookie(page: Page, helpline_url: str) -> None:
    """The one cookie is the panel's own: HttpOnly, partitioned, on /widget only."""
    cookies = page.context.cookies()
    assert [(c["name"], c["path"], c["httpOnly"]) for c in cookies] == [
        ("helpline_widget", "/widget", True)
    ], cookies
    assert page.context.cookies(f"{helpline_url}/api/v1/chats") == []


# Runs in every frame; records only in the host page: every message it receives, as sent.
RECORD_MESSAGES = """
if (window === window.top) {
  window.__received = [];
  window.addEventListener("message", (e) => {
    let data;
    try { data = JSON.stringify(e.data); } catch { data = String(e.data); }
    window.__received.push({origin: e.origin, data});
  }, true);
}
"""

# What the host page's scripts can see: messages received, storage, cookies, the frame's URL.
HOST_VIEW = """() => {
  const dump = (s) => { const o = {}; for (let i = 0; i < s.length; i++) o[s.key(i)] = s.getItem(s.key(i)); return o; };
  const frame = document.querySelector("[data-helpline-widget]").shadowRoot.querySelector("iframe");
  return {received: window.__received, session: dump(sessionStorage), local: dump(localStorage),
          cookies: document.cookie, frame: frame ? frame.src : null};
}"""


# Where the browser blocks storage in third-party frames (third-party cookies blocked).
BLOCK_FRAME_STORAGE = """
if (window !== window.top && location.pathname === "/widget/chat") {
  for (const name of ["sessionStorage", "localStorage"])
    Object.defineProperty(window, name, { configurable: true, get() {
      throw new DOMException("Access is denied for this document.", "SecurityError"); } });
}
"""


@pytest.mark.parametrize("frame_storage", ["allowed", "blocked"])
def test_widget_token_never_reaches_the_host_page(
    people: Browsers, server: HelplineServer, shop: Shop, frame_storage: str
) -> None:
    """Issue 11 finding 2: no script on the host page can get the guest's bearer token (no
    postMessage carries it, nothing in the host's storage, cookies or the frame's URL), and a
    reload of the host page still resumes the same chat, whether or not the browser lets the
    panel use storage in a third-party frame (it used to post its session to the host page
    where it could not)."""
    shop.embed(server.url, "Technical")
    visitor = people.open_page("visitor").page
    blocked = BLOCK_FRAME_STORAGE if frame_storage == "blocked" else ""
    visitor.context.add_init_script(RECORD_MESSAGES + blocked)
    # What an older widget.js left in the host's storage is removed.
    visitor.goto(f"http://localhost:{shop.port}/")
    visitor.evaluate("sessionStorage.setItem('helpline.widget.state', '{\"session\": 1}')")
    visitor.reload()
    panel = open_and_start(visitor, "Harriet Host", "harriet@example.org", "Is my token safe?")
    panel.get_by_test_id("widget-close").click()  # one message the host does receive
    expect(visitor.locator("iframe[data-helpline-frame]")).to_be_hidden()
    state = frame_state(visitor)
    token, chat_id = state["session"]["token"], state["chat"]
    assert token and chat_id

    def host_sees_no_token() -> dict[str, Any]:
        seen: dict[str, Any] = visitor.evaluate(HOST_VIEW)
        assert token not in json.dumps(seen), seen
        assert seen["session"] == {} and seen["local"] == {} and seen["cookies"] == ""
        assert visitor.context.cookies(f"http://localhost:{shop.port}") == []
        only_the_panels_cookie(visitor, server.url)
        return seen

    seen = host_sees_no_token()
    assert [json.loads(m["data"]) for m in seen["received"]] == [{"type": "helpline:close"}]

    # A reload of the host page: the panel finds its own session and resumes the same chat.
    visitor.reload()
    visitor.get_by_test_id("widget-launcher").click()
    panel = visitor.frame_locator("iframe[data-helpline-frame]")
    expect(panel.get_by_test_id("message").filter(has_text="Is my token safe?")).to_be_visible()
    expect(panel.get_by_test_id("chat-status")).to_have_text("Waiting")
    assert frame_state(visitor)["chat"] == chat_id
    assert frame_state(visitor)["session"]["token"] == token
    seen = host_sees_no_token()
    assert seen["received"] == []


def test_whole_chat_from_the_widget_on_another_site(
    people: Browsers, server: HelplineServer, shop: Shop, shot: Shot
) -> None:
    shop.embed(server.url, "Technical")
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    visitor = people.open_page("visitor").page
    visitor.goto(f"http://localhost:{shop.port}/")
    launcher = visitor.get_by_test_id("widget-launcher")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    launcher.click()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    panel = visitor.frame_locator("iframe[data-helpline-frame]")
    panel.get_by_test_id("guest-name").fill("Wanda Widget")
    panel.get_by_test_id("guest-email").fill("wanda@example.org")
    panel.get_by_test_id("guest-submit").click()
    expect(panel.locator(".widget__title strong")).to_have_text("Technical")
    expect(panel.get_by_test_id("start-queue")).to_be_hidden()  # the site chose the topic
    panel.get_by_test_id("start-message").fill("My router blinks red")
    shot(visitor, "widget-start")
    panel.get_by_test_id("start-chat").click()
    expect(panel.get_by_test_id("chat-status")).to_have_text("Waiting")
    expect(panel.get_by_test_id("queue-position")).to_contain_text("You are number 1")

    # The session lives in the panel's own sessionStorage (never the host page's).
    state = frame_state(visitor)
    assert state["session"]["token"]
    assert state["session"]["user"]["name"] == "Wanda Widget"
    chat_id = state["chat"]
    # The panel runs on its bearer token; its only cookie keeps it for the panel alone.
    only_the_panels_cookie(visitor, server.url)

    chat_row(ana, chat_id).click()
    ana.get_by_test_id("accept-chat").click()
    expect(panel.get_by_test_id("chat-status")).to_have_text("In Progress")
    expect(panel.locator(".widget__title strong")).to_have_text("Chat with Ana Agent")
    send(ana, "Please unplug it for ten seconds")
    expect(panel.get_by_test_id("message").filter(has_text="unplug it")).to_be_visible()
    box = panel.get_by_test_id("message-input")
    box.fill("Done, it is green now!")
    box.press("Enter")
    expect(message(ana, "it is green now")).to_have_count(1)
    expect(panel.get_by_test_id("message-pending")).to_have_count(0)
    shot(visitor, "widget-chat")

    # A reload of the host page keeps the conversation (token and chat in sessionStorage).
    visitor.reload()
    visitor.get_by_test_id("widget-launcher").click()
    panel = visitor.frame_locator("iframe[data-helpline-frame]")
    expect(panel.get_by_test_id("message").filter(has_text="it is green now")).to_be_visible()

    # Moved to another queue: back to waiting, no agent any more (the panel used to keep both).
    api_call(
        server,
        "POST",
        f"/chats/{chat_id}/move",
        {"queue_id": queue_id(server, "General support")},
        token_for(server, "agent1@example.com"),
    )
    expect(panel.get_by_test_id("chat-status")).to_have_text("Waiting")
    expect(panel.locator(".widget__title strong")).to_have_text("General support")
    chat_row(ana, chat_id).click()
    ana.get_by_test_id("accept-chat").click()
    expect(panel.locator(".widget__title strong")).to_have_text("Chat with Ana Agent")

    ana.get_by_test_id("mark-solved").click()
    expect(panel.get_by_test_id("chat-status")).to_have_text("Solved")
    expect(panel.get_by_test_id("chat-ended")).to_contain_text("Thanks for talking to us")
    expect(panel.get_by_test_id("message-input")).to_be_hidden()

    # Closing from inside the panel hides it and gives focus back to the launcher.
    panel.get_by_test_id("widget-close").click()
    expect(visitor.locator("iframe[data-helpline-frame]")).to_be_hidden()
    expect(visitor.get_by_test_id("widget-launcher")).to_be_focused()
    visitor.set_viewport_size({"width": 375, "height": 740})
    visitor.get_by_test_id("widget-launcher").click()
    shot(visitor, "widget-phone")


def test_widget_shows_who_took_over_and_the_queue_again(
    people: Browsers, server: HelplineServer, shop: Shop, shot: Shot
) -> None:
    """A transfer shows "<name> took over" in the panel (never the handover note); the agent
    set offline puts the visitor back in the queue with their position."""
    shop.embed(server.url, "Technical")
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    visitor = people.open_page("visitor").page
    visitor.goto(f"http://localhost:{shop.port}/")
    panel = open_and_start(visitor, "Tess Widget", "tess@example.org", "The app crashes")
    chat_id = frame_state(visitor)["chat"]
    chat_row(ana, chat_id).click()
    ana.get_by_test_id("accept-chat").click()
    expect(panel.locator(".widget__title strong")).to_have_text("Chat with Ana Agent")

    cleo = token_for(server, "agent3@example.com")
    cleo_id = api_call(server, "GET", "/me", token=cleo)["id"]
    note = "Known bug 42, offer the beta"
    body = {"agent_id": cleo_id, "note": note}
    api_call(
        server, "POST", f"/chats/{chat_id}/transfer", body, token_for(server, "agent1@example.com")
    )
    expect(
        panel.get_by_test_id("system-line").filter(has_text="Cleo Agent took over")
    ).to_be_visible()
    expect(panel.locator(".widget__title strong")).to_have_text("Chat with Cleo Agent")
    expect(panel.get_by_text(note)).to_have_count(0)
    shot(visitor, "widget-transferred")

    sup = token_for(server, "supervisor@example.com")
    api_call(server, "PUT", f"/users/{cleo_id}/status", {"status": "offline"}, sup)
    expect(panel.get_by_test_id("chat-status")).to_have_text("Waiting")
    expect(panel.get_by_test_id("queue-position")).to_contain_text("You are number 1")
    expect(
        panel.get_by_test_id("system-line").filter(has_text="Your agent went offline")
    ).to_be_visible()


def test_files_both_ways_in_the_widget(
    people: Browsers, server: HelplineServer, shop: Shop, shot: Shot, tmp_path: Path
) -> None:
    """Without cookies the panel uploads with its bearer token and downloads by fetching the
    file with it (blob + <a download>); the bytes arrive unchanged both ways."""
    shop.embed(server.url, "Technical")
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    visitor = people.open_page("visitor").page
    visitor.goto(f"http://localhost:{shop.port}/")
    panel = open_and_start(
        visitor, "Fiona Files", "fiona@example.org", "Here is a photo of my router"
    )
    chat_id = frame_state(visitor)["chat"]
    chat_row(ana, chat_id).click()
    ana.get_by_test_id("accept-chat").click()
    expect(panel.get_by_test_id("chat-status")).to_have_text("In Progress")

    # The customer sends a file from the panel: name and size first, then progress.
    sent = b"router-log\n" + bytes(range(256)) * 8
    src = tmp_path / "router-log.txt"
    src.write_bytes(sent)
    panel.get_by_test_id("attach-file").set_input_files(str(src))
    expect(panel.get_by_test_id("upload-file-name")).to_have_text("router-log.txt")
    expect(panel.get_by_test_id("upload-file-size")).to_contain_text("KB")
    panel.get_by_test_id("confirm-upload").click()
    expect(panel.get_by_test_id("upload-progress")).to_have_attribute("value", "100")
    expect(panel.get_by_test_id("file-link")).to_have_text("router-log.txt")
    expect(ana.get_by_test_id("file-link").filter(has_text="router-log.txt")).to_have_count(1)
    with ana.expect_download() as got:
        ana.get_by_test_id("file-link").filter(has_text="router-log.txt").click()
    assert got.value.suggested_filename == "router-log.txt"
    assert Path(got.value.path()).read_bytes() == sent

    # The agent sends one back; the customer downloads it from the panel, without cookies.
    reply = bytes(range(255, -1, -1)) * 20 + b"helpline-widget"
    manual = tmp_path / "manual.pdf"
    manual.write_bytes(reply)
    ana.get_by_test_id("attach-file").set_input_files(str(manual))
    ana.get_by_test_id("confirm-upload").click()
    link = panel.get_by_test_id("file-link").filter(has_text="manual.pdf")
    expect(link).to_have_count(1)
    expect(panel.get_by_test_id("message").filter(has=link)).to_contain_text("KB")
    with visitor.expect_download() as got:
        link.click()
    assert got.value.suggested_filename == "manual.pdf"
    assert Path(got.value.path()).read_bytes() == reply
    only_the_panels_cookie(visitor, server.url)
    shot(visitor, "widget-files")


def test_widget_refused_on_a_site_that_is_not_allowed(
    people: Browsers, server: HelplineServer, shop: Shop
) -> None:
    shop.embed(server.url, "Technical")
    watched = people.open_page("visitor")
    warnings: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "warning":
            warnings.append(msg.text)

    watched.page.on("console", on_console)
    # 127.0.0.1:<shop port> is not in HELPLINE_WIDGET_ORIGINS (localhost:<shop port> is).
    watched.page.goto(f"http://127.0.0.1:{shop.port}/")
    launcher = watched.page.locator("[data-helpline-widget]").get_by_role("button")
    expect(launcher).to_have_attribute("aria-label", "Chat with us (opens a chat window)")
    assert any("is not an allowed origin" in w for w in warnings), warnings

    with urllib.request.urlopen(f"{server.url}/widget/chat", timeout=5) as res:
        csp = res.headers["Content-Security-Policy"]
    assert f"frame-ancestors http://localhost:{shop.port} https://other.example" in csp
    with urllib.request.urlopen(
        f"{server.url}/widget/allowed?origin=http://127.0.0.1:{shop.port}", timeout=5
    ) as res:
        # Refused, yet the launcher still opens the chat in a window, in the visitor's words.
        assert json.loads(res.read()) == {
            "allowed": False,
            "label": "Chat with us",
            "popup_label": "Chat with us (opens a chat window)",
            "lang": "en",
        }
        assert res.headers["Access-Control-Allow-Origin"] == "*"


def test_only_the_panel_gets_its_kept_session_back(server: HelplineServer, shop: Shop) -> None:
    """The resume endpoints answer our own origin only; the cookie holds a live session."""
    guest = api_call(server, "POST", "/auth/guest", {"name": "Otto", "email": "otto@example.org"})
    own = server.url
    host = f"http://localhost:{shop.port}"

    def call(method: str, path: str, origin: str, **headers: str) -> tuple[int, Any, Any]:
        req = urllib.request.Request(f"{server.url}{path}", method=method, data=b"")
        req.add_header("Origin", origin)
        for name, value in headers.items():
            req.add_header(name, value)
        try:
            with urllib.request.urlopen(req, timeout=5) as res:
                raw = res.read()
                return res.status, json.loads(raw) if raw else None, res.headers
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read()), err.headers

    bearer = {"Authorization": f"Bearer {guest['token']}"}
    status, body, _ = call("POST", "/widget/session", host, **bearer)
    assert (status, body["error"]["code"]) == (403, "bad_origin")
    status, body, _ = call("POST", "/widget/session", own)
    assert (status, body["error"]["code"]) == (401, "not_authenticated")
    status, _, headers = call("POST", "/widget/session", own, **bearer)
    assert status == 204
    cookie = headers["set-cookie"]
    for part in ("Path=/widget", "HttpOnly", "Secure", "SameSite=None", "Partitioned"):
        assert part in cookie, cookie
    kept = cookie.split(";")[0]
    assert kept == f"helpline_widget={guest['token']}"

    status, body, _ = call("POST", "/widget/resume", host, Cookie=kept)
    assert (status, body["error"]["code"]) == (403, "bad_origin")
    status, body, headers = call("POST", "/widget/resume", own, Cookie=kept)
    assert status == 200 and body["token"] == guest["token"]
    assert body["user"]["name"] == "Otto" and "access-control-allow-origin" not in headers
    assert call("POST", "/widget/resume", own)[1] == {"token": None}
    status, body, headers = call("POST", "/widget/resume", own, Cookie="helpline_widget=nope")
    assert body == {"token": None} and "Max-Age=0" in headers["set-cookie"]


def test_widget_start_form_asks_the_queues_fields_and_sends_the_host_page(
    people: Browsers, server: HelplineServer, shop: Shop, shot: Shot
) -> None:
    """The panel renders the queue's pre-chat fields, hints before sending, and the chat
    carries the answers and the host page's address (not the panel's) for the agent."""
    admin = token_for(server, "admin@example.com")
    fields = [
        {"key": "order", "label": "Order number", "type": "number", "required": True},
        {"key": "plan", "label": "Plan", "type": "select", "options": ["Basic", "Pro"]},
    ]
    api_call(server, "PATCH", f"/queues/{queue_id(server, 'Technical')}", {"fields": fields}, admin)
    shop.embed(server.url, "Technical")
    visitor = people.open_page("visitor").page
    host = f"http://localhost:{shop.port}/?item=42"
    visitor.goto(host)
    visitor.get_by_test_id("widget-launcher").click()
    panel = visitor.frame_locator("iframe[data-helpline-frame]")
    panel.get_by_test_id("guest-name").fill("Wim Guest")
    panel.get_by_test_id("guest-email").fill("wim@example.org")
    panel.get_by_test_id("guest-submit").click()
    asked = panel.get_by_test_id("prechat-field")
    expect(asked).to_have_count(2)
    panel.get_by_test_id("start-message").fill("The app crashes")
    panel.get_by_test_id("start-chat").click()
    order = panel.locator('[data-testid="prechat-field"][data-key="order"]')
    expect(order).to_contain_text("Order number: this is required.")
    order.locator("input").fill("77")
    panel.locator('[data-testid="prechat-field"][data-key="plan"] select').select_option("Pro")
    shot(visitor, "widget-start-form-fields")
    panel.get_by_test_id("start-chat").click()
    expect(panel.get_by_test_id("chat-status")).to_have_text("Waiting")

    ben = token_for(server, "agent3@example.com")
    (chat,) = api_call(server, "GET", "/chats?status=waiting", token=ben)["items"]
    assert chat["context"]["fields"] == {"order": 77, "plan": "Pro"}
    assert chat["context"]["page_url"] == host
    assert chat["context"]["locale"] and "Chrome" in chat["context"]["user_agent"]
