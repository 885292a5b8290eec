"""Reports in a real browser: a chat that was solved and rated shows up in the supervisor's
report (totals, rating count and average, per-agent table) and in the CSV export; the service
levels of chats and requests (per priority, queue and agent) and their CSV."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.axe import Scanner
from tests.e2e.support import (
    Browsers,
    HelplineServer,
    agent_sign_in,
    api_call,
    chat_row,
    guest_sign_in,
    patch_queue,
    queue_id,
    start_chat,
    token_for,
)

pytestmark = pytest.mark.e2e

Shot = Callable[[Page, str], None]


def test_rated_chat_appears_in_the_report(people: Browsers, shot: Shot) -> None:
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    expect(ana.get_by_test_id("nav-reports")).to_have_count(0)  # agents have no reports
    customer = guest_sign_in(people.open_page("customer"), "Lea Guest", "lea@example.org")
    chat_id = start_chat(customer, "General support", "Quick question")
    chat_row(ana, chat_id).click()
    ana.get_by_test_id("accept-chat").click()
    expect(ana.get_by_test_id("message-input")).to_be_enabled()
    ana.get_by_test_id("mark-solved").click()
    expect(customer.get_by_test_id("chat-status")).to_have_text("Solved")
    customer.get_by_test_id("rating-score").select_option("4")
    customer.get_by_test_id("rating-submit").click()
    expect(customer.get_by_test_id("rating-thanks")).to_contain_text("4/5")

    sam = agent_sign_in(people.open_page("sam"), "supervisor@example.com")
    sam.get_by_test_id("nav-reports").click()
    expect(sam.get_by_test_id("report-ratings-count")).to_have_text("1")
    expect(sam.get_by_test_id("report-ratings-average")).to_have_text("4.0")
    expect(sam.get_by_test_id("report-total-chats")).to_have_text("1")
    expect(sam.get_by_test_id("report-total-solved")).to_have_text("1")
    agent_row = sam.get_by_test_id("report-agent-row").filter(has_text="Ana Agent")
    expect(agent_row).to_contain_text("4.0 (1)")
    expect(sam.get_by_test_id("report-chart-daily")).to_be_visible()
    expect(sam.get_by_test_id("report-chart-ratings")).to_have_attribute(
        "aria-label", "Ratings distribution: ★★★★★ 5 0, ★★★★ 4 1, ★★★ 3 0, ★★ 2 0, ★ 1 0"
    )
    shot(sam, "console-reports")

    with sam.expect_download() as dl:
        sam.get_by_test_id("report-csv-ratings").click()
    lines = Path(dl.value.path()).read_text().splitlines()
    assert lines[0] == "score,count"
    assert "4,1" in lines

    # Another queue has no chats: the filter narrows the report.
    sam.get_by_test_id("report-queue").select_option(label="Billing")
    sam.get_by_test_id("report-apply").click()
    expect(sam.get_by_test_id("report-ratings-count")).to_have_text("0")
    expect(sam.get_by_test_id("report-total-chats")).to_have_text("0")
    sam.set_viewport_size({"width": 375, "height": 800})
    sam.get_by_test_id("report-queue").select_option("")
    sam.get_by_test_id("report-apply").click()
    expect(sam.get_by_test_id("report-ratings-count")).to_have_text("1")
    shot(sam, "console-reports-phone")


def test_service_levels_of_chats_and_requests_in_the_report(
    people: Browsers, server: HelplineServer, shot: Shot
) -> None:
    # Technical: an hour for a first answer to chats; urgent requests an hour to respond and
    # two to resolve (the report counts what was met, by the due times of the requests).
    patch_queue(
        server,
        "Technical",
        sla={"first_response_s": 3600},
        request_sla={"urgent": {"response_s": 3600, "resolve_s": 7200}},
    )
    technical = queue_id(server, "Technical")
    customer = token_for(server, "customer1@example.com")
    ana = token_for(server, "agent1@example.com")
    ana_id = api_call(server, "GET", "/me", token=ana)["id"]
    ref = api_call(
        server,
        "POST",
        "/requests",
        {"summary": "Router keeps rebooting", "team_id": technical, "priority": "critical"},
        customer,
    )["reference"]
    api_call(server, "PATCH", f"/requests/{ref}", {"assignee_id": ana_id}, ana)
    api_call(server, "POST", f"/requests/{ref}/comments", {"text": "Checking it now"}, ana)

    w = people.open_page("sam")
    sam = agent_sign_in(w, "supervisor@example.com")
    sam.get_by_test_id("nav-reports").click()
    urgent = sam.locator('[data-testid="report-sla-row"][data-priority="urgent"]')
    expect(urgent.get_by_test_id("report-sla-response")).to_have_text("100% (1 of 1)")
    expect(urgent.get_by_test_id("report-sla-resolution")).to_have_text("—")  # still running
    every = sam.locator('[data-testid="report-sla-row"][data-priority="all"]')
    expect(every.get_by_test_id("report-sla-response")).to_have_text("100% (1 of 1)")
    expect(sam.get_by_test_id("report-sla-chats")).to_have_text("—")  # no chat decided yet
    queue = sam.get_by_test_id("report-queue-row").filter(has_text="Technical")
    expect(queue).to_contain_text("100% (1 of 1)")
    agent = sam.get_by_test_id("report-agent-row").filter(has_text="Ana Agent")
    expect(agent).to_contain_text("100% (1 of 1)")
    shot(sam, "console-reports-service-levels")

    with sam.expect_download() as dl:
        sam.get_by_test_id("report-csv-request_sla").click()
    lines = Path(dl.value.path()).read_text().splitlines()
    assert lines[0].startswith("priority,response_met,response_missed,response_met_share")
    assert lines[1].startswith("urgent,1,0,1.0,")
    assert lines[-1].startswith("all,1,0,1.0,")

    scanner = Scanner()
    scanner.scan_both_themes(sam, "console: reports with service levels")
    scanner.check()
