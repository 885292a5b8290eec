"""Commit, then publish; the bus may lose news but clients never lose events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio

from helpline.bus.messages import BusMessage, EventPosted
from helpline.chats import repository as repo
from helpline.kit import clock
from tests.conftest import LiveServer
from tests.fixtures.factories import ctx_of, make_queue, make_user
from tests.fixtures.waits import eventually
from tests.fixtures.wsclient import WSClient

pytestmark = pytest.mark.asyncio


Publish = Callable[[str, BusMessage], Awaitable[None]]


async def agent_posts_through(
    live_server: LiveServer, setup: dict[str, Any], publish: Publish, texts: list[str]
) -> None:
    """The agent posts `texts` over HTTP while the bus publishes with `publish` instead."""
    ctx = ctx_of(setup["app"])
    original = ctx.bus.publish
    ctx.bus.publish = publish  # type: ignore[method-assign]
    try:
        async with httpx.AsyncClient(base_url=live_server.url) as http:
            for text in texts:
                r = await http.post(
                    f"/api/v1/chats/{setup['chat']['id']}/messages",
                    json={"text": text, "client_id": text[:20].replace(" ", "-")},
                    headers=setup["agent"].headers,
                )
                assert r.status_code == 201
    finally:
        ctx.bus.publish = original  # type: ignore[method-assign]


async def post_unannounced(live_server: LiveServer, setup: dict[str, Any], text: str) -> None:
    """The agent posts while no bus carries news (a dead link, or another process's)."""

    async def dead_publish(topic: str, message: BusMessage) -> None:
        return None

    await agent_posts_through(live_server, setup, dead_publish, [text])


@pytest_asyncio.fixture
async def setup(live_server: LiveServer) -> dict[str, Any]:
    app = live_server.app
    q = await make_queue(app, "Support")
    customer = await make_user(app, "customer", name="Carla")
    agent = await make_user(app, "agent", name="Ana", queues=[q])
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        r = await http.post(
            "/api/v1/chats", json={"queue_id": q, "message": "hi"}, headers=customer.headers
        )
        chat = r.json()
        await http.post(f"/api/v1/chats/{chat['id']}/accept", headers=agent.headers)
    return {"app": app, "queue": q, "customer": customer, "agent": agent, "chat": chat}


async def test_events_are_published_only_after_they_are_committed(
    live_server: LiveServer, setup: dict[str, Any]
) -> None:
    ctx = ctx_of(setup["app"])
    bus = ctx.bus
    original = bus.publish
    seen: list[tuple[int, bool]] = []

    async def checking_publish(topic: str, message: BusMessage) -> None:
        if isinstance(message, EventPosted):
            ev = message.event
            async with ctx.db.read() as session:
                rows = await repo.events_after(session, ev["chat_id"], ev["seq"] - 1, 1)
            seen.append((ev["seq"], bool(rows) and rows[0].seq == ev["seq"]))
        await original(topic, message)

    bus.publish = checking_publish  # type: ignore[method-assign]
    try:
        async with httpx.AsyncClient(base_url=live_server.url) as http:
            cid = setup["chat"]["id"]
            r = await http.post(
                f"/api/v1/chats/{cid}/messages",
                json={"text": "a", "client_id": "p1"},
                headers=setup["agent"].headers,
            )
            assert r.status_code == 201
            # a failing request publishes nothing
            r = await http.post(f"/api/v1/chats/{cid}/accept", headers=setup["agent"].headers)
            assert r.status_code == 409
            r = await http.post(f"/api/v1/chats/{cid}/solve", headers=setup["agent"].headers)
            assert r.status_code == 200
    finally:
        bus.publish = original  # type: ignore[method-assign]
    assert [s for s, _ in seen] == [5, 6]
    assert all(committed for _, committed in seen)


async def test_a_lost_bus_message_is_repaired_from_the_database(
    live_server: LiveServer, setup: dict[str, Any]
) -> None:
    ctx = ctx_of(setup["app"])
    cid = setup["chat"]["id"]
    c = await WSClient.open(live_server.ws_url, setup["customer"].token)
    sub = await c.subscribe(cid)
    original = ctx.bus.publish
    dropped: list[int] = []

    async def lossy_publish(topic: str, message: BusMessage) -> None:
        if isinstance(message, EventPosted) and not dropped:
            dropped.append(message.event["seq"])
            return  # pub/sub lost it
        await original(topic, message)

    repairs = ctx.hub.repairs
    await agent_posts_through(live_server, setup, lossy_publish, [f"m{i}" for i in range(3)])
    last = sub["last_seq"] + 3
    await c.wait_for(lambda f: f["type"] == "event" and f["event"]["seq"] == last)
    seqs = [e["seq"] for e in c.events(cid)]
    assert dropped == [sub["last_seq"] + 1]
    assert seqs == list(range(1, last + 1))
    assert ctx.hub.repairs == repairs + 1  # read from the database once the grace ran out
    await c.close()


async def test_resync_after_a_bus_outage_delivers_without_new_traffic(
    live_server: LiveServer, setup: dict[str, Any]
) -> None:
    ctx = ctx_of(setup["app"])
    cid = setup["chat"]["id"]
    c = await WSClient.open(live_server.ws_url, setup["customer"].token)
    sub = await c.subscribe(cid)
    await post_unannounced(live_server, setup, "during outage")
    ctx.hub.on_resync()  # what the bus does when its connection comes back
    got = await c.wait_for(
        lambda f: f["type"] == "event" and f["event"]["seq"] == sub["last_seq"] + 1
    )
    assert got["event"]["data"]["text"] == "during outage"
    await c.close()


async def test_a_slow_consumer_is_disconnected_without_slowing_others(
    live_server: LiveServer, setup: dict[str, Any]
) -> None:
    from helpline.chats.hub import Connection

    ctx = ctx_of(setup["app"])
    slow = Connection(
        user_id="x", role="customer", name="Slow", session_id="s", queue_ids=set(), max_queue=16
    )
    ctx.hub.register(slow)
    for i in range(20):
        slow.send({"type": "pong", "n": i})
    assert slow.close_code == 1013
    ctx.hub.unregister(slow)
    fast = await WSClient.open(live_server.ws_url, setup["customer"].token)
    await fast.request({"type": "ping"}, lambda f: f["type"] == "pong")
    await fast.close()


async def test_the_periodic_check_repairs_news_no_bus_carried(
    live_server: LiveServer, setup: dict[str, Any]
) -> None:
    """Another process wrote an event but its publish never reached any bus: only the periodic
    comparison with the database can find it (no resync happens here)."""
    ctx = ctx_of(setup["app"])
    cid = setup["chat"]["id"]
    c = await WSClient.open(live_server.ws_url, setup["customer"].token)
    sub = await c.subscribe(cid)
    frozen = clock.FrozenClock()
    clock.set_clock(frozen)
    await post_unannounced(live_server, setup, "unannounced")
    # Just written: its news may still be on the way, so the check leaves it for now...
    assert await ctx.hub.check_gaps() == 0
    frozen.advance(1)
    # ...and repairs it once it has settled.
    assert await ctx.hub.check_gaps() == 1
    got = await c.wait_for(
        lambda f: f["type"] == "event" and f["event"]["seq"] == sub["last_seq"] + 1
    )
    assert got["event"]["data"]["text"] == "unannounced"
    assert await ctx.hub.check_gaps() == 0
    await c.close()


async def test_news_that_crossed_on_the_bus_is_put_back_in_order_without_the_database(
    live_server: LiveServer, setup: dict[str, Any]
) -> None:
    """Two processes publish independently, so the news of seq N+1 may arrive before N's:
    the later one waits briefly for the earlier instead of reading the database."""
    ctx = ctx_of(setup["app"])
    cid = setup["chat"]["id"]
    c = await WSClient.open(live_server.ws_url, setup["customer"].token)
    sub = await c.subscribe(cid)
    original = ctx.bus.publish
    held: list[tuple[str, BusMessage]] = []

    async def crossing_publish(topic: str, message: BusMessage) -> None:
        if isinstance(message, EventPosted) and not held:
            held.append((topic, message))  # the first one is late...
            return
        await original(topic, message)
        if held and isinstance(message, EventPosted):
            await original(*held[0])  # ...and arrives right after its successor

    repairs = ctx.hub.repairs
    await agent_posts_through(live_server, setup, crossing_publish, ["x0", "x1"])
    last = sub["last_seq"] + 2
    await c.wait_for(lambda f: f["type"] == "event" and f["event"]["seq"] == last)
    assert [e["seq"] for e in c.events(cid)] == list(range(1, last + 1))
    assert ctx.hub.repairs == repairs  # no database read was needed
    await c.close()


async def test_a_finished_loop_that_flushed_frames_is_freed() -> None:
    """The sockets' flush is kept per loop, under the loop weakly, and keeps no reference to
    it: a loop that flushed (another thread's, here) is freed."""
    import asyncio
    import gc
    import threading
    import weakref

    from helpline.chats import gateway

    seen: list[weakref.ref[asyncio.AbstractEventLoop]] = []
    flushed: list[bool] = []

    class Pending:
        def flush(self) -> None:
            flushed.append(True)

    async def flush_once() -> None:
        loop = asyncio.get_running_loop()
        seen.append(weakref.ref(loop))
        gateway._flush_of(loop).add(Pending(), loop)  # type: ignore[arg-type]
        await asyncio.sleep(0)

    thread = threading.Thread(target=lambda: asyncio.run(flush_once()))
    thread.start()
    thread.join(timeout=10)
    gc.collect()
    assert flushed == [True]
    assert seen and seen[0]() is None


async def test_the_periodic_check_walks_only_connections_with_a_subscription(
    live_server: LiveServer, setup: dict[str, Any]
) -> None:
    """Most of the connections a process holds are idle, with no subscription: the check that
    runs every few seconds walks only those that have one."""
    ctx = ctx_of(setup["app"])
    cid = setup["chat"]["id"]
    idle = await WSClient.open(live_server.ws_url, setup["customer"].token)
    await idle.request({"type": "ping"}, lambda f: f["type"] == "pong")
    c = await WSClient.open(live_server.ws_url, setup["customer"].token)
    assert (await c.subscribe(cid))["type"] == "subscribed"
    assert len(ctx.hub.connections) == 2
    assert len(ctx.hub.subscribed) == 1
    await c.send({"type": "unsubscribe", "chat_id": cid})
    await c.request({"type": "ping"}, lambda f: f["type"] == "pong")
    assert not ctx.hub.subscribed
    await c.subscribe(cid)
    (conn,) = ctx.hub.subscribed
    await c.close()
    await eventually(lambda: conn not in ctx.hub.connections)
    assert not ctx.hub.subscribed
    await idle.close()


def _delivery_samples() -> tuple[float, float]:
    """Events delivered, and deliveries timed (`helpline_event_delivery_seconds`'s count)."""
    from prometheus_client import REGISTRY

    delivered = REGISTRY.get_sample_value("helpline_events_delivered_total") or 0.0
    timed = REGISTRY.get_sample_value("helpline_event_delivery_seconds_count") or 0.0
    return delivered, timed


async def test_a_subscriptions_replay_is_counted_as_delivered_but_not_timed(
    live_server: LiveServer, setup: dict[str, Any]
) -> None:
    cid = setup["chat"]["id"]
    delivered, timed = _delivery_samples()
    c = await WSClient.open(live_server.ws_url, setup["customer"].token)
    sub = await c.subscribe(cid)  # from seq 0: the chat's whole history, committed before
    replayed = len(c.events(cid))
    assert replayed == sub["last_seq"] >= 3
    assert _delivery_samples() == (delivered + replayed, timed)

    await agent_posts_through(live_server, setup, ctx_of(setup["app"]).bus.publish, ["live"])
    await c.wait_for(lambda f: f["type"] == "event" and f["event"]["seq"] == replayed + 1)
    assert _delivery_samples() == (delivered + replayed + 1, timed + 1)
    await c.close()
