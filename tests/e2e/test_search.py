"""Search in the console: "/" opens it, a prefix finds a message in a long conversation, the
snippet is highlighted, "Load more" follows the cursor, and the result opens the chat scrolled
to that very message."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import (
    PASSWORD,
    Browsers,
    HelplineServer,
    agent_sign_in,
    api_call,
    queue_id,
    sign_in,
    token_for,
)

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


def test_a_customer_searches_their_own_chats_in_the_portal(
    people: Browsers, server: HelplineServer, shot: Shot
) -> None:
    admin = token_for(server, "admin@example.com")
    agent = token_for(server, "agent1@example.com")
    queue = queue_id(server, "General support")
    for email, text in (
        ("olga@x.org", "My zephyrine kettle whistles"),
        ("piet@x.org", "Another zephyrine question"),
    ):
        api_call(
            server,
            "POST",
            "/users",
            {"email": email, "name": email[:4].title(), "role": "customer", "password": PASSWORD},
            admin,
        )
        token = token_for(server, email)
        chat = api_call(server, "POST", "/chats", {"queue_id": queue, "message": text}, token)
        api_call(server, "POST", f"/chats/{chat['id']}/accept", None, agent)
        api_call(server, "POST", f"/chats/{chat['id']}/solve", None, agent)

    page = people.open_page("olga").page
    sign_in(page, "/", "olga@x.org")
    expect(page.get_by_test_id("chat-history")).to_be_visible()
    box = page.get_by_test_id("portal-search")
    box.fill("ZEPHYR*")
    box.press("Enter")
    results = page.get_by_test_id("portal-search-result")
    # Her message and her chat's subject (taken from it); Piet's chat is not hers to find.
    expect(results).to_have_count(2)
    expect(results.locator("mark.search-hit")).to_have_text(["zephyrine", "zephyrine"])
    for i in range(2):
        expect(results.nth(i)).to_contain_text("My zephyrine kettle whistles")
    results.last.scroll_into_view_if_needed()
    shot(page, "portal-search")
    results.first.get_by_test_id("portal-search-open").click()
    expect(page.get_by_test_id("message").filter(has_text="My zephyrine kettle")).to_be_visible()
