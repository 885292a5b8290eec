"""The web-site widget on another origin: the launcher opens an iframe chat panel served by
Helpline that signs in as a guest and talks to the API and WebSocket by bearer token; a site
that is not allowed gets a console message and cannot frame the panel."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Frame, Page, expect

from tests.e2e.support import (
    Browsers,
    HelplineServer,
    agent_sign_in,
    chat_row,
    free_port,
    message,
    send,
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
def server(tmp_path: Path, shop: Shop) -> Iterator[HelplineServer]:
    """Helpline allowing the shop (on `localhost`, another site than 127.0.0.1) to embed it."""
    srv = HelplineServer(tmp_path / "data", free_port())
    srv.env["HELPLINE_WIDGET_ORIGINS"] = f"http://localhost:{shop.port}, https://other.example"
    srv.data_dir.mkdir()
    srv.setup()
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

    # The session lives in the panel's sessionStorage, or (where the browser blocks storage in
    # third-party frames) in the host page's, handed over by postMessage.
    frame = widget_frame(visitor)
    state = frame.evaluate(
        """() => { try { return {session: JSON.parse(sessionStorage.getItem(
            'helpline.widget.session')), chat: JSON.parse(sessionStorage.getItem(
            'helpline.widget.chat'))}; } catch { return null; } }"""
    ) or visitor.evaluate("JSON.parse(sessionStorage.getItem('helpline.widget.state'))")
    assert state["session"]["token"]
    assert state["session"]["user"]["name"] == "Wanda Widget"
    chat_id = state["chat"]
    # No cookie was set or used: the panel runs on its bearer token.
    assert visitor.context.cookies(server.url) == []

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


def test_files_both_ways_in_the_widget(
    people: Browsers, server: HelplineServer, shop: Shop, shot: Shot, tmp_path: Path
) -> None:
    """Without cookies the panel uploads with its bearer token and downloads by fetching the
    file with it (blob + <a download>); the bytes arrive unchanged both ways."""
    shop.embed(server.url, "Technical")
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    visitor = people.open_page("visitor").page
    visitor.goto(f"http://localhost:{shop.port}/")
    visitor.get_by_test_id("widget-launcher").click()
    panel = visitor.frame_locator("iframe[data-helpline-frame]")
    panel.get_by_test_id("guest-name").fill("Fiona Files")
    panel.get_by_test_id("guest-email").fill("fiona@example.org")
    panel.get_by_test_id("guest-submit").click()
    panel.get_by_test_id("start-message").fill("Here is a photo of my router")
    panel.get_by_test_id("start-chat").click()
    expect(panel.get_by_test_id("chat-status")).to_have_text("Waiting")
    chat_id = widget_frame(visitor).evaluate(
        "() => { try { return JSON.parse(sessionStorage.getItem('helpline.widget.chat')); }"
        " catch { return null; } }"
    ) or visitor.evaluate("JSON.parse(sessionStorage.getItem('helpline.widget.state')).chat")
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
    assert visitor.context.cookies(server.url) == []
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
        assert res.read() == b'{"allowed":false}'
        assert res.headers["Access-Control-Allow-Origin"] == "*"
