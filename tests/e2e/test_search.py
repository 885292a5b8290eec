"""Search in the console: "/" opens it, a prefix finds a message in a long conversation, the
snippet is highlighted, "Load more" follows the cursor, and the result opens the chat scrolled
to that very message."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import Browsers, HelplineServer, agent_sign_in, api_call, queue_id, token_for

pytestmark = pytest.mark.e2e

Shot = Callable[[Page, str], None]


def test_a_search_opens_the_chat_at_the_matching_message(
    people: Browsers, server: HelplineServer, shot: Shot
) -> None:
    guest = api_call(server, "POST", "/auth/guest", {"name": "Rita Reader", "email": "rita@x.org"})
    customer = guest["token"]
    agent = token_for(server, "agent1@example.com")
    chat = api_call(
        server,
        "POST",
        "/chats",
        {"queue_id": queue_id(server, "General support"), "message": "Hello"},
        customer,
    )
    cid = chat["id"]
    api_call(server, "POST", f"/chats/{cid}/accept", None, agent)

    def say(token: str, text: str, n: int) -> int:
        body = {"text": text, "client_id": f"m{n}"}
        return int(api_call(server, "POST", f"/chats/{cid}/messages", body, token)["seq"])

    for i in range(12):
        say(customer, f"filler line {i} about nothing in particular", i)
    target = say(customer, "The zephyrine valve on my boiler cracked last night", 100)
    for i in range(12, 26):
        say(customer, f"filler line {i} about nothing in particular", i)

    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    ana.keyboard.press("/")
    box = ana.get_by_test_id("search-input")
    expect(box).to_be_focused()
    expect(ana.locator("#search-view")).to_be_visible()

    # 26 filler messages: a page of 20, then "Load more" follows the cursor.
    box.fill("FILLER particular")
    box.press("Enter")
    results = ana.get_by_test_id("search-result")
    expect(results).to_have_count(20)
    ana.get_by_test_id("search-more").click()
    expect(results).to_have_count(26)
    expect(ana.get_by_test_id("search-more")).to_be_hidden()

    box.fill("zephyr* boiler")
    box.press("Enter")
    expect(results).to_have_count(1)
    hit = results.first
    expect(hit).to_have_attribute("data-kind", "message")
    expect(hit).to_have_attribute("data-seq", str(target))
    marks = hit.locator("mark.search-hit")
    expect(marks).to_have_text(["zephyrine", "boiler"])
    expect(hit.get_by_test_id("search-snippet")).to_have_text(
        "The zephyrine valve on my boiler cracked last night"
    )
    shot(ana, "console-search")

    # The result is a button: Enter opens it.
    hit.focus()
    ana.keyboard.press("Enter")
    found = ana.locator(f'.chat-window [data-testid="message-list"] > [data-seq="{target}"]')
    expect(found).to_have_attribute("data-found", "true")
    expect(found).to_be_in_viewport()
    expect(found).to_be_focused()
    expect(ana.get_by_test_id("message").last).not_to_be_in_viewport()
    shot(ana, "console-search-opened")
