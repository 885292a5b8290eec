"""The pseudo-locale `qps` (HELPLINE_PSEUDO_LOCALE=on): every message of the catalogs renders
as "[Ŝéàŕçĥ]", so any visible text, placeholder, label or title still in plain English did not
go through the catalogs, and fails here. Data (names, queue names, references, e-mails, what
people wrote) is allowed by value."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import Browsers

pytestmark = pytest.mark.e2e

# Collects what a person sees: visible text nodes, and the labels of controls.
COLLECT = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    const text = node.textContent.trim();
    if (!text || !el || el.closest("script, style, [lang]:not(html), code, kbd, time")) continue;
    if (!el.checkVisibility({ visibilityProperty: true })) continue;
    out.push(text);
  }
  for (const el of document.querySelectorAll("[placeholder], [aria-label], [title]")) {
    if (el.closest("[lang]:not(html)") || !el.checkVisibility({ visibilityProperty: true })) continue;
    for (const attr of ["placeholder", "aria-label", "title"]) {
      const value = el.getAttribute(attr);
      if (value) out.push(value);
    }
  }
  out.push(document.title);
  return out;
}"""

BRACKETED = re.compile(r"\[[^\[\]]*\]")
# Data the page formats rather than translates: references, and dates and times, which the
# pseudo-locale formats as English does (Intl has no locale for it).
DATA_PATTERNS = re.compile(
    r"\b(?:CS|SR)-\d+\b"
    r"|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2}(?:, \d{4})?"
    r"|\b\d{1,2}:\d{2}(?::\d{2})? ?(?:AM|PM)\b"
)
WORD = re.compile(r"[A-Za-z]{2,}")


def untranslated(page: Page, data: set[str]) -> list[str]:
    found = []
    for text in page.evaluate(COLLECT):
        rest = DATA_PATTERNS.sub(" ", BRACKETED.sub(" ", text))
        for value in sorted(data, key=len, reverse=True):
            rest = rest.replace(value, " ")
        if WORD.search(rest):
            found.append(text)
    return sorted(set(found))


@pytest.fixture
def server_env() -> dict[str, str]:
    return {"HELPLINE_PSEUDO_LOCALE": "on"}


DATA = {
    "Helpline",
    "General support",
    "Billing",
    "Technical",
    "Pia Pseudo",
    "pia@example.org",
    "Ana Agent",
    "agent1@example.com",
    "Adam Admin",
    "admin@example.com",
    "Hello from qps",
}


def in_pseudo(page: Page, path: str) -> None:
    page.goto(path + ("&" if "?" in path else "?") + "lang=qps")
    expect(page.locator("html")).to_have_attribute("lang", "qps")


def test_the_portal_and_the_chat_speak_only_catalog_text(people: Browsers) -> None:
    w = people.open_page("pseudo-customer")
    page = w.page
    page.context.add_cookies([{"name": "helpline_lang", "value": "qps", "url": people.server.url}])
    in_pseudo(page, "/")
    assert untranslated(page, DATA) == []

    page.get_by_test_id("guest-name").fill("Pia Pseudo")
    page.get_by_test_id("guest-email").fill("pia@example.org")
    page.get_by_test_id("guest-submit").click()
    expect(page.get_by_test_id("start-chat")).to_be_visible()
    descriptions = set(
        page.evaluate(
            "fetch('/api/v1/queues').then(r => r.json()).then(b => b.items.map(q => q.description || ''))"
        )
    )
    assert untranslated(page, DATA | {d for d in descriptions if d}) == []

    page.get_by_test_id("start-queue").select_option(label="General support")
    page.get_by_test_id("start-message").fill("Hello from qps")
    page.get_by_test_id("start-chat").click()
    expect(page.get_by_test_id("system-line").first).to_be_visible()
    expect(page.get_by_test_id("message").filter(has_text="Hello from qps")).to_be_visible()
    found = untranslated(page, DATA)
    assert found == [], "\n".join(found)


def test_the_reset_and_sign_in_pages_speak_only_catalog_text(people: Browsers) -> None:
    page = people.open_page("pseudo-pages").page
    for path in ("/reset-password", "/console", "/console/admin"):
        in_pseudo(page, path)
        assert untranslated(page, DATA) == [], path
