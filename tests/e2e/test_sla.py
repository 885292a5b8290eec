"""Service levels in the console: a waiting chat's first-response countdown in the list and the
chat header, "At risk" after the warning, "Reply overdue" after the breach (said in words and a
mark, not colour alone), and gone once the agent answers.

The chips are computed in the page (sla.js) from the API's `warn_at`/`due_at` times against the
page's clock, re-painted each second; the server's `sla.warning` frame only makes a chip "At
risk" early. So the agent's page runs on Playwright's clock (`page.clock.install()` before
navigation, time flows as usual) and the test moves it on to the warning and the due time
instead of waiting for them in real time. What only the server's sweep makes, the breach entry
in a request's timeline, is waited for in real time on a request with the smallest target the
API accepts (1 s)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import (
    Browsers,
    HelplineServer,
    Watched,
    agent_sign_in,
    api_call,
    chat_row,
    guest_sign_in,
    patch_queue,
    queue_as_admin,
    send,
    sign_in,
    start_chat,
    token_for,
)

pytestmark = pytest.mark.e2e

Shot = Callable[[Page, str], None]


queue = queue_as_admin


def run_to(page: Page, when: str, past_ms: int = 1000) -> None:
    """Move the page's clock on to `when` (an API time) plus `past_ms`."""
    ahead = page.evaluate("(t) => Date.parse(t) - Date.now()", when)
    page.clock.run_for(max(0, int(ahead)) + past_ms)


def clocked(w: Watched) -> Watched:
    """The window with its page on Playwright's clock (before it navigates anywhere)."""
    w.page.clock.install()
    return w


def test_agent_sees_the_countdown_turn_at_risk_then_overdue(
    people: Browsers, server: HelplineServer, shot: Shot
) -> None:
    # 30 s to the first answer: warned at 24 s, breached at 30 s. The page's clock is moved on;
    # in real time the test answers long before the server's sweep would warn.
    patch_queue(server, "General support", sla={"first_response_s": 30})
    ana = agent_sign_in(clocked(people.open_page("ana")), "agent1@example.com")
    customer = guest_sign_in(people.open_page("customer"), "Lea Guest", "lea@example.org")
    chat_id = start_chat(customer, "General support", "My invoice is wrong")
    sla = api_call(
        server, "GET", f"/chats/{chat_id}", token=token_for(server, "agent1@example.com")
    )["sla"]

    chip = chat_row(ana, chat_id).get_by_test_id("sla-chip")
    expect(chip).to_have_attribute("data-sla", "ok")
    expect(chip).to_contain_text("Reply in")
    chat_row(ana, chat_id).click()
    header = ana.get_by_test_id("chat-sla")
    expect(header).to_be_visible()
    expect(header).to_contain_text("Reply in")

    run_to(ana, sla["warn_at"])
    expect(chip).to_have_attribute("data-sla", "warning")
    expect(chip).to_contain_text("At risk")
    expect(header).to_contain_text("At risk")
    shot(ana, "console-sla-at-risk")

    run_to(ana, sla["first_response_due_at"])
    expect(chip).to_have_attribute("data-sla", "breached")
    expect(chip).to_contain_text("Reply overdue")
    expect(header).to_contain_text("Reply overdue")
    shot(ana, "console-sla-overdue")

    # Accepting alone (the automatic greeting) does not stop the clock; the answer does.
    ana.get_by_test_id("accept-chat").click()
    expect(chat_row(ana, chat_id)).to_have_attribute("data-status", "in_progress")
    expect(header).to_contain_text("Reply overdue")
    send(ana, "Sorry for the wait, let me look at the invoice.")
    expect(header).to_be_hidden()
    expect(chip).to_have_count(0)


def test_admin_sets_service_levels_in_the_queue_settings(
    people: Browsers, server: HelplineServer, shot: Shot
) -> None:
    w = people.open_page("admin")
    w.allow("422")  # the refused save, as the browser logs it
    admin = w.page
    sign_in(admin, "/console/admin#queues", "admin@example.com")
    row = admin.locator('[data-testid="queue-row"][data-queue-name="Technical"]')
    row.get_by_test_id("queue-settings").click()
    dialog = admin.get_by_test_id("queue-settings-dialog")
    form = dialog.get_by_test_id("qs-sla")
    form.scroll_into_view_if_needed()

    # 0 is the API's 422, shown beside its field; nothing is saved.
    form.get_by_test_id("qs-sla-first").fill("0")
    form.get_by_test_id("qs-sla-save").click()
    expect(form.locator("#qs-sla-first-error")).to_contain_text("greater than 0")
    assert queue(server, "Technical")["sla"] is None
    form.get_by_test_id("qs-sla-first").fill("2")
    form.get_by_test_id("qs-sla-urgent-response").fill("30")
    form.get_by_test_id("qs-sla-urgent-resolve").fill("240")
    form.get_by_test_id("qs-sla-low-resolve").fill("-5")
    form.get_by_test_id("qs-sla-save").click()
    err = form.locator('[data-error-for="request_sla.low.resolve_s"]')
    expect(err).to_contain_text("greater than 0")
    form.get_by_test_id("qs-sla-low-resolve").fill("")
    form.get_by_test_id("qs-sla-save").click()
    expect(admin.get_by_test_id("qs-saved").filter(has_text="Service levels saved")).to_be_visible()
    expect(err).to_be_empty()
    got = queue(server, "Technical")
    assert got["sla"] == {"first_response_s": 120}
    assert got["request_sla"]["urgent"] == {"response_s": 1800, "resolve_s": 14400}
    assert got["request_sla"]["low"] is None
    shot(admin, "admin-queue-sla")


def test_agent_sees_a_request_countdown_turn_at_risk_then_its_breach_in_the_timeline(
    people: Browsers, server: HelplineServer, shot: Shot
) -> None:
    # Urgent requests: a response within 40 s, at risk (the warning at 80 %) from 32 s; the
    # page's clock is moved on. High ones: 1 s, so the server's own sweep (each second) breaches
    # one while the agent signs in and writes it into the request's timeline.
    patch_queue(
        server,
        "General support",
        request_sla={"urgent": {"response_s": 40}, "high": {"response_s": 1}},
    )
    customer = token_for(server, "customer1@example.com")
    general = next(
        q["id"]
        for q in api_call(server, "GET", "/queues")["items"]
        if q["name"] == "General support"
    )

    def raise_request(summary: str, priority: str) -> dict[str, Any]:
        body = {"summary": summary, "team_id": general, "priority": priority}
        return dict(api_call(server, "POST", "/requests", body, customer))

    late = raise_request("Invoices do not print", "high")["reference"]
    created = raise_request("Checkout is down", "critical")
    ref, sla = created["reference"], created["sla"]
    ana = agent_sign_in(clocked(people.open_page("ana")), "agent1@example.com")
    ana.get_by_test_id("nav-requests").click()
    row = ana.locator(f'[data-testid="sr-row"][data-reference="{ref}"]')
    expect(row.get_by_test_id("sr-row-sla")).to_have_attribute("data-sla", "ok")
    expect(row.get_by_test_id("sr-row-sla")).to_contain_text("Response in")
    row.click()
    chip = ana.get_by_test_id("sr-sla")
    expect(chip).to_have_attribute("data-sla", "ok")
    expect(chip).to_contain_text("Response in")

    run_to(ana, sla["response_warn_at"])
    expect(chip).to_have_attribute("data-sla", "warning")
    expect(chip).to_contain_text("At risk: response in")
    expect(row.get_by_test_id("sr-row-sla")).to_have_attribute("data-sla", "warning")
    run_to(ana, sla["response_due_at"])
    expect(chip).to_have_attribute("data-sla", "breached")
    expect(chip).to_contain_text("Response overdue")
    expect(row.get_by_test_id("sr-row-sla")).to_have_attribute("data-sla", "breached")

    # The server's sweep breached the 1 s request (a bounded poll); its timeline, read when the
    # agent opens it, shows the internal breach entry.
    agent = token_for(server, "agent1@example.com")
    deadline = time.monotonic() + 15
    while not api_call(server, "GET", f"/requests/{late}", token=agent)["sla"]["response_breached"]:
        assert time.monotonic() < deadline, "the sweep did not breach the 1 s request"
        time.sleep(0.2)
    ana.locator(f'[data-testid="sr-row"][data-reference="{late}"]').click()
    expect(chip).to_have_attribute("data-sla", "breached")
    expect(chip).to_contain_text("Response overdue")
    breach = ana.locator('[data-testid="sr-timeline-entry"][data-type="sla_breached"]')
    expect(breach).to_contain_text("Response target missed")
    shot(ana, "console-request-sla")
