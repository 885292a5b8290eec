"""SQLite indexes messages a moment after they are written (decision 029), in a file of its own
written by a thread of its own (decision 034): a search still finds everything committed before
it, never what was erased or removed meanwhile, the index stays exactly the indexed events at
every step, and the message writer never waits for it."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import delete, func, select, text, update

from helpline.chats.models import Chat, ChatEvent
from helpline.db import search_file
from helpline.search import backlog
from tests.conftest import BACKEND
from tests.fixtures.factories import accepted_chat, ctx_of, make_user
from tests.search.test_api import _write, assert_index_in_step, find, hits, say, world

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.skipif(BACKEND != "sqlite", reason="PostgreSQL computes its index with the row"),
]
__all__ = ["world"]  # the fixture, for pytest


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # The indexer's periodic steps off: only searches index, so each step is deterministic.
    return {"search_index_interval_s": 0}


async def _behind(app: FastAPI) -> bool:
    async with ctx_of(app).db.read() as session:
        return await backlog.behind(session)


async def _caught_up(app: FastAPI) -> None:
    """Wait (bounded: 5 s) until the indexer has indexed everything written."""
    for _ in range(250):
        if not await _behind(app):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the indexer did not index the backlog within 5 s")


async def _mark(app: FastAPI) -> int:
    async with ctx_of(app).db.read() as session:
        upto = await session.scalar(text("SELECT upto FROM search.marks WHERE name = 'events'"))
    return int(upto)


async def test_a_message_not_yet_indexed_is_found_by_the_next_search(
    client: Any, app: FastAPI, world: dict[str, Any]
) -> None:
    carla, ana = world["carla"], world["ana"]
    cid = (await accepted_chat(client, carla, ana, world["q"]))["id"]
    seq = await say(client, carla, cid, "my walrus ate the charger")
    assert await _behind(app)
    assert await hits(client, ana, "walrus") == [("message", cid, seq)]
    assert not await _behind(app)
    await assert_index_in_step(app)


async def test_text_erased_or_deleted_before_it_was_indexed_is_never_found(
    client: Any, app: FastAPI, world: dict[str, Any]
) -> None:
    carla, ana = world["carla"], world["ana"]
    cid = (await accepted_chat(client, carla, ana, world["q"]))["id"]
    await hits(client, ana, "anything")  # everything so far indexed
    erased = await say(client, carla, cid, "pelican password hunter2")
    gone = await say(client, carla, cid, "pelican second thoughts")
    assert await _behind(app)
    await _write(
        app,
        update(ChatEvent)
        .where(ChatEvent.chat_id == cid, ChatEvent.seq == erased)
        .values(data={"text": "[erased]"}),
        delete(ChatEvent).where(ChatEvent.chat_id == cid, ChatEvent.seq == gone),
    )
    assert await hits(client, ana, "pelican") == []
    assert await hits(client, ana, "hunter2") == []
    assert await hits(client, ana, "erased") == [("message", cid, erased)]
    await assert_index_in_step(app)


async def test_a_reused_id_below_the_mark_is_indexed(
    client: Any, app: FastAPI, world: dict[str, Any]
) -> None:
    """SQLite hands the highest rowid out again once its row is deleted: such a row is at or
    below the mark, so the deletion's change record brings it into the index."""
    carla, ana = world["carla"], world["ana"]
    cid = (await accepted_chat(client, carla, ana, world["q"]))["id"]
    seq = await say(client, carla, cid, "kiwi one")
    assert await hits(client, ana, "kiwi") == [("message", cid, seq)]
    async with ctx_of(app).db.read() as session:
        top = await session.scalar(select(func.max(ChatEvent.id)))
        last = await session.scalar(
            select(ChatEvent.id).where(ChatEvent.chat_id == cid, ChatEvent.seq == seq)
        )
    assert top == last == await _mark(app)
    await _write(app, delete(ChatEvent).where(ChatEvent.id == top))
    seq2 = await say(client, carla, cid, "kiwi two")
    async with ctx_of(app).db.read() as session:
        assert await session.scalar(select(func.max(ChatEvent.id))) == top  # the same id again
    assert await hits(client, ana, "kiwi") == [("message", cid, seq2)]
    assert await hits(client, ana, "one") == []
    await assert_index_in_step(app)
    # Deleted again, before any step: the mark comes down, and the next new row is indexed.
    await _write(app, delete(ChatEvent).where(ChatEvent.id == top))
    assert await hits(client, ana, "kiwi") == []
    assert await _mark(app) == top - 1
    seq3 = await say(client, carla, cid, "kiwi three")
    assert await hits(client, ana, "kiwi") == [("message", cid, seq3)]
    await assert_index_in_step(app)


async def test_a_chat_given_to_another_customer_is_found_by_them_only(
    client: Any, app: FastAPI, world: dict[str, Any]
) -> None:
    """A customer's search narrows by the owner token of their events in the index; a chat
    that changes customer takes its indexed events along."""
    carla, dan, ana = world["carla"], world["dan"], world["ana"]
    cid = (await accepted_chat(client, carla, ana, world["q"]))["id"]
    seq = await say(client, carla, cid, "ocelot sighting")
    assert await hits(client, carla, "ocelot") == [("message", cid, seq)]  # indexed now
    assert await hits(client, dan, "ocelot") == []
    await _write(app, update(Chat).where(Chat.id == cid).values(customer_id=dan.id))
    assert await hits(client, dan, "ocelot") == [("message", cid, seq)]
    assert await hits(client, carla, "ocelot") == []
    await assert_index_in_step(app)


async def test_a_customer_finds_their_own_words_among_many_of_others(
    client: Any, app: FastAPI, world: dict[str, Any]
) -> None:
    carla, dan, ana = world["carla"], world["dan"], world["ana"]
    mine = (await accepted_chat(client, carla, ana, world["q"]))["id"]
    theirs = (await accepted_chat(client, dan, ana, world["q"]))["id"]
    for i in range(5):
        await say(client, dan, theirs, f"order {i}")
    seq = await say(client, carla, mine, "Order placed")
    page = await find(client, carla, "order")
    assert [(i["chat_id"], i["seq"]) for i in page["items"]] == [(mine, seq)]
    assert len((await find(client, dan, "order"))["items"]) == 5


async def test_a_customer_created_later_is_not_matched_by_an_owner_word(
    client: Any, app: FastAPI, world: dict[str, Any]
) -> None:
    """The owner column is not searched by words: typing someone's owner token finds nothing."""
    carla, ana = world["carla"], world["ana"]
    cid = (await accepted_chat(client, carla, ana, world["q"]))["id"]
    await say(client, carla, cid, "plain words")
    assert await hits(client, ana, f"u{carla.id}") == []
    eve = await make_user(app, "customer", name="Eve", email="eve@x.test")
    assert await hits(client, eve, "plain") == []


async def test_the_message_index_never_merges_inside_an_insert(app: FastAPI) -> None:
    """Decision 031: FTS5's own merging inside each insert is off (it held the event loop up
    to ~50 ms a step); a full merge of a level waits for 64 segments, as a backstop only."""
    async with ctx_of(app).db.read() as session:
        config = dict(
            (await session.execute(text("SELECT k, v FROM search.message_index_config"))).all()
        )
    assert config["automerge"] == 0
    assert config["crisismerge"] == 64


@pytest.mark.parametrize("settings_overrides", [{"search_index_interval_s": 0.02}])
async def test_the_indexer_indexes_the_backlog_and_merges_it_by_itself(
    client: Any, app: FastAPI, world: dict[str, Any], settings_overrides: dict[str, Any]
) -> None:
    carla, ana = world["carla"], world["ana"]
    cid = (await accepted_chat(client, carla, ana, world["q"]))["id"]
    indexer = ctx_of(app).db.services["search_backlog"]
    for word in ("heron", "egret", "stork", "crane", "ibis", "avocet"):
        await say(client, carla, cid, word)
        await _caught_up(app)  # each step indexes one message: one new segment
    for _ in range(250):  # bounded: 5 s. FTS5 merges once a level holds four segments.
        if indexer.merged:
            break
        await asyncio.sleep(0.02)
    assert indexer.indexed > 0 and indexer.merged > 0
    assert indexer.catch_ups == 0  # the periodic steps did it, not a search
    await assert_index_in_step(app)
    for word in ("heron", "avocet"):  # merged segments still find what they held
        assert len(await hits(client, ana, word)) == 1


async def test_a_bounded_merge_joins_segments_and_keeps_every_word(
    client: Any, app: FastAPI, world: dict[str, Any]
) -> None:
    carla, ana = world["carla"], world["ana"]
    cid = (await accepted_chat(client, carla, ana, world["q"]))["id"]
    db = ctx_of(app).db
    assert db.sqlite_path is not None
    conn = backlog.connect(db.sqlite_path)
    try:
        for n in range(6):  # six index commits: six level-0 segments
            await say(client, carla, cid, f"word{n} shared")
            assert backlog.index_some(conn)[1] > 0
        segments = "SELECT count(*) FROM search.message_index_data"
        before = conn.execute(segments).fetchone()[0]
        assert backlog.merge_some(conn, 64) > 0
        assert conn.execute(segments).fetchone()[0] < before
    finally:
        conn.close()
    await assert_index_in_step(app)
    assert len(await hits(client, ana, "shared")) == 6
    assert len(await hits(client, ana, "word5")) == 1


async def test_messages_are_written_and_delivered_while_the_index_is_locked(
    client: Any, app: FastAPI, world: dict[str, Any]
) -> None:
    """The point of the index's own file: while its lock is held (an index step, a merge),
    the message writer goes on; searches wait for the index and then find everything."""
    carla, ana = world["carla"], world["ana"]
    cid = (await accepted_chat(client, carla, ana, world["q"]))["id"]
    db = ctx_of(app).db
    assert db.sqlite_path is not None
    holder = sqlite3.connect(search_file(db.sqlite_path), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # the index file's write lock, held
        said = [await say(client, carla, cid, f"gannet {n}") for n in range(3)]
        r = await client.get(f"/api/v1/chats/{cid}/events", headers=ana.headers)
        assert r.status_code == 200, r.text
        texts = [e["data"].get("text") for e in r.json()["items"] if e["seq"] in said]
        assert texts == ["gannet 0", "gannet 1", "gannet 2"]
        assert await _behind(app)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert [h[2] for h in await hits(client, ana, "gannet")] == sorted(said, reverse=True)
    await assert_index_in_step(app)


async def test_an_index_ahead_of_its_database_is_rebuilt(
    client: Any, app: FastAPI, world: dict[str, Any], tmp_path: Any
) -> None:
    """A database restored from a copy older than its index file: the file is rebuilt from
    the database, so it holds nothing the database no longer has."""
    carla, ana = world["carla"], world["ana"]
    cid = (await accepted_chat(client, carla, ana, world["q"]))["id"]
    await say(client, carla, cid, "puffin early")
    db = ctx_of(app).db
    assert db.sqlite_path is not None
    copy = str(tmp_path / "restored.db")
    with sqlite3.connect(db.sqlite_path) as live, sqlite3.connect(copy) as target:
        live.backup(target)  # the backup: "puffin early" only
    await say(client, carla, cid, "puffin late")
    await hits(client, ana, "puffin")  # the live index now holds both
    with (
        sqlite3.connect(search_file(db.sqlite_path)) as live,
        sqlite3.connect(search_file(copy)) as target,
    ):
        live.backup(target)  # the newer index file left beside the restored database
    os.chmod(search_file(copy), 0o644)  # as a copy by hand might leave it
    conn = backlog.connect(copy)
    try:
        assert conn.execute("SELECT count(*) FROM search.message_index").fetchone()[0] == 0
        while backlog.index_some(conn)[2]:
            pass
        found = conn.execute(
            "SELECT body FROM search.message_index WHERE message_index MATCH 'puffin'"
        ).fetchall()
    finally:
        conn.close()
    assert found == [("puffin early",)]
    assert stat.S_IMODE(os.stat(search_file(copy)).st_mode) == 0o600  # it holds the words
