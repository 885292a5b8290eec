"""The batched message path gives the same answers as the service path."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import PrimaryKeyConstraint, UniqueConstraint, select, update

from helpline import turns
from helpline.chats import writer as writer_sql
from helpline.chats.lifecycle import TABLE, Action
from helpline.chats.models import Chat, ChatEvent
from helpline.chats.writer import Author, MessageWriter, _batch_times, _sqlite_time
from helpline.kit.clock import FrozenClock, iso
from helpline.kit.enums import ChatStatus
from tests.conftest import BACKEND, LiveServer
from tests.fixtures.factories import PASSWORD, accepted_chat, ctx_of, make_queue, make_user
from tests.fixtures.waits import eventually
from tests.fixtures.wsclient import WSClient

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def chats(live_server: LiveServer) -> list[dict[str, Any]]:
    app = live_server.app
    q = await make_queue(app, "Support")
    out = []
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        for i in range(5):
            customer = await make_user(app, "customer", name=f"C{i}")
            agent = await make_user(app, "agent", name=f"A{i}", queues=[q])
            r = await http.post(
                "/api/v1/chats", json={"queue_id": q, "message": "hi"}, headers=customer.headers
            )
            chat = r.json()
            await http.post(f"/api/v1/chats/{chat['id']}/accept", headers=agent.headers)
            out.append({"chat": chat, "customer": customer, "agent": agent, "queue": q})
    return out


async def test_concurrent_messages_are_batched_in_order_without_gaps(
    live_server: LiveServer, chats: list[dict[str, Any]]
) -> None:
    writer = live_server.app.state.ctx.writer
    before = (writer.batches, writer.written)
    clients = []
    for c in chats:
        for who in ("customer", "agent"):
            ws = await WSClient.open(live_server.ws_url, c[who].token)
            await ws.subscribe(c["chat"]["id"])
            clients.append((ws, c))
    sends = []
    for n in range(10):
        for ws, c in clients:
            sends.append(
                ws.send(
                    {
                        "type": "message",
                        "chat_id": c["chat"]["id"],
                        "text": f"m{n}",
                        "client_id": f"{id(ws)}-{n}",
                    }
                )
            )
    await asyncio.gather(*sends)
    for ws, _ in clients:
        await ws.wait_for(lambda f: f["type"] == "ack" and f["client_id"].endswith("-9"))
        assert not [f for f in ws.frames if f["type"] == "error"]
    written = writer.written - before[1]
    assert written == 100
    assert writer.batches - before[0] < written  # group commit happened
    for ws, c in clients:
        cid = c["chat"]["id"]
        last = c["chat"]["last_seq"] + 2 + 20  # accepted + greeting + 20 messages
        await ws.wait_for(
            lambda f, cid=cid, last=last: f["type"] == "event" and f["event"]["seq"] == last
        )
        seqs = [e["seq"] for e in ws.events(cid)]
        assert seqs == list(range(1, last + 1))
        acks = [f["seq"] for f in ws.frames if f["type"] == "ack"]
        assert len(set(acks)) == 10
    for ws, _ in clients:
        await ws.close()


async def test_the_fast_path_writes_from_exactly_the_statuses_the_transition_table_allows(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """The writer's statements say in SQL who may write when; they must say what the table
    says, on each backend (the statements differ)."""
    ctx = ctx_of(app)
    assert ctx.writer.enabled
    q = await make_queue(app, "Support")
    customer = await make_user(app, "customer", name="Carla")
    agent = await make_user(app, "agent", name="Ana", queues=[q])
    cid = (await accepted_chat(client, customer, agent, q))["id"]
    authors = {
        Action.customer_message: Author(customer.id, "customer", customer.name),
        Action.agent_message: Author(agent.id, "agent", agent.name),
    }
    # The agent's first message stops the service-level clock on the service path.
    first = await ctx.writer.post(authors[Action.agent_message], cid, "hello", "first")
    assert first is None
    wrote: dict[tuple[Action, ChatStatus], bool] = {}
    for status in ChatStatus:
        async with ctx.db.write() as uow:
            answered = {"sla_first_response_at": datetime.now(UTC)}
            await uow.session.execute(
                update(Chat).where(Chat.id == cid).values(status=status, **answered)
            )
        for action, author in authors.items():
            result = await ctx.writer.post(author, cid, "hello", f"{action}-{status}")
            wrote[(action, status)] = result is not None and result.created
    assert wrote == {(a, s): s in TABLE[a].sources for a in authors for s in ChatStatus}


async def test_the_service_path_answers_what_the_fast_path_cannot(
    live_server: LiveServer, chats: list[dict[str, Any]]
) -> None:
    c = chats[0]
    cid = c["chat"]["id"]
    helper = await make_user(live_server.app, "agent", name="Helper", queues=[c["queue"]])
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        assert (
            await http.post(f"/api/v1/chats/{cid}/join", headers=helper.headers)
        ).status_code == 200
    h = await WSClient.open(live_server.ws_url, helper.token)
    ack = await h.request(
        {"type": "message", "chat_id": cid, "text": "helping", "client_id": "h1"},
        lambda f: f["type"] in ("ack", "error"),
    )
    assert ack["type"] == "ack"
    # someone else's client_id
    customer = await WSClient.open(live_server.ws_url, c["customer"].token)
    err = await customer.request(
        {"type": "message", "chat_id": cid, "text": "x", "client_id": "h1"},
        lambda f: f["type"] in ("ack", "error"),
    )
    assert err["type"] == "error" and err["error"]["code"] == "client_id_taken"
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        await http.post(f"/api/v1/chats/{cid}/solve", headers=c["agent"].headers)
    err = await customer.request(
        {"type": "message", "chat_id": cid, "text": "late", "client_id": "c9"},
        lambda f: f["type"] in ("ack", "error"),
    )
    assert err["type"] == "error" and err["error"]["code"] == "invalid_transition"
    other = chats[1]["customer"]
    o = await WSClient.open(live_server.ws_url, other.token)
    err = await o.request(
        {"type": "message", "chat_id": cid, "text": "peek", "client_id": "o1"},
        lambda f: f["type"] in ("ack", "error"),
    )
    assert err["error"]["code"] == "not_found"
    for ws in (h, customer, o):
        await ws.close()


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's file lock")
async def test_a_message_waits_while_another_process_holds_the_sqlite_write_lock(
    live_server: LiveServer, chats: list[dict[str, Any]]
) -> None:
    """The writer never blocks the event loop on SQLite's lock: it awaits and retries."""
    import sqlite3

    db = live_server.app.state.ctx.db
    assert db.sqlite_path is not None
    c = chats[0]
    cid = c["chat"]["id"]
    customer = await WSClient.open(live_server.ws_url, c["customer"].token)
    await customer.subscribe(cid)
    agent = await WSClient.open(live_server.ws_url, c["agent"].token)
    await agent.request({"type": "ping"}, lambda f: f["type"] == "pong")  # fully connected
    other = sqlite3.connect(db.sqlite_path, isolation_level=None)  # as another process would
    other.execute("BEGIN IMMEDIATE")
    try:
        await customer.send(
            {"type": "message", "chat_id": cid, "text": "held", "client_id": "held-1"}
        )
        # The loop stays free meanwhile (this test shares it with the server): another
        # connection's ping is answered while the message cannot be written.
        pong = await agent.request({"type": "ping"}, lambda f: f["type"] == "pong", timeout=2)
        assert pong == {"type": "pong"}
        await asyncio.sleep(0.1)
        assert not [f for f in customer.frames if f["type"] == "ack"]
    finally:
        other.execute("COMMIT")
        other.close()
    ack = await customer.wait_for(lambda f: f["type"] == "ack" and f["client_id"] == "held-1")
    event = await customer.wait_for(
        lambda f: f["type"] == "event" and f["event"]["seq"] == ack["seq"]
    )
    assert event["event"]["data"]["text"] == "held"
    await customer.close()
    await agent.close()


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's in-process writer lock")
async def test_a_message_batch_goes_before_write_units_queued_earlier(
    live_server: LiveServer, chats: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a shift start many sign-ins queue for SQLite's writer: a message waits for the unit
    writing now, not for every unit queued behind it (the batch is urgent on the lock)."""
    ctx = live_server.app.state.ctx
    db = ctx.db
    assert db.sqlite_path is not None and ctx.writer._sqlite is not None
    c = chats[0]
    cid = c["chat"]["id"]
    customer = await WSClient.open(live_server.ws_url, c["customer"].token)
    await customer.subscribe(cid)
    order: list[str] = []

    async def unit(i: int) -> None:
        async with ctx.boundary.write() as uow:
            order.append(f"unit{i}")
            await uow.session.execute(
                update(Chat).where(Chat.id == cid).values(subject=Chat.subject)
            )

    sqlite = ctx.writer._sqlite
    write = sqlite.write

    def recorded(items: Any, at: Any) -> Any:
        order.append("batch")
        return write(items, at)

    monkeypatch.setattr(sqlite, "write", recorded)

    holder = db.write_lock()
    await holder.__aenter__()
    try:
        units = [asyncio.create_task(unit(i)) for i in range(3)]
        for _ in range(100):  # bounded: all three queued
            if db._write_lock.waiting == 3:
                break
            await asyncio.sleep(0.01)
        assert db._write_lock.waiting == 3
        await customer.send(
            {"type": "message", "chat_id": cid, "text": "urgent", "client_id": "urgent-1"}
        )
        for _ in range(100):  # bounded: the batch waits too
            if db._write_lock.waiting == 4:
                break
            await asyncio.sleep(0.01)
        assert db._write_lock.waiting == 4
    finally:
        await holder.__aexit__(None, None, None)
    ack = await customer.wait_for(lambda f: f["type"] == "ack" and f["client_id"] == "urgent-1")
    await asyncio.wait_for(asyncio.gather(*units), 5)
    assert order == ["batch", "unit0", "unit1", "unit2"]
    event = await customer.wait_for(
        lambda f: f["type"] == "event" and f["event"]["seq"] == ack["seq"]
    )
    assert event["event"]["data"]["text"] == "urgent"
    await customer.close()


async def test_the_write_ahead_log_is_checkpointed_in_the_background(tmp_path: Any) -> None:
    import sqlite3

    from helpline.db import WalCheckpointer

    path = str(tmp_path / "wal.sqlite")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE t (x TEXT)")
    checkpointer = WalCheckpointer(path, interval_s=0.01)
    checkpointer.start()
    try:
        for _ in range(50):
            conn.execute("INSERT INTO t VALUES (?)", ("x" * 2000,))
        for _ in range(500):  # bounded: 5 s
            if _rows_in_main_file(path, tmp_path) == 50:
                break
            await asyncio.sleep(0.01)
        # The rows reached the database file itself, not only the log. Read once the
        # checkpointer has stopped (a copy taken halfway through its write is torn) and before
        # the writer's connection closes (closing the last one checkpoints by itself).
        await asyncio.to_thread(checkpointer.stop)
        assert _rows_in_main_file(path, tmp_path) == 50
        assert checkpointer.checkpoints > 0
    finally:
        await asyncio.to_thread(checkpointer.stop)
        conn.close()


def _rows_in_main_file(path: str, tmp_path: Any) -> int:
    """Rows of `t` in a copy of the database file without its write-ahead log."""
    import shutil
    import sqlite3

    copy = tmp_path / "main-only.sqlite"
    shutil.copyfile(path, copy)
    conn = sqlite3.connect(copy)
    try:
        return int(conn.execute("SELECT count(*) FROM t").fetchone()[0])
    except sqlite3.OperationalError:  # the table itself is still only in the log
        return -1
    except sqlite3.DatabaseError:  # copied while a checkpoint was writing the file: torn
        return -1
    finally:
        conn.close()
        copy.unlink()


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 12, 3, 14, 0, 0, 123456, tzinfo=UTC),
        datetime(2026, 12, 3, 14, 0, 0, tzinfo=UTC),  # no microseconds: still six digits
        datetime(2026, 12, 3, 15, 30, tzinfo=timezone(timedelta(hours=1, minutes=30))),
        datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),  # strftime does not pad such years
    ],
)
async def test_a_batch_time_is_formatted_once_exactly_as_the_slow_forms(at: datetime) -> None:
    assert _batch_times(at) == (_sqlite_time(at), iso(at))


async def test_messages_arriving_while_a_batch_waits_share_its_commit(
    live_server: LiveServer, chats: list[dict[str, Any]]
) -> None:
    """HELPLINE_MESSAGE_BATCH_WAIT_MS: a batch waits for others to join it, one commit for
    all; each message still gets its own seq and is written before its sender hears back."""
    writer = live_server.app.state.ctx.writer
    before = (writer.batches, writer.written)
    writer.batch_wait_s = 0.5
    try:
        posts = []
        for i, c in enumerate(chats):
            author = Author(c["customer"].id, "customer", c["customer"].name)
            posts.append(asyncio.ensure_future(writer.post(author, c["chat"]["id"], "w", f"w-{i}")))
            for _ in range(3):  # each in loop iterations of its own: without the wait, alone
                await asyncio.sleep(0)
        results = await asyncio.gather(*posts)
    finally:
        writer.batch_wait_s = 0.0
    assert [r is not None and r.created for r in results] == [True] * len(chats)
    assert writer.written - before[1] == len(chats)
    assert writer.batches - before[0] <= writer.parallel  # one per batch task (SQLite: one)
    for c, r in zip(chats, results, strict=True):
        assert r is not None and r.envelope["seq"] == c["chat"]["last_seq"] + 3
        assert r.envelope["data"] == {"text": "w", "client_id": r.envelope["data"]["client_id"]}


async def test_each_message_is_answered_in_order_from_the_writers_own_task(
    live_server: LiveServer, chats: list[dict[str, Any]]
) -> None:
    """Decision 041: `submit`'s callbacks run in the writer's task once the batch committed,
    in the order the messages came (one batch here); one that raises costs the others nothing."""
    writer = live_server.app.state.ctx.writer
    answered: list[tuple[str, bool, asyncio.Task[Any] | None]] = []
    all_in = asyncio.get_running_loop().create_future()

    def on_written(client_id: str, *, fail: bool = False) -> Callable[[Any], None]:
        def done(result: Any) -> None:
            answered.append((client_id, result is not None, asyncio.current_task()))
            if len(answered) == 2 * len(chats):
                all_in.set_result(None)
            if fail:
                raise RuntimeError("a sender's callback failed")

        return done

    # One batch: with a wait, PostgreSQL's parallel batch tasks would take one message each.
    wait, writer.batch_wait_s = writer.batch_wait_s, 0.0
    try:
        for i, c in enumerate(chats):
            author = Author(c["customer"].id, "customer", c["customer"].name)
            for n in (1, 2):  # the first of each chat's two raises
                client_id = f"t-{i}-{n}"
                assert writer.submit(
                    author, c["chat"]["id"], "x", client_id, on_written(client_id, fail=n == 1)
                )
        await asyncio.wait_for(all_in, 5)
    finally:
        writer.batch_wait_s = wait
    assert [a[0] for a in answered] == [f"t-{i}-{n}" for i in range(len(chats)) for n in (1, 2)]
    assert all(written for _, written, _ in answered)
    assert {task for _, _, task in answered} <= set(writer._tasks)
    # Written, in order: each chat's second message got the seq after its first.
    async with ctx_of(live_server.app).boundary.read() as uow:
        for i, c in enumerate(chats):
            rows = (
                await uow.session.execute(
                    select(ChatEvent.client_id)
                    .where(ChatEvent.chat_id == c["chat"]["id"], ChatEvent.client_id.like("t-%"))
                    .order_by(ChatEvent.seq)
                )
            ).scalars()
            assert list(rows) == [f"t-{i}-1", f"t-{i}-2"]


async def test_each_batch_says_how_long_its_first_message_waited_for_the_commit(
    live_server: LiveServer, chats: list[dict[str, Any]], frozen_clock: FrozenClock
) -> None:
    """`helpline_message_commit_wait_seconds`: a message's way before its commit, observed
    once a batch (its first message waited longest)."""

    def observed(le: str) -> float:
        name = "helpline_message_commit_wait_seconds_" + ("count" if le == "count" else "bucket")
        return REGISTRY.get_sample_value(name, {} if le == "count" else {"le": le}) or 0.0

    before = {le: observed(le) for le in ("count", "0.25", "0.5")}
    writer = live_server.app.state.ctx.writer
    c = chats[0]
    author = Author(c["customer"].id, "customer", c["customer"].name)
    post = asyncio.ensure_future(writer.post(author, c["chat"]["id"], "waited", "wait-1"))
    await asyncio.sleep(0)  # queued (the writer has not run yet) ...
    frozen_clock.advance(0.3)  # ... and 0.3 s pass before its batch commits
    written = await asyncio.wait_for(post, 5)
    assert written is not None and written.created
    assert observed("count") == before["count"] + 1
    assert observed("0.25") == before["0.25"]  # it waited over 0.25 s
    assert observed("0.5") == before["0.5"] + 1  # and under 0.5 s


async def test_a_writer_stopped_while_its_batch_waits_leaves_no_sender_waiting(
    live_server: LiveServer, chats: list[dict[str, Any]]
) -> None:
    writer = MessageWriter(live_server.app.state.ctx.db, batch_wait_s=10)
    writer.start()
    c = chats[0]
    author = Author(c["customer"].id, "customer", c["customer"].name)
    post = asyncio.ensure_future(writer.post(author, c["chat"]["id"], "late", "stop-1"))
    for _ in range(100):  # until a batch task has taken it and waits
        await asyncio.sleep(0)
        if writer._queue.empty():
            break
    assert writer._queue.empty()
    await writer.stop()
    assert await asyncio.wait_for(post, 5) is None  # its sender takes the service path instead


async def _carla_and_ana(app: FastAPI, client: httpx.AsyncClient) -> tuple[str, Author, Author]:
    """A chat Ana accepted from Carla, and each as the writer's author."""
    q = await make_queue(app, "Support")
    customer = await make_user(app, "customer", name="Carla")
    agent = await make_user(app, "agent", name="Ana", queues=[q])
    cid = (await accepted_chat(client, customer, agent, q))["id"]
    return (
        cid,
        Author(customer.id, "customer", customer.name),
        Author(agent.id, "agent", agent.name),
    )


async def test_the_fast_path_moves_the_chat_as_the_service_path_does_and_replays_resends(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """SQLite writes the event first and then moves the chat: the chat's last_seq, its times
    and the customer's warning end as before, and a client_id the chat has is never written
    twice: the first event comes back, even once the chat is closed."""
    ctx = ctx_of(app)
    cid, carla, ana = await _carla_and_ana(app, client)
    assert await ctx.writer.post(ana, cid, "first answer", "a0") is None  # the service path's
    async with ctx.db.write() as uow:
        answered = datetime.now(UTC)
        await uow.session.execute(
            update(Chat)
            .where(Chat.id == cid)
            .values(sla_first_response_at=answered, warned_at=answered)
        )
    sent = await ctx.writer.post(carla, cid, "hello", "c1")
    assert sent is not None and sent.created
    async with ctx.db.read() as session:
        chat = await session.get(Chat, cid)
        assert chat is not None
        assert chat.last_seq == sent.envelope["seq"]
        assert chat.warned_at is None
        assert iso(chat.last_customer_at) == iso(chat.updated_at) == sent.envelope["at"]
    reply = await ctx.writer.post(ana, cid, "hi Carla", "a1")
    assert reply is not None and reply.created and reply.envelope["seq"] == sent.envelope["seq"] + 1
    async with ctx.db.read() as session:
        chat = await session.get(Chat, cid)
        assert chat is not None
        assert chat.last_seq == reply.envelope["seq"]
        assert iso(chat.updated_at) == reply.envelope["at"]
        assert iso(chat.last_customer_at) == sent.envelope["at"]  # an agent's leaves it
    again = await ctx.writer.post(carla, cid, "hello (resent)", "c1")
    assert again is not None and not again.created and again.envelope == sent.envelope
    assert await ctx.writer.post(ana, cid, "not mine", "c1") is None  # someone else's client_id
    async with ctx.db.write() as uow:
        await uow.session.execute(
            update(Chat).where(Chat.id == cid).values(status=ChatStatus.solved)
        )
    late = await ctx.writer.post(carla, cid, "hello", "c1")
    assert late is not None and not late.created and late.envelope == sent.envelope
    assert await ctx.writer.post(carla, cid, "new", "c2") is None  # closed: the service path
    async with ctx.db.read() as session:
        chat = await session.get(Chat, cid)
        assert chat is not None and chat.last_seq == reply.envelope["seq"]


async def test_a_message_updates_no_indexed_column_of_its_chat() -> None:
    """Every message updates its chat's row; an indexed column among what it sets would make
    each message an index change too (on PostgreSQL a row version every index of `chats`
    points at anew, no heap-only update). Decision 037."""
    table = Chat.__table__
    keys = [u for u in table.constraints if isinstance(u, PrimaryKeyConstraint | UniqueConstraint)]
    indexed = {c.name for ix in [*table.indexes, *keys] for c in ix.columns}
    assert {"id", "number", "reference", "status"} <= indexed
    for sql in (writer_sql._SQL_CUSTOMER, writer_sql._SQL_AGENT, writer_sql._PG_SQL):
        assignments = re.search(r"UPDATE chats SET (.*?) WHERE", sql, re.S)
        assert assignments is not None
        columns = set(re.findall(r"(\w+) = ", assignments.group(1))) - {"THEN", "ELSE"}
        assert columns >= {"last_seq", "updated_at"}
        assert not columns & indexed, f"indexed columns set per message: {columns & indexed}"


async def test_the_fast_path_stores_any_text_as_the_service_path_reads_it(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """The event's data is encoded by orjson, not the standard library (docs/performance.md):
    text beyond ASCII is stored as UTF-8, not escaped, and comes back from the database as it
    was sent, with the replay of its client_id."""
    text = 'héllo 👋 «ok» \u2028 "q" \\ end'
    ctx = ctx_of(app)
    cid, carla, _ = await _carla_and_ana(app, client)
    sent = await ctx.writer.post(carla, cid, text, "c1")
    assert sent is not None and sent.created
    assert sent.envelope["data"] == {"text": text, "client_id": "c1"}
    async with ctx.db.read() as session:
        event = await session.scalar(
            select(ChatEvent).where(ChatEvent.chat_id == cid, ChatEvent.seq == sent.envelope["seq"])
        )
        assert event is not None and event.data == {"text": text, "client_id": "c1"}
    again = await ctx.writer.post(carla, cid, text, "c1")
    assert again is not None and not again.created and again.envelope == sent.envelope


async def test_event_data_orjson_refuses_is_written_by_the_standard_library() -> None:
    """A lone surrogate cannot arrive in a frame or a request body (their JSON parsers refuse
    it), but the writer's encoder must not fail on one either."""
    data = {"text": "broken \ud800 half", "client_id": "c1"}
    assert json.loads(writer_sql._json_text(data)) == data
    assert writer_sql._json_text({"text": "é"}) == '{"text":"é"}'  # UTF-8, compact


async def _gated_writer(app: FastAPI) -> tuple[MessageWriter, list[int], list[int], asyncio.Event]:
    """A writer with four batch tasks whose batches are recorded and held until `gate` opens:
    the batch tasks' rule without a database's timing (PostgreSQL's four on either backend)."""
    writer = MessageWriter(ctx_of(app).db, backlog=8)
    writer.parallel = 4
    sizes: list[int] = []
    flying: list[int] = [0, 0]  # now, most at once
    gate = asyncio.Event()

    async def write(batch: list[Any], held: Any) -> Any:
        sizes.append(len(batch))
        flying[0] += 1
        flying[1] = max(flying)
        await gate.wait()
        flying[0] -= 1
        return held

    writer._write = write  # type: ignore[method-assign]
    writer.start()
    return writer, sizes, flying, gate


def _submit(writer: MessageWriter, n: int) -> None:
    author = Author("u", "customer", "U")
    for i in range(n):
        assert writer.submit(author, f"chat-{i}", "hi", f"c-{i}", lambda _: None)


async def test_one_batch_in_flight_until_a_backlog_waits(app: FastAPI) -> None:
    """Messages that come while a batch is written join the next one: the extra batch tasks
    stay idle below the backlog (fewer, larger batches cost less CPU on both sides)."""
    writer, sizes, flying, gate = await _gated_writer(app)
    try:
        _submit(writer, 1)
        await eventually(lambda: sizes == [1])
        _submit(writer, 7)  # below the backlog of 8
        for _ in range(20):
            await asyncio.sleep(0)
        assert sizes == [1] and flying[1] == 1
        gate.set()
        await eventually(lambda: sizes == [1, 7])
        assert flying[1] == 1
    finally:
        gate.set()
        await writer.stop()


async def test_a_backlog_brings_the_extra_batch_tasks_in(app: FastAPI) -> None:
    writer, sizes, flying, gate = await _gated_writer(app)
    try:
        _submit(writer, 1)
        await eventually(lambda: sizes == [1])
        _submit(writer, 20)  # the backlog: another task takes all of it at once
        await eventually(lambda: sizes == [1, 20])
        assert flying[1] == 2
        _submit(writer, 3)  # the backlog is gone: these wait for a task to be free
        for _ in range(20):
            await asyncio.sleep(0)
        assert sizes == [1, 20]
        gate.set()
        await eventually(lambda: sizes[2:] == [3])
    finally:
        gate.set()
        await writer.stop()


@pytest.mark.parametrize("arrival", ["guest", "login", "status"])
async def test_an_arrival_starts_once_the_message_batch_under_way_is_answered(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, arrival: str
) -> None:
    """Decision 052: a sign-in, a guest or an availability change gets its turn of the loop at
    a moment without message work, so a shift start's steps fall between messages' ways."""
    monkeypatch.setattr(turns, "MAX_WAIT_S", 60.0)  # the bound: tests/test_turns.py
    agent = await make_user(app, "agent")
    requests = {
        "guest": ("POST", "/api/v1/auth/guest", {"name": "Gus", "email": "gus@example.com"}, {}),
        "login": ("POST", "/api/v1/auth/login", {"email": agent.email, "password": PASSWORD}, {}),
        "status": ("PUT", "/api/v1/me/status", {"status": "away"}, agent.headers),
    }
    method, path, body, headers = requests[arrival]
    loop = asyncio.get_running_loop()
    writer, sizes, _, gate = await _gated_writer(app)
    try:
        _submit(writer, 1)
        await eventually(lambda: sizes == [1])
        assert turns.message_work(loop)  # a batch is being written
        started: list[str] = []
        stack = app.middleware_stack or app.build_middleware_stack()
        monkeypatch.setattr(app, "middleware_stack", _noting(stack, started))
        answer = asyncio.create_task(client.request(method, path, json=body, headers=headers))
        for _ in range(50):
            await asyncio.sleep(0)
        assert not started and not answer.done()  # its turn has not come
        gate.set()
        r = await asyncio.wait_for(answer, 5)
        assert r.status_code == 200, r.text
        assert started == [path]
        assert not turns.message_work(loop)
    finally:
        gate.set()
        await writer.stop()


def _noting(inner: Any, started: list[str]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            started.append(scope["path"])
        await inner(scope, receive, send)

    return app
