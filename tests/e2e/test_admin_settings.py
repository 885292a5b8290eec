"""Admin pages for settings that were API- or environment-only: a queue's routing and
timeouts, opening hours in the weekly grid (keyboard, errors beside the field, exactly the
API's 422s), automatic messages, and the widget's sites with its identity secret."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import (
    Browsers,
    HelplineServer,
    api_call,
    queue_as_admin,
    queue_id,
    sign_in,
    token_for,
)

pytestmark = pytest.mark.e2e

SECRET = "admin-page-widget-secret"


@pytest.fixture
def server_env() -> dict[str, str]:
    return {
        "HELPLINE_WIDGET_SECRET": SECRET,
        "HELPLINE_WIDGET_ORIGINS": "https://env.example.com",
    }


queue = queue_as_admin


def test_admin_sets_hours_in_the_weekly_grid_and_sees_errors_beside_the_field(
    people: Browsers, server: HelplineServer, shot: Callable[[Page, str], None]
) -> None:
    w = people.open_page("admin")
    w.allow("422")  # the refused saves, as the browser logs them
    admin = w.page
    sign_in(admin, "/console/admin#queues", "admin@example.com")
    row = admin.locator('[data-testid="queue-row"][data-queue-name="Technical"]')
    row.get_by_test_id("queue-settings").click()
    dialog = admin.get_by_test_id("queue-settings-dialog")
    expect(dialog).to_be_visible()

    # Routing and timeouts: an out-of-range wait is the API's 422, beside its field.
    dialog.get_by_test_id("qs-max-wait").fill("5")
    dialog.get_by_test_id("qs-routing-save").click()
    expect(dialog.locator("#qs-max-wait-error")).to_contain_text("greater than or equal to 10")
    dialog.get_by_test_id("qs-max-wait").fill("900")
    dialog.get_by_test_id("qs-routing").select_option("assign")
    dialog.get_by_test_id("qs-routing-save").click()
    expect(dialog.locator("#qs-max-wait-error")).to_be_empty()
    expect(row.get_by_label("Routing of Technical")).to_have_value("assign")  # shown at once
    got = queue(server, "Technical")
    assert got["max_wait_s"] == 900 and got["routing_mode"] == "assign"

    # Opening hours: the grid, driven from the keyboard.
    always = dialog.get_by_test_id("qs-always-open")
    if always.is_checked():
        always.press("Space")
    grid = dialog.get_by_test_id("hours-grid")
    expect(grid).to_be_visible()
    dialog.get_by_test_id("qs-timezone").fill("Mars/Olympus_Mons")
    dialog.get_by_test_id("qs-hours-save").click()
    expect(dialog.get_by_test_id("qs-timezone-error")).to_contain_text("unknown time zone")
    dialog.get_by_test_id("qs-timezone").fill("Europe/Berlin")

    tuesday = grid.locator('[data-day="tue"]')
    tuesday.get_by_role("button", name="Add hours on Tuesday").focus()
    admin.keyboard.press("Enter")  # a second range, focused: its opening time
    second = tuesday.get_by_test_id("hours-start").nth(1)
    expect(second).to_be_focused()
    second.fill("12:00")
    tuesday.get_by_test_id("hours-end").nth(1).fill("18:00")
    dialog.get_by_test_id("qs-hours-save").click()
    error = tuesday.get_by_test_id("hours-day-error")
    expect(error).to_contain_text("overlap")
    shot(admin, "admin-hours-grid-overlap")

    # Fix it: the second range starts when the first ends; Saturday gets short hours.
    second.fill("17:00")
    saturday = grid.locator('[data-day="sat"]')
    saturday.get_by_role("button", name="Add hours on Saturday").click()
    saturday.get_by_test_id("hours-start").fill("10:00")
    saturday.get_by_test_id("hours-end").fill("14:00")
    dialog.get_by_test_id("hours-add-exception").click()
    dialog.get_by_test_id("exception-date").fill("2026-12-24")
    dialog.get_by_test_id("qs-hours-save").click()
    expect(error).to_be_empty()
    expect(admin.get_by_test_id("qs-saved").filter(has_text="Opening hours saved")).to_be_visible()
    hours = queue(server, "Technical")["hours"]
    assert isinstance(hours, dict)
    assert hours["timezone"] == "Europe/Berlin"
    assert hours["weekly"]["tue"] == [["09:00", "17:00"], ["17:00", "18:00"]]
    assert hours["weekly"]["sat"] == [["10:00", "14:00"]] and hours["weekly"]["sun"] == []
    assert hours["exceptions"] == [{"date": "2026-12-24", "hours": []}]

    # Automatic messages.
    dialog.get_by_test_id("qs-auto-on").check()
    dialog.get_by_test_id("qs-auto-after").fill("45")
    dialog.get_by_test_id("qs-auto-text").fill("Thanks for waiting — we are on it.")
    dialog.get_by_test_id("qs-away-text").fill("We are away. Leave a message!")
    dialog.get_by_test_id("qs-auto-save").click()
    expect(
        admin.get_by_test_id("qs-saved").filter(has_text="Automatic messages saved")
    ).to_be_visible()
    got = queue(server, "Technical")
    assert got["auto_reply"] == {"after_s": 45, "text": "Thanks for waiting — we are on it."}
    assert got["away_text"] == "We are away. Leave a message!"
    shot(admin, "admin-queue-settings")

    # Every change is in the audit log.
    token = token_for(server, "admin@example.com")
    log = api_call(server, "GET", "/audit?action=queue.updated", token=token)["items"]
    fields = {f for e in log for f in e["details"]["fields"]}
    assert {"max_wait_s", "routing_mode", "hours", "auto_reply", "away_text"} <= fields
    assert all(e["target"]["id"] == queue_id(server, "Technical") for e in log)


def test_admin_allows_a_site_and_copies_the_identity_snippets(
    people: Browsers, server: HelplineServer, shot: Callable[[Page, str], None]
) -> None:
    w = people.open_page("admin")
    w.allow("422")  # the refused save, as the browser logs it
    admin = w.page
    sign_in(admin, "/console/admin#widget", "admin@example.com")
    expect(admin.get_by_test_id("widget-secret")).to_have_value(SECRET)
    expect(admin.get_by_test_id("widget-snippet-python")).to_contain_text(SECRET)
    expect(admin.get_by_test_id("widget-snippet-javascript")).to_contain_text("createHmac")
    expect(admin.get_by_text("https://env.example.com")).to_be_visible()
    admin.get_by_test_id("widget-origins").fill("https://shop.example.org\nnot a site")
    admin.get_by_test_id("widget-sites-save").click()
    expect(admin.locator("#widget-sites-form [data-role=error]")).to_contain_text("origin")
    admin.get_by_test_id("widget-origins").fill("https://shop.example.org")
    admin.get_by_test_id("widget-sites-save").click()
    expect(admin.get_by_text("Sites saved")).to_be_visible()
    shot(admin, "admin-widget")
    allowed = api_call(
        server, "GET", "/widget/settings", token=token_for(server, "admin@example.com")
    )
    assert allowed["origins"] == ["https://shop.example.org"]
