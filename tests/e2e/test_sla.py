"""Service levels in the console: a waiting chat's first-response countdown in the list and the
chat header, "At risk" after the warning, "Reply overdue" after the breach (said in words and a
mark, not colour alone), and gone once the agent answers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import (
    Browsers,
    HelplineServer,
    agent_sign_in,
    chat_row,
    guest_sign_in,
    patch_queue,
    send,
    start_chat,
)

pytestmark = pytest.mark.e2e

Shot = Callable[[Page, str], None]


def test_agent_sees_the_countdown_turn_at_risk_then_overdue(
    people: Browsers, server: HelplineServer, shot: Shot
) -> None:
    # 12 s to the first answer: warned at 9.6 s, breached at 12 s (the server sweeps each second).
    patch_queue(server, "General support", sla={"first_response_s": 12})
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    customer = guest_sign_in(people.open_page("customer"), "Lea Guest", "lea@example.org")
    chat_id = start_chat(customer, "General support", "My invoice is wrong")

    chip = chat_row(ana, chat_id).get_by_test_id("sla-chip")
    expect(chip).to_have_attribute("data-sla", "ok")
    expect(chip).to_contain_text("Reply in")
    chat_row(ana, chat_id).click()
    header = ana.get_by_test_id("chat-sla")
    expect(header).to_be_visible()
    expect(header).to_contain_text("Reply in")

    expect(chip).to_have_attribute("data-sla", "warning", timeout=15_000)
    expect(chip).to_contain_text("At risk")
    expect(header).to_contain_text("At risk")
    shot(ana, "console-sla-at-risk")

    expect(chip).to_have_attribute("data-sla", "breached", timeout=15_000)
    expect(chip).to_contain_text("Reply overdue")
    expect(header).to_contain_text("Reply overdue")
    shot(ana, "console-sla-overdue")

    # Accepting alone (the automatic greeting) does not stop the clock; the answer does.
    ana.get_by_test_id("accept-chat").click()
    expect(chat_row(ana, chat_id)).to_have_attribute("data-status", "in_progress")
    expect(header).to_contain_text("Reply overdue")
    send(ana, "Sorry for the wait, let me look at the invoice.")
    expect(header).to_be_hidden()
    expect(chip).to_have_count(0)
