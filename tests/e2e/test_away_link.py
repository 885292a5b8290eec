"""Replies while away, in real browsers: customers who left before the answer get it by e-mail
(a real aiosmtpd), and the mail's link, opened in a fresh browser (another device), lands them
in the chat signed in with the agent's messages; the same link again, or one older than
24 hours, shows a clear page and signs nobody in. The pages pass the axe scan.

The server here is a real `helpline serve` process whose clock cannot be moved: the expired
link is aged in its database (its 24 hours are tested with the controllable clock in
tests/chats/test_away_mail.py)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from helpline.accounts.deps import SESSION_COOKIE
from tests.e2e.axe import Scanner
from tests.e2e.support import (
    Browsers,
    HelplineServer,
    agent_sign_in,
    chat_row,
    guest_sign_in,
    message,
    send,
    start_chat,
    wait_for_mail,
)
from tests.notify.support import SmtpServer

pytestmark = pytest.mark.e2e

Shot = Callable[[Page, str], None]

LINK = re.compile(r"(http://\S+/away\?token=\S+)")


@pytest.fixture
def server_env(smtp: SmtpServer) -> dict[str, str]:
    # Away after one second without a connection (the default is two minutes).
    return {
        "HELPLINE_SMTP_URL": smtp.url,
        "HELPLINE_OUTBOX_RETRY_S": "1",
        "HELPLINE_AWAY_MAIL_S": "1",
    }


@pytest.fixture
def axe() -> Iterator[Scanner]:
    scanner = Scanner()
    yield scanner
    scanner.check()


def accept_and_leave(ana: Page, customer: Page, chat_id: str) -> None:
    """Ana accepts; the customer reads her greeting, then closes the tab (no connection)."""
    chat_row(ana, chat_id).click()
    ana.get_by_test_id("accept-chat").click()
    expect(customer.get_by_test_id("chat-status")).to_have_text("In Progress")
    # The greeting was read, so the mail is only about what comes after the customer left.
    expect(ana.get_by_test_id("seen")).to_have_count(1)
    customer.close()


def link_in_mail(smtp: SmtpServer, to: str, says: str) -> str:
    body = wait_for_mail(smtp, to, "New reply from Ana Agent", timeout=40)
    assert f"Ana Agent: {says}" in body
    found = LINK.search(body)
    assert found is not None, body
    return found.group(1)


def refused(people: Browsers, name: str, link: str) -> Page:
    """A fresh browser opens `link`: the clear page, and no sign-in."""
    w = people.open_page(name)
    w.allow(r"status of 410")
    page = w.page
    page.goto(link)
    box = page.get_by_test_id("away-link-page")
    expect(box).to_have_attribute("data-code", "away_link_invalid")
    expect(box.get_by_role("heading")).to_have_text("This link no longer works")
    expect(page.get_by_test_id("away-link-continue")).to_have_count(0)
    expect(page.get_by_test_id("availability")).to_have_count(0)
    # Not signed in: the portal asks who they are.
    page.get_by_role("link", name="Go to the support portal").click()
    expect(page.get_by_test_id("guest-name")).to_be_visible()
    assert SESSION_COOKIE not in {c["name"] for c in page.context.cookies()}
    return page


def test_the_away_mail_link_brings_the_customer_back_once(
    people: Browsers, server: HelplineServer, smtp: SmtpServer, axe: Scanner, shot: Shot
) -> None:
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    rosa = guest_sign_in(people.open_page("rosa"), "Rosa Refund", "rosa@example.org")
    rosa_chat = start_chat(rosa, "Technical", "I was charged twice")
    otto = guest_sign_in(people.open_page("otto"), "Otto Late", "otto@example.org")
    otto_chat = start_chat(otto, "General support", "Is my order late?")
    accept_and_leave(ana, rosa, rosa_chat)
    accept_and_leave(ana, otto, otto_chat)

    # Ana answers both, who are gone: each gets one mail with the answer and a link.
    chat_row(ana, rosa_chat).click()
    send(ana, "Your refund is on its way")
    expect(message(ana, "refund is on its way")).to_have_count(1)
    chat_row(ana, otto_chat).click()
    send(ana, "It ships tomorrow")
    expect(message(ana, "ships tomorrow")).to_have_count(1)
    rosa_link = link_in_mail(smtp, "rosa@example.org", "Your refund is on its way")
    otto_link = link_in_mail(smtp, "otto@example.org", "It ships tomorrow")

    # Rosa opens hers on her phone: a page that asks first (mail scanners fetch links), then
    # the chat, signed in, with Ana's answer; Ana sees that she read it.
    phone = people.open_page("rosa-phone", viewport={"width": 390, "height": 800}).page
    phone.goto(rosa_link)
    expect(phone.get_by_role("heading", name="Your reply is waiting")).to_be_visible()
    axe.scan_both_themes(phone, "away link: continue to the chat")
    shot(phone, "away-link-continue")
    phone.get_by_test_id("away-link-continue").click()
    expect(phone).to_have_url(re.compile(r"/$"))
    expect(phone.get_by_test_id("chat-status")).to_have_text("In Progress")
    expect(message(phone, "Your refund is on its way")).to_be_visible()
    expect(message(phone, "I was charged twice")).to_be_visible()
    assert phone.evaluate("sessionStorage.getItem('helpline.portal.chat')") == rosa_chat
    chat_row(ana, rosa_chat).click()
    expect(message(ana, "refund is on its way").get_by_test_id("seen")).to_be_visible()
    shot(phone, "away-link-back-in-the-chat")
    # And she can answer from there.
    send(phone, "Thank you!")
    expect(message(ana, "Thank you!")).to_have_count(1)

    # The same link again, on another device: the clear page, nobody signed in.
    page = refused(people, "rosa-laptop", rosa_link)
    page.goto(rosa_link)
    axe.scan_both_themes(page, "away link: used or expired")
    shot(page, "away-link-refused")

    # Otto waited more than a day: his unused link is refused the same way.
    with sqlite3.connect(server.data_dir / "helpline.db") as db:
        changed = db.execute(
            "UPDATE away_links SET created_at = datetime('now', '-25 hours'),"
            " expires_at = datetime('now', '-1 hours') WHERE chat_id = ?",
            (otto_chat,),
        ).rowcount
    assert changed == 1
    refused(people, "otto-phone", otto_link)
