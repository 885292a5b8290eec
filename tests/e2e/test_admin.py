"""Admin pages: users, queues and membership, clicked through by an administrator."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import Browsers, agent_sign_in, guest_sign_in, sign_in

pytestmark = pytest.mark.e2e


def test_admin_creates_agent_and_queue_and_membership(
    people: Browsers, shot: Callable[[Page, str], None]
) -> None:
    admin = people.open_page("admin").page
    sign_in(admin, "/console/admin", "admin@example.com")
    expect(admin.get_by_test_id("user-row").first).to_be_visible()
    shot(admin, "admin-users")

    admin.get_by_test_id("user-name").fill("Nora New")
    admin.get_by_test_id("user-email").fill("nora@example.com")
    admin.get_by_test_id("user-role").select_option("agent")
    admin.get_by_test_id("user-password").fill("correct horse battery")
    admin.get_by_test_id("user-create").click()
    nora = admin.get_by_test_id("user-row").filter(has_text="nora@example.com")
    expect(nora).to_be_visible()

    admin.get_by_test_id("admin-tab-queues").click()
    admin.get_by_test_id("queue-name").fill("Returns")
    admin.get_by_test_id("queue-description").fill("Send something back")
    admin.get_by_test_id("queue-create").click()
    row = admin.locator('[data-testid="queue-row"][data-queue-name="Returns"]')
    expect(row).to_be_visible()
    row.get_by_test_id("queue-members").click()
    admin.get_by_test_id("members-dialog").get_by_text("Nora New").click()
    admin.get_by_test_id("members-save").click()
    expect(row.get_by_test_id("queue-members")).to_have_text("1 member")
    rename = row.get_by_test_id("queue-rename")
    rename.fill("Returns and refunds")
    rename.press("Tab")
    expect(admin.get_by_text("Renamed to Returns and refunds")).to_be_visible()
    shot(admin, "admin-queues")

    # The new agent gets chats of the new queue.
    nora_page = agent_sign_in(people.open_page("nora"), "nora@example.com", "correct horse battery")
    customer = guest_sign_in(people.open_page("customer"), "Rob Return", "rob@example.org")
    customer.get_by_test_id("start-queue").select_option(label="Returns and refunds")
    customer.get_by_test_id("start-message").fill("Wrong size")
    customer.get_by_test_id("start-chat").click()
    expect(nora_page.get_by_test_id("new-chat-notification")).to_contain_text("Returns and refunds")

    # Deactivating the queue takes it off the portal.
    admin.locator(
        '[data-testid="queue-row"][data-queue-name="Returns and refunds"]'
    ).get_by_test_id("queue-deactivate").click()
    admin.get_by_test_id("confirm-ok").click()
    expect(admin.get_by_test_id("queue-reactivate")).to_have_count(1)
    other = guest_sign_in(people.open_page("other"), "Oli Other", "oli@example.org")
    expect(other.get_by_test_id("start-queue").locator("option")).to_have_count(3)

    # Deactivating a user.
    admin.get_by_test_id("admin-tab-users").click()
    nora.get_by_test_id("user-deactivate").click()
    admin.get_by_test_id("confirm-ok").click()
    expect(nora).to_have_attribute("data-active", "false")
    # Her console is signed out at once (the server closes her connection; the page reloads).
    expect(nora_page.get_by_test_id("login-submit")).to_be_visible()
