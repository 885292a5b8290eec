"""Browser journeys for two-factor sign-in and password reset: turning TOTP on from the
console's user menu and signing in with a code; a supervisor whose role requires it sent
straight to the setup; "Forgot password?" to the mailed link (a real aiosmtpd) and back in."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import PASSWORD, Browsers, agent_sign_in, wait_for_mail
from tests.notify.support import SmtpServer

pytestmark = pytest.mark.e2e

# The key as the dialog shows it: base32, in groups of four.
SECRET_SHOWN = re.compile(r"^[A-Z2-7]{4}( [A-Z2-7]{4}){7}$")


@pytest.fixture
def server_env(smtp: SmtpServer) -> dict[str, str]:
    return {"HELPLINE_SMTP_URL": smtp.url, "HELPLINE_REQUIRE_TOTP": "supervisor"}


def qr_drawn(page: Page) -> None:
    """The QR code (the SVG from /me/totp/qr.svg) loaded and drawn, not a broken image."""
    page.wait_for_function(
        "() => { const i = document.querySelector('#totp-dialog img[data-role=qr]');"
        " return i.complete && i.naturalWidth > 0; }",
        timeout=10_000,
    )


def fresh_code(app: pyotp.TOTP, used: set[str]) -> str:
    """The app's current code, once it is one not used yet (a code works once: wait for the
    next 30-second step rather than reuse it; bounded)."""
    deadline = time.monotonic() + 35
    while time.monotonic() < deadline:
        code = app.now()
        if code not in used:
            used.add(code)
            return code
        time.sleep(0.5)
    raise AssertionError("no new code within a step")


def test_turn_on_two_factor_from_the_user_menu_and_sign_in_with_a_code(
    people: Browsers, shot: Callable[[Page, str], None]
) -> None:
    w = people.open_page("ana")
    # Refusals this journey provokes on purpose: a wrong code, and the sign-in's first step.
    w.allow(r"status of 422 .* @ \S+/api/v1/me/totp/confirm$")
    w.allow(r"status of 401 .* @ \S+/api/v1/auth/login$")
    page = agent_sign_in(w, "agent1@example.com")
    page.get_by_test_id("user-menu").locator("summary").click()
    page.get_by_test_id("menu-totp").click()
    dialog = page.get_by_test_id("totp-dialog")
    expect(dialog).to_be_visible()
    page.get_by_test_id("totp-start").click()
    expect(page.get_by_test_id("totp-secret")).to_have_text(SECRET_SHOWN)
    qr = dialog.locator('img[data-role="qr"]')
    expect(qr).to_be_visible()
    qr_drawn(page)
    shot(page, "totp-setup")

    secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")
    app = pyotp.TOTP(secret)
    used: set[str] = set()
    page.get_by_test_id("totp-code").fill("000000" if app.now() != "000000" else "111111")
    page.get_by_test_id("totp-confirm").click()
    expect(dialog.locator('[data-step="setup"] [data-role="error"]')).to_contain_text("not right")
    page.get_by_test_id("totp-code").fill(fresh_code(app, used))
    page.get_by_test_id("totp-confirm").click()
    codes = page.get_by_test_id("recovery-code")
    expect(codes).to_have_count(10)
    recovery = codes.all_inner_texts()
    assert all(re.fullmatch(r"[a-z0-9]{4}(-[a-z0-9]{4}){3}", c) for c in recovery)
    shot(page, "totp-recovery-codes")
    with page.expect_download() as download:
        page.get_by_test_id("recovery-download").click()
    saved = Path(download.value.path()).read_text()
    assert all(c in saved for c in recovery)
    page.get_by_test_id("totp-done").click()
    expect(dialog).to_be_hidden()

    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-email")).to_be_visible()
    page.get_by_test_id("login-email").fill("agent1@example.com")
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    totp = page.get_by_test_id("login-totp")
    expect(totp).to_be_visible()
    expect(totp).to_be_focused()
    shot(page, "totp-sign-in-second-step")
    totp.fill(fresh_code(app, used))
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("availability")).to_be_visible()
    expect(page.locator('[data-role="conn-label"]')).to_have_text("Live")

    # Turned off again with a recovery code, from the same dialog.
    page.get_by_test_id("user-menu").locator("summary").click()
    page.get_by_test_id("menu-totp").click()
    page.get_by_test_id("totp-disable-code").fill(recovery[0])
    page.get_by_test_id("totp-disable").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("toast").filter(has_text="is off")).to_be_visible()


def test_a_role_that_requires_two_factor_goes_straight_to_the_setup(
    people: Browsers, shot: Callable[[Page, str], None]
) -> None:
    w = people.open_page("sam", viewport={"width": 390, "height": 844})
    page = w.page
    page.goto("/console")
    page.get_by_test_id("login-email").fill("supervisor@example.com")
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    dialog = page.get_by_test_id("totp-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("requires two-factor sign-in")
    page.keyboard.press("Escape")
    expect(dialog).to_be_visible()
    expect(page.get_by_test_id("totp-close")).to_be_hidden()
    page.get_by_test_id("totp-start").click()
    expect(page.get_by_test_id("totp-secret")).to_have_text(SECRET_SHOWN)
    secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")
    qr_drawn(page)
    shot(page, "totp-required-phone")
    page.get_by_test_id("totp-code").fill(pyotp.TOTP(secret).now())
    page.get_by_test_id("totp-confirm").click()
    expect(page.get_by_test_id("recovery-code")).to_have_count(10)
    recovery = page.get_by_test_id("recovery-code").all_inner_texts()
    page.get_by_test_id("totp-done").click()
    # Reloaded into the working console: the socket connects now.
    expect(page.locator('[data-role="conn-label"]')).to_have_text("Live")
    expect(dialog).to_be_hidden()

    # Turned off (a new phone): straight back to the setup, which is required.
    page.get_by_test_id("user-menu").locator("summary").click()
    page.get_by_test_id("menu-totp").click()
    page.get_by_test_id("totp-disable-code").fill(recovery[0])
    page.get_by_test_id("totp-disable").click()
    expect(page.get_by_test_id("totp-start")).to_be_visible()
    expect(dialog).to_contain_text("requires two-factor sign-in")


def test_forgot_password_mail_link_sets_a_new_password(
    people: Browsers, smtp: SmtpServer, shot: Callable[[Page, str], None]
) -> None:
    w = people.open_page("carla")
    w.allow(r"status of 422 .* @ \S+/api/v1/auth/password-reset/confirm$")  # the used link
    page = w.page
    page.goto("/")
    page.get_by_test_id("forgot-password").click()
    expect(page.get_by_test_id("forgot-email")).to_be_focused()
    page.get_by_test_id("forgot-email").fill("customer1@example.com")
    page.get_by_test_id("forgot-submit").click()
    expect(page.get_by_test_id("forgot-sent")).to_contain_text("customer1@example.com")
    shot(page, "reset-asked")

    body = wait_for_mail(smtp, "customer1@example.com", "Reset your Helpline password")
    link = re.search(r"http://\S+/reset-password\?token=\S+", body)
    assert link, body

    page.goto(link.group(0))
    expect(page.get_by_test_id("reset-password")).to_be_focused()
    assert "token=" not in page.url  # taken out of the address bar
    page.get_by_test_id("reset-password").fill("new-password-123")
    page.get_by_test_id("reset-password-confirm").fill("new-password-124")
    page.get_by_test_id("reset-password-submit").click()
    expect(page.locator("#reset-form [data-role='error']")).to_contain_text("not the same")
    page.get_by_test_id("reset-password-confirm").fill("new-password-123")
    shot(page, "reset-new-password")
    page.get_by_test_id("reset-password-submit").click()
    expect(page.get_by_test_id("reset-done")).to_be_visible()

    page.goto("/")
    page.get_by_test_id("login-email").fill("customer1@example.com")
    page.get_by_test_id("login-password").fill("new-password-123")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("start-chat")).to_be_visible()

    # The link worked once.
    page.goto(link.group(0))
    page.get_by_test_id("reset-password").fill("another-password-1")
    page.get_by_test_id("reset-password-confirm").fill("another-password-1")
    page.get_by_test_id("reset-password-submit").click()
    expect(page.locator("#reset-form [data-role='error']")).to_contain_text(
        "expired or was already used"
    )
