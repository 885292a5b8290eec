"""The WebSocket protocol against a real uvicorn on loopback, with real clients."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import pytest_asyncio
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from helpline import turns
from helpline.chats import gateway
from tests.conftest import LiveServer
from tests.fixtures.factories import Person, make_queue, make_user
from tests.fixtures.waits import eventually
from tests.fixtures.wsclient import WSClient

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def http(live_server: LiveServer) -> Any:
    async with httpx.AsyncClient(base_url=live_server.url) as c:
        yield c


@pytest_asyncio.fixture
async def world(live_server: LiveServer) -> dict[str, Any]:
    app = live_server.app
    q1 = await make_queue(app, "Support")
    q2 = await make_queue(app, "Billing")
    return {
        "q1": q1,
        "q2": q2,
        "customer": await make_user(app, "customer", name="Carla"),
        "agent": await make_user(app, "agent", name="Ana", queues=[q1]),
        "agent2": await make_user(app, "agent", name="Ben", queues=[q1]),
        "billing": await make_user(app, "agent", name="Bill", queues=[q2]),
        "stranger": await make_user(app, "customer", name="Eve"),
    }


async def _start(
    http: httpx.AsyncClient, customer: Person, queue: str, text: str = "Help me"
) -> dict[str, Any]:
    r = await http.post(
        "/api/v1/chats", json={"queue_id": queue, "message": text}, headers=customer.headers
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _talking(
    live_server: LiveServer, http: httpx.AsyncClient, world: dict[str, Any]
) -> tuple[str, WSClient, WSClient]:
    """Carla's chat, accepted by Ana; each subscribed to it on a socket of their own."""
    customer, agent = world["customer"], world["agent"]
    cid = (await _start(http, customer, world["q1"]))["id"]
    await http.post(f"/api/v1/chats/{cid}/accept", headers=agent.headers)
    c = await WSClient.open(live_server.ws_url, customer.token)
    a = await WSClient.open(live_server.ws_url, agent.token)
    await c.subscribe(cid)
    await a.subscribe(cid)
    return cid, c, a


async def test_whole_session_over_websocket(
    live_server: LiveServer, http: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    customer, agent, agent2, billing = (
        world["customer"],
        world["agent"],
        world["agent2"],
        world["billing"],
    )
    a = await WSClient.open(live_server.ws_url, agent.token)
    a2 = await WSClient.open(live_server.ws_url, agent2.token)
    b = await WSClient.open(live_server.ws_url, billing.token)
    chat = await _start(http, customer, world["q1"])
    cid = chat["id"]
    # both Support agents are offered it; Billing is not
    offer = await a.wait_for(lambda f: f["type"] == "chat.offered")
    assert offer["chat"]["id"] == cid and offer["chat"]["customer"]["name"] == "Carla"
    await a2.wait_for(lambda f: f["type"] == "chat.offered")

    c = await WSClient.open(live_server.ws_url, customer.token)
    sub = await c.subscribe(cid)
    assert sub == {"type": "subscribed", "chat_id": cid, "last_seq": 2}
    pos = await c.wait_for(lambda f: f["type"] == "queue.position")
    assert pos["position"] == 1 and pos["chat_id"] == cid
    assert [e["seq"] for e in c.events(cid)] == [1, 2]

    r = await http.post(f"/api/v1/chats/{cid}/accept", headers=agent.headers)
    assert r.status_code == 200
    taken = await a2.wait_for(lambda f: f["type"] == "chat.taken")
    assert taken == {"type": "chat.taken", "chat_id": cid, "agent": {"id": agent.id, "name": "Ana"}}
    joined = await c.event(cid, "chat.accepted")
    assert joined["data"]["agent"]["name"] == "Ana"
    await a.subscribe(cid)

    # messages both ways, with acks carrying the seq
    ack = await c.request(
        {"type": "message", "chat_id": cid, "text": "Hi!", "client_id": "c1"},
        lambda f: f["type"] == "ack",
    )
    assert ack["client_id"] == "c1" and ack["seq"] == 5
    await a.wait_for(lambda f: f["type"] == "event" and f["event"]["seq"] == 5)
    ack = await a.request(
        {"type": "message", "chat_id": cid, "text": "Hello Carla", "client_id": "a1"},
        lambda f: f["type"] == "ack",
    )
    seen = await c.wait_for(lambda f: f["type"] == "event" and f["event"]["seq"] == ack["seq"])
    assert seen["event"]["data"]["text"] == "Hello Carla"

    # typing goes to the other side only
    await c.send({"type": "typing", "chat_id": cid, "active": True})
    typing = await a.wait_for(lambda f: f["type"] == "typing")
    assert typing["user"]["name"] == "Carla" and typing["active"] is True

    # a file shared over HTTP arrives as an event
    r = await http.post(
        f"/api/v1/chats/{cid}/files",
        files={"file": ("notes.txt", b"hello file", "text/plain")},
        headers=agent.headers,
    )
    assert r.status_code == 201, r.text
    shared = await c.event(cid, "file.shared")
    assert shared["data"]["attachment"]["filename"] == "notes.txt"

    # move to Billing: the Billing agent is offered it, the old agent hears the move and is unsubscribed
    r = await http.post(
        f"/api/v1/chats/{cid}/move",
        json={"queue_id": world["q2"], "note": "for billing"},
        headers=agent.headers,
    )
    assert r.status_code == 200
    offered = await b.wait_for(lambda f: f["type"] == "chat.offered" and f["chat"]["id"] == cid)
    assert offered["chat"]["status"] == "waiting"
    moved_customer = await c.event(cid, "chat.moved")
    assert "note" not in moved_customer["data"]
    moved_agent = await a.event(cid, "chat.moved")
    assert moved_agent["data"]["note"] == "for billing"
    await a.wait_for(lambda f: f["type"] == "unsubscribed" and f["chat_id"] == cid)
    # it was in progress, not on offer: the old queue's list is updated, nothing is withdrawn
    await a.wait_for(lambda f: f["type"] == "chat.updated" and f["chat"]["queue_id"] == world["q2"])

    r = await http.post(f"/api/v1/chats/{cid}/accept", headers=billing.headers)
    assert r.status_code == 200
    r = await http.post(f"/api/v1/chats/{cid}/solve", headers=billing.headers)
    assert r.status_code == 200
    await c.event(cid, "chat.solved")
    seqs = [e["seq"] for e in c.events(cid)]
    assert seqs == sorted(set(seqs)), "in order, no duplicates"
    assert seqs == list(range(1, seqs[-1] + 1)), "the customer saw every public event"
    for client in (a, a2, b, c):
        await client.close()


async def test_agent_gets_offers_for_chats_already_waiting(
    live_server: LiveServer, http: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    chat = await _start(http, world["customer"], world["q1"])
    a = await WSClient.open(live_server.ws_url, world["agent"].token)
    offer = await a.wait_for(lambda f: f["type"] == "chat.offered")
    assert offer["chat"]["id"] == chat["id"]
    b = await WSClient.open(live_server.ws_url, world["billing"].token)
    await b.request({"type": "ping"}, lambda f: f["type"] == "pong")
    assert not [f for f in b.frames if f["type"] == "chat.offered"]
    await a.close()
    await b.close()


async def test_reconnect_resumes_exactly_from_after(
    live_server: LiveServer, http: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    customer, agent = world["customer"], world["agent"]
    chat = await _start(http, customer, world["q1"])
    cid = chat["id"]
    await http.post(f"/api/v1/chats/{cid}/accept", headers=agent.headers)
    c = await WSClient.open(live_server.ws_url, customer.token)
    await c.subscribe(cid)
    last = max(e["seq"] for e in c.events(cid))
    await c.close()
    for i in range(3):  # while the customer is away
        await http.post(
            f"/api/v1/chats/{cid}/messages",
            json={"text": f"m{i}", "client_id": f"a{i}"},
            headers=agent.headers,
        )
    c2 = await WSClient.open(live_server.ws_url, customer.token)
    sub = await c2.subscribe(cid, after=last)
    assert sub["last_seq"] == last + 3
    assert [e["seq"] for e in c2.events(cid)] == [last + 1, last + 2, last + 3]
    assert [e["data"]["text"] for e in c2.events(cid)] == ["m0", "m1", "m2"]
    # and live ones follow, without duplicates
    await http.post(
        f"/api/v1/chats/{cid}/messages",
        json={"text": "live", "client_id": "a9"},
        headers=agent.headers,
    )
    await c2.wait_for(lambda f: f["type"] == "event" and f["event"]["data"].get("text") == "live")
    seqs = [e["seq"] for e in c2.events(cid)]
    assert seqs == list(range(last + 1, last + 5))
    await c2.close()


async def test_resent_message_is_acked_with_the_first_seq(
    live_server: LiveServer, http: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    chat = await _start(http, world["customer"], world["q1"])
    c = await WSClient.open(live_server.ws_url, world["customer"].token)
    await c.subscribe(chat["id"])
    frame = {"type": "message", "chat_id": chat["id"], "text": "once", "client_id": "same-1"}
    first = await c.request(frame, lambda f: f["type"] == "ack")
    second = await c.request(frame, lambda f: f["type"] == "ack")
    assert first["seq"] == second["seq"]
    r = await http.get(f"/api/v1/chats/{chat['id']}/events", headers=world["customer"].headers)
    assert [e["data"].get("text") for e in r.json()["items"]].count("once") == 1
    await c.close()


async def test_frames_sent_without_waiting_are_answered_in_the_order_they_came(
    live_server: LiveServer, http: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    """Decision 041: the writer acks a message from its own task, and a message the writer
    cannot take goes the service path in a task of its own; the connection's next frame waits
    for either, so a client sending without waiting hears back in its own order."""
    cid, c, a = await _talking(live_server, http, world)

    def msg(chat_id: str, client_id: str) -> dict[str, Any]:
        return {"type": "message", "chat_id": chat_id, "text": client_id, "client_id": client_id}

    # The agent's first message stops the first-response clock: the service path. The next
    # one, right behind it, is the writer's; it must not overtake the first.
    for frame in (msg(cid, "a1"), msg(cid, "a2"), {"type": "ping"}):
        await a.send(frame)
    await a.wait_for(lambda f: f["type"] == "pong")
    answers = [f for f in a.frames if f["type"] in ("ack", "error", "pong")]
    assert [(f["type"], f.get("client_id")) for f in answers] == [
        ("ack", "a1"),
        ("ack", "a2"),
        ("pong", None),
    ]
    assert answers[1]["seq"] == answers[0]["seq"] + 1

    # The customer: the writer's path, a refusal from the service path, a ping, the writer's.
    for frame in (msg(cid, "c1"), msg("no-such-chat", "c2"), {"type": "ping"}, msg(cid, "c3")):
        await c.send(frame)
    await c.wait_for(lambda f: f["type"] == "ack" and f["client_id"] == "c3")
    answers = [f for f in c.frames if f["type"] in ("ack", "error", "pong")]
    assert [(f["type"], f.get("client_id")) for f in answers] == [
        ("ack", "c1"),
        ("error", "c2"),
        ("pong", None),
        ("ack", "c3"),
    ]
    assert answers[1]["error"]["code"] == "not_found"
    assert answers[3]["seq"] == answers[0]["seq"] + 1
    # The agent saw the customer's two messages once each, in order, with the acks' seqs.
    await a.wait_for(lambda f: f["type"] == "event" and f["event"]["data"].get("text") == "c3")
    texts = [
        (e["seq"], e["data"].get("text")) for e in a.events(cid) if e["type"] == "message.posted"
    ]
    assert texts[-2:] == [(answers[0]["seq"], "c1"), (answers[3]["seq"], "c3")]
    await c.close()
    await a.close()


async def test_internal_notes_do_not_reach_customer_sockets(
    live_server: LiveServer, http: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    agent = world["agent"]
    cid, c, a = await _talking(live_server, http, world)
    await http.post(
        f"/api/v1/chats/{cid}/notes", json={"text": "internal only"}, headers=agent.headers
    )
    await http.post(
        f"/api/v1/chats/{cid}/messages",
        json={"text": "after note", "client_id": "n1"},
        headers=agent.headers,
    )
    await a.event(cid, "note.added")
    await c.wait_for(
        lambda f: f["type"] == "event" and f["event"]["data"].get("text") == "after note"
    )
    assert "internal only" not in json.dumps(c.frames)
    await c.close()
    await a.close()


async def test_bad_frames_get_errors_and_the_connection_stays(
    live_server: LiveServer, http: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    chat = await _start(http, world["customer"], world["q1"])
    c = await WSClient.open(live_server.ws_url, world["customer"].token)
    for raw in [
        "not json",
        json.dumps({"type": "explode"}),
        json.dumps({"no": "type"}),
        json.dumps({"type": "subscribe", "chat_id": 5}),
        json.dumps([1, 2]),
    ]:
        n = len(c.frames)
        await c.conn.send(raw)
        err = await c.wait_for(lambda f: f["type"] == "error", start=n)
        assert err["error"]["code"] == "invalid_frame"
    n = len(c.frames)
    await c.send({"type": "message", "chat_id": chat["id"], "text": "", "client_id": "e1"})
    await c.wait_for(lambda f: f["type"] == "error", start=n)
    # a chat the caller may not see: an error, and nothing about it leaks
    s = await WSClient.open(live_server.ws_url, world["stranger"].token)
    err = await s.subscribe(chat["id"])
    assert err["type"] == "error" and err["error"]["code"] == "not_found"
    err = await s.request(
        {"type": "message", "chat_id": chat["id"], "text": "hi", "client_id": "x1"},
        lambda f: f["type"] == "error",
    )
    assert err["error"]["code"] == "not_found" and err["client_id"] == "x1"
    assert not [f for f in s.frames if f["type"] == "event"]
    await c.request({"type": "ping"}, lambda f: f["type"] == "pong")
    await c.close()
    await s.close()


async def test_oversized_frame_closes_only_that_connection(
    live_server: LiveServer, http: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    c = await WSClient.open(live_server.ws_url, world["customer"].token)
    other = await WSClient.open(live_server.ws_url, world["agent"].token)
    await c.conn.send(json.dumps({"type": "ping", "pad": "x" * 70_000}))
    code, _ = await asyncio.wait_for(c.closed, 5)
    assert code == 1009
    await other.request({"type": "ping"}, lambda f: f["type"] == "pong")
    await other.close()


async def test_handshake_without_valid_credentials_is_refused(live_server: LiveServer) -> None:
    with pytest.raises(InvalidStatus):
        await connect(live_server.ws_url, open_timeout=5)
    with pytest.raises(InvalidStatus):
        await connect(
            live_server.ws_url, additional_headers={"Authorization": "Bearer nope"}, open_timeout=5
        )


async def test_cookie_handshake_needs_our_origin(
    live_server: LiveServer, world: dict[str, Any]
) -> None:
    cookie = {"Cookie": f"helpline_session={world['customer'].token}"}
    with pytest.raises(InvalidStatus):
        await connect(
            live_server.ws_url,
            additional_headers=cookie,
            origin="http://evil.example",
            open_timeout=5,
        )  # type: ignore[arg-type]
    ok = await connect(
        live_server.ws_url, additional_headers=cookie, origin=live_server.url, open_timeout=5
    )  # type: ignore[arg-type]
    await ok.send(json.dumps({"type": "ping"}))
    assert json.loads(await asyncio.wait_for(ok.recv(), 5)) == {"type": "pong"}
    await ok.close()


async def test_logout_and_deactivation_close_connections(
    live_server: LiveServer, http: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    customer = world["customer"]
    c = await WSClient.open(live_server.ws_url, customer.token)
    await c.request({"type": "ping"}, lambda f: f["type"] == "pong")
    r = await http.post("/api/v1/auth/logout", headers=customer.headers)
    assert r.status_code == 204
    code, _ = await asyncio.wait_for(c.closed, 5)
    assert code == 4401
    assert (await http.get("/api/v1/me", headers=customer.headers)).status_code == 401

    admin = await make_user(live_server.app, "admin")
    a = await WSClient.open(live_server.ws_url, world["agent"].token)
    await a.request({"type": "ping"}, lambda f: f["type"] == "pong")
    r = await http.patch(
        f"/api/v1/users/{world['agent'].id}", json={"active": False}, headers=admin.headers
    )
    assert r.status_code == 200
    code, _ = await asyncio.wait_for(a.closed, 5)
    assert code == 4401


async def test_twenty_agents_racing_over_websocket_world(
    live_server: LiveServer, http: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    agents = [await make_user(live_server.app, "agent", queues=[world["q1"]]) for _ in range(20)]
    watchers = [await WSClient.open(live_server.ws_url, a.token) for a in agents[:3]]
    chat = await _start(http, world["customer"], world["q1"])
    results = await asyncio.gather(
        *(http.post(f"/api/v1/chats/{chat['id']}/accept", headers=a.headers) for a in agents)
    )
    assert sorted(r.status_code for r in results) == [200] + [409] * 19
    winner = next(r.json()["agent"]["id"] for r in results if r.status_code == 200)
    for w in watchers:
        taken = await w.wait_for(lambda f: f["type"] == "chat.taken")
        assert taken["agent"]["id"] == winner
        await w.close()


async def test_bearer_subprotocol_authenticates_from_another_site(
    live_server: LiveServer, world: dict[str, Any]
) -> None:
    """How the embedded widget connects: no cookie, no header, a token offered as subprotocol."""
    ws = await connect(
        live_server.ws_url,
        origin="http://shop.example",  # type: ignore[arg-type]
        subprotocols=["helpline", f"bearer.{world['customer'].token}"],  # type: ignore[list-item]
        open_timeout=5,
    )
    assert ws.subprotocol == "helpline"
    await ws.send(json.dumps({"type": "ping"}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"type": "pong"}
    await ws.close()
    with pytest.raises(InvalidStatus):
        await connect(
            live_server.ws_url, subprotocols=["helpline", "bearer.forged"], open_timeout=5
        )  # type: ignore[list-item]


async def test_moving_an_accepted_chat_updates_the_old_queue_without_withdrawing(
    live_server: LiveServer, http: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    chat = await _start(http, world["customer"], world["q1"])
    await http.post(f"/api/v1/chats/{chat['id']}/accept", headers=world["agent"].headers)
    colleague = await WSClient.open(live_server.ws_url, world["agent2"].token)
    await colleague.request({"type": "ping"}, lambda f: f["type"] == "pong")
    r = await http.post(
        f"/api/v1/chats/{chat['id']}/move",
        json={"queue_id": world["q2"]},
        headers=world["agent"].headers,
    )
    assert r.status_code == 200
    upd = await colleague.wait_for(
        lambda f: f["type"] == "chat.updated" and f["chat"]["queue_id"] == world["q2"]
    )
    assert upd["chat"]["status"] == "waiting"
    assert not [f for f in colleague.frames if f["type"] == "chat.withdrawn"]
    await colleague.close()


async def test_me_lists_an_agents_queues(http: httpx.AsyncClient, world: dict[str, Any]) -> None:
    me = (await http.get("/api/v1/me", headers=world["agent"].headers)).json()
    assert me["queue_ids"] == [world["q1"]]
    assert (await http.get("/api/v1/me", headers=world["customer"].headers)).json()[
        "queue_ids"
    ] is None


async def test_connections_opened_are_counted_for_the_collectors_policy(
    live_server: LiveServer, world: dict[str, Any]
) -> None:
    """The garbage collector's policy reads the hub's count of connections opened: how fast
    they arrive decides how big its full collections may grow (decision 039)."""
    app = live_server.app
    policy = app.state.gc_policy
    assert policy.arrival_rate == app.state.ctx.settings.gc_arrivals_per_s > 0
    before = policy.arrivals()
    with pytest.raises(InvalidStatus):  # refused handshakes open nothing
        await connect(live_server.ws_url, open_timeout=5)
    clients = [
        await WSClient.open(live_server.ws_url, who.token)
        for who in (world["customer"], world["agent"], world["agent2"])
    ]
    try:
        assert policy.arrivals() == before + 3 == app.state.ctx.hub.opened
    finally:
        for c in clients:
            await c.close()
    assert policy.arrivals() == before + 3  # closing opens nothing either


async def test_handshakes_authenticate_a_few_at_a_time(
    live_server: LiveServer, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reconnection storm is let in `ws_open_concurrency` at a time (8 by default; 2 here):
    the others wait for a turn, and every one of them then opens."""
    ctx = live_server.app.state.ctx
    assert ctx.opening is not None and ctx.settings.ws_open_concurrency == 8
    ctx.opening = asyncio.Semaphore(2)
    inside, most = 0, 0
    release = asyncio.Event()
    real = gateway._open

    async def held(app_ctx: Any, token: str | None) -> Any:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        try:
            await release.wait()
            return await real(app_ctx, token)
        finally:
            inside -= 1

    monkeypatch.setattr(gateway, "_open", held)
    people = ["customer", "agent", "agent2", "billing", "stranger"]
    opening = [
        asyncio.create_task(WSClient.open(live_server.ws_url, world[p].token)) for p in people
    ]
    for _ in range(500):  # bounded: until all five handshakes have arrived
        if inside == 2 and len(ctx.opening._waiters or ()) == 3:
            break
        await asyncio.sleep(0.01)
    assert inside == 2 and len(ctx.opening._waiters or ()) == 3
    release.set()
    clients = await asyncio.wait_for(asyncio.gather(*opening), 10)
    try:
        assert most == 2
        for c in clients:
            await c.send({"type": "ping"})
            await c.wait_for(lambda f: f["type"] == "pong")
    finally:
        for c in clients:
            await c.close()


async def test_without_a_limit_handshakes_are_not_queued(settings: Any) -> None:
    from helpline.app import create_app

    app = create_app(settings.model_copy(update={"ws_open_concurrency": 0}))
    assert app.state.ctx.opening is None


async def test_a_socket_closed_by_its_peer_starts_no_writer_of_ours(
    live_server: LiveServer, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server answers a peer's close itself: the gateway then writes nothing more and
    starts no writer only to find the socket gone (everyone leaving at once costs the loop
    less). A close from our side still goes out with its code."""
    hub = live_server.app.state.ctx.hub
    writers: list[str] = []
    real = gateway.Socket._write

    async def counted(self: gateway.Socket, ws: Any) -> None:
        writers.append(self.user_id)
        await real(self, ws)

    monkeypatch.setattr(gateway.Socket, "_write", counted)
    customer, agent = world["customer"], world["agent"]
    c = await WSClient.open(live_server.ws_url, customer.token)
    await c.request({"type": "ping"}, lambda f: f["type"] == "pong")
    await c.close()
    for _ in range(500):  # bounded: the server notices the close within a few loop turns
        if not hub.is_connected(customer.id):
            break
        await asyncio.sleep(0.01)
    assert not hub.is_connected(customer.id)
    assert writers == []

    a = await WSClient.open(live_server.ws_url, agent.token)
    await a.request({"type": "ping"}, lambda f: f["type"] == "pong")
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        assert (await http.post("/api/v1/auth/logout", headers=agent.headers)).status_code == 204
    code, _ = await asyncio.wait_for(a.closed, 5)
    assert code == 4401
    assert writers == [agent.id]


async def test_a_departure_waits_for_a_moment_without_message_work(
    live_server: LiveServer, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decision 053: everyone leaving at once (a proxy restarting) is the arrivals' mirror. A
    socket its peer closed leaves the hub at once (no news is queued for it); the rest of its
    leaving, its presence stamp first, waits for its turn at a moment without message work
    (while fewer than `DEPARTURES_WAITING` wait: tests/test_turns.py)."""
    monkeypatch.setattr(turns, "MAX_WAIT_S", 60.0)  # the bound: tests/test_turns.py
    hub = live_server.app.state.ctx.hub
    stamped: list[str] = []
    real = gateway._stamp

    async def noting(ctx: Any, user_id: str) -> None:
        stamped.append(user_id)
        await real(ctx, user_id)

    monkeypatch.setattr(gateway, "_stamp", noting)
    customer = world["customer"]
    c = await WSClient.open(live_server.ws_url, customer.token)
    await c.request({"type": "ping"}, lambda f: f["type"] == "pong")
    stamped.clear()  # connecting stamps too
    working = True
    done_working = turns.busy_while(asyncio.get_running_loop(), lambda: working)
    try:
        await c.close()
        await eventually(lambda: not hub.is_connected(customer.id))
        for _ in range(50):
            await asyncio.sleep(0)
        assert stamped == []  # its turn has not come
        working = False
        await eventually(lambda: stamped == [customer.id])
    finally:
        done_working()


async def test_the_process_takes_news_only_for_who_is_connected_and_subscribed_here(
    live_server: LiveServer, http: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    """Between processes every process gets all news (the Redis bus), and decodes only what
    `Hub.wants`: a chat's news while someone here is subscribed to it, a user's while they
    are connected here, a queue's while an agent of it is connected here or a customer here
    is subscribed to a chat in it (their position moves)."""
    hub = live_server.app.state.ctx.hub
    cid, c, a = await _talking(live_server, http, world)
    other = (await _start(http, world["stranger"], world["q1"]))["id"]
    customer, agent = world["customer"], world["agent"]
    assert hub.wants(f"chat:{cid}")
    assert hub.wants(f"user:{customer.id}") and hub.wants(f"user:{agent.id}")
    assert not hub.wants(f"chat:{other}")  # nobody here is subscribed to Eve's chat
    assert not hub.wants(f"user:{world['stranger'].id}")  # Eve has no socket here
    assert hub.wants(f"queue:{world['q1']}")  # Ana's queue
    assert not hub.wants(f"queue:{world['q2']}")  # nobody of Billing, no chat in it here
    await a.close()
    await eventually(lambda: not hub.wants(f"user:{agent.id}"), timeout=5)
    assert hub.wants(f"queue:{world['q1']}")  # Carla's chat is in it
    await c.close()
    await eventually(lambda: not hub.wants(f"chat:{cid}"), timeout=5)
    assert not hub.wants(f"user:{customer.id}")
    assert not hub.wants(f"queue:{world['q1']}")
