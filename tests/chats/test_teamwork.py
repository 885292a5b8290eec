"""Teamwork on live chats (CONTRACT-2): transfer and assign of chats in progress, and chats
handed back to the queue when their agent goes offline. Runs on SQLite and, with
HELPLINE_TEST_BACKEND=postgres, on PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import text

from helpline.kit.clock import FrozenClock
from helpline.sweeper import Sweeper
from tests.fixtures.factories import (
    Person,
    accepted_chat,
    ctx_of,
    events,
    make_queue,
    make_user,
    start_chat,
)

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def team(app: FastAPI) -> dict[str, Any]:
    q = await make_queue(app, "Support")
    return {
        "q": q,
        "customer": await make_user(app, "customer", name="Carla"),
        "ana": await make_user(app, "agent", name="Ana", queues=[q]),
        "ben": await make_user(app, "agent", name="Ben", queues=[q]),
        "sup": await make_user(app, "supervisor", name="Sam"),
    }


async def _transfer(
    client: httpx.AsyncClient, who: Person, chat_id: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(f"/api/v1/chats/{chat_id}/transfer", json=body, headers=who.headers)


async def _chat(client: httpx.AsyncClient, who: Person, chat_id: str) -> dict[str, Any]:
    r = await client.get(f"/api/v1/chats/{chat_id}", headers=who.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_owner_transfers_with_a_note_that_only_staff_see(
    client: httpx.AsyncClient, team: dict[str, Any]
) -> None:
    ana, ben, customer = team["ana"], team["ben"], team["customer"]
    chat = await accepted_chat(client, customer, ana, team["q"])
    r = await _transfer(client, ana, chat["id"], {"agent_id": ben.id, "note": " Wants a refund "})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "in_progress"
    assert r.json()["agent"] == {"id": ben.id, "name": "Ben"}
    staff_view = (await events(client, ben, chat["id"]))[-1]
    assert staff_view["type"] == "chat.transferred"
    assert staff_view["actor"]["id"] == ana.id
    assert staff_view["data"] == {
        "from_agent": {"id": ana.id, "name": "Ana"},
        "to_agent": {"id": ben.id, "name": "Ben"},
        "note": "Wants a refund",
    }
    customer_view = (await events(client, customer, chat["id"]))[-1]
    assert customer_view["type"] == "chat.transferred"
    assert customer_view["data"] == {
        "from_agent": {"id": ana.id, "name": "Ana"},
        "to_agent": {"id": ben.id, "name": "Ben"},
    }
    transcript = await client.get(f"/api/v1/chats/{chat['id']}/transcript", headers=ana.headers)
    assert "Ben took over the chat." in transcript.text
    assert "refund" not in transcript.text


async def test_the_old_owner_keeps_reading_but_no_longer_acts(
    client: httpx.AsyncClient, team: dict[str, Any]
) -> None:
    ana, ben, customer = team["ana"], team["ben"], team["customer"]
    chat = await accepted_chat(client, customer, ana, team["q"])
    assert (await _transfer(client, ana, chat["id"], {"agent_id": ben.id})).status_code == 200
    assert (await _chat(client, ana, chat["id"]))["agent"]["id"] == ben.id
    assert (await events(client, ana, chat["id"]))[-1]["type"] == "chat.transferred"
    cid = chat["id"]
    refused = [
        await client.post(
            f"/api/v1/chats/{cid}/messages",
            json={"text": "hi", "client_id": "x1"},
            headers=ana.headers,
        ),
        await client.post(f"/api/v1/chats/{cid}/solve", headers=ana.headers),
        await client.post(f"/api/v1/chats/{cid}/cancel", json={}, headers=ana.headers),
        await client.post(
            f"/api/v1/chats/{cid}/move", json={"queue_id": team["q"]}, headers=ana.headers
        ),
        await _transfer(client, ana, cid, {"agent_id": ana.id}),
    ]
    assert [r.status_code for r in refused] == [403] * 5, [r.text for r in refused]
    # Joining makes her a helper again, who may write.
    assert (await client.post(f"/api/v1/chats/{cid}/join", headers=ana.headers)).status_code == 200
    r = await client.post(
        f"/api/v1/chats/{cid}/messages", json={"text": "hi", "client_id": "x2"}, headers=ana.headers
    )
    assert r.status_code == 201
    r = await client.post(
        f"/api/v1/chats/{cid}/messages",
        json={"text": "Hello", "client_id": "b1"},
        headers=ben.headers,
    )
    assert r.status_code == 201
    assert (await client.post(f"/api/v1/chats/{cid}/solve", headers=ben.headers)).status_code == 200


async def test_a_helper_who_takes_over_is_no_longer_a_helper(
    client: httpx.AsyncClient, team: dict[str, Any]
) -> None:
    ana, ben = team["ana"], team["ben"]
    chat = await accepted_chat(client, team["customer"], ana, team["q"])
    assert (
        await client.post(f"/api/v1/chats/{chat['id']}/join", headers=ben.headers)
    ).status_code == 200
    assert (await _transfer(client, ana, chat["id"], {"agent_id": ben.id})).status_code == 200
    got = await _chat(client, ben, chat["id"])
    assert got["agent"]["id"] == ben.id and got["helpers"] == []


async def test_bad_transfers_get_the_contracts_errors_and_change_nothing(
    app: FastAPI, client: httpx.AsyncClient, team: dict[str, Any]
) -> None:
    q, ana, customer = team["q"], team["ana"], team["customer"]
    outsider = await make_user(app, "agent", name="Olga")
    away = await make_user(app, "agent", name="Alex", queues=[q], status="away")
    full = await make_user(app, "agent", name="Fred", queues=[q], max_chats=1)
    gone = await make_user(app, "agent", name="Gina", queues=[q])
    other_customer = await make_user(app, "customer")
    chat = await accepted_chat(client, customer, ana, q)
    await accepted_chat(client, other_customer, full, q)  # Fred is full now
    admin = await make_user(app, "admin")
    r = await client.patch(
        f"/api/v1/users/{gone.id}", json={"active": False}, headers=admin.headers
    )
    assert r.status_code == 200
    before = await events(client, ana, chat["id"])
    cases: list[tuple[dict[str, Any], int, str | None]] = [
        ({"agent_id": outsider.id}, 422, "unknown_user"),
        ({"agent_id": customer.id}, 422, "unknown_user"),
        ({"agent_id": gone.id}, 422, "unknown_user"),
        ({"agent_id": "no-such-user"}, 422, "unknown_user"),
        ({"agent_id": ana.id}, 422, "same_agent"),
        ({"agent_id": away.id}, 409, "not_available"),
        ({"agent_id": full.id}, 409, "at_capacity"),
        ({}, 422, None),
        ({"agent_id": team["ben"].id, "extra": 1}, 422, None),
        ({"agent_id": team["ben"].id, "note": "x" * 2001}, 422, None),
    ]
    for body, status, code in cases:
        r = await _transfer(client, ana, chat["id"], body)
        assert r.status_code == status, (body, r.text)
        if code:
            assert r.json()["error"]["code"] == code, body
    assert await events(client, ana, chat["id"]) == before
    assert (await _chat(client, ana, chat["id"]))["agent"]["id"] == ana.id


async def test_who_may_transfer_and_when(
    app: FastAPI, client: httpx.AsyncClient, team: dict[str, Any]
) -> None:
    q, ana, ben, customer = team["q"], team["ana"], team["ben"], team["customer"]
    waiting = await start_chat(client, customer, q)
    r = await _transfer(client, ana, waiting["id"], {"agent_id": ben.id})
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition"
    assert (
        await client.post(f"/api/v1/chats/{waiting['id']}/accept", headers=ana.headers)
    ).status_code == 200
    cid = waiting["id"]
    r = await _transfer(client, customer, cid, {"agent_id": ben.id})
    assert r.status_code == 403
    r = await _transfer(client, ben, cid, {"agent_id": ben.id})  # a colleague, not the owner
    assert r.status_code == 403
    outsider = await make_user(app, "agent")
    r = await _transfer(client, outsider, cid, {"agent_id": ben.id})
    assert r.status_code == 404
    r = await _transfer(client, team["sup"], cid, {"agent_id": ben.id, "note": "over to you"})
    assert r.status_code == 200 and r.json()["agent"]["id"] == ben.id
    assert (await client.post(f"/api/v1/chats/{cid}/solve", headers=ben.headers)).status_code == 200
    r = await _transfer(client, ben, cid, {"agent_id": ana.id})
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition"


async def test_supervisor_assigns_a_chat_in_progress(
    app: FastAPI, client: httpx.AsyncClient, team: dict[str, Any]
) -> None:
    ana, ben, sup = team["ana"], team["ben"], team["sup"]
    chat = await accepted_chat(client, team["customer"], ana, team["q"])
    r = await client.post(
        f"/api/v1/chats/{chat['id']}/assign", json={"agent_id": ben.id}, headers=ana.headers
    )
    assert r.status_code == 403
    r = await client.post(
        f"/api/v1/chats/{chat['id']}/assign", json={"agent_id": ana.id}, headers=sup.headers
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "same_agent"
    r = await client.post(
        f"/api/v1/chats/{chat['id']}/assign", json={"agent_id": ben.id}, headers=sup.headers
    )
    assert r.status_code == 200 and r.json()["agent"]["id"] == ben.id
    last = (await events(client, ben, chat["id"]))[-1]
    assert last["type"] == "chat.transferred" and last["actor"]["id"] == sup.id
    assert last["data"] == {
        "from_agent": {"id": ana.id, "name": "Ana"},
        "to_agent": {"id": ben.id, "name": "Ben"},
        "note": None,
    }


async def _hold_chat_row(app: FastAPI, chat_id: str) -> Any:
    """Block every writer of this chat until released: the SQLite writer lock (write units run
    one at a time), or on PostgreSQL a row lock on the chat."""
    db = ctx_of(app).db
    if db.is_sqlite:
        holder = db.write_lock()
        await holder.__aenter__()
        return holder
    conn = await db.engine.connect()
    await conn.begin()
    await conn.execute(text("SELECT id FROM chats WHERE id = :id FOR UPDATE"), {"id": chat_id})
    return conn


async def _writers_waiting(app: FastAPI) -> int:
    db = ctx_of(app).db
    if db.is_sqlite:
        return db._write_lock.waiting
    async with db.engine.connect() as conn:
        found = await conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
        return int(found.scalar_one())


async def _release(app: FastAPI, holder: Any) -> None:
    if ctx_of(app).db.is_sqlite:
        await holder.__aexit__(None, None, None)
    else:
        await holder.rollback()
        await holder.close()


@pytest.mark.parametrize("who", ["supervisors", "owner_and_supervisor", "assign_and_transfer"])
async def test_of_two_transfers_at_once_one_wins_and_the_other_gets_conflict(
    app: FastAPI, client: httpx.AsyncClient, team: dict[str, Any], who: str
) -> None:
    q, ana, ben = team["q"], team["ana"], team["ben"]
    cleo = await make_user(app, "agent", name="Cleo", queues=[q])
    first = ana if who == "owner_and_supervisor" else team["sup"]
    second = await make_user(app, "supervisor", name="Sue")
    chat = await accepted_chat(client, team["customer"], ana, q)
    before = len(await events(client, ana, chat["id"]))
    holder = await _hold_chat_row(app, chat["id"])
    try:
        # Both requests read the chat (owner Ana) and then wait for the writer.
        path = "assign" if who == "assign_and_transfer" else "transfer"
        first_call = client.post(
            f"/api/v1/chats/{chat['id']}/{path}", json={"agent_id": ben.id}, headers=first.headers
        )
        tasks = [
            asyncio.create_task(first_call),
            asyncio.create_task(_transfer(client, second, chat["id"], {"agent_id": cleo.id})),
        ]
        for _ in range(500):
            if await _writers_waiting(app) >= 2 or any(t.done() for t in tasks):
                break
            await asyncio.sleep(0.01)
        assert not any(t.done() for t in tasks), [t.result().text for t in tasks if t.done()]
    finally:
        await _release(app, holder)
    results = await asyncio.gather(*tasks)
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409], [r.text for r in results]
    lost = next(r for r in results if r.status_code == 409)
    assert lost.json()["error"]["code"] == "conflict"
    winner = next(r for r in results if r.status_code == 200).json()["agent"]["id"]
    evs = await events(client, ana, chat["id"])
    assert [e["type"] for e in evs[before:]] == ["chat.transferred"]
    assert evs[-1]["data"]["to_agent"]["id"] == winner
    assert (await _chat(client, ana, chat["id"]))["agent"]["id"] == winner


async def test_colleagues_lists_the_queue_with_status_load_and_why_not(
    app: FastAPI, client: httpx.AsyncClient, team: dict[str, Any]
) -> None:
    q, ana, customer = team["q"], team["ana"], team["customer"]
    away = await make_user(app, "agent", name="Alex", queues=[q], status="away")
    full = await make_user(app, "agent", name="Fred", queues=[q], max_chats=1)
    await make_user(app, "agent", name="Olga")  # another queue's
    await accepted_chat(client, await make_user(app, "customer"), full, q)
    chat = await accepted_chat(client, customer, ana, q)
    r = await client.get(f"/api/v1/chats/{chat['id']}/colleagues", headers=ana.headers)
    assert r.status_code == 200, r.text
    got = {
        c["name"]: (c["status"], c["chats"], c["max_chats"], c["reason"]) for c in r.json()["items"]
    }
    assert got == {
        "Alex": ("away", 0, 3, "not_available"),
        "Ana": ("available", 1, 3, "owner"),
        "Ben": ("available", 0, 3, None),
        "Fred": ("available", 1, 1, "at_capacity"),
    }
    assert [c["name"] for c in r.json()["items"]] == ["Alex", "Ana", "Ben", "Fred"]
    r = await client.get(f"/api/v1/chats/{chat['id']}/colleagues", headers=customer.headers)
    assert r.status_code == 403
    r = await client.get(f"/api/v1/chats/{chat['id']}/colleagues", headers=away.headers)
    assert r.status_code == 200


# --- requeue on offline -----------------------------------------------------------------------


@pytest.fixture
def clock() -> FrozenClock:
    from helpline.kit.clock import set_clock

    c = FrozenClock()
    set_clock(c)
    return c


async def _requeued(client: httpx.AsyncClient, who: Person, chat_id: str, agent: Person) -> None:
    got = await _chat(client, who, chat_id)
    assert got["status"] == "waiting" and got["agent"] is None, got
    assert got["position"] == 1
    last = (await events(client, who, chat_id))[-1]
    assert last["type"] == "chat.requeued" and last["actor"] is None
    assert last["data"] == {
        "reason": "agent_offline",
        "from_agent": {"id": agent.id, "name": agent.name},
    }


async def test_offline_grace_ending_hands_the_chats_back(
    app: FastAPI, client: httpx.AsyncClient, team: dict[str, Any], clock: FrozenClock
) -> None:
    from helpline.accounts import presence

    ana, customer = team["ana"], team["customer"]
    chat = await accepted_chat(client, customer, ana, team["q"])
    solved = await accepted_chat(client, await make_user(app, "customer"), ana, team["q"])
    assert (
        await client.post(f"/api/v1/chats/{solved['id']}/solve", headers=ana.headers)
    ).status_code == 200
    sweeper = Sweeper(ctx_of(app))
    await presence.stamp(ctx_of(app), {ana.id})  # she was connected, then her browser died
    clock.advance(59)
    await sweeper.run_once()
    assert (await _chat(client, customer, chat["id"]))["status"] == "in_progress"
    clock.advance(2)
    await sweeper.run_once()
    assert (await client.get("/api/v1/me", headers=ana.headers)).json()["status"] == "offline"
    await _requeued(client, customer, chat["id"], ana)
    assert (await _chat(client, ana, solved["id"]))["status"] == "solved"
    # Waiting again: a colleague takes it like a new chat.
    r = await client.post(f"/api/v1/chats/{chat['id']}/accept", headers=team["ben"].headers)
    assert r.status_code == 200


async def test_a_supervisor_setting_an_agent_offline_hands_the_chats_back(
    app: FastAPI, client: httpx.AsyncClient, team: dict[str, Any]
) -> None:
    ana, customer, sup = team["ana"], team["customer"], team["sup"]
    chat = await accepted_chat(client, customer, ana, team["q"])
    r = await client.put(
        f"/api/v1/users/{ana.id}/status", json={"status": "offline"}, headers=team["ben"].headers
    )
    assert r.status_code == 403
    r = await client.put(
        f"/api/v1/users/{customer.id}/status", json={"status": "offline"}, headers=sup.headers
    )
    assert r.status_code == 404
    r = await client.put(
        f"/api/v1/users/{ana.id}/status", json={"status": "gone"}, headers=sup.headers
    )
    assert r.status_code == 422
    assert (await _chat(client, customer, chat["id"]))["status"] == "in_progress"
    r = await client.put(
        f"/api/v1/users/{ana.id}/status", json={"status": "offline"}, headers=sup.headers
    )
    assert r.status_code == 200 and r.json()["status"] == "offline"
    await _requeued(client, customer, chat["id"], ana)
    # Setting someone else's availability is written down in the audit log.
    admin = await make_user(app, "admin")
    r = await client.get(
        "/api/v1/audit",
        params={"actor_id": sup.id, "action": "user.updated"},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    (entry,) = [e for e in r.json()["items"] if e["target"]["id"] == ana.id]
    assert entry["actor"]["id"] == sup.id
    assert entry["details"] == {
        "fields": ["status"],
        "from": {"status": "available"},
        "to": {"status": "offline"},
    }


async def test_an_agent_going_away_keeps_their_chats_and_offline_hands_them_back(
    client: httpx.AsyncClient, team: dict[str, Any]
) -> None:
    ana, customer = team["ana"], team["customer"]
    chat = await accepted_chat(client, customer, ana, team["q"])
    r = await client.put("/api/v1/me/status", json={"status": "away"}, headers=ana.headers)
    assert r.status_code == 200
    assert (await _chat(client, customer, chat["id"]))["status"] == "in_progress"
    r = await client.put("/api/v1/me/status", json={"status": "offline"}, headers=ana.headers)
    assert r.status_code == 200
    await _requeued(client, customer, chat["id"], ana)


class TestRequeueOff:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"requeue_on_offline": "off", "offline_grace_s": 60}

    async def test_chats_stay_with_an_agent_who_goes_offline(
        self, app: FastAPI, client: httpx.AsyncClient, team: dict[str, Any], clock: FrozenClock
    ) -> None:
        from helpline.accounts import presence

        ana, customer, sup = team["ana"], team["customer"], team["sup"]
        chat = await accepted_chat(client, customer, ana, team["q"])
        r = await client.put(
            f"/api/v1/users/{ana.id}/status", json={"status": "offline"}, headers=sup.headers
        )
        assert r.status_code == 200
        await presence.stamp(ctx_of(app), {ana.id})
        clock.advance(120)
        await Sweeper(ctx_of(app)).run_once()
        got = await _chat(client, customer, chat["id"])
        assert got["status"] == "in_progress" and got["agent"]["id"] == ana.id


async def test_the_setting_takes_on_and_off_only() -> None:
    from pydantic import ValidationError

    from helpline.config import Settings

    assert Settings(requeue_on_offline="OFF").requeue_enabled is False
    assert Settings().requeue_enabled is True
    with pytest.raises(ValidationError):
        Settings(requeue_on_offline="sometimes")
