"""Typed bus news: each kind survives the wire, and the hub's one dispatcher turns each kind into
the frames the protocol promises (real hub and database; connections that record frames)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from helpline.bus.messages import (
    KINDS,
    AccessChanged,
    AgentStatus,
    BusMessage,
    ChatAssigned,
    ChatOffered,
    ChatQueued,
    ChatTaken,
    ChatUpdated,
    ChatWithdrawn,
    CloseConnections,
    EventPosted,
    StatusChanged,
    Typing,
    decode,
)
from helpline.chats.hub import Connection, Hub, Subscription
from helpline.kit.clock import iso, now
from tests.bus.examples import CHAT, EXAMPLES
from tests.fixtures.factories import make_queue, make_user, start_chat


def test_every_kind_has_an_example() -> None:
    assert sorted(type(m).kind for m in EXAMPLES) == sorted(KINDS)


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: type(m).kind)
def test_each_kind_round_trips_through_json(message: BusMessage) -> None:
    wire = json.loads(json.dumps(message.to_dict()))
    assert wire["kind"] == type(message).kind
    assert decode(wire) == message


def test_unknown_and_malformed_news_decode_to_nothing() -> None:
    assert decode({"kind": "request.updated", "request_id": "r1"}) is None
    assert decode({"kind": "typing", "chat_id": "c1"}) is None  # missing fields
    assert decode({"no": "kind"}) is None


# --- the hub's dispatcher, kind by kind ---------------------------------------------------------


class Recording(Connection):
    """A hub connection without a socket: frames stay queued for the test to read."""

    __slots__ = ()

    def frames(self) -> list[dict[str, Any]]:
        """What the socket would carry: events come encoded (once for all recipients)."""
        return [json.loads(f) if isinstance(f, bytes) else f for f in self.next_frames()]


def _hub(app: FastAPI) -> Hub:
    hub: Hub = app.state.ctx.hub
    return hub


async def _conn(
    app: FastAPI,
    role: str,
    *,
    queues: list[str] = (),
    **kwargs: Any,  # type: ignore[assignment]
) -> Recording:
    person = await make_user(app, role, queues=queues, **kwargs)
    conn = Recording(
        user_id=person.id,
        role=role,
        name=person.name,
        session_id=f"s-{person.id}",
        queue_ids=frozenset(queues),
        max_queue=100,
    )
    _hub(app).register(conn)
    return conn


def _subscribe(hub: Hub, conn: Connection, queue_id: str, chat_id: str = "c1") -> None:
    conn.subs[chat_id] = Subscription(chat_id, 0, queue_id, None, "waiting", ready=True)
    hub.topics[f"chat:{chat_id}"].add(conn)


async def _settle(hub: Hub) -> None:
    """Wait for the work a handler spawned (offer checks, reloads): bounded by the test."""
    while hub._tasks:
        await asyncio.gather(*list(hub._tasks), return_exceptions=True)


@pytest.mark.asyncio
async def test_event_reaches_subscribers_and_internal_ones_skip_customers(app: FastAPI) -> None:
    hub = _hub(app)
    q = await make_queue(app)
    agent, customer = await _conn(app, "agent", queues=[q]), await _conn(app, "customer")
    for conn in (agent, customer):
        _subscribe(hub, conn, q)
    env = {"chat_id": "c1", "seq": 1, "type": "note.added", "at": iso(now()), "data": {}}
    hub.on_message("chat:c1", EventPosted(env, internal=True))
    assert agent.frames() == [{"type": "event", "event": env}]
    assert customer.frames() == []


@pytest.mark.asyncio
async def test_typing_goes_to_the_others_in_the_chat(app: FastAPI) -> None:
    hub = _hub(app)
    q = await make_queue(app)
    agent, customer = await _conn(app, "agent", queues=[q]), await _conn(app, "customer")
    for conn in (agent, customer):
        _subscribe(hub, conn, q)
    who = {"id": customer.user_id, "name": customer.name, "role": "customer"}
    hub.on_message("chat:c1", Typing("c1", True, who))
    assert agent.frames() == [
        {
            "type": "typing",
            "chat_id": "c1",
            "user": {"id": customer.user_id, "name": customer.name},
            "active": True,
        }
    ]
    assert customer.frames() == []


@pytest.mark.asyncio
async def test_offered_to_a_queue_is_an_offer_only_for_the_eligible(app: FastAPI) -> None:
    hub = _hub(app)
    q = await make_queue(app)
    free = await _conn(app, "agent", queues=[q])
    away = await _conn(app, "agent", queues=[q], status="away")
    chat = {**CHAT, "queue_id": q}
    hub.on_message(f"queue:{q}", ChatOffered(chat))
    await _settle(hub)
    assert free.frames() == [{"type": "chat.offered", "chat": chat}]
    assert away.frames() == [{"type": "chat.updated", "chat": chat}]


@pytest.mark.asyncio
async def test_offered_to_a_user_is_their_offer(app: FastAPI) -> None:
    hub = _hub(app)
    agent = await _conn(app, "agent")
    hub.on_message(f"user:{agent.user_id}", ChatOffered(CHAT))
    assert agent.frames() == [{"type": "chat.offered", "chat": CHAT}]


@pytest.mark.asyncio
async def test_queued_updates_the_queues_staff_not_its_customers(app: FastAPI) -> None:
    hub = _hub(app)
    q = await make_queue(app)
    agent = await _conn(app, "agent", queues=[q])
    hub.on_message(f"queue:{q}", ChatQueued(CHAT))
    assert agent.frames() == [{"type": "chat.updated", "chat": CHAT}]


@pytest.mark.asyncio
async def test_updated_reaches_supervisors(app: FastAPI) -> None:
    hub = _hub(app)
    supervisor = await _conn(app, "supervisor")
    agent = await _conn(app, "agent")
    hub.on_message("supervisors", ChatUpdated(CHAT))
    assert supervisor.frames() == [{"type": "chat.updated", "chat": CHAT}]
    assert agent.frames() == []


@pytest.mark.asyncio
async def test_taken_tells_the_queue_who_took_it(app: FastAPI) -> None:
    hub = _hub(app)
    q = await make_queue(app)
    agent = await _conn(app, "agent", queues=[q])
    taker = {"id": "u1", "name": "Ana"}
    hub.on_message(f"queue:{q}", ChatTaken(CHAT, agent=taker))
    assert agent.frames() == [
        {"type": "chat.taken", "chat_id": "c1", "agent": taker},
        {"type": "chat.updated", "chat": CHAT},
    ]


@pytest.mark.asyncio
async def test_withdrawn_on_a_queue_and_on_a_user(app: FastAPI) -> None:
    hub = _hub(app)
    q = await make_queue(app)
    agent = await _conn(app, "agent", queues=[q])
    hub.on_message(f"queue:{q}", ChatWithdrawn("c1"))
    hub.on_message(f"user:{agent.user_id}", ChatWithdrawn("c2"))
    assert agent.frames() == [
        {"type": "chat.withdrawn", "chat_id": "c1"},
        {"type": "chat.withdrawn", "chat_id": "c2"},
    ]


@pytest.mark.asyncio
async def test_assigned_gives_the_new_owner_the_chat_with_its_whole_history(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    hub = _hub(app)
    q = await make_queue(app)
    customer = await make_user(app, "customer")
    chat = await start_chat(client, customer, q)
    owner = await _conn(app, "agent", queues=[q])
    colleague = await _conn(app, "agent", queues=[q])
    hub.on_message(f"user:{owner.user_id}", ChatAssigned(chat))
    await _settle(hub)
    (frame,) = owner.frames()
    assert frame["type"] == "chat.assigned" and frame["chat"] == chat
    assert [(e["seq"], e["type"]) for e in frame["events"]] == [
        (1, "chat.started"),
        (2, "message.posted"),
    ]
    assert colleague.frames() == []


@pytest.mark.asyncio
async def test_status_reaches_the_users_own_connections(app: FastAPI) -> None:
    hub = _hub(app)
    agent = await _conn(app, "agent")
    hub.on_message(f"user:{agent.user_id}", StatusChanged("away"))
    assert agent.frames() == [{"type": "status", "status": "away"}]


@pytest.mark.asyncio
async def test_agent_status_reaches_supervisors(app: FastAPI) -> None:
    hub = _hub(app)
    supervisor = await _conn(app, "supervisor")
    hub.on_message("agents", AgentStatus("u1", "offline"))
    assert supervisor.frames() == [{"type": "agent.status", "user_id": "u1", "status": "offline"}]


@pytest.mark.asyncio
async def test_close_closes_the_topics_connections(app: FastAPI) -> None:
    hub = _hub(app)
    customer = await _conn(app, "customer")
    hub.on_message(f"session:{customer.session_id}", CloseConnections("signed_out"))
    assert (customer.close_code, customer.close_reason) == (4401, "signed_out")


@pytest.mark.asyncio
async def test_access_takes_the_queue_away_and_says_why(app: FastAPI) -> None:
    hub = _hub(app)
    q = await make_queue(app)
    agent = await _conn(app, "agent", queues=[q])
    _subscribe(hub, agent, q)
    # The database agrees with the news: the agent is in no queue.
    async with app.state.ctx.db.write() as uow:
        from helpline.queues import repository as queues_repo

        await queues_repo.set_members(uow.session, q, [])
    hub.on_message(f"user:{agent.user_id}", AccessChanged("queue_removed", queues_removed=(q,)))
    assert agent.frames() == [{"type": "unsubscribed", "chat_id": "c1", "reason": "queue_removed"}]
    assert agent not in hub.topics.get(f"queue:{q}", set())
    await _settle(hub)
    assert agent.queue_ids == frozenset() and agent.close_code is None
