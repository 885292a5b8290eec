"""Languages in the browser: each reader sees the same chat's system lines in their own
language (events stay language neutral), the switchers, and Arabic right to left."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import Browsers, agent_sign_in, chat_row, patch_queue, sign_in

pytestmark = pytest.mark.e2e

Shot = Callable[[Page, str], None]


def test_a_spanish_customer_and_a_german_agent_read_the_chat_each_in_their_own(
    people: Browsers, shot: Shot
) -> None:
    # The agent signs in and picks German in the user menu (saved on the account and the
    # cookie; the page reloads in it).
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    ana.get_by_test_id("user-menu").locator("summary").click()
    with ana.expect_navigation():
        ana.get_by_test_id("language-switcher").select_option("de")
    expect(ana.locator("html")).to_have_attribute("lang", "de")
    expect(ana.get_by_role("link", name="Zum Inhalt springen")).to_be_attached()

    # The customer's browser asks for Spanish (Accept-Language); nothing to choose.
    w = people.open_page("cliente", locale="es-ES")
    customer = w.page
    customer.goto("/")
    expect(customer.locator("html")).to_have_attribute("lang", "es")
    expect(customer.get_by_role("heading", name="¿En qué podemos ayudarte?")).to_be_visible()
    customer.get_by_test_id("guest-name").fill("Lucía Cliente")
    customer.get_by_test_id("guest-email").fill("lucia@example.org")
    customer.get_by_test_id("guest-submit").click()
    customer.get_by_test_id("start-queue").select_option(label="General support")
    customer.get_by_test_id("start-message").fill("Mi pedido no ha llegado")
    customer.get_by_test_id("start-chat").click()
    started = customer.get_by_test_id("system-line").filter(has_text="inició el chat en")
    expect(started).to_contain_text("Lucía Cliente inició el chat en General support")
    chat_id = customer.evaluate("sessionStorage.getItem('helpline.portal.chat')")
    assert chat_id

    # The agent accepts; both read the same events in their own language.
    row = chat_row(ana, chat_id)
    expect(row).to_have_attribute("data-status", "waiting")
    row.click()
    ana.get_by_test_id("accept-chat").click()
    expect(row).to_have_attribute("data-status", "in_progress")
    expect(ana.get_by_test_id("system-line").filter(has_text="hat den Chat in")).to_contain_text(
        "Lucía Cliente hat den Chat in General support begonnen"
    )
    expect(ana.get_by_test_id("system-line").filter(has_text="beigetreten")).to_contain_text(
        "Ana Agent ist dem Chat beigetreten"
    )
    expect(customer.get_by_test_id("system-line").filter(has_text="se unió")).to_contain_text(
        "Ana Agent se unió al chat"
    )
    # The message itself is the customer's own words, not translated.
    expect(ana.get_by_test_id("message").filter(has_text="Mi pedido no ha llegado")).to_be_visible()
    shot(ana, "i18n-console-de")
    shot(customer, "i18n-portal-es")

    # Neither page shows the other's language or English for these lines.
    for page, foreign in ((ana, "se unió"), (customer, "beigetreten")):
        expect(page.get_by_test_id("system-line").filter(has_text=foreign)).to_have_count(0)
        expect(page.get_by_test_id("system-line").filter(has_text="joined the chat")).to_have_count(
            0
        )


def test_the_portal_in_arabic_is_right_to_left(people: Browsers, shot: Shot) -> None:
    page = people.open_page("arabic").page
    page.goto("/?lang=ar")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "ar")
    expect(html).to_have_attribute("dir", "rtl")
    expect(page.get_by_role("heading", name="كيف يمكننا مساعدتك؟")).to_be_visible()
    # Mirrored: the brand sits at the right edge, the language switcher at the left.
    width = page.viewport_size["width"] if page.viewport_size else 1280
    brand = page.locator(".brand").bounding_box()
    switcher = page.get_by_test_id("language-switcher").bounding_box()
    assert brand and switcher
    assert brand["x"] + brand["width"] > width * 0.75, brand
    assert switcher["x"] < width * 0.25, switcher
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    shot(page, "i18n-portal-ar")

    # The switcher goes back to English (cookie), and the page is left to right again.
    with page.expect_navigation():
        page.get_by_test_id("language-switcher").select_option("en")
    expect(html).to_have_attribute("dir", "ltr")
    page.goto("/")
    expect(html).to_have_attribute("lang", "en")
    assert re.search("How can we help", page.content())


def test_numbers_sizes_countdowns_and_dates_follow_the_locale(people: Browsers) -> None:
    """German pages format with Intl in German: "1.234.567" and "1,2 MB", the countdown's
    units, the report's days; the English page of the same data says "1,234,567"."""
    patch_queue(people.server, "General support", sla={"first_response_s": 3600})
    customer = people.open_page("kundin", locale="de-DE").page
    customer.goto("/")
    expect(customer.locator("html")).to_have_attribute("lang", "de")
    customer.get_by_test_id("guest-name").fill("Greta Kundin")
    customer.get_by_test_id("guest-email").fill("greta@example.org")
    customer.get_by_test_id("guest-submit").click()
    customer.get_by_test_id("start-queue").select_option(label="General support")
    customer.get_by_test_id("start-message").fill("Meine Rechnung fehlt")
    customer.get_by_test_id("start-chat").click()
    expect(customer.get_by_test_id("queue-position")).to_be_visible()

    # A file of 1,234,567 bytes: the size in German (decimal comma, dots between thousands).
    customer.get_by_test_id("attach-file").set_input_files(
        files=[{"name": "rechnung.pdf", "mimeType": "application/pdf", "buffer": b"%" * 1_234_567}]
    )
    size = customer.get_by_test_id("upload-file-size")
    expect(size).to_have_text("1,2 MB (1.234.567 Byte)")
    customer.keyboard.press("Escape")

    # The supervisor's console in German: the countdown's units, the report's days and counts.
    sam = people.open_page("sam", locale="de-DE").page
    sign_in(sam, "/console", "supervisor@example.com")
    chip = sam.get_by_test_id("sla-chip").first
    expect(chip).to_have_text(re.compile(r"Antwort in \d{1,2} Min\. \d{2} Sek\."))
    sam.goto("/console#reports")
    expect(sam.get_by_test_id("report-total-chats")).to_have_text("1")
    expect(sam.locator('[data-role="report-body"] > p.muted')).to_have_text(
        re.compile(r"^\d{2}\.\d{2}\.\d{4} bis \d{2}\.\d{2}\.\d{4} · \d+ Tage · UTC$")
    )

    # The same size in English, for contrast.
    english = people.open_page("customer", locale="en-US").page
    english.goto("/")
    english.get_by_test_id("guest-name").fill("Erin English")
    english.get_by_test_id("guest-email").fill("erin@example.org")
    english.get_by_test_id("guest-submit").click()
    expect(english.get_by_test_id("start-chat")).to_be_visible()
    english.get_by_test_id("start-queue").select_option(label="General support")
    english.get_by_test_id("start-message").fill("My invoice is missing")
    english.get_by_test_id("start-chat").click()
    expect(english.get_by_test_id("queue-position")).to_be_visible()
    english.get_by_test_id("attach-file").set_input_files(
        files=[{"name": "invoice.pdf", "mimeType": "application/pdf", "buffer": b"%" * 1_234_567}]
    )
    expect(english.get_by_test_id("upload-file-size")).to_have_text("1.2 MB (1,234,567 bytes)")
