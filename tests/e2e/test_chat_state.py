"""State equals replay on the pages' reducer (issue 12 point 2): real actions through the API,
then the events each one produced fed to `chat-state.js` in Chromium, starting from the state
before; the result must equal what GET /chats/{id} says, and what the server's reference
reducer (`lifecycle.reduce`) makes of the same events."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from helpline.chats.lifecycle import Action, ChatState, Relation, may, reduce
from helpline.kit.enums import ChatStatus
from tests.e2e.support import (
    Browsers,
    HelplineServer,
    agent_sign_in,
    api_call,
    chat_row,
    patch_queue,
    queue_id,
    token_for,
)

pytestmark = pytest.mark.e2e

# The page's module, as every page imports it (the import map gives the versioned URL).
REDUCE = """async ([state, events]) => {
  const m = await import("/static/js/chat-state.js");
  for (const ev of events) state = m.reduce(state, ev);
  return {state, contract: m.contractState(state)};
}"""

ALL_MAY = """async (cases) => {
  const m = await import("/static/js/chat-state.js");
  return cases.map(([action, relation, status]) => m.may(action, [relation], status));
}"""


def contract(chat: dict[str, Any]) -> dict[str, Any]:
    """GET /chats/{id} in chat-state.js's contractState shape."""
    return {
        "status": chat["status"],
        "queue_id": chat["queue_id"],
        "agent_id": (chat.get("agent") or {}).get("id"),
        "helper_ids": sorted(u["id"] for u in chat.get("helpers") or []),
        "rating_score": (chat.get("rating") or {}).get("score"),
        "last_seq": chat["last_seq"],
    }


def python_contract(state: ChatState) -> dict[str, Any]:
    return {
        "status": state.status.value,
        "queue_id": state.queue_id,
        "agent_id": state.agent_id,
        "helper_ids": sorted(state.helper_ids),
        "rating_score": state.rating_score,
        "last_seq": state.last_seq,
    }


class Replay:
    """Per chat: the page reducer's state and the server reducer's, advanced by the events
    each action produced (read as the supervisor, who sees them all)."""

    def __init__(self, server: HelplineServer, page: Page, token: str) -> None:
        self.server, self.page, self.token = server, page, token
        self.js: dict[str, Any] = {}
        self.py: dict[str, ChatState | None] = {}
        self.seen: dict[str, int] = {}
        self.types: set[str] = set()

    def check(self, chat_id: str) -> dict[str, Any]:
        after = self.seen.get(chat_id, 0)
        events = api_call(
            self.server, "GET", f"/chats/{chat_id}/events?after={after}&limit=100", token=self.token
        )["items"]
        assert events, f"the action appended no event to {chat_id}"
        self.types.update(e["type"] for e in events)
        out = self.page.evaluate(REDUCE, [self.js.get(chat_id), events])
        self.js[chat_id] = out["state"]
        state = self.py.get(chat_id)
        for e in events:
            state = reduce(state, e)
        self.py[chat_id] = state
        self.seen[chat_id] = events[-1]["seq"]
        server = contract(api_call(self.server, "GET", f"/chats/{chat_id}", token=self.token))
        assert state is not None
        assert out["contract"] == server, (events, out["contract"], server)
        assert python_contract(state) == server
        return server


def test_page_reducer_equals_the_server_after_every_action(
    people: Browsers, server: HelplineServer
) -> None:
    page = people.open_page("replay").page
    page.goto("/")
    sup = token_for(server, "supervisor@example.com")
    ana = token_for(server, "agent1@example.com")
    ben = token_for(server, "agent2@example.com")
    cleo = token_for(server, "agent3@example.com")
    for t in (ana, ben, cleo):
        api_call(server, "PUT", "/me/status", {"status": "available"}, t)
    cleo_id = api_call(server, "GET", "/me", token=cleo)["id"]
    general, technical = queue_id(server, "General support"), queue_id(server, "Technical")
    r = Replay(server, page, sup)

    def guest(name: str) -> str:
        body = {"name": name, "email": f"{name.lower()}@example.org"}
        return str(api_call(server, "POST", "/auth/guest", body)["token"])

    def start(token: str, queue: str, text: str) -> str:
        chat = api_call(server, "POST", "/chats", {"queue_id": queue, "message": text}, token)
        return str(chat["id"])

    def act(token: str, chat_id: str, path: str, body: Any = None) -> None:
        api_call(server, "POST", f"/chats/{chat_id}/{path}", {} if body is None else body, token)

    # A chat that nobody takes expires (system: `expire`); checked at the end.
    patch_queue(server, "Billing", max_wait_s=10)
    late = start(guest("Lou"), queue_id(server, "Billing"), "Anyone there?")
    r.check(late)

    # One chat through every other action.
    carla = guest("Carla")
    chat = start(carla, general, "My order never came")  # start + customer_message
    assert r.check(chat)["status"] == "waiting"
    act(ana, chat, "accept")
    assert r.check(chat)["agent_id"]
    act(carla, chat, "messages", {"text": "Order 1234", "client_id": "m1"})
    r.check(chat)
    act(ana, chat, "notes", {"text": "Probably the courier"})
    r.check(chat)
    act(ben, chat, "join")
    assert len(r.check(chat)["helper_ids"]) == 1
    act(
        ben, chat, "messages", {"text": "Ben here, helping", "client_id": "m2"}
    )  # agent_message by a helper
    r.check(chat)
    act(ben, chat, "part")
    assert r.check(chat)["helper_ids"] == []
    act(ben, chat, "join")
    r.check(chat)
    act(ana, chat, "move", {"queue_id": technical, "note": "Courier issue"})
    moved = r.check(chat)
    assert (moved["status"], moved["agent_id"], moved["helper_ids"]) == ("waiting", None, [])
    act(sup, chat, "assign", {"agent_id": cleo_id})
    assert r.check(chat)["agent_id"] == cleo_id
    act(cleo, chat, "messages", {"text": "Cleo will track it", "client_id": "m3"})
    r.check(chat)
    act(sup, chat, "join")
    r.check(chat)
    # Hand-overs: to the helper (who stops being one), then back by a supervisor's assign.
    sup_id = api_call(server, "GET", "/me", token=sup)["id"]
    act(cleo, chat, "transfer", {"agent_id": sup_id, "note": "Yours now"})
    handed = r.check(chat)
    assert (handed["agent_id"], handed["helper_ids"]) == (sup_id, [])
    act(sup, chat, "assign", {"agent_id": cleo_id})
    assert r.check(chat)["agent_id"] == cleo_id
    act(cleo, chat, "requests", {"summary": "Lost parcel", "priority": "medium"})
    r.check(chat)
    act(cleo, chat, "solve")
    assert r.check(chat)["helper_ids"] == []
    act(carla, chat, "rating", {"score": 4, "comment": "Quick"})
    assert r.check(chat)["rating_score"] == 4

    # Cancelled by a queue member while waiting; left by the customer while in progress.
    waiting = start(guest("Wes"), general, "Never mind")
    r.check(waiting)
    act(ben, waiting, "cancel", {"reason": "Duplicate"})
    assert r.check(waiting)["status"] == "cancelled"
    dora = guest("Dora")
    talking = start(dora, general, "Quick question")
    r.check(talking)
    act(ana, talking, "accept")
    r.check(talking)
    act(dora, talking, "leave")
    assert r.check(talking)["status"] == "cancelled"

    # Back to the queue when its agent is set offline (system: `requeue`).
    stranded = start(guest("Eve"), general, "Still there?")
    r.check(stranded)
    act(ben, stranded, "accept")
    r.check(stranded)
    ben_id = api_call(server, "GET", "/me", token=ben)["id"]
    api_call(server, "PUT", f"/users/{ben_id}/status", {"status": "offline"}, sup)
    back = r.check(stranded)
    assert (back["status"], back["agent_id"]) == ("waiting", None)

    deadline = time.monotonic() + 30
    while api_call(server, "GET", f"/chats/{late}", token=sup)["status"] != "expired":
        assert time.monotonic() < deadline, "the unanswered chat did not expire"
        page.wait_for_timeout(250)  # polling the server's own timer, bounded above
    assert r.check(late)["status"] == "expired"

    # Every event type of the table that an action can produce was replayed (the inactivity
    # warning needs minutes of silence; the unit test of reduce covers it).
    assert r.types >= {
        "chat.started",
        "chat.accepted",
        "chat.moved",
        "chat.transferred",
        "chat.requeued",
        "chat.solved",
        "chat.cancelled",
        "chat.expired",
        "chat.joined",
        "chat.parted",
        "chat.rated",
        "request.raised",
        "message.posted",
        "note.added",
    }


def test_page_permissions_are_the_tables(people: Browsers, server: HelplineServer) -> None:
    """The pages' `may` answers as lifecycle.may for every action, relation and status."""
    page = people.open_page("may").page
    page.goto("/")
    cases = [
        (action.value, relation.value, status.value)
        for action in Action
        for relation in Relation
        for status in ChatStatus
    ]
    answers = page.evaluate(ALL_MAY, cases)
    expected = [may(Action(a), {Relation(r)}, s) for a, r, s in cases]
    assert answers == expected
    # A few the pages used to get wrong (console.js offered them; the server said 403).
    assert not may(Action.move, {Relation.member}, ChatStatus.waiting)
    assert not may(Action.raise_request, {Relation.member}, ChatStatus.cancelled)


def test_console_buttons_follow_the_table(people: Browsers, server: HelplineServer) -> None:
    """An agent of the queue (not the chat's agent) gets only what the table lets a member do:
    accept and cancel a waiting chat, not move it (the console offered Move, the server said
    403); a helper whose chat went back to the queue is a helper no more."""
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    ben_token = token_for(server, "agent2@example.com")
    api_call(server, "PUT", "/me/status", {"status": "available"}, ben_token)
    customer = api_call(server, "POST", "/auth/guest", {"name": "Max", "email": "max@example.org"})
    body = {"queue_id": queue_id(server, "General support"), "message": "Hello?"}
    chat_id = api_call(server, "POST", "/chats", body, customer["token"])["id"]

    chat_row(ana, chat_id).click()
    expect(ana.get_by_test_id("accept-chat")).to_be_visible()
    expect(ana.get_by_test_id("cancel-chat")).to_be_enabled()
    expect(ana.get_by_test_id("move-queue")).to_be_disabled()
    expect(ana.get_by_test_id("mark-solved")).to_be_disabled()
    expect(ana.get_by_test_id("raise-request")).to_be_disabled()

    # Ben takes it, Ana joins to help: she may write; Ben moves it back: she may not.
    api_call(server, "POST", f"/chats/{chat_id}/accept", {}, ben_token)
    expect(ana.get_by_test_id("join-chat")).to_be_visible()
    ana.get_by_test_id("join-chat").click()
    expect(ana.get_by_test_id("message-input")).to_be_enabled()
    body = {"queue_id": queue_id(server, "Technical")}
    api_call(server, "POST", f"/chats/{chat_id}/move", body, ben_token)
    expect(chat_row(ana, chat_id)).to_have_attribute("data-status", "waiting")
    expect(ana.get_by_test_id("message-input")).to_be_hidden()
    api_call(
        server,
        "PUT",
        "/me/status",
        {"status": "available"},
        token_for(server, "agent3@example.com"),
    )
    api_call(
        server, "POST", f"/chats/{chat_id}/accept", {}, token_for(server, "agent3@example.com")
    )
    expect(chat_row(ana, chat_id)).to_have_attribute("data-status", "in_progress")
    expect(ana.get_by_test_id("join-chat")).to_be_visible()  # not joined any more
    expect(ana.get_by_test_id("message-input")).to_be_hidden()
