"""The Service Manager in real browsers: a request raised from a chat, followed by the customer
in the portal and worked on in the console's Requests view, with the e-mails that go out."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from playwright.sync_api import APIResponse, Page, Route, expect

from tests.e2e.support import (
    Browsers,
    HelplineServer,
    agent_sign_in,
    api_call,
    chat_row,
    guest_sign_in,
    queue_id,
    start_chat,
    wait_for_mail,
)
from tests.notify.support import SmtpServer

pytestmark = pytest.mark.e2e

Shot = Callable[[Page, str], None]
CUSTOMER = "carla@example.org"


@pytest.fixture
def server_env(smtp: SmtpServer) -> dict[str, str]:
    """The usual server, with mail going to the test's aiosmtpd."""
    return {"HELPLINE_SMTP_URL": smtp.url, "HELPLINE_OUTBOX_RETRY_S": "1"}


def test_request_from_chat_to_resolution(
    people: Browsers, shot: Shot, smtp: SmtpServer, server: HelplineServer
) -> None:
    """Agent raises a request from a chat → customer sees it under My requests → agent
    comments and resolves in the console → customer sees the update and got the e-mails."""
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    customer = guest_sign_in(people.open_page("customer"), "Carla Customer", CUSTOMER)
    chat_id = start_chat(customer, "General support", "The printer is on fire")

    expect(chat_row(ana, chat_id)).to_have_attribute("data-status", "waiting")
    chat_row(ana, chat_id).click()
    ana.get_by_test_id("accept-chat").click()
    expect(ana.get_by_test_id("message-input")).to_be_enabled()
    ana.get_by_test_id("raise-request").click()
    ana.get_by_test_id("request-priority").select_option("high")
    ana.get_by_test_id("request-submit").click()
    reference = ana.get_by_test_id("request-reference")
    expect(reference).to_have_text(r"SR-000001")
    ref = "SR-000001"

    # The customer finds it under My requests.
    customer.reload()
    row = customer.get_by_test_id("my-requests").get_by_test_id("request-row").filter(has_text=ref)
    expect(row).to_be_visible()
    expect(row).to_have_attribute("data-status", "new")
    raised = wait_for_mail(smtp, CUSTOMER, f"[{ref}] We received your request")
    assert f"{server.url}/#requests/{ref}" in raised

    # The agent opens the Requests view, filters, and opens the request.
    ana.get_by_test_id("nav-requests").click()
    expect(ana).to_have_url(f"{server.url}/console#requests")
    ana.get_by_test_id("requests-priority").select_option("high")
    ana.get_by_test_id("requests-search").fill("printer")
    sr_row = ana.locator(f'[data-testid="sr-row"][data-reference="{ref}"]')
    expect(sr_row).to_be_visible()
    ana.get_by_test_id("requests-assignee").select_option("none")
    expect(sr_row).to_be_visible()
    ana.get_by_test_id("requests-status").select_option("closed")
    expect(sr_row).to_have_count(0)
    ana.get_by_test_id("requests-status").select_option("")
    sr_row.click()
    expect(ana).to_have_url(f"{server.url}/console#requests/{ref}")
    expect(ana.get_by_test_id("sr-summary")).to_have_text("The printer is on fire")
    expect(ana.get_by_test_id("sr-customer")).to_contain_text("Carla Customer")
    expect(ana.get_by_test_id("sr-status-badge")).to_have_text("New")
    # Only the allowed transitions are offered.
    options = ana.get_by_test_id("sr-status").locator("option").all_text_contents()
    assert options == ["New (current)", "Open", "In progress", "Cancelled"]

    ana.get_by_test_id("sr-assign-me").click()
    expect(ana.get_by_test_id("sr-assignee-name")).to_have_text("Ana Agent")
    ana.get_by_test_id("sr-transcript-toggle").click()
    expect(ana.get_by_test_id("sr-transcript")).to_contain_text("The printer is on fire")

    # An internal note, then a public comment, then resolve.
    ana.get_by_test_id("sr-comment").fill("Checked the warranty: still valid")
    ana.get_by_test_id("sr-comment-internal").check()
    ana.get_by_test_id("sr-comment-submit").click()
    expect(ana.get_by_test_id("sr-timeline")).to_contain_text("still valid")
    ana.get_by_test_id("sr-comment").fill("A technician is on the way with an extinguisher.")
    ana.get_by_test_id("sr-comment-submit").click()
    expect(ana.get_by_test_id("sr-timeline")).to_contain_text("technician is on the way")
    ana.get_by_test_id("sr-status").select_option("in_progress")
    expect(ana.get_by_test_id("sr-status-badge")).to_have_text("In progress")
    ana.get_by_test_id("sr-status").select_option("resolved")
    expect(ana.get_by_test_id("sr-status-badge")).to_have_text("Resolved")
    expect(ana.get_by_test_id("sr-timeline")).to_contain_text("from In progress to Resolved")
    ana.get_by_test_id("requests-assignee").select_option("me")
    expect(ana.locator(f'[data-testid="sr-row"][data-reference="{ref}"]')).to_be_visible()
    shot(ana, "console-request-view")
    ana.set_viewport_size({"width": 375, "height": 800})
    shot(ana, "console-request-view-phone")
    ana.get_by_text("← All requests").click()
    expect(ana.locator(f'[data-testid="sr-row"][data-reference="{ref}"]')).to_be_visible()
    shot(ana, "console-requests-phone")
    ana.set_viewport_size({"width": 1280, "height": 800})
    shot(ana, "console-requests")

    # The customer follows the e-mail link and sees the update (internal note hidden).
    customer.goto(f"/#requests/{ref}")
    row = customer.get_by_test_id("request-row").filter(has_text=ref)
    expect(row).to_have_attribute("data-status", "resolved")
    expect(row.locator(".timeline")).to_contain_text("technician is on the way")
    expect(row.locator(".timeline")).not_to_contain_text("still valid")
    shot(customer, "portal-request-resolved")

    reply = wait_for_mail(smtp, CUSTOMER, f"[{ref}] New reply")
    assert "technician is on the way" in reply
    wait_for_mail(smtp, CUSTOMER, f"[{ref}] Your request is now resolved")
    assert not any("still valid" in str(m) for m in smtp.to(CUSTOMER))

    # Not solved after all: the customer reopens it, and the agent sees it open again.
    row.get_by_test_id("request-reopen").click()
    expect(customer.get_by_test_id("request-row").filter(has_text=ref)).to_have_attribute(
        "data-status", "open"
    )
    ana.get_by_test_id("requests-refresh").click()
    sr_row = ana.locator(f'[data-testid="sr-row"][data-reference="{ref}"]')
    expect(sr_row).to_have_attribute("data-status", "open")
    sr_row.click()
    expect(ana.get_by_test_id("sr-status-badge")).to_have_text("Open")


def leave_request(page: Page, summary: str, description: str) -> str:
    """A request left through the API from the customer's own page (their session and CSRF
    token); returns its reference."""
    return str(
        page.evaluate(
            """async ([summary, description]) => {
                const csrf = document.cookie.split('; ')
                    .find((c) => c.startsWith('helpline_csrf=')).split('=')[1];
                const res = await fetch('/api/v1/requests', {method: 'POST', headers: {
                    'Content-Type': 'application/json', 'X-CSRF-Token': decodeURIComponent(csrf)},
                    body: JSON.stringify({summary, description})});
                return (await res.json()).reference;
            }""",
            [summary, description],
        )
    )


def test_customer_cancels_own_request(people: Browsers, shot: Shot) -> None:
    """A request left as a message can be cancelled by its customer from My requests. Its long
    description shows folded, and opens whole: nothing of it is cut away."""
    customer = guest_sign_in(people.open_page("customer"), "Dora", "dora@example.org")
    lines = [f"Step {i}: the printer blinks {i} times." for i in range(1, 31)]
    ref = leave_request(customer, "Call me back please", "\n".join(lines))
    customer.goto(f"/#requests/{ref}")
    row = customer.get_by_test_id("request-row").filter(has_text=ref)
    expect(row).to_have_attribute("data-expanded", "true")
    description = row.get_by_test_id("request-description")
    toggle = row.get_by_test_id("request-description-toggle")
    expect(description).to_have_text("\n".join(lines))
    expect(toggle).to_have_attribute("aria-expanded", "false")
    folded = "e => e.scrollHeight > e.clientHeight"
    assert description.evaluate(folded), "a 30-line description should show folded"
    description.scroll_into_view_if_needed()
    shot(customer, "portal-request-description-folded")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    assert not description.evaluate(folded), "opened, the whole description should show"
    shot(customer, "portal-request-long-description")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "false")

    row.get_by_test_id("request-cancel").click()
    expect(customer.locator(".toast__title").filter(has_text=f"{ref} cancelled")).to_be_visible()
    row = customer.get_by_test_id("request-row").filter(has_text=ref)
    expect(row).to_have_attribute("data-status", "cancelled")
    expect(row.get_by_test_id("request-cancel")).to_have_count(0)


def test_an_older_answer_does_not_replace_a_fresher_list_of_requests(people: Browsers) -> None:
    """My requests loads on several occasions (the page's start, a mail's link, Refresh). An
    answer arriving after a later load's must not draw its older list over the newer one: the
    request opened from the link stays listed, and open."""
    customer = guest_sign_in(people.open_page("customer"), "Edna", "edna@example.org")
    held: list[tuple[Route, APIResponse]] = []

    def hold_the_first_list(route: Route) -> None:
        # Fetched now, while the customer has no request yet; answered only at the end.
        if route.request.method == "GET" and not held:
            held.append((route, route.fetch()))
        else:
            route.fallback()

    customer.route("**/api/v1/requests", hold_the_first_list)
    customer.get_by_role("button", name="Refresh").click()
    deadline = time.monotonic() + 10
    while not held:  # each call into the browser lets the route handler run
        assert time.monotonic() < deadline, "the first list was never asked for"
        customer.evaluate("0")

    ref = leave_request(customer, "The scanner jams", "Every third page.")
    customer.goto(f"/#requests/{ref}")
    row = customer.get_by_test_id("request-row").filter(has_text=ref)
    expect(row).to_have_attribute("data-expanded", "true")
    expect(row.get_by_test_id("request-description")).to_have_text("Every third page.")

    route, stale = held[0]
    with customer.expect_event("requestfinished", lambda r: r == route.request):
        route.fulfill(response=stale)
    # A later load draws from the list on the page: the request must still be there, open.
    with customer.expect_response(lambda r: r.url.endswith("/api/v1/requests")):
        customer.get_by_role("button", name="Refresh").click()
    expect(row).to_have_attribute("data-expanded", "true")
    expect(row.get_by_test_id("request-description")).to_have_text("Every third page.")
    expect(customer.get_by_test_id("request-row")).to_have_count(1)


def test_customer_emails_the_transcript_to_themselves(
    people: Browsers, smtp: SmtpServer, shot: Shot
) -> None:
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    customer = guest_sign_in(people.open_page("customer"), "Olga Guest", "olga@example.org")
    chat_id = start_chat(customer, "General support", "Is my parcel lost?")
    chat_row(ana, chat_id).click()
    ana.get_by_test_id("accept-chat").click()
    box = ana.get_by_test_id("message-input")
    expect(box).to_be_enabled()
    box.fill("It left the depot this morning")
    box.press("Enter")
    expect(customer.get_by_test_id("message").filter(has_text="left the depot")).to_be_visible()
    ana.get_by_test_id("mark-solved").click()
    expect(customer.get_by_test_id("chat-status")).to_have_text("Solved")

    customer.get_by_test_id("email-transcript").click()
    expect(customer.get_by_test_id("email-transcript-status")).to_contain_text(
        "On its way to olga@example.org"
    )
    shot(customer, "portal-transcript-emailed")
    body = wait_for_mail(smtp, "olga@example.org", "Your chat transcript")
    assert "It left the depot this morning" in body


def test_request_moved_out_of_the_agents_teams_leaves_their_view(
    people: Browsers, server: HelplineServer
) -> None:
    """An agent who moves a request to a team they are not in is told it left their view;
    links to requests they cannot see say so without a failing request."""
    customer_token = api_call(
        server, "POST", "/auth/guest", {"name": "Rita", "email": "rita@example.org"}
    )["token"]
    general = queue_id(server, "General support")
    ref = api_call(
        server,
        "POST",
        "/requests",
        {"summary": "Invoice address is wrong", "team_id": general},
        customer_token,
    )["reference"]

    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")  # not in Billing
    ana.goto(f"/console#requests/{ref}")
    expect(ana.get_by_test_id("sr-summary")).to_have_text("Invoice address is wrong")
    ana.get_by_test_id("sr-team").select_option(label="Billing")
    detail = ana.get_by_test_id("request-detail")
    expect(detail).to_contain_text(f"{ref} moved to Billing")
    expect(ana.locator(f'[data-testid="sr-row"][data-reference="{ref}"]')).to_have_count(0)

    ana.reload()  # a fresh page, following the link again
    expect(detail).to_contain_text(f"{ref} was not found")
    ana.goto("/console#requests/SR-999999")
    expect(detail).to_contain_text("SR-999999 was not found")
