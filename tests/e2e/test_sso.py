"""Single sign-on in Chromium: an agent signs in through the identity provider's own pages
(canaille on loopback) and lands in the console with the role their group maps to."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import Browsers, HelplineServer, free_port
from tests.fixtures.oidc import PASSWORD, Canaille

pytestmark = pytest.mark.e2e

GROUP = f"helpdesk-agents-{os.urandom(3).hex()}"


@pytest.fixture
def server(tmp_path: Path, canaille: Canaille, seeded_data: Path) -> Iterator[HelplineServer]:
    """Helpline with the provider connected and password sign-in for customers only."""
    srv = HelplineServer(tmp_path / "data", free_port())
    srv.data_dir.mkdir()
    client = canaille.create_client(f"{srv.url}/auth/oidc/callback")
    srv.env.update(
        HELPLINE_OIDC_ISSUER=canaille.url,
        HELPLINE_OIDC_CLIENT_ID=client["client_id"],
        HELPLINE_OIDC_CLIENT_SECRET=client["secret"],
        HELPLINE_OIDC_NAME="Canaille",
        HELPLINE_OIDC_ROLE_MAP=f"{GROUP}=agent",
        HELPLINE_PASSWORD_LOGIN="customers",
    )
    srv.copy_data(seeded_data)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def test_an_agent_signs_in_through_the_provider_and_lands_in_the_console(
    people: Browsers, canaille: Canaille, shot: Callable[[Page, str], None]
) -> None:
    ada = canaille.create_user("Ada Lovelace")
    canaille.create_group(GROUP, ada)
    w = people.open_page("agent")
    # canaille's own pages log their own CSP and font errors; ours must stay clean.
    w.allow(re.escape(f"@ {canaille.url}/"))
    page = w.page

    page.goto("/console")
    expect(page.get_by_test_id("sso-login")).to_have_text("Sign in with Canaille")
    expect(page.get_by_test_id("login-password")).to_have_count(0)  # staff: provider only
    shot(page, "console-signin-sso")

    page.get_by_test_id("sso-login").click()
    # The provider's own pages: login, password, consent.
    page.wait_for_url(f"{canaille.url}/**")
    page.locator('input[name="login"]').fill(ada["user_name"])
    page.locator('input[name="login"]').press("Enter")
    page.locator('input[name="password"]').fill(PASSWORD)
    page.locator('input[name="password"]').press("Enter")
    page.locator('button[name="answer"][value="accept"]').click()

    page.wait_for_url(f"{people.server.url}/console")
    expect(page.get_by_test_id("availability")).to_be_visible()
    expect(page.locator('[data-role="conn-label"]')).to_have_text("Live")
    boot = json.loads(page.locator("#boot").text_content() or "{}")
    assert boot["user"]["role"] == "agent"
    assert (boot["user"]["name"], boot["user"]["email"]) == ("Ada Lovelace", ada["email"])
    shot(page, "console-after-sso")


def test_the_portal_keeps_the_password_form_for_customers_and_a_refusal_is_a_page(
    people: Browsers, shot: Callable[[Page, str], None]
) -> None:
    w = people.open_page("visitor", viewport={"width": 375, "height": 740})
    page = w.page
    page.goto("/")
    expect(page.get_by_test_id("sso-login")).to_be_visible()
    expect(page.get_by_test_id("login-password")).to_be_visible()
    shot(page, "portal-signin-sso-phone")

    w.allow(r"status of 400")  # the refusal page is answered 400, which Chromium logs
    page.goto("/auth/oidc/login?next=https://evil.example/")
    card = page.get_by_test_id("sso-refused-page")
    expect(card).to_have_attribute("data-code", "invalid_next")
    expect(card.get_by_role("link", name="Back to the staff sign-in")).to_be_visible()
    shot(page, "sso-refused-phone")
