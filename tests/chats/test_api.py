"""The chat lifecycle through the HTTP API: every rule, every bad input, nothing changed."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from tests.fixtures.factories import (
    Person,
    accepted_chat,
    events,
    make_queue,
    make_user,
    start_chat,
)

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def world(app: FastAPI) -> dict[str, object]:
    q1 = await make_queue(app, "Support")
    q2 = await make_queue(app, "Billing")
    return {
        "q1": q1,
        "q2": q2,
        "customer": await make_user(app, "customer", name="Carla"),
        "other_customer": await make_user(app, "customer", name="Dan"),
        "agent": await make_user(app, "agent", name="Ana", queues=[q1]),
        "agent2": await make_user(app, "agent", name="Ben", queues=[q1]),
        "billing_agent": await make_user(app, "agent", name="Bill", queues=[q2]),
        "outsider": await make_user(app, "agent", name="Olga"),
        "supervisor": await make_user(app, "supervisor", name="Sam"),
    }


def p(world: dict[str, object], key: str) -> Person:
    person = world[key]
    assert isinstance(person, Person)
    return person


async def test_start_creates_a_waiting_chat_with_reference_position_and_events(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    chat = await start_chat(client, p(world, "customer"), str(world["q1"]), "My printer is on fire")
    assert chat["status"] == "waiting"
    assert chat["reference"] == "CS-000001"
    assert chat["position"] == 1
    assert chat["estimated_wait_s"] is None  # no history yet: unknown, not nonsense
    assert chat["customer"]["name"] == "Carla"
    assert chat["agent"] is None
    assert chat["last_seq"] == 2
    evs = await events(client, p(world, "customer"), chat["id"])
    assert [e["type"] for e in evs] == ["chat.started", "message.posted"]
    assert [e["seq"] for e in evs] == [1, 2]
    assert evs[0]["data"] == {
        "queue_id": world["q1"],
        "subject": "My printer is on fire",
        "reference": "CS-000001",
    }
    assert evs[1]["data"]["text"] == "My printer is on fire"
    assert evs[1]["actor"]["role"] == "customer"
    assert evs[1]["at"].endswith("Z")


async def test_second_open_chat_is_refused_with_the_open_chat_id(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    chat = await start_chat(client, p(world, "customer"), str(world["q1"]))
    r = await client.post(
        "/api/v1/chats",
        json={"queue_id": world["q2"], "message": "again"},
        headers=p(world, "customer").headers,
    )
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "chat_already_open"
    assert r.json()["error"]["chat_id"] == chat["id"]


async def test_positions_follow_arrival_order(
    client: httpx.AsyncClient, world: dict[str, object], app: FastAPI
) -> None:
    first = await start_chat(client, p(world, "customer"), str(world["q1"]))
    second = await start_chat(client, p(world, "other_customer"), str(world["q1"]))
    assert second["position"] == 2
    await client.post(f"/api/v1/chats/{first['id']}/accept", headers=p(world, "agent").headers)
    r = await client.get(
        f"/api/v1/chats/{second['id']}", headers=p(world, "other_customer").headers
    )
    assert r.json()["position"] == 1
    assert r.json()["estimated_wait_s"] is not None and r.json()["estimated_wait_s"] >= 0


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"queue_id": "nope", "message": "hi"}, "unknown_queue"),
        ({"queue_id": "Q", "message": ""}, "invalid"),
        ({"queue_id": "Q", "message": "   "}, "empty_message"),
        ({"queue_id": "Q", "message": "x" * 10_001}, "invalid"),
        ({"queue_id": "Q", "message": "hi", "sender_id": "someone"}, "invalid"),
        ({"queue_id": "Q", "message": 42}, "invalid"),
        ({"queue_id": "Q"}, "invalid"),
    ],
)
async def test_bad_start_is_422_and_creates_nothing(
    client: httpx.AsyncClient, world: dict[str, object], body: dict[str, object], code: str
) -> None:
    body = {k: (world["q1"] if v == "Q" else v) for k, v in body.items()}
    r = await client.post("/api/v1/chats", json=body, headers=p(world, "customer").headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code
    listed = await client.get("/api/v1/chats", headers=p(world, "customer").headers)
    assert listed.json()["items"] == []


async def test_malformed_json_is_422(client: httpx.AsyncClient, world: dict[str, object]) -> None:
    r = await client.post(
        "/api/v1/chats",
        content=b"{not json",
        headers={**p(world, "customer").headers, "content-type": "application/json"},
    )
    assert r.status_code == 422
    assert set(r.json()["error"]) >= {"code", "message"}


async def test_unauthenticated_is_401(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/api/v1/chats"),
        ("POST", "/api/v1/chats"),
        ("GET", "/api/v1/me"),
    ]:
        r = await client.request(method, path, json={})
        assert r.status_code == 401, path
        assert r.json()["error"]["code"] == "not_authenticated"
    r = await client.get("/api/v1/me", headers={"Authorization": "Bearer forged"})
    assert r.status_code == 401


async def test_only_customers_start_chats(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    r = await client.post(
        "/api/v1/chats",
        json={"queue_id": world["q1"], "message": "hi"},
        headers=p(world, "agent").headers,
    )
    assert r.status_code == 403


async def test_accept_by_member_then_talk_both_ways(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    customer, agent = p(world, "customer"), p(world, "agent")
    chat = await accepted_chat(client, customer, agent, str(world["q1"]))
    assert chat["status"] == "in_progress"
    assert chat["agent"] == {"id": agent.id, "name": "Ana"}
    assert chat["position"] is None
    evs = await events(client, customer, chat["id"], after=2)
    assert [e["type"] for e in evs] == ["chat.accepted", "message.posted"]
    assert evs[1]["data"]["text"] == "Welcome, my name is Ana, how can I help you today?"
    r = await client.post(
        f"/api/v1/chats/{chat['id']}/messages",
        json={"text": "Hi Ana", "client_id": "c-1"},
        headers=customer.headers,
    )
    assert r.status_code == 201
    assert r.json()["seq"] == 5
    r = await client.post(
        f"/api/v1/chats/{chat['id']}/messages",
        json={"text": "Hi Carla", "client_id": "a-1"},
        headers=agent.headers,
    )
    assert r.status_code == 201
    assert r.json()["actor"] == {"id": agent.id, "role": "agent", "name": "Ana"}
    seqs = [e["seq"] for e in await events(client, agent, chat["id"])]
    assert seqs == list(range(1, 7))


async def test_resending_a_client_id_returns_the_first_event(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    customer = p(world, "customer")
    chat = await start_chat(client, customer, str(world["q1"]))
    url = f"/api/v1/chats/{chat['id']}/messages"
    first = await client.post(
        url, json={"text": "once", "client_id": "dup-1"}, headers=customer.headers
    )
    again = await client.post(
        url, json={"text": "once", "client_id": "dup-1"}, headers=customer.headers
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    texts = [e["data"].get("text") for e in await events(client, customer, chat["id"])]
    assert texts.count("once") == 1


async def test_message_validation(client: httpx.AsyncClient, world: dict[str, object]) -> None:
    customer = p(world, "customer")
    chat = await start_chat(client, customer, str(world["q1"]))
    url = f"/api/v1/chats/{chat['id']}/messages"
    for body in (
        {"text": "", "client_id": "a"},
        {"text": "  \n ", "client_id": "b"},
        {"text": "x" * 10_001, "client_id": "c"},
        {"text": "hi", "client_id": "d", "sender_id": "x"},
        {"text": "hi"},
        {"text": "hi", "client_id": "has space"},
    ):
        r = await client.post(url, json=body, headers=customer.headers)
        assert r.status_code == 422, body
    assert len(await events(client, customer, chat["id"])) == 2


async def test_waiting_chat_agents_cannot_write_customers_can(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    chat = await start_chat(client, p(world, "customer"), str(world["q1"]))
    url = f"/api/v1/chats/{chat['id']}/messages"
    r = await client.post(
        url, json={"text": "hi", "client_id": "a1"}, headers=p(world, "agent").headers
    )
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "invalid_transition"
    r = await client.post(
        url, json={"text": "still there?", "client_id": "c1"}, headers=p(world, "customer").headers
    )
    assert r.status_code == 201


async def test_visibility_is_404_like_missing(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    chat = await start_chat(client, p(world, "customer"), str(world["q1"]))
    cid = chat["id"]
    for who in ("other_customer", "billing_agent", "outsider"):
        person = p(world, who)
        for method, path, body in [
            ("GET", f"/api/v1/chats/{cid}", None),
            ("GET", f"/api/v1/chats/{cid}/events", None),
            ("GET", f"/api/v1/chats/{cid}/transcript", None),
            ("POST", f"/api/v1/chats/{cid}/messages", {"text": "x", "client_id": "z"}),
            ("POST", f"/api/v1/chats/{cid}/accept", None),
            ("POST", f"/api/v1/chats/{cid}/leave", None),
        ]:
            r = await client.request(method, path, json=body, headers=person.headers)
            assert r.status_code == 404, (who, path, r.text)
            missing = await client.request(
                method, path.replace(cid, "0" * 32), json=body, headers=person.headers
            )
            assert missing.status_code == 404
            assert r.json()["error"]["code"] == missing.json()["error"]["code"] == "not_found"
    # the supervisor sees everything
    r = await client.get(f"/api/v1/chats/{cid}", headers=p(world, "supervisor").headers)
    assert r.status_code == 200


async def test_customer_trying_agent_actions_gets_403(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    customer = p(world, "customer")
    chat = await start_chat(client, customer, str(world["q1"]))
    for action, body in [
        ("accept", None),
        ("solve", None),
        ("cancel", {}),
        ("move", {"queue_id": world["q2"]}),
        ("notes", {"text": "x"}),
        ("requests", {"summary": "x"}),
    ]:
        r = await client.post(
            f"/api/v1/chats/{chat['id']}/{action}", json=body, headers=customer.headers
        )
        assert r.status_code == 403, action
    r = await client.get(f"/api/v1/chats/{chat['id']}", headers=customer.headers)
    assert r.json()["status"] == "waiting"


async def test_wrong_transitions_are_409_and_change_nothing(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    customer, agent = p(world, "customer"), p(world, "agent")
    chat = await start_chat(client, customer, str(world["q1"]))
    r = await client.post(f"/api/v1/chats/{chat['id']}/solve", headers=agent.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition"
    await client.post(f"/api/v1/chats/{chat['id']}/accept", headers=agent.headers)
    r = await client.post(f"/api/v1/chats/{chat['id']}/solve", headers=agent.headers)
    assert r.status_code == 200 and r.json()["status"] == "solved"
    before = await events(client, agent, chat["id"])
    for action in ("solve", "accept", "cancel", "leave"):
        who = customer if action == "leave" else agent
        r = await client.post(f"/api/v1/chats/{chat['id']}/{action}", headers=who.headers)
        assert r.status_code == 409, action
        assert r.json()["error"]["code"] == "invalid_transition"
    r = await client.post(
        f"/api/v1/chats/{chat['id']}/messages",
        json={"text": "late", "client_id": "l"},
        headers=customer.headers,
    )
    assert r.status_code == 409
    assert await events(client, agent, chat["id"]) == before


async def test_only_the_chats_agent_or_a_supervisor_solves(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    chat = await accepted_chat(client, p(world, "customer"), p(world, "agent"), str(world["q1"]))
    r = await client.post(f"/api/v1/chats/{chat['id']}/solve", headers=p(world, "agent2").headers)
    assert r.status_code == 403
    r = await client.post(
        f"/api/v1/chats/{chat['id']}/messages",
        json={"text": "me too", "client_id": "x"},
        headers=p(world, "agent2").headers,
    )
    assert r.status_code == 403
    r = await client.post(
        f"/api/v1/chats/{chat['id']}/solve", headers=p(world, "supervisor").headers
    )
    assert r.status_code == 200


async def test_move_queue_returns_to_waiting_and_hides_it_from_the_old_agent(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    customer, agent, billing = p(world, "customer"), p(world, "agent"), p(world, "billing_agent")
    chat = await accepted_chat(client, customer, agent, str(world["q1"]))
    r = await client.post(
        f"/api/v1/chats/{chat['id']}/move",
        json={"queue_id": world["q2"], "note": "invoice question"},
        headers=agent.headers,
    )
    assert r.status_code == 200, r.text
    moved = r.json()
    assert (
        moved["status"] == "waiting" and moved["agent"] is None and moved["queue_id"] == world["q2"]
    )
    # the old agent (not in Billing) no longer sees it; the billing agent does and accepts it
    assert (
        await client.get(f"/api/v1/chats/{chat['id']}", headers=agent.headers)
    ).status_code == 404
    r = await client.post(f"/api/v1/chats/{chat['id']}/accept", headers=billing.headers)
    assert r.status_code == 200
    # agents read the note; the customer never does
    agent_view = [
        e for e in await events(client, billing, chat["id"]) if e["type"] == "chat.moved"
    ][0]
    customer_view = [
        e for e in await events(client, customer, chat["id"]) if e["type"] == "chat.moved"
    ][0]
    assert agent_view["data"]["note"] == "invoice question"
    assert "note" not in customer_view["data"]
    assert customer_view["data"]["to_queue_id"] == world["q2"]


async def test_move_to_unknown_queue_is_422(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    chat = await accepted_chat(client, p(world, "customer"), p(world, "agent"), str(world["q1"]))
    r = await client.post(
        f"/api/v1/chats/{chat['id']}/move",
        json={"queue_id": "missing"},
        headers=p(world, "agent").headers,
    )
    assert r.status_code == 422
    r = await client.get(f"/api/v1/chats/{chat['id']}", headers=p(world, "agent").headers)
    assert r.json()["status"] == "in_progress"


async def test_cancel_by_agent_with_reason_and_leave_by_customer(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    customer, agent = p(world, "customer"), p(world, "agent")
    chat = await accepted_chat(client, customer, agent, str(world["q1"]))
    r = await client.post(
        f"/api/v1/chats/{chat['id']}/cancel",
        json={"reason": "customer unresponsive"},
        headers=agent.headers,
    )
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    last = (await events(client, customer, chat["id"]))[-1]
    assert last["type"] == "chat.cancelled"
    assert last["data"] == {"reason": "customer unresponsive", "by": "agent"}

    other = await start_chat(client, p(world, "other_customer"), str(world["q1"]))
    r = await client.post(
        f"/api/v1/chats/{other['id']}/leave", headers=p(world, "other_customer").headers
    )
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    last = (await events(client, p(world, "other_customer"), other["id"]))[-1]
    assert last["data"]["by"] == "customer"
    r = await client.post(f"/api/v1/chats/{other['id']}/leave", headers=agent.headers)
    assert r.status_code == 403


async def test_queue_member_may_cancel_a_waiting_chat(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    chat = await start_chat(client, p(world, "customer"), str(world["q1"]))
    r = await client.post(
        f"/api/v1/chats/{chat['id']}/cancel",
        json={"reason": "spam"},
        headers=p(world, "agent2").headers,
    )
    assert r.status_code == 200


async def test_internal_notes_never_reach_customers(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    customer, agent = p(world, "customer"), p(world, "agent")
    chat = await accepted_chat(client, customer, agent, str(world["q1"]))
    r = await client.post(
        f"/api/v1/chats/{chat['id']}/notes", json={"text": "VIP, be nice"}, headers=agent.headers
    )
    assert r.status_code == 201 and r.json()["type"] == "note.added"
    assert "VIP, be nice" in str(await events(client, agent, chat["id"]))
    customer_events = await events(client, customer, chat["id"])
    assert "note.added" not in [e["type"] for e in customer_events]
    transcript = await client.get(
        f"/api/v1/chats/{chat['id']}/transcript", headers=customer.headers
    )
    assert "VIP" not in transcript.text


async def test_rating_after_the_chat_once(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    customer, agent = p(world, "customer"), p(world, "agent")
    chat = await accepted_chat(client, customer, agent, str(world["q1"]))
    url = f"/api/v1/chats/{chat['id']}/rating"
    r = await client.post(url, json={"score": 5}, headers=customer.headers)
    assert r.status_code == 409  # still in progress
    await client.post(f"/api/v1/chats/{chat['id']}/solve", headers=agent.headers)
    for bad in ({"score": 0}, {"score": 6}, {"score": "5x"}, {"score": 4, "extra": 1}):
        assert (await client.post(url, json=bad, headers=customer.headers)).status_code == 422
    assert (await client.post(url, json={"score": 4}, headers=agent.headers)).status_code == 403
    r = await client.post(
        url, json={"score": 4, "comment": "quick, thanks"}, headers=customer.headers
    )
    assert r.status_code == 200
    assert r.json()["rating"] == {"score": 4, "comment": "quick, thanks"}
    assert (await client.post(url, json={"score": 1}, headers=customer.headers)).status_code == 409


async def test_raise_request_links_chat_and_customer_with_transcript(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    customer, agent = p(world, "customer"), p(world, "agent")
    chat = await accepted_chat(client, customer, agent, str(world["q1"]))
    await client.post(
        f"/api/v1/chats/{chat['id']}/notes", json={"text": "secret note"}, headers=agent.headers
    )
    r = await client.post(
        f"/api/v1/chats/{chat['id']}/requests",
        json={"summary": "Replace printer", "priority": "high"},
        headers=agent.headers,
    )
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["reference"] == "SR-000001"
    assert req["chat_id"] == chat["id"] and req["customer"]["id"] == customer.id
    assert req["team"]["id"] == world["q1"] and req["priority"] == "high" and req["status"] == "new"
    assert "Hello, I need help" in req["description"] and "secret note" not in req["description"]
    raised = (await events(client, customer, chat["id"]))[-1]
    assert raised["type"] == "request.raised"
    assert raised["data"]["request"]["reference"] == "SR-000001"
    mine = await client.get("/api/v1/requests/SR-000001", headers=customer.headers)
    assert mine.status_code == 200
    assert (
        await client.get("/api/v1/requests/SR-000001", headers=p(world, "other_customer").headers)
    ).status_code == 404
    # the chat goes on afterwards and can still be solved
    assert (
        await client.post(f"/api/v1/chats/{chat['id']}/solve", headers=agent.headers)
    ).status_code == 200
    r = await client.post(
        f"/api/v1/chats/{chat['id']}/requests", json={"summary": "Follow-up"}, headers=agent.headers
    )
    assert r.status_code == 201 and r.json()["reference"] == "SR-000002"


async def test_raise_request_bad_input(client: httpx.AsyncClient, world: dict[str, object]) -> None:
    agent = p(world, "agent")
    waiting = await start_chat(client, p(world, "customer"), str(world["q1"]))
    r = await client.post(
        f"/api/v1/chats/{waiting['id']}/requests", json={"summary": "x"}, headers=agent.headers
    )
    assert r.status_code == 409
    await client.post(f"/api/v1/chats/{waiting['id']}/accept", headers=agent.headers)
    for body in (
        {"summary": ""},
        {"summary": "x" * 201},
        {"summary": "x", "priority": "urgent"},
        {"summary": "x", "team_id": "nope"},
    ):
        r = await client.post(
            f"/api/v1/chats/{waiting['id']}/requests", json=body, headers=agent.headers
        )
        assert r.status_code == 422, body
    assert (await client.get("/api/v1/requests", headers=agent.headers)).json()["items"] == []


async def test_twenty_concurrent_accepts_have_exactly_one_winner(
    app: FastAPI, client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    agents = [await make_user(app, "agent", queues=[str(world["q1"])]) for _ in range(20)]
    chat = await start_chat(client, p(world, "customer"), str(world["q1"]))
    results = await asyncio.gather(
        *(client.post(f"/api/v1/chats/{chat['id']}/accept", headers=a.headers) for a in agents)
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [409] * 19
    assert {r.json()["error"]["code"] for r in results if r.status_code == 409} == {
        "already_accepted"
    }
    winner = next(r.json()["agent"]["id"] for r in results if r.status_code == 200)
    evs = await events(client, p(world, "customer"), chat["id"])
    accepted = [e for e in evs if e["type"] == "chat.accepted"]
    assert len(accepted) == 1 and accepted[0]["data"]["agent"]["id"] == winner
    assert [e["seq"] for e in evs] == list(range(1, len(evs) + 1))


async def test_accept_needs_availability_and_capacity(
    app: FastAPI, client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    q = str(world["q1"])
    away = await make_user(app, "agent", queues=[q], status="away")
    chat = await start_chat(client, p(world, "customer"), q)
    r = await client.post(f"/api/v1/chats/{chat['id']}/accept", headers=away.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_available"
    busy = await make_user(app, "agent", queues=[q], max_chats=1)
    assert (
        await client.post(f"/api/v1/chats/{chat['id']}/accept", headers=busy.headers)
    ).status_code == 200
    other = await start_chat(client, p(world, "other_customer"), q)
    r = await client.post(f"/api/v1/chats/{other['id']}/accept", headers=busy.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "at_capacity"


async def test_list_filters_and_search(client: httpx.AsyncClient, world: dict[str, object]) -> None:
    agent = p(world, "agent")
    a = await start_chat(client, p(world, "customer"), str(world["q1"]))
    b = await start_chat(client, p(world, "other_customer"), str(world["q1"]))
    await client.post(f"/api/v1/chats/{b['id']}/accept", headers=agent.headers)
    listed = (await client.get("/api/v1/chats", headers=agent.headers)).json()["items"]
    assert [c["id"] for c in listed] == [a["id"], b["id"]]  # waiting first
    waiting = (
        await client.get("/api/v1/chats", params={"status": "waiting"}, headers=agent.headers)
    ).json()["items"]
    assert [c["id"] for c in waiting] == [a["id"]]
    found = (await client.get("/api/v1/chats", params={"q": "dan"}, headers=agent.headers)).json()[
        "items"
    ]
    assert [c["id"] for c in found] == [b["id"]]
    found = (
        await client.get("/api/v1/chats", params={"q": a["reference"]}, headers=agent.headers)
    ).json()["items"]
    assert [c["id"] for c in found] == [a["id"]]
    r = await client.get("/api/v1/chats", params={"status": "bogus"}, headers=agent.headers)
    assert r.status_code == 422
    mine = (await client.get("/api/v1/chats", headers=p(world, "customer").headers)).json()["items"]
    assert [c["id"] for c in mine] == [a["id"]]
    assert (await client.get("/api/v1/chats", headers=p(world, "outsider").headers)).json()[
        "items"
    ] == []


async def test_transcript_is_plain_text_download(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    customer, agent = p(world, "customer"), p(world, "agent")
    chat = await accepted_chat(client, customer, agent, str(world["q1"]))
    await client.post(
        f"/api/v1/chats/{chat['id']}/messages",
        json={"text": "Thanks!", "client_id": "t"},
        headers=customer.headers,
    )
    r = await client.get(f"/api/v1/chats/{chat['id']}/transcript", headers=customer.headers)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert "attachment" in r.headers["content-disposition"]
    assert (
        chat["reference"] in r.text
        and "Carla: Thanks!" in r.text
        and "Ana joined the chat." in r.text
    )


async def test_events_after_and_paging(client: httpx.AsyncClient, world: dict[str, object]) -> None:
    customer = p(world, "customer")
    chat = await start_chat(client, customer, str(world["q1"]))
    for i in range(5):
        await client.post(
            f"/api/v1/chats/{chat['id']}/messages",
            json={"text": f"m{i}", "client_id": f"m{i}"},
            headers=customer.headers,
        )
    r = await client.get(
        f"/api/v1/chats/{chat['id']}/events",
        params={"after": 3, "limit": 2},
        headers=customer.headers,
    )
    body = r.json()
    assert [e["seq"] for e in body["items"]] == [4, 5] and body["next"] == "5"
    r = await client.get(
        f"/api/v1/chats/{chat['id']}/events",
        params={"cursor": body["next"]},
        headers=customer.headers,
    )
    assert [e["seq"] for e in r.json()["items"]] == [6, 7] and r.json()["next"] is None
    assert (
        await client.get(
            f"/api/v1/chats/{chat['id']}/events", params={"after": -1}, headers=customer.headers
        )
    ).status_code == 422


async def test_transcript_mail_without_smtp_says_so(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    chat = await accepted_chat(client, p(world, "customer"), p(world, "agent"), str(world["q1"]))
    r = await client.post(
        f"/api/v1/chats/{chat['id']}/transcript/email", headers=p(world, "customer").headers
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "mail_not_configured"


async def test_printable_transcript_page_has_the_chats_rights(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    customer, agent = p(world, "customer"), p(world, "agent")
    chat = await accepted_chat(client, customer, agent, str(world["q1"]))
    await client.post(
        f"/api/v1/chats/{chat['id']}/notes", json={"text": "secret note"}, headers=agent.headers
    )
    await client.post(
        f"/api/v1/chats/{chat['id']}/messages",
        json={"text": "<b>bold?</b>", "client_id": "x1"},
        headers=customer.headers,
    )
    client.cookies.set("helpline_session", customer.token)
    r = await client.get(f"/transcript/{chat['id']}")
    assert r.status_code == 200 and chat["reference"] in r.text
    assert "&lt;b&gt;bold?&lt;/b&gt;" in r.text and "secret note" not in r.text
    client.cookies.set("helpline_session", p(world, "other_customer").token)
    assert (await client.get(f"/transcript/{chat['id']}")).status_code == 404
    client.cookies.clear()
    assert (
        await client.get(f"/transcript/{chat['id']}", follow_redirects=False)
    ).status_code == 303
