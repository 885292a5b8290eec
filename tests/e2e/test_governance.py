"""Data governance in the browser: a customer downloads their data from the portal; an admin
sees the retention policy, changes a queue's, and erases a customer with a typed
confirmation."""

from __future__ import annotations

import json
import urllib.error
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import (
    Browsers,
    HelplineServer,
    api_call,
    guest_sign_in,
    queue_id,
    send,
    sign_in,
    start_chat,
    token_for,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def server_env() -> dict[str, str]:
    return {"HELPLINE_RETENTION_DAYS": "400"}


def test_customer_downloads_their_data_from_the_portal(
    people: Browsers, tmp_path: Path, shot: Callable[[Page, str], None]
) -> None:
    page = guest_sign_in(people.open_page("customer"), "Greta Guest", "greta@example.org")
    chat_id = start_chat(page, "General support", "Where is parcel ZX-4471?")
    send(page, "It was due on Monday")
    section = page.get_by_test_id("my-data")
    section.scroll_into_view_if_needed()
    expect(page.get_by_test_id("export-download")).to_be_hidden()
    page.get_by_test_id("download-my-data").click()
    expect(page.get_by_test_id("export-status")).to_contain_text("ready", timeout=20_000)
    shot(page, "portal-my-data")
    with page.expect_download() as info:
        page.get_by_test_id("export-download").click()
    saved = tmp_path / "mine.zip"
    info.value.save_as(saved)
    with zipfile.ZipFile(saved) as zf:
        me = json.loads(zf.read("customer.json"))
        assert me["name"] == "Greta Guest" and me["email"] == "greta@example.org"
        [chat_file] = [n for n in zf.namelist() if n.startswith("chats/")]
        chat = json.loads(zf.read(chat_file))
    assert chat["chat"]["id"] == chat_id
    texts = [e["data"].get("text") for e in chat["events"] if e["type"] == "message.posted"]
    assert "Where is parcel ZX-4471?" in texts and "It was due on Monday" in texts


def test_admin_sets_retention_and_erases_a_customer(
    people: Browsers, server: HelplineServer, shot: Callable[[Page, str], None]
) -> None:
    # A customer with an open chat.
    guest = api_call(
        server, "POST", "/auth/guest", {"name": "Egon Erase", "email": "egon@example.org"}
    )
    token = guest["token"]
    q = queue_id(server, "Billing")
    chat = api_call(
        server, "POST", "/chats", {"queue_id": q, "message": "My IBAN is DE44 5001"}, token
    )

    watched = people.open_page("admin")
    # The first erasure is refused (open chat), on purpose.
    watched.allow(r"status of 409 .*/erase")
    watched.allow(r"status of 422")  # the refused retention of 0 days
    admin = watched.page
    sign_in(admin, "/console/admin", "admin@example.com")
    expect(admin.get_by_test_id("user-row").first).to_be_visible()  # the page's script runs
    admin.get_by_test_id("admin-tab-data").click()
    expect(admin.get_by_test_id("retention-policy")).to_contain_text("400 days")
    # Every process runs retention at start: the last run shows (nothing old enough yet).
    expect(admin.get_by_test_id("last-run-chats")).to_have_text("0")
    row = admin.locator(f'[data-testid="retention-row"][data-queue-id="{q}"]')
    # 0 days is the API's 422, shown beside the field; nothing changes.
    row.get_by_test_id("queue-retention").fill("0")
    row.get_by_test_id("queue-retention").press("Tab")
    expect(row.get_by_test_id("queue-retention-error")).to_contain_text("greater than or equal")
    expect(row.get_by_test_id("queue-retention")).to_have_attribute("aria-invalid", "true")
    expect(row.get_by_test_id("queue-retention-effective")).to_have_text("400 days")
    row.get_by_test_id("queue-retention").fill("30")
    row.get_by_test_id("queue-retention").press("Tab")
    expect(row.get_by_test_id("queue-retention-effective")).to_have_text("30 days")
    expect(row.get_by_test_id("queue-retention-error")).to_be_empty()
    admin_token = token_for(server, "admin@example.com")
    billing = next(
        x
        for x in api_call(server, "GET", "/retention", token=admin_token)["queues"]
        if x["id"] == q
    )
    assert billing["retention_days"] == 30

    admin.get_by_test_id("customer-search").fill("egon")
    customer_row = admin.get_by_test_id("customer-row").filter(has_text="egon@example.org")
    expect(customer_row).to_be_visible()
    shot(admin, "admin-customer-data")
    customer_row.get_by_test_id("customer-erase").click()
    dialog = admin.get_by_test_id("erase-dialog")
    expect(dialog).to_be_visible()
    submit = dialog.get_by_test_id("erase-submit")
    expect(submit).to_be_disabled()
    dialog.get_by_test_id("erase-confirm").fill("egon@example.com")
    expect(submit).to_be_disabled()
    dialog.get_by_test_id("erase-confirm").fill("Egon@Example.org")
    expect(submit).to_be_enabled()
    shot(admin, "admin-erase-dialog")
    submit.click()
    # The open chat stops it: the reason shows in the dialog, nothing changed.
    expect(dialog.locator('[data-role="error"]')).to_contain_text("open chat")
    assert api_call(server, "GET", "/me", token=token)["name"] == "Egon Erase"

    api_call(server, "POST", f"/chats/{chat['id']}/leave", {}, token)
    submit.click()
    expect(admin.get_by_test_id("erase-done")).to_be_visible()
    expect(dialog).to_be_hidden()
    expect(customer_row).to_have_count(0)  # the row now reads "Erased customer"
    admin.get_by_test_id("customer-search").fill("erased")
    expect(admin.get_by_test_id("customer-row").filter(has_text="Erased customer")).to_be_visible()

    with pytest.raises(urllib.error.HTTPError) as signed_out:
        api_call(server, "GET", "/me", token=token)
    assert signed_out.value.code == 401
    signed_out.value.close()
    events = api_call(server, "GET", f"/chats/{chat['id']}/events", token=admin_token)["items"]
    assert [e["data"]["text"] for e in events if e["type"] == "message.posted"] == ["[erased]"]
