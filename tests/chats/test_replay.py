"""State before + the events an action produced = the state after, for every chat action.

In the spirit of Zulip's `verify_action` (test_events.py): before each action the chat's state
is replayed from its stored events with `lifecycle.reduce`; the action runs through the real
server (HTTP, a WebSocket, the timers); the events a supervisor's WebSocket received for it
are folded onto that state; the result must equal what the database row says afterwards
(status, queue, agent, helpers, rating, last_seq). An action that is refused must leave both
the log and the row as they were. Runs on SQLite and, with HELPLINE_TEST_BACKEND=postgres,
on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from helpline.chats import events as ev_mod
from helpline.chats import repository as repo
from helpline.chats import timers
from helpline.chats.lifecycle import ChatState, reduce
from helpline.chats.models import Chat, ChatParticipant
from helpline.kit.clock import FrozenClock, set_clock
from helpline.kit.enums import ChatStatus
from tests.conftest import LiveServer
from tests.fixtures.factories import Person, ctx_of, make_queue, make_user
from tests.fixtures.wsclient import WSClient

pytestmark = pytest.mark.asyncio

Envelope = dict[str, Any]
MAX_WAIT_S = 600


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"inactivity_warn_s": 300, "inactivity_expire_s": 120}


@pytest.fixture
def clock() -> FrozenClock:
    c = FrozenClock()
    set_clock(c)
    return c


@dataclass
class World:
    live: LiveServer
    http: httpx.AsyncClient
    support: str
    billing: str
    customer: Person
    ana: Person  # agent of Support
    ben: Person  # agent of Support
    bill: Person  # agent of Billing
    sue: Person  # supervisor, watching every chat on a WebSocket
    watcher: WSClient

    async def call(self, who: Person, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return await self.http.post(f"/api/v1{path}", json=body, headers=who.headers, **kw)


@pytest_asyncio.fixture
async def world(live_server: LiveServer, clock: FrozenClock) -> AsyncIterator[World]:
    app = live_server.app
    support = await make_queue(app, "Support", max_wait_s=MAX_WAIT_S)
    billing = await make_queue(app, "Billing", max_wait_s=MAX_WAIT_S)
    sue = await make_user(app, "supervisor", name="Sue")
    watcher = await WSClient.open(live_server.ws_url, sue.token)
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        yield World(
            live=live_server,
            http=http,
            support=support,
            billing=billing,
            customer=await make_user(app, "customer", name="Carla"),
            ana=await make_user(app, "agent", name="Ana", queues=[support]),
            ben=await make_user(app, "agent", name="Ben", queues=[support]),
            bill=await make_user(app, "agent", name="Bill", queues=[billing]),
            sue=sue,
            watcher=watcher,
        )
    await watcher.close()


async def stored_events(w: World, chat_id: str, after: int = 0) -> list[Envelope]:
    async with ctx_of(w.live.app).db.read() as session:
        return [ev_mod.envelope(r) for r in await repo.events_after(session, chat_id, after)]


async def replayed(w: World, chat_id: str) -> ChatState:
    state: ChatState | None = None
    for event in await stored_events(w, chat_id):
        state = reduce(state, event)
    assert state is not None
    return state


async def row_state(w: World, chat_id: str) -> ChatState:
    async with ctx_of(w.live.app).db.read() as session:
        chat = await session.get(Chat, chat_id)
        assert chat is not None
        helpers = await session.scalars(
            select(ChatParticipant.user_id).where(
                ChatParticipant.chat_id == chat_id, ChatParticipant.left_at.is_(None)
            )
        )
        return ChatState(
            status=ChatStatus(chat.status),
            queue_id=chat.queue_id,
            agent_id=chat.agent_id,
            helper_ids=frozenset(helpers),
            rating_score=chat.rating_score,
            last_seq=chat.last_seq,
        )


async def received(w: World, chat_id: str, after: int, through: int) -> list[Envelope]:
    """What the supervisor's socket received of this chat with after < seq <= through."""
    await w.watcher.wait_for(
        lambda f: (
            f["type"] == "event"
            and f["event"]["chat_id"] == chat_id
            and f["event"]["seq"] == through
        )
    )
    return [e for e in w.watcher.events(chat_id) if after < e["seq"] <= through]


async def verify(
    w: World, chat_id: str, expected: list[str], action: Callable[[], Awaitable[Any]]
) -> list[Envelope]:
    """Run `action` on the chat; check that it produced events of the `expected` types and
    that old state + those events == new state. Returns the events."""
    before = await replayed(w, chat_id)
    assert before == await row_state(w, chat_id), "the state before is the replayed log"
    answer = await action()
    if isinstance(answer, httpx.Response):
        assert answer.status_code < 300, answer.text
    after = await row_state(w, chat_id)
    assert after.last_seq > before.last_seq, "an action that succeeds appends an event"
    events = await received(w, chat_id, before.last_seq, after.last_seq)
    assert [e["seq"] for e in events] == list(range(before.last_seq + 1, after.last_seq + 1))
    assert events == await stored_events(w, chat_id, before.last_seq), "sent what was stored"
    assert [e["type"] for e in events] == expected
    state = before
    for event in events:
        state = reduce(state, event)
    assert state == after, (events, state, after)
    return events


async def refused(w: World, chat_id: str, response: Awaitable[httpx.Response], code: int) -> None:
    """A refused action appends nothing and changes nothing."""
    before = await row_state(w, chat_id)
    log = await stored_events(w, chat_id)
    assert (await response).status_code == code
    assert await row_state(w, chat_id) == before
    assert await stored_events(w, chat_id) == log


async def start(w: World, customer: Person, queue: str) -> str:
    """`start`, verified from nothing: the first state is what its events say."""
    r = await w.call(customer, "/chats", {"queue_id": queue, "message": "My invoice is wrong"})
    assert r.status_code == 201, r.text
    chat_id: str = r.json()["id"]
    await w.watcher.subscribe(chat_id)
    after = await row_state(w, chat_id)
    events = await received(w, chat_id, 0, after.last_seq)
    assert [e["type"] for e in events] == ["chat.started", "message.posted"]
    state: ChatState | None = None
    for event in events:
        state = reduce(state, event)
    assert state == after
    return chat_id


async def test_each_step_of_a_chat_is_its_state_before_plus_its_events(world: World) -> None:
    w, posted = world, ["message.posted"]
    cid = await start(w, w.customer, w.support)
    customer_ws = await WSClient.open(w.live.ws_url, w.customer.token)
    ana_ws = await WSClient.open(w.live.ws_url, w.ana.token)

    def call(who: Person, what: str, body: Any = None) -> Callable[[], Awaitable[Any]]:
        return lambda: w.call(who, f"/chats/{cid}/{what}", body)

    def over_ws(ws: WSClient, client_id: str) -> Callable[[], Awaitable[Any]]:
        async def send() -> None:
            frame = {"type": "message", "chat_id": cid, "text": "hi", "client_id": client_id}
            ack = await ws.request(frame, lambda f: f["type"] in ("ack", "error"))
            assert ack["type"] == "ack", ack

        return send

    def upload(who: Person) -> Callable[[], Awaitable[Any]]:
        files = {"file": ("invoice.pdf", b"%PDF-1.4 invoice", "application/pdf")}
        return lambda: w.http.post(f"/api/v1/chats/{cid}/files", files=files, headers=who.headers)

    try:
        await verify(w, cid, posted, call(w.customer, "messages", {"text": "1", "client_id": "c1"}))
        await verify(w, cid, ["note.added"], call(w.ben, "notes", {"text": "VIP customer"}))
        await refused(w, cid, call(w.customer, "solve")(), 403)
        await verify(w, cid, ["chat.accepted", *posted], call(w.ana, "accept"))  # and greeting
        await refused(w, cid, call(w.ben, "accept")(), 409)
        # The message writer's path (one statement per message), both authors.
        await verify(w, cid, posted, over_ws(ana_ws, "a-ws"))
        await verify(w, cid, posted, over_ws(customer_ws, "c-ws"))
        await verify(w, cid, ["file.shared"], upload(w.customer))
        await verify(w, cid, ["chat.joined"], call(w.ben, "join"))
        await refused(w, cid, call(w.ben, "join")(), 409)
        await verify(w, cid, posted, call(w.ben, "messages", {"text": "2", "client_id": "b2"}))
        await verify(w, cid, ["chat.parted"], call(w.ben, "part"))
        await verify(w, cid, ["chat.joined"], call(w.ben, "join"))
        # An in-progress chat with a helper moves: waiting again, no agent, no helpers.
        move = {"queue_id": w.billing, "note": "billing question"}
        await verify(w, cid, ["chat.moved"], call(w.ana, "move", move))
        assert (await row_state(w, cid)).helper_ids == frozenset()
        assign = {"agent_id": w.bill.id}
        await verify(w, cid, ["chat.accepted", *posted], call(w.sue, "assign", assign))
        request = {"summary": "Correct invoice 1234"}
        await verify(w, cid, ["request.raised"], call(w.bill, "requests", request))
        await verify(w, cid, ["chat.solved"], call(w.bill, "solve"))
        await refused(w, cid, call(w.customer, "messages", {"text": "x", "client_id": "x"})(), 409)
        rating = {"score": 5, "comment": "Quick"}
        await verify(w, cid, ["chat.rated"], call(w.customer, "rating", rating))
        await refused(w, cid, call(w.customer, "rating", rating)(), 409)
        await verify(w, cid, ["note.added"], call(w.sue, "notes", {"text": "Fine"}))
    finally:
        await customer_ws.close()
        await ana_ws.close()


async def test_cancel_leave_and_a_move_while_waiting(world: World) -> None:
    w = world
    cid = await start(w, w.customer, w.support)
    await verify(
        w, cid, ["chat.moved"], lambda: w.call(w.sue, f"/chats/{cid}/move", {"queue_id": w.billing})
    )
    cancel = {"reason": "spam"}
    await verify(w, cid, ["chat.cancelled"], lambda: w.call(w.bill, f"/chats/{cid}/cancel", cancel))
    await refused(w, cid, w.call(w.bill, f"/chats/{cid}/cancel", cancel), 409)

    other = await make_user(w.live.app, "customer", name="Olga")
    cid = await start(w, other, w.support)
    await verify(
        w, cid, ["chat.accepted", "message.posted"], lambda: w.call(w.ana, f"/chats/{cid}/accept")
    )
    await verify(w, cid, ["chat.joined"], lambda: w.call(w.ben, f"/chats/{cid}/join"))
    await verify(w, cid, ["chat.cancelled"], lambda: w.call(other, f"/chats/{cid}/leave"))
    assert (await row_state(w, cid)).helper_ids == frozenset()


async def test_timers_warn_and_expire_as_their_events_say(world: World, clock: FrozenClock) -> None:
    w = world
    ctx = ctx_of(w.live.app)
    unanswered = await start(w, w.customer, w.support)
    clock.advance(MAX_WAIT_S + 1)
    expired = await verify(w, unanswered, ["chat.expired"], lambda: timers.sweep(ctx))
    assert expired[0]["data"] == {"reason": "no_agent"}

    other = await make_user(w.live.app, "customer", name="Olga")
    silent = await start(w, other, w.support)
    accept = ["chat.accepted", "message.posted"]
    await verify(w, silent, accept, lambda: w.call(w.ana, f"/chats/{silent}/accept"))
    clock.advance(301)
    await verify(w, silent, ["chat.inactivity_warning"], lambda: timers.sweep(ctx))
    clock.advance(121)
    expired = await verify(w, silent, ["chat.expired"], lambda: timers.sweep(ctx))
    assert expired[0]["data"] == {"reason": "inactive"}
