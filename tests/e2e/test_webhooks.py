"""The admin page's "Webhooks" tab, used by an administrator against a real receiver on
loopback: add an endpoint (errors beside their fields), copy the secret shown once, send a
test event and watch it arrive signed, edit the event list; then the operator turns private
addresses off, the next delivery is refused at delivery time (a dead letter), they turn it on
again and the admin re-sends the dead letter with "Retry"; a new secret from the edit form
signs what follows; finally the endpoint is deleted."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import Browsers, HelplineServer, api_call, free_port, sign_in, token_for

pytestmark = pytest.mark.e2e


class Receiver:
    """What a CRM would run: keeps each POST with its headers (verified by the test)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/helpline"
        self.received: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def verified(self, secret: str) -> list[dict[str, Any]]:
        """The documents whose signature checks out with `secret` (as a receiver checks)."""
        out = []
        for headers, body in self.received:
            fields = dict(p.split("=", 1) for p in headers["x-helpline-signature"].split(","))
            mac = hmac.new(secret.encode(), fields["t"].encode() + b"." + body, hashlib.sha256)
            if hmac.compare_digest(mac.hexdigest(), fields["v1"]):
                doc = json.loads(body)
                assert doc["id"] == headers["x-helpline-event-id"]
                out.append(doc)
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


@pytest.fixture
def server_env() -> dict[str, str]:
    # The receiver is on loopback: allowed until the journey turns it off.
    return {"HELPLINE_WEBHOOK_ALLOW_PRIVATE": "on", "HELPLINE_OUTBOX_RETRY_S": "1"}


def _restart(server: HelplineServer, allow_private: str) -> None:
    server.stop()
    server.env["HELPLINE_WEBHOOK_ALLOW_PRIVATE"] = allow_private
    server.start()


def _open_tab(page: Page) -> None:
    page.goto("/console/admin#webhooks")
    expect(page.get_by_test_id("webhook-form")).to_be_visible()


def _field_error(page: Page, field: str) -> Any:
    return page.locator(f'#webhook-form [data-error="{field}"]')


def _delivered(page: Page, count: int) -> None:
    rows = page.get_by_test_id("delivery-row")
    for _ in range(120):  # the outbox delivers within a second or two (a busy machine: more)
        if page.locator('[data-testid="delivery-row"][data-status="delivered"]').count() >= count:
            return
        page.get_by_test_id("webhook-deliveries-refresh").click()
        page.wait_for_timeout(250)
    expect(rows.first).to_have_attribute("data-status", "delivered")


def test_admin_manages_a_webhook_endpoint_and_re_sends_a_dead_letter(
    people: Browsers, receiver: Receiver, shot: Callable[[Page, str], None]
) -> None:
    server = people.server
    w = people.open_page("admin")
    w.allow(r"status of 422 .* @ \S+/api/v1/webhooks/endpoints(/\w+)?$")
    page = w.page
    sign_in(page, "/console/admin", "admin@example.com")
    expect(page.get_by_test_id("user-row").first).to_be_visible()
    page.get_by_test_id("admin-tab-webhooks").click()
    expect(page.get_by_test_id("webhooks-table")).to_be_visible()
    expect(page.get_by_text("No endpoints yet")).to_be_visible()

    # Errors beside their fields: the page's own checks, then the server's.
    page.get_by_test_id("webhook-url").fill("ftp://crm.example.com/in")
    page.get_by_test_id("webhook-save").click()
    expect(_field_error(page, "url")).to_have_text("The URL must start with http:// or https://.")
    expect(page.get_by_test_id("webhook-url")).to_be_focused()
    page.get_by_test_id("webhook-url").fill(receiver.url)
    page.get_by_test_id("webhook-save").click()
    expect(_field_error(page, "events")).to_have_text("Choose at least one event.")
    expect(_field_error(page, "url")).to_be_empty()
    page.get_by_test_id("webhook-event-chat.started").check()
    page.get_by_test_id("webhook-event-chat.accepted").check()
    page.get_by_test_id("webhook-secret").fill("too-short")
    page.get_by_test_id("webhook-save").click()
    expect(_field_error(page, "secret")).to_have_text(
        "A secret has 16 to 200 characters and no spaces."
    )
    expect(page.get_by_test_id("webhook-row")).to_have_count(0)

    # Added with a generated secret, shown once.
    page.get_by_test_id("webhook-secret").fill("")
    page.get_by_test_id("webhook-save").click()
    reveal = page.get_by_test_id("webhook-secret-reveal")
    expect(reveal).to_be_visible()
    secret = page.get_by_test_id("webhook-secret-value").input_value()
    assert secret.startswith("whsec_")
    row = page.get_by_test_id("webhook-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(receiver.url)
    expect(row).to_contain_text("Chat started, Chat accepted")
    expect(row.get_by_test_id("webhook-status")).to_have_text("Active")
    shot(page, "admin-webhooks-secret")
    page.get_by_test_id("webhook-secret-done").click()
    expect(reveal).to_be_hidden()
    expect(page.get_by_test_id("webhook-secret-value")).to_have_value("")
    assert secret not in page.content()  # gone from the page

    # A test event: queued, delivered, signed with that secret.
    row.get_by_test_id("webhook-test").click()
    expect(page.get_by_test_id("webhook-deliveries")).to_be_visible()
    _delivered(page, 1)
    (test_event,) = receiver.verified(secret)
    assert test_event["type"] == "webhook.test"
    expect(page.get_by_test_id("delivery-row").first).to_contain_text("Test event")

    # Edit the event list with the checkboxes.
    row.get_by_test_id("webhook-edit").click()
    expect(page.get_by_test_id("webhook-event-chat.accepted")).to_be_checked()
    page.get_by_test_id("webhook-event-chat.accepted").uncheck()
    page.get_by_test_id("webhook-event-chat.solved").check()
    page.get_by_test_id("webhook-save").click()
    expect(row).to_contain_text("Chat started, Chat solved")
    token = token_for(server, "admin@example.com")
    (listed,) = api_call(server, "GET", "/webhooks/endpoints", None, token)["items"]
    assert listed["events"] == ["chat.started", "chat.solved"] and "secret" not in listed

    # The operator turns private addresses off: saving is refused beside the URL, and the
    # next delivery is refused at delivery time (a dead letter, never retried).
    _restart(server, "off")
    _open_tab(page)
    row = page.get_by_test_id("webhook-row")
    row.get_by_test_id("webhook-edit").click()
    page.get_by_test_id("webhook-save").click()
    expect(_field_error(page, "url")).to_contain_text("resolves to 127.0.0.1")
    page.get_by_test_id("webhook-cancel").click()
    row.get_by_test_id("webhook-test").click()
    failed = page.locator('[data-testid="delivery-row"][data-status="failed"]')
    for _ in range(120):
        if failed.count():
            break
        page.get_by_test_id("webhook-deliveries-refresh").click()
        page.wait_for_timeout(250)
    expect(failed).to_have_count(1)
    expect(failed.get_by_test_id("delivery-error")).to_contain_text("refused:")
    expect(failed.get_by_test_id("delivery-attempts")).to_have_text("1")
    shot(page, "admin-webhooks-deliveries")
    assert len(receiver.received) == 1

    # On again: "Retry" re-sends the dead letter, which now arrives.
    _restart(server, "on")
    _open_tab(page)
    page.get_by_test_id("webhook-row").get_by_test_id("webhook-deliveries-open").click()
    page.get_by_test_id("delivery-retry").click()
    _delivered(page, 2)
    expect(page.get_by_test_id("delivery-retry")).to_have_count(0)
    assert [d["type"] for d in receiver.verified(secret)] == ["webhook.test", "webhook.test"]

    # A new secret (rotation): typed in the edit form, never shown back; the next delivery is
    # signed with it, no longer with the old one.
    rotated = "rotated-secret-5f2a9c0d17e3b4a6"
    page.get_by_test_id("webhook-row").get_by_test_id("webhook-edit").click()
    expect(page.get_by_test_id("webhook-secret")).to_have_value("")
    page.get_by_test_id("webhook-secret").fill(rotated)
    page.get_by_test_id("webhook-save").click()
    expect(page.get_by_test_id("webhook-cancel")).to_be_hidden()  # saved: the form is reset
    expect(page.get_by_test_id("webhook-secret")).to_have_value("")
    page.get_by_test_id("webhook-row").get_by_test_id("webhook-test").click()
    _delivered(page, 3)
    assert [d["type"] for d in receiver.verified(rotated)] == ["webhook.test"]
    assert len(receiver.verified(secret)) == 2

    # Delete, confirmed.
    page.get_by_test_id("webhook-row").get_by_test_id("webhook-delete").click()
    page.get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("webhook-row")).to_have_count(0)
    expect(page.get_by_test_id("webhook-deliveries")).to_be_hidden()
    assert api_call(server, "GET", "/webhooks/endpoints", None, token)["items"] == []


def test_the_webhooks_tab_on_a_phone(
    people: Browsers, receiver: Receiver, shot: Callable[[Page, str], None]
) -> None:
    token = token_for(people.server, "admin@example.com")
    api_call(
        people.server,
        "POST",
        "/webhooks/endpoints",
        {"url": receiver.url, "events": ["chat.started", "request.created"]},
        token,
    )
    page = people.open_page("admin", viewport={"width": 375, "height": 800}).page
    sign_in(page, "/console/admin", "admin@example.com")
    expect(page.get_by_test_id("user-row").first).to_be_visible()
    page.get_by_test_id("admin-tab-webhooks").click()
    expect(page.get_by_test_id("webhook-row")).to_have_count(1)
    shot(page, "admin-webhooks-phone")
    wide = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > 376 && e.getClientRects().length)
        .map((e) => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))
        .slice(0, 12)"""
    )
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, (width, wide)
