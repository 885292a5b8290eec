"""SQLite's message index: a file of its own, kept in step by a thread of its own (decision 034).

Chat messages and notes are indexed in `search.message_index`, an FTS5 table in the file
`helpline.db.search_file(<database>)`, attached read-only by every session as `search`.
Only the `Indexer` writes that file, on its own connection and thread, so the message writer
(and every unit of work) never waits for the index's lock, and the event loop never runs an
index step:

- events with an id up to the mark `events` are in the index; newer ones are the backlog,
  indexed every `INTERVAL_S` in one transaction (decision 029) followed by a bounded merge of
  the index's segments (decision 031);
- `search_changes` in the database lists events changed or removed after they were written
  (triggers of migration 0025: erasure, retention, a chat given to the customer who signed
  in); the indexer re-reads them, up to the mark `changes`, and deletes the rows it applied;
- every search first indexes what is still behind (`catch_up`), so it finds every message
  committed before it began; an erasure or a retention run waits for its changes to be applied
  and merged away (`settle`) before it answers.

The file is derived data: created when missing, and rebuilt when its marks are ahead of the
database (a restored or replaced database). PostgreSQL has none of this: its `search_tsv`
columns are computed with the row.
"""

# ruff: noqa: S608  (SQL built from this module's constants and integer ids, never input)
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.db import SEARCH_SCHEMA, Database, search_file, sqlite_pragmas

log = logging.getLogger("helpline.search")

INTERVAL_S = 0.1  # how often the backlog is indexed
CHUNK = 1000  # events (or changes) per index transaction
# Index pages merged after each step (FTS5's own merging inside inserts is off): ~1-4 ms of
# the indexer's thread, and it keeps up with 200 new messages a step.
MERGE_PAGES = 16
BATCH = 500  # ids per statement (SQLite's limit on bound values is 32,766 from 3.32)

TABLE = "message_index"
TOKENIZE = "unicode61 remove_diacritics 0 separators '$+<=>^`|~'"  # as the other indexes
TEXT_EVENTS = "('message.posted', 'note.added')"
S = SEARCH_SCHEMA

SCHEMA = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {S}.{TABLE} "
    f'USING fts5(body, owner, tokenize="{TOKENIZE}")',
    f"CREATE TABLE IF NOT EXISTS {S}.marks (name TEXT PRIMARY KEY, upto INTEGER NOT NULL)",
)
_MARKS = f"SELECT name, upto FROM {S}.marks"
_SET_MARK = f"INSERT OR REPLACE INTO {S}.marks (name, upto) VALUES (?, ?)"
# What the index holds of an event: its text, and its customer's token ('u' || id), so a
# customer's search narrows inside the index (decision 029).
_ROWS = (
    f"INSERT INTO {S}.{TABLE} (rowid, body, owner) "
    "SELECT e.id, json_extract(e.data, '$.text'), 'u' || c.customer_id "
    "FROM main.chat_events e JOIN main.chats c ON c.id = e.chat_id "
    f"WHERE e.type IN {TEXT_EVENTS} AND "
)
_BEHIND = (
    f"SELECT coalesce((SELECT upto FROM {S}.marks WHERE name = 'events'), 0) "
    "< coalesce((SELECT max(id) FROM main.chat_events), 0) "
    f"OR coalesce((SELECT upto FROM {S}.marks WHERE name = 'changes'), 0) "
    "< coalesce((SELECT max(id) FROM main.search_changes), 0)"
)

T = TypeVar("T")


def connect(path: str) -> sqlite3.Connection:
    """The indexer's connection: the database, and its index file attached for writing
    (created with its tables when missing; rebuilt when it is ahead of the database)."""
    index = search_file(path)
    # It holds the messages' words: private like the database, whoever calls (SQLite gives
    # its -wal and -shm files the same mode).
    os.close(os.open(index, os.O_RDWR | os.O_CREAT, 0o600))
    with contextlib.suppress(OSError):  # a file someone copied in with a wider mode
        os.chmod(index, 0o600)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    sqlite_pragmas(conn.execute, busy_timeout_ms=5000)  # waits happen on the indexer's thread
    # This connection checkpoints its own commits: they run on the indexer's thread too.
    conn.execute("PRAGMA wal_autocheckpoint=1000")
    conn.execute(f"ATTACH DATABASE ? AS {S}", (index,))
    conn.execute(f"PRAGMA {S}.journal_mode=WAL")
    conn.execute(f"PRAGMA {S}.synchronous=NORMAL")
    created = conn.execute(
        f"SELECT count(*) FROM {S}.sqlite_master WHERE name = '{TABLE}'"
    ).fetchone()[0]
    conn.execute("BEGIN IMMEDIATE")
    for stmt in SCHEMA:
        conn.execute(stmt)
    if not created:
        # Merging happens in bounded steps of the indexer's (`merge_some`), never inside an
        # insert; `crisismerge` is the backstop when nobody merges for a while.
        conn.execute(f"INSERT INTO {S}.{TABLE} ({TABLE}, rank) VALUES ('automerge', 0)")
        conn.execute(f"INSERT INTO {S}.{TABLE} ({TABLE}, rank) VALUES ('crisismerge', 64)")
    marks = dict(conn.execute(_MARKS).fetchall())
    if _ahead(conn, marks):
        log.warning("the search index %s is ahead of its database: rebuilding it", index)
        conn.execute(f"DELETE FROM {S}.{TABLE}")
        marks = {}
    if "events" not in marks or "changes" not in marks:
        conn.execute(_SET_MARK, ("events", 0))
        # Changes recorded so far are older than anything this empty index will hold.
        conn.execute(_SET_MARK, ("changes", _top_change(conn)))
    conn.execute("COMMIT")
    return conn


def _top_event(conn: sqlite3.Connection) -> int:
    """The highest chat event id, or 0 (also for a database not migrated yet)."""
    with contextlib.suppress(sqlite3.OperationalError):
        return int(conn.execute("SELECT coalesce(max(id), 0) FROM main.chat_events").fetchone()[0])
    return 0


def _top_change(conn: sqlite3.Connection) -> int:
    """The highest id ever given in `search_changes` (AUTOINCREMENT's record, which applied
    and deleted rows leave behind), or 0 (also for a database older than migration 0025)."""
    with contextlib.suppress(sqlite3.OperationalError):
        row = conn.execute(
            "SELECT seq FROM main.sqlite_sequence WHERE name = 'search_changes'"
        ).fetchone()
        return int(row[0]) if row else 0
    return 0


def _ahead(conn: sqlite3.Connection, marks: dict[str, int]) -> bool:
    """Whether the index covers events or changes the database never had (it was restored
    from a copy, or replaced): then it must be rebuilt."""
    events, changes = marks.get("events", 0), marks.get("changes", 0)
    return events > _top_event(conn) or changes > _top_change(conn)


def _ids(values: list[int]) -> str:
    return ", ".join(str(int(v)) for v in values)


def index_some(conn: sqlite3.Connection, limit: int = CHUNK) -> tuple[int, int, bool]:
    """One index transaction on the indexer's connection: apply up to `limit` recorded
    changes, then index up to `limit` new events. Returns (changes applied, events indexed,
    whether more may be behind)."""
    conn.execute("BEGIN")
    try:
        # The index file's write lock first, then the database's snapshot: a change committed
        # before this step began is then in the snapshot.
        conn.execute(f"UPDATE {S}.marks SET upto = upto WHERE name = 'events'")
        marks = dict(conn.execute(_MARKS).fetchall())
        upto, seen = int(marks["events"]), int(marks["changes"])
        changes = conn.execute(
            "SELECT id, event_id FROM main.search_changes WHERE id > ? ORDER BY id LIMIT ?",
            (seen, limit),
        ).fetchall()
        # Events above the mark are indexed as they are when their turn comes.
        changed = sorted({int(e) for _, e in changes if e <= upto})
        for i in range(0, len(changed), BATCH):
            part = _ids(changed[i : i + BATCH])
            conn.execute(f"DELETE FROM {S}.{TABLE} WHERE rowid IN ({part})")
            conn.execute(_ROWS + f"e.id IN ({part})")  # what they are now, if anything
        if changes:
            conn.execute(_SET_MARK, ("changes", int(changes[-1][0])))
        top = _top_event(conn)
        if len(changes) < limit and upto > top:
            # The newest events were deleted: SQLite gives their ids again, so lower the mark
            # to keep the next ones in the backlog.
            upto = top
            conn.execute(_SET_MARK, ("events", upto))
        hi = min(top, upto + limit)
        if hi > upto:
            conn.execute(_ROWS + "e.id > ? AND e.id <= ?", (upto, hi))
            conn.execute(_SET_MARK, ("events", hi))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(changes), max(0, hi - upto), len(changes) == limit or hi < top


def merge_some(conn: sqlite3.Connection, pages: int = MERGE_PAGES) -> int:
    """Merge up to about `pages` pages of the index's segments. Returns the rows it changed
    in the index's tables (0: nothing was worth merging)."""
    before = conn.total_changes
    conn.execute(f"INSERT INTO {S}.{TABLE} ({TABLE}, rank) VALUES ('merge', ?)", (pages,))
    return conn.total_changes - before


def optimize(conn: sqlite3.Connection) -> None:
    """Merge every segment: the words of deleted or changed events leave the file."""
    conn.execute(f"INSERT INTO {S}.{TABLE} ({TABLE}) VALUES ('optimize')")


def forget_applied(conn: sqlite3.Connection) -> int:
    """Delete the change records the index has applied (a write to the database itself)."""
    seen = conn.execute(f"SELECT upto FROM {S}.marks WHERE name = 'changes'").fetchone()[0]
    return conn.execute("DELETE FROM main.search_changes WHERE id <= ?", (seen,)).rowcount


async def behind(session: AsyncSession) -> bool:
    """Whether events or changes wait to be indexed (a read: no lock taken)."""
    return bool((await session.execute(text(_BEHIND))).scalar())


def _yield_cpu() -> None:
    """The indexer's thread runs at the lowest priority: when the cores are busy, the event
    loop's thread (the message path) goes first, and the index catches up when they are not
    (Linux schedules threads one by one; elsewhere this is a no-op)."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


class Indexer:
    """Keeps the message index in step (registered as `db.services["search_backlog"]`).

    One connection and one thread: every step runs there, one after another, so the event
    loop only awaits it; the database's in-process write lock is taken only to delete
    applied change records."""

    def __init__(self, db: Database, *, interval_s: float = INTERVAL_S) -> None:
        path = db.sqlite_path
        assert path is not None, "the message index needs an SQLite database on disk"
        self.db = db
        self.interval_s = interval_s
        self._conn = connect(path)
        self._thread = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="helpline-index", initializer=_yield_cpu
        )
        self._task: asyncio.Task[None] | None = None
        self.indexed = 0
        self.applied = 0
        self.merged = 0
        self.catch_ups = 0

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def step(self) -> bool:
        """Index one step of the backlog and merge a little; whether more is behind."""
        applied, indexed, more = await self._run(index_some, self._conn)
        self.applied += applied
        self.indexed += indexed
        self.merged += await self._run(merge_some, self._conn)
        if applied:
            await self._forget()
        return more

    async def catch_up(self) -> None:
        """Index everything behind (each step its own transaction)."""
        while await self.step():
            pass
        self.catch_ups += 1

    async def settle(self) -> None:
        """After an erasure or a retention run: apply its changes and merge the index whole,
        so the words it removed are gone from the file, not only hidden."""
        await self.catch_up()
        await self._run(optimize, self._conn)

    async def _forget(self) -> None:
        async with self.db.write_lock():
            await self._run(forget_applied, self._conn)

    def start(self) -> None:
        if self.interval_s > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.step()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    log.warning("no search changes table in this database (%s): not indexing", exc)
                    return
                log.warning("indexing the search backlog failed: %s", exc)
            except Exception as exc:  # a search catches up by itself; try again next time
                log.warning("indexing the search backlog failed: %s", exc)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self._run(self._conn.close)
        self._thread.shutdown(wait=True)
