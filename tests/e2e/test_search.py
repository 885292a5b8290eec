"""Search in the console: "/" opens it, a prefix finds a message in a long conversation, the
snippet is highlighted, "Load more" follows the cursor, and the result opens the chat scrolled
to that very message."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, Route, expect

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


def customer_with_a_solved_chat(server: HelplineServer, email: str, text: str) -> None:
    """A customer account whose chat, started with `text`, an agent took and solved."""
    admin = token_for(server, "admin@example.com")
    agent = token_for(server, "agent1@example.com")
    api_call(
        server,
        "POST",
        "/users",
        {"email": email, "name": email[:4].title(), "role": "customer", "password": PASSWORD},
        admin,
    )
    queue = queue_id(server, "General support")
    token = token_for(server, email)
    chat = api_call(server, "POST", "/chats", {"queue_id": queue, "message": text}, token)
    api_call(server, "POST", f"/chats/{chat['id']}/accept", None, agent)
    api_call(server, "POST", f"/chats/{chat['id']}/solve", None, agent)


def test_a_customer_searches_their_own_chats_in_the_portal(
    people: Browsers, server: HelplineServer, shot: Shot
) -> None:
    customer_with_a_solved_chat(server, "olga@x.org", "My zephyrine kettle whistles")
    customer_with_a_solved_chat(server, "piet@x.org", "Another zephyrine question")

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


def test_an_older_search_answering_last_does_not_replace_the_newer_results(
    people: Browsers, server: HelplineServer
) -> None:
    """A customer searches, then searches again before the first answer came: whatever order
    the answers arrive in, the page shows the second search's results."""
    customer_with_a_solved_chat(server, "vera@x.org", "The kettle whistles at night")
    page = people.open_page("vera").page
    sign_in(page, "/", "vera@x.org")
    expect(page.get_by_test_id("chat-history")).to_be_visible()
    held: list[Route] = []

    def hold_the_first_search(route: Route) -> None:
        if "nothingmatchesthis" in route.request.url:
            held.append(route)
        else:
            route.fallback()

    page.route("**/api/v1/search?*", hold_the_first_search)
    box = page.get_by_test_id("portal-search")
    box.fill("nothingmatchesthis")
    with page.expect_request("**/api/v1/search?*"):
        box.press("Enter")
    box.fill("kettle")
    box.press("Enter")
    results = page.get_by_test_id("portal-search-result")
    expect(results.first).to_contain_text("The kettle whistles at night")
    count = results.count()

    first = held[0].request
    with page.expect_event("requestfinished", lambda r: r == first):
        held[0].fallback()
    # One more round trip: the first answer's handling, queued before it, has run by then.
    page.evaluate("async () => { await fetch('/healthz'); }")
    expect(results).to_have_count(count)
    expect(results.first).to_contain_text("The kettle whistles at night")
    expect(page.get_by_text("Nothing found")).to_have_count(0)
