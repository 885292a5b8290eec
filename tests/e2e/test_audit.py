"""The admin page's audit log, used by an administrator: filter by who, action and day, page
through older entries, export what the filters show as CSV."""

from __future__ import annotations

import csv
import io
import urllib.error
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import Browsers, api_call, sign_in, token_for

pytestmark = pytest.mark.e2e


def test_admin_filters_pages_and_exports_the_audit_log(
    people: Browsers, shot: Callable[[Page, str], None]
) -> None:
    server = people.server
    admin_token = token_for(server, "admin@example.com")
    # More than one page (50) of entries.
    for n in range(55):
        api_call(server, "POST", "/queues", {"name": f"Audit queue {n:02d}"}, admin_token)
    with pytest.raises(urllib.error.HTTPError) as refused:
        api_call(server, "POST", "/auth/login", {"email": "agent1@example.com", "password": "nope"})
    refused.value.close()

    page = people.open_page("admin").page
    sign_in(page, "/console/admin", "admin@example.com")
    expect(page.get_by_test_id("user-row").first).to_be_visible()
    page.get_by_test_id("admin-tab-audit").click()
    rows = page.get_by_test_id("audit-row")
    expect(rows).to_have_count(50)
    expect(rows.first).to_have_attribute("data-action", "login.succeeded")
    expect(page.get_by_test_id("audit-more")).to_be_visible()
    page.get_by_test_id("audit-more").click()
    # The rest (fewer than 50 more) came after the first page, and there is nothing older.
    expect(page.get_by_test_id("audit-more")).to_be_hidden()
    assert rows.count() > 55
    expect(rows.last).to_have_attribute("data-action", "login.succeeded")

    # Who: the agent whose sign-in failed is the target, the actor is nobody; by action.
    page.get_by_test_id("audit-action").select_option("login.failed")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Sign-in failed")
    expect(rows.first).to_contain_text("System")
    expect(page.get_by_test_id("audit-more")).to_be_hidden()

    page.get_by_test_id("audit-action").select_option("queue.created")
    page.get_by_test_id("audit-actor").select_option(label="Ada Admin (admin@example.com)")
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("Audit queue 54")
    shot(page, "admin-audit")

    # By day: nothing tomorrow; today has them.
    # The browser's own calendar day: the page reads the date inputs in local time.
    today = str(page.evaluate("new Date().toLocaleDateString('en-CA')"))
    tomorrow = (date.fromisoformat(today) + timedelta(days=1)).isoformat()
    page.get_by_test_id("audit-from").fill(tomorrow)
    expect(page.get_by_text("Nothing recorded")).to_be_visible()
    expect(rows).to_have_count(0)
    page.get_by_test_id("audit-from").fill(today)
    page.get_by_test_id("audit-to").fill(today)
    expect(rows).to_have_count(50)

    # Export CSV carries the filters.
    with page.expect_download() as info:
        page.get_by_test_id("audit-export").click()
    text = info.value.path().read_text(encoding="utf-8")
    exported = list(csv.DictReader(io.StringIO(text)))
    assert len(exported) == 55
    assert {r["action"] for r in exported} == {"queue.created"}
    assert exported[0]["details"].find("Audit queue 54") >= 0
