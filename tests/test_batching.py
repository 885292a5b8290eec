"""Group commit of small writes (`helpline.kit.batching.Batcher`) and its use for presence
stamps: many connections opening at once are stamped in a few writes, each one really stamped;
a customer stamped by their sign-in a moment ago connects without a write of their own."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from helpline import turns
from helpline.accounts import presence
from helpline.accounts.models import User
from helpline.config import Settings
from helpline.kit.batching import Batcher
from helpline.kit.clock import FrozenClock
from tests.conftest import LiveServer
from tests.fixtures.factories import ctx_of, make_user
from tests.fixtures.wsclient import WSClient

pytestmark = pytest.mark.asyncio


class Recorder:
    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[set[str]] = []
        self.fail_on = fail_on
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, items: set[str]) -> None:
        self.calls.append(set(items))
        await self.gate.wait()
        if self.fail_on in items:
            raise RuntimeError(f"could not write {self.fail_on}")


async def test_callers_arriving_together_share_one_flush() -> None:
    rec = Recorder()
    batcher = Batcher(rec)
    await asyncio.gather(*(batcher.add(f"u{i}") for i in range(50)))
    assert rec.calls == [{f"u{i}" for i in range(50)}]
    assert batcher.batches == 1


async def test_what_arrives_during_a_flush_goes_into_the_next() -> None:
    rec = Recorder()
    batcher = Batcher(rec)
    rec.gate.clear()
    first = asyncio.create_task(batcher.add("a"))
    await asyncio.sleep(0)  # the flush of {"a"} has started and waits at the gate
    later = [asyncio.create_task(batcher.add(x)) for x in ("b", "c")]
    await asyncio.sleep(0)
    assert rec.calls == [{"a"}]
    assert not first.done()
    rec.gate.set()
    await asyncio.wait_for(asyncio.gather(first, *later), 5)
    assert rec.calls == [{"a"}, {"b", "c"}]
    # Idle again: the next caller starts a new flush of its own.
    await batcher.add("d")
    assert rec.calls[-1] == {"d"} and batcher.batches == 3


async def test_what_arrives_while_a_flush_waits_for_its_turn_joins_it() -> None:
    """`before` (the arrivals' turn of the loop, decision 052) runs before each flush; callers
    that come meanwhile are written by that flush, not the next."""
    rec = Recorder()
    turn = asyncio.Event()
    asked: list[int] = []

    async def before() -> None:
        asked.append(len(rec.calls))
        await turn.wait()

    batcher = Batcher(rec, before=before)
    first = asyncio.create_task(batcher.add("a"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # the flush waits for its turn
    later = [asyncio.create_task(batcher.add(x)) for x in ("b", "c")]
    await asyncio.sleep(0)
    assert rec.calls == [] and asked == [0]
    turn.set()
    await asyncio.wait_for(asyncio.gather(first, *later), 5)
    assert rec.calls == [{"a", "b", "c"}] and batcher.batches == 1


async def test_a_failed_flush_fails_its_own_callers_only() -> None:
    rec = Recorder(fail_on="bad")
    batcher = Batcher(rec)
    results = await asyncio.gather(batcher.add("bad"), batcher.add("fine"), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)  # one write: both learn it failed
    await batcher.add("next")  # the batcher goes on
    assert rec.calls[-1] == {"next"}


async def test_a_caller_that_gives_up_does_not_cancel_the_others() -> None:
    rec = Recorder()
    batcher = Batcher(rec)
    rec.gate.clear()
    quitter = asyncio.create_task(batcher.add("quits"))
    stayer = asyncio.create_task(batcher.add("stays"))
    await asyncio.sleep(0)
    quitter.cancel()
    await asyncio.sleep(0)
    rec.gate.set()
    await asyncio.wait_for(stayer, 5)
    assert rec.calls == [{"quits", "stays"}]


async def test_connections_opening_together_are_all_stamped_in_few_writes(
    live_server: LiveServer,
) -> None:
    app = live_server.app
    people = [await make_user(app, "customer", is_guest=True) for _ in range(40)]
    ctx = ctx_of(app)
    assert ctx.stamps is not None
    before = ctx.stamps.batches
    clients = await asyncio.gather(*(WSClient.open(live_server.ws_url, p.token) for p in people))
    try:
        # A connection reads its frames only after its stamp is written: a pong proves it.
        await asyncio.gather(
            *(c.request({"type": "ping"}, lambda f: f["type"] == "pong") for c in clients)
        )
        async with ctx.db.read() as session:
            seen = dict(
                (
                    await session.execute(
                        select(User.id, User.last_seen_at).where(
                            User.id.in_([p.id for p in people])
                        )
                    )
                ).all()
            )
        assert all(seen[p.id] is not None for p in people)
        # All in fewer writes than connections (they arrived while others were written).
        assert ctx.stamps.batches - before < len(people)
    finally:
        await asyncio.gather(*(c.close() for c in clients))


async def test_a_stamp_of_many_users_is_written_in_chunks_with_the_loop_going_round_between(
    app: FastAPI, frozen_clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweeper stamps everyone a process holds connections for: 19,700 users in one
    statement held the loop up to 100 ms. Every user is stamped, `STAMP_CHUNK` at a time, and
    other work runs between two writes."""
    monkeypatch.setattr(presence, "STAMP_CHUNK", 4)
    people = [await make_user(app, "customer", is_guest=True) for _ in range(10)]
    ctx = ctx_of(app)
    writes: list[int] = []
    ticks = [0]
    loop = asyncio.get_running_loop()

    def tick() -> None:
        ticks[0] += 1
        if running:
            loop.call_soon(tick)

    write_now = ctx.boundary.write_now

    async def counted(work: Any) -> Any:
        writes.append(ticks[0])
        return await write_now(work)

    monkeypatch.setattr(ctx.boundary, "write_now", counted)
    running = True
    loop.call_soon(tick)
    try:
        await presence.stamp(ctx, {p.id for p in people})
    finally:
        running = False
    between = [b - a for a, b in zip(writes, writes[1:], strict=False)]
    assert len(writes) == 3  # 4 + 4 + 2
    assert all(n >= 1 for n in between), writes  # the loop went round between two writes
    async with ctx.db.read() as session:
        seen = (
            await session.execute(
                select(User.last_seen_at).where(User.id.in_([p.id for p in people]))
            )
        ).scalars()
        assert all(at is not None and at == frozen_clock.now() for at in seen)


async def test_a_stamp_of_many_users_writes_its_next_chunk_only_without_message_work(
    app: FastAPI, frozen_clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between two chunks the stamp takes a turn (helpline.turns): a frame read meanwhile is
    answered before the next write, not after it (a liveness ping waited for two chunks)."""
    monkeypatch.setattr(presence, "STAMP_CHUNK", 4)
    monkeypatch.setattr(turns, "MAX_WAIT_S", 60.0)  # the bound: tests/test_turns.py
    people = [await make_user(app, "customer", is_guest=True) for _ in range(8)]
    ctx = ctx_of(app)
    writes: list[int] = []
    write_now = ctx.boundary.write_now

    async def counted(work: Any) -> Any:
        writes.append(len(writes))
        return await write_now(work)

    monkeypatch.setattr(ctx.boundary, "write_now", counted)
    working = True
    done_working = turns.busy_while(asyncio.get_running_loop(), lambda: working)
    try:
        stamping = asyncio.create_task(presence.stamp(ctx, {p.id for p in people}))
        for _ in range(50):
            await asyncio.sleep(0)
        assert writes == [0]  # the first chunk at once, the second waits for its turn
        working = False
        await asyncio.wait_for(stamping, 5)
        assert writes == [0, 1]
    finally:
        done_working()


async def test_a_stamp_is_recent_for_as_long_as_the_sweepers_stamps_are_apart(
    settings: Settings, frozen_clock: FrozenClock
) -> None:
    every = presence.stamp_every(settings)
    assert every == max(1.0, settings.offline_grace_s / 4)
    at = frozen_clock.now()
    assert not presence.seen_lately(None, settings)
    assert presence.seen_lately(at, settings)
    frozen_clock.advance(every - 0.001)
    assert presence.seen_lately(at, settings)
    frozen_clock.advance(0.001)
    assert not presence.seen_lately(at, settings)


async def _guest(live_server: LiveServer) -> tuple[str, str]:
    async with httpx.AsyncClient(base_url=live_server.url, trust_env=False) as http:
        r = await http.post("/api/v1/auth/guest", json={"name": "Ada", "email": "ada@example.com"})
    assert r.status_code == 200, r.text
    return r.json()["token"], r.json()["user"]["id"]


async def _last_seen(live_server: LiveServer, user_id: str) -> object:
    async with ctx_of(live_server.app).db.read() as session:
        return await session.scalar(select(User.last_seen_at).where(User.id == user_id))


async def test_a_guest_who_just_signed_in_connects_without_a_stamp_of_their_own(
    live_server: LiveServer, frozen_clock: FrozenClock
) -> None:
    ctx = ctx_of(live_server.app)
    assert ctx.stamps is not None
    every = presence.stamp_every(ctx.settings)
    token, user_id = await _guest(live_server)
    signed_in = frozen_clock.now()
    assert await _last_seen(live_server, user_id) == signed_in  # seen at the sign-in
    for later, stamped in ((every - 1, False), (every, True)):
        frozen_clock.advance(later)
        before = ctx.stamps.batches
        client = await WSClient.open(live_server.ws_url, token)
        try:
            # A connection reads its frames only after any stamp is written: a pong proves it.
            await client.request({"type": "ping"}, lambda f: f["type"] == "pong")
            # Within the sweeper's interval of the last stamp no write; after it, one.
            assert ctx.stamps.batches == before + stamped
            assert await _last_seen(live_server, user_id) == (
                frozen_clock.now() if stamped else signed_in
            )
        finally:
            await client.close()
        # Leaving is still written: the away mail counts from the last connection closing. Waited
        # for by its outcome: the batcher counts a batch when it starts writing, and on
        # PostgreSQL the write is still under way then (seen in CI).
        for _ in range(200):
            if await _last_seen(live_server, user_id) == frozen_clock.now():
                break
            await asyncio.sleep(0.01)
        assert await _last_seen(live_server, user_id) == frozen_clock.now()


async def test_an_agent_stamped_long_ago_is_stamped_on_connect(
    live_server: LiveServer, frozen_clock: FrozenClock
) -> None:
    app = live_server.app
    agent = await make_user(app, "agent")
    async with ctx_of(app).db.write() as uow:
        row = await uow.session.get(User, agent.id)
        assert row is not None
        row.last_seen_at = frozen_clock.now() - timedelta(hours=1)
    client = await WSClient.open(live_server.ws_url, agent.token)
    try:
        await client.request({"type": "ping"}, lambda f: f["type"] == "pong")
        assert await _last_seen(live_server, agent.id) == frozen_clock.now()
    finally:
        await client.close()
