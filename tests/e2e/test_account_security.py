"""The console's user menu: "API tokens" (create with scopes, shown once with a copy button,
last use, revoke with a confirm) and "Your sessions" (device, this one marked, signing another
out closes that browser's socket and sends it to the sign-in)."""

from __future__ import annotations

import urllib.error
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import Browsers, agent_sign_in, api_call

pytestmark = pytest.mark.e2e


def open_menu_item(page: Page, testid: str) -> None:
    page.get_by_test_id("user-menu").locator("summary").click()
    page.get_by_test_id(testid).click()


def test_agent_creates_uses_and_revokes_an_api_token(
    people: Browsers, shot: Callable[[Page, str], None]
) -> None:
    w = people.open_page("agent", permissions=["clipboard-read", "clipboard-write"])
    page = agent_sign_in(w, "agent1@example.com")
    open_menu_item(page, "menu-tokens")
    dialog = page.get_by_test_id("tokens-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_text("You have no API tokens.")).to_be_visible()
    # An agent may grant the chat and request scopes, never reports or admin.
    scopes = dialog.get_by_test_id("token-scope")
    expect(scopes).to_have_count(4)
    assert "admin" not in [scopes.nth(i).get_attribute("value") for i in range(4)]

    dialog.get_by_test_id("token-create").click()
    expect(dialog.get_by_text("Give the token a name.")).to_be_visible()
    dialog.get_by_test_id("token-name").fill("CRM sync")
    dialog.locator('[data-testid="token-scope"][value="chats:read"]').check()
    dialog.get_by_test_id("token-create").click()
    secret = dialog.get_by_test_id("token-secret")
    expect(secret).to_contain_text("hlp_")
    token = secret.inner_text().strip()
    dialog.get_by_test_id("token-copy").click()
    expect(page.get_by_text("Token copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == token
    row = dialog.get_by_test_id("token-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("CRM sync")
    expect(row.get_by_test_id("token-last-used")).to_have_text("Never")
    shot(page, "console-api-tokens")

    # The token works with its scope; the list then shows its last use.
    assert api_call(people.server, "GET", "/chats", token=token)["items"] is not None
    dialog.get_by_test_id("tokens-close").click()
    expect(secret).to_be_hidden()
    open_menu_item(page, "menu-tokens")
    expect(dialog.get_by_test_id("token-secret")).to_have_text("")  # shown once only
    expect(row.get_by_test_id("token-last-used")).not_to_have_text("Never")

    row.get_by_test_id("token-revoke").click()
    page.get_by_test_id("confirm-ok").click()
    expect(dialog.get_by_test_id("token-row")).to_have_count(0)
    with pytest.raises(urllib.error.HTTPError) as refused:
        api_call(people.server, "GET", "/chats", token=token)
    assert refused.value.code == 401
    refused.value.close()


def test_signing_out_another_session_closes_its_console(
    people: Browsers, shot: Callable[[Page, str], None]
) -> None:
    laptop = agent_sign_in(people.open_page("laptop"), "agent1@example.com")
    phone = agent_sign_in(
        people.open_page(
            "phone",
            viewport={"width": 390, "height": 800},
            user_agent=(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
                "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
            ),
        ),
        "agent1@example.com",
    )
    open_menu_item(laptop, "menu-sessions")
    dialog = laptop.get_by_test_id("sessions-dialog")
    rows = dialog.get_by_test_id("session-row")
    expect(rows).to_have_count(2)
    current = dialog.locator('[data-testid="session-row"][data-current="true"]')
    expect(current.get_by_test_id("session-current")).to_have_text("This device")
    other = dialog.locator('[data-testid="session-row"][data-current="false"]')
    expect(other).to_contain_text("Mobile Safari 17 on iOS (iPhone)")
    expect(other).to_contain_text("127.0.0.1")
    shot(laptop, "console-sessions")

    other.get_by_test_id("session-signout").click()
    laptop.get_by_test_id("confirm-ok").click()
    expect(rows).to_have_count(1)
    # Its socket closed with 4401: the phone's console goes back to the sign-in at once.
    expect(phone.get_by_test_id("login-submit")).to_be_visible()
    # This one goes on.
    expect(laptop.locator('[data-role="conn-label"]')).to_have_text("Live")
