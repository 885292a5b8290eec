"""Who may act comes from the transition table and the caller's relations to the chat,
computed in one place (`chats.access.relations`); the order stays 404, 403 (role), 409
(state), 403 (relation)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from helpline.accounts.models import User
from helpline.chats import access
from helpline.chats import repository as repo
from helpline.chats.lifecycle import TABLE, Action, Relation
from helpline.db import UnitOfWork
from helpline.kit.enums import Role
from tests.fixtures.factories import (
    Person,
    accepted_chat,
    ctx_of,
    make_queue,
    make_user,
    start_chat,
)

pytestmark = pytest.mark.asyncio
R = Relation


async def _relations(app: FastAPI, person: Person, chat_id: str) -> frozenset[Relation]:
    async with ctx_of(app).db.read() as session:
        user = await session.get(User, person.id)
        row = await repo.get_row(session, chat_id)
        assert user is not None and row is not None
        return await access.relations(UnitOfWork(session), user, row.chat)


async def test_relations_of_everyone_to_one_chat(app: FastAPI, client: httpx.AsyncClient) -> None:
    q = await make_queue(app, "Support")
    customer = await make_user(app, "customer")
    other_customer = await make_user(app, "customer")
    owner = await make_user(app, "agent", queues=[q])
    helper = await make_user(app, "agent", queues=[q])
    member = await make_user(app, "agent", queues=[q])
    outsider = await make_user(app, "agent")
    supervisor = await make_user(app, "supervisor")
    chat = await accepted_chat(client, customer, owner, q)
    r = await client.post(f"/api/v1/chats/{chat['id']}/join", headers=helper.headers)
    assert r.status_code == 200
    expected: list[tuple[Person, set[Relation]]] = [
        (customer, {R.customer}),
        (other_customer, set()),
        (owner, {R.owner, R.member}),
        (helper, {R.helper, R.member}),
        (member, {R.member}),
        (outsider, set()),
        (supervisor, {R.supervisor}),
    ]
    for person, rels in expected:
        assert await _relations(app, person, chat["id"]) == rels, person.name


async def test_a_role_may_act_only_where_the_table_names_a_relation_it_can_have() -> None:
    assert access.role_may(Action.assign, Role.supervisor)
    assert not access.role_may(Action.assign, Role.agent)
    assert not access.role_may(Action.solve, Role.customer)
    assert not access.role_may(Action.leave, Role.agent)
    for action, t in TABLE.items():
        if R.customer in t.who:
            assert access.role_may(action, Role.customer), action


async def test_a_member_cancels_a_waiting_chat_but_not_a_colleagues_chat_in_progress(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    q = await make_queue(app, "Support")
    customer = await make_user(app, "customer")
    owner = await make_user(app, "agent", queues=[q])
    member = await make_user(app, "agent", queues=[q])
    chat = await accepted_chat(client, customer, owner, q)
    r = await client.post(f"/api/v1/chats/{chat['id']}/cancel", json={}, headers=member.headers)
    assert r.status_code == 403
    assert r.json()["error"]["message"] == "Only the chat's agent or a supervisor can cancel it."
    r = await client.get(f"/api/v1/chats/{chat['id']}", headers=owner.headers)
    assert r.json()["status"] == "in_progress"
    second = await make_user(app, "customer")
    waiting = await start_chat(client, second, q)
    r = await client.post(f"/api/v1/chats/{waiting['id']}/cancel", json={}, headers=member.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"


async def test_state_is_checked_before_the_relation(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """A colleague solving a chat that is not in progress hears 409, not 403."""
    q = await make_queue(app, "Support")
    customer = await make_user(app, "customer")
    member = await make_user(app, "agent", queues=[q])
    chat = await start_chat(client, customer, q)
    r = await client.post(f"/api/v1/chats/{chat['id']}/solve", headers=member.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition"
    r = await client.post(f"/api/v1/chats/{chat['id']}/part", headers=member.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition"
