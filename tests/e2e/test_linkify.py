"""The pages' linkify (ui.js appendLinkified), run in Chromium against the same cases as the
server's (tests/test_linkify.py), and a message with a link and line breaks end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.support import Browsers, agent_sign_in, chat_row, guest_sign_in, send, start_chat

pytestmark = pytest.mark.e2e

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "linkify_cases.json").read_text()
)

# Each case rendered into a fresh element: its child nodes as [text, href or null], and what
# every element child looks like (only links may exist, with their target and rel).
RUN = """async (cases) => {
  const { appendLinkified } = await import("/static/js/ui.js");
  return cases.map((c) => {
    const el = appendLinkified(document.createElement("div"), c.text);
    const pieces = [];
    for (const n of el.childNodes) {
      const href = n.nodeType === Node.ELEMENT_NODE ? n.getAttribute("href") : null;
      const last = pieces[pieces.length - 1];
      if (href === null && last && last[1] === null) last[0] += n.textContent;
      else pieces.push([n.textContent, href]);
    }
    const elements = [...el.querySelectorAll("*")].map((e) => ({
      tag: e.tagName, target: e.getAttribute("target"), rel: e.getAttribute("rel"),
      attrs: e.getAttributeNames().sort(), children: e.children.length,
    }));
    return { name: c.name, pieces, elements };
  });
}"""


def test_linkify_cases_in_the_browser(people: Browsers) -> None:
    page = people.open_page("reader").page
    page.goto("/")
    results = page.evaluate(RUN, CASES)
    for case, got in zip(CASES, results, strict=True):
        assert got["pieces"] == case["pieces"], case["name"]
        for el in got["elements"]:
            assert el == {
                "tag": "A",
                "target": "_blank",
                "rel": "noopener noreferrer nofollow",
                "attrs": ["href", "rel", "target"],
                "children": 0,
            }, case["name"]


def test_a_message_keeps_its_lines_and_links_and_nothing_else(people: Browsers) -> None:
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    customer = guest_sign_in(people.open_page("customer"), "Lin Links", "lin@example.org")
    chat_id = start_chat(customer, "General support", "Links please")
    chat_row(ana, chat_id).click()
    ana.get_by_test_id("accept-chat").click()
    expect(customer.get_by_test_id("chat-status")).to_have_text("In Progress")
    box = ana.get_by_test_id("message-input")
    box.fill("<b>Steps</b>\n1. open https://example.com/help.\n2. javascript:alert(1)")
    box.press("Enter")
    bubble = customer.get_by_test_id("message").filter(has_text="Steps").locator(".msg__bubble")
    expect(bubble).to_have_text(
        "<b>Steps</b>\n1. open https://example.com/help.\n2. javascript:alert(1)"
    )
    links = bubble.locator("a")
    expect(links).to_have_count(1)
    expect(links).to_have_attribute("href", "https://example.com/help")
    expect(links).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(bubble.locator("b")).to_have_count(0)
    # Shown on three lines (pre-wrap), not one.
    assert bubble.evaluate("(b) => getComputedStyle(b).whiteSpace") == "pre-wrap"
    send(customer, "thanks")

    # The printable transcript, rendered on the server: the same link, the same lines.
    customer.goto(f"/transcript/{chat_id}")
    line = customer.get_by_test_id("transcript-line").filter(has_text="Steps")
    expect(line.locator("a")).to_have_attribute("href", "https://example.com/help")
    expect(line.locator("a")).to_have_attribute("target", "_blank")
    expect(line.locator("b")).to_have_count(0)
    expect(line.locator("span")).to_contain_text(
        "<b>Steps</b>\n1. open https://example.com/help.\n2."
    )
