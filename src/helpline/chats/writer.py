"""The hot path: chat messages from WebSocket connections, written in batches (group commit).

Concurrent messages queue here; one task writes everything queued in a single transaction,
commits once, then answers each message in order (the gateway's callback acks and publishes it,
decision 041). A batch's first message waits
`batch_wait_s` (HELPLINE_MESSAGE_BATCH_WAIT_MS) for others to join it. On SQLite the batch runs on a
dedicated stdlib connection, right in the event loop: a batch takes a fraction of a
millisecond (no fsync: WAL with synchronous=NORMAL, checkpoints on their own thread), which is
less than handing it to a worker thread and waiting for the GIL to come back (up to 5 ms at
each of a batch's statements while the loop is busy; that was the p99). When another process
holds SQLite's write lock the batch waits in the loop, asynchronously, never in a busy
timeout. On PostgreSQL each message is one statement on the raw asyncpg connection, a batch
pipelined in one round trip, rows locked in chat-id order; one batch is in flight at a time, up
to four while a backlog waits (decision 046).

Per message, three plain statements: the idempotency lookup on (chat_id, client_id), the
conditional `UPDATE chats … RETURNING last_seq` that checks the sender may write now and
reserves the seq, and the event INSERT. Anything that is not the plain case (a closed chat, a
helper agent, someone else's client_id, an agent's first message, which stops the service-level
clock) comes back as None and the caller takes the full
service path, which gives the precise error. The rules stay in `service.post_message`; this is
the same rule written as one statement, its statuses taken from the transition table
(`chats/lifecycle.py`), and tests run both.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from helpline import observability as metrics
from helpline.chats.lifecycle import Action, allowed_from
from helpline.db import Database, immediate_transaction, retry_while_busy, sqlite_pragmas
from helpline.kit.clock import iso, now
from helpline.kit.enums import Role
from helpline.turns import busy_while

log = logging.getLogger("helpline.writer")


@dataclass(frozen=True)
class Author:
    id: str
    role: str
    name: str


@dataclass
class Written:
    envelope: dict[str, Any]
    created: bool


OnWritten = Callable[[Written | None], None]


@dataclass(slots=True)
class _Item:
    author: Author
    chat_id: str
    text: str
    client_id: str
    done: OnWritten  # called once, from the writer's task
    at: datetime  # when it came (helpline_message_commit_wait_seconds)


def _settle(future: asyncio.Future[Written | None]) -> OnWritten:
    def done(result: Written | None) -> None:
        if not future.done():  # the sender may have been cancelled meanwhile
            future.set_result(result)

    return done


def _answer(item: _Item, result: Written | None) -> None:
    try:
        item.done(result)
    except Exception:  # one sender's callback never costs the others their answers
        log.exception("a message's callback failed")


def _envelope(
    chat_id: str, seq: int, at: datetime | str, author: Author, data: dict[str, Any]
) -> dict[str, Any]:
    """`at` as a datetime, or already formatted (a batch's messages share one time)."""
    return {
        "chat_id": chat_id,
        "seq": seq,
        "type": "message.posted",
        "at": at if isinstance(at, str) else iso(at),
        "actor": {"id": author.id, "role": author.role, "name": author.name},
        "data": data,
    }


def _json_text(data: dict[str, Any]) -> str:
    """The event's data as JSON text: orjson (a tenth of the standard library's time, which
    was ~2 % of the server's CPU at 2,000 msg/s), the standard library for what orjson refuses
    (a lone surrogate)."""
    try:
        return orjson.dumps(data).decode()
    except (TypeError, UnicodeDecodeError):
        return json.dumps(data)


def _statuses(action: Action) -> str:
    """The statuses `action` may start from, per the transition table, as an SQL list."""
    return ", ".join(f"'{status.value}'" for status in sorted(allowed_from(action)))


# Who may write when comes from chats/lifecycle.py: these statements are built from its table.
_CUSTOMER_MAY = _statuses(Action.customer_message)
_AGENT_MAY = _statuses(Action.agent_message)


# --- SQLite: a dedicated stdlib connection, one batch per transaction, in the event loop ---------

_T = TypeVar("_T")

_SQL_FIND = (
    "SELECT seq, at, actor_role, actor_name, data, actor_id FROM chat_events "
    "WHERE chat_id = ? AND client_id = ?"
)
_SQL_CUSTOMER = (
    "UPDATE chats SET last_seq = last_seq + 1, updated_at = ?, last_customer_at = ?, "  # noqa: S608 - statuses from the table
    f"warned_at = NULL WHERE id = ? AND customer_id = ? AND status IN ({_CUSTOMER_MAY}) "
    "RETURNING last_seq"
)
_SQL_AGENT = (
    "UPDATE chats SET last_seq = last_seq + 1, updated_at = ? "  # noqa: S608 - statuses from the table
    f"WHERE id = ? AND agent_id = ? AND status IN ({_AGENT_MAY}) "
    "AND sla_first_response_at IS NOT NULL RETURNING last_seq"
)
_SQL_INSERT = (
    "INSERT INTO chat_events (chat_id, seq, type, at, actor_id, actor_role, actor_name, data, "
    "client_id, internal) VALUES (?, ?, 'message.posted', ?, ?, ?, ?, ?, ?, 0)"
)


def _sqlite_time(at: datetime) -> str:
    """The text form SQLAlchemy stores for our UTC datetimes on SQLite."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _batch_times(at: datetime) -> tuple[str, str]:
    """A batch's time as SQLite stores it and as the envelope says it (`iso`), formatted once:
    the two differ only in the separator and the Z. Years before 1000: `iso` does not pad
    them, SQLite's text does."""
    at_iso = iso(at)
    assert at_iso is not None
    if at.astimezone(UTC).year < 1000:
        return _sqlite_time(at), at_iso
    return f"{at_iso[:10]} {at_iso[11:-1]}", at_iso


class SqliteBatch:
    """Owns one sqlite3 connection, used only from the event loop."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None)
            # Never block the loop: a busy database raises at once and the caller awaits.
            sqlite_pragmas(conn.execute, busy_timeout_ms=0)
            self._conn = conn
        return self._conn

    def write(self, items: list[_Item], at: datetime) -> list[Written | None]:
        stamp, at_iso = _batch_times(at)
        return self._transaction(lambda conn: [self._one(conn, i, at_iso, stamp) for i in items])

    @staticmethod
    def _one(conn: sqlite3.Connection, item: _Item, at: str, stamp: str) -> Written | None:
        a = item.author
        found = conn.execute(_SQL_FIND, (item.chat_id, item.client_id)).fetchone()
        if found is not None:
            seq, first_at, role, name, data, actor_id = found
            if actor_id != a.id:
                return None
            when = datetime.fromisoformat(first_at).replace(tzinfo=UTC)
            return Written(
                _envelope(item.chat_id, seq, when, Author(a.id, role, name), json.loads(data)),
                created=False,
            )
        if a.role == Role.customer:
            row = conn.execute(_SQL_CUSTOMER, (stamp, stamp, item.chat_id, a.id)).fetchone()
        else:
            row = conn.execute(_SQL_AGENT, (stamp, item.chat_id, a.id)).fetchone()
        if row is None:
            return None
        seq = int(row[0])
        data = {"text": item.text, "client_id": item.client_id}
        conn.execute(
            _SQL_INSERT,
            (item.chat_id, seq, stamp, a.id, a.role, a.name, _json_text(data), item.client_id),
        )
        return Written(_envelope(item.chat_id, seq, at, a, data), created=True)

    def _transaction(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        # Busy at BEGIN: another process writes (`retry_while_busy`).
        return immediate_transaction(self._connect(), work)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


# --- PostgreSQL: one statement per message, a whole batch in one round trip ---------------------

# $8 says whether the author is the chat's customer or its agent (the owner; helpers take the
# service path), each allowed from the table's statuses: one statement for both, so a batch is a
# single asyncpg `fetchmany`.
_PG_SQL = f"""
WITH existing AS (
    SELECT seq, at, actor_role, actor_name, data, actor_id FROM chat_events
    WHERE chat_id = $1 AND client_id = $2
), upd AS (
    UPDATE chats SET last_seq = last_seq + 1, updated_at = $3,
        last_customer_at = CASE WHEN $8 THEN $3 ELSE last_customer_at END,
        warned_at = CASE WHEN $8 THEN NULL ELSE warned_at END
    WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM existing) AND (
        ($8 AND customer_id = $4 AND status IN ({_CUSTOMER_MAY}))
        OR (NOT $8 AND agent_id = $4 AND status IN ({_AGENT_MAY})
            AND sla_first_response_at IS NOT NULL))
    RETURNING last_seq
), ins AS (
    INSERT INTO chat_events
        (chat_id, seq, type, at, actor_id, actor_role, actor_name, data, client_id, internal)
    SELECT $1, last_seq, 'message.posted', $3, $4, $5, $6, $7::json, $2, false FROM upd
    RETURNING seq
)
SELECT (SELECT seq FROM ins) AS new_seq, e.seq, e.at, e.actor_role, e.actor_name, e.data,
       e.actor_id
FROM (SELECT 1) AS one LEFT JOIN existing AS e ON true
"""  # noqa: S608 - the statuses come from the transition table


async def _pg_write(apg: Any, items: list[_Item], at: datetime) -> list[Written | None]:
    """The three steps as one CTE per message, all of a batch pipelined in one round trip and
    one implicit transaction (`fetchmany`: Bind/Execute per message, one Sync). Rows are locked
    in chat-id order (a stable sort, so a chat keeps its messages' order): two processes'
    batches then wait for each other, never deadlock. A later statement sees the earlier ones,
    so two messages of one chat in a batch get consecutive seqs and a repeated client_id is
    found."""
    order = sorted(range(len(items)), key=lambda i: items[i].chat_id)
    datas = [{"text": items[i].text, "client_id": items[i].client_id} for i in order]
    args = [
        (
            items[i].chat_id,
            items[i].client_id,
            at,
            items[i].author.id,
            items[i].author.role,
            items[i].author.name,
            _json_text(data),
            items[i].author.role == Role.customer,
        )
        for i, data in zip(order, datas, strict=True)
    ]
    rows = await apg.fetchmany(_PG_SQL, args)
    at_iso = iso(at)
    assert at_iso is not None
    results: list[Written | None] = [None] * len(items)
    for i, data, row in zip(order, datas, rows, strict=True):
        item = items[i]
        a = item.author
        if row["new_seq"] is not None:
            results[i] = Written(_envelope(item.chat_id, row["new_seq"], at_iso, a, data), True)
        elif row["seq"] is not None and row["actor_id"] == a.id:
            first = Author(a.id, row["actor_role"], row["actor_name"])
            found = row["data"]  # decoded already where the connection has a JSON codec
            found = json.loads(found) if isinstance(found, str | bytes) else found
            results[i] = Written(
                _envelope(item.chat_id, row["seq"], row["at"], first, found), created=False
            )
    return results


class MessageWriter:
    """Writes chat messages in batches on a connection of its own. On SQLite the search
    index is kept in step elsewhere, in a file of its own (`helpline.search.backlog`,
    decision 034): nothing here waits for it."""

    def __init__(
        self,
        db: Database,
        *,
        max_batch: int = 256,
        batch_wait_s: float = 0.0,
        backlog: int = 32,
    ) -> None:
        self.db = db
        self.max_batch = max_batch
        self.batch_wait_s = batch_wait_s
        path = db.sqlite_path
        self._sqlite = SqliteBatch(path) if path else None
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        # SQLite has one writer. PostgreSQL takes several batches at once (row locks per chat),
        # but the extra tasks write only while a backlog waits (`backlog` messages queued):
        # four tasks each taking whatever came, one message a batch at 2,000 msg/s, cost us
        # ~15 % and PostgreSQL ~20 % more CPU than one batch at a time, and had the longest
        # waits (docs/performance.md); at higher rates the extra tasks keep up.
        self.parallel = 1 if db.is_sqlite else 4
        self.backlog = backlog
        self._backlog = asyncio.Event()
        self.batches = 0
        self.written = 0
        self._writing = 0
        self._unprobe: Callable[[], None] | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.enabled:
            self._tasks = [loop.create_task(self._run(extra=i > 0)) for i in range(self.parallel)]
            self._unprobe = busy_while(loop, self._busy)

    def _busy(self) -> bool:
        return self._writing > 0 or not self._queue.empty()

    async def stop(self) -> None:
        if self._unprobe is not None:
            self._unprobe()
            self._unprobe = None
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while not self._queue.empty():
            _answer(self._queue.get_nowait(), None)
        if self._sqlite is not None:
            self._sqlite.close()

    @property
    def enabled(self) -> bool:
        """SQLite files and PostgreSQL; an in-memory SQLite database has no second connection."""
        return self._sqlite is not None or self.db.engine.dialect.name == "postgresql"

    async def post(self, author: Author, chat_id: str, text: str, client_id: str) -> Written | None:
        """Written (or found again by client_id), or None: take the service path instead."""
        future: asyncio.Future[Written | None] = asyncio.get_running_loop().create_future()
        if not self.submit(author, chat_id, text, client_id, _settle(future)):
            return None
        return await future

    def submit(
        self, author: Author, chat_id: str, text: str, client_id: str, done: OnWritten
    ) -> bool:
        """Queue a message; once its batch committed (or failed) the writer's own task calls
        `done` with what `post` would return, in the batch's order. The WebSocket gateway
        acknowledges and announces from there: the sender's task is not woken for it
        (decision 041). False, queueing nothing, when the writer is not running."""
        if not self.enabled or not self._tasks or all(t.done() for t in self._tasks):
            return False
        self._queue.put_nowait(_Item(author, chat_id, text, client_id, done, now()))
        if self.parallel > 1 and self._queue.qsize() >= self.backlog:
            self._backlog.set()
        return True

    async def _run(self, *, extra: bool = False) -> None:
        """One batch task. An `extra` one (PostgreSQL) takes a batch only while a backlog of
        `backlog` messages waits, so at ordinary rates one batch is in flight at a time and
        what comes meanwhile joins the next."""
        # PostgreSQL: each batch task keeps its own connection (no pool checkout and pre-ping
        # round trip per batch); a failure drops it and the next batch opens a fresh one.
        held: AsyncConnection | None = None
        batch: list[_Item] = []
        try:
            while True:
                if extra:
                    await self._backlog.wait()
                    if self._queue.qsize() < self.backlog:
                        self._backlog.clear()
                        continue
                    batch = [self._queue.get_nowait()]
                else:
                    batch = [await self._queue.get()]
                    if self.batch_wait_s > 0 and self._queue.qsize() + 1 < self.max_batch:
                        await asyncio.sleep(self.batch_wait_s)  # others join this batch
                while len(batch) < self.max_batch and not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                self._writing += 1
                try:
                    held = await self._write(batch, held)
                finally:
                    self._writing -= 1
                batch = []
        finally:
            for item in batch:  # stopped before writing them: their senders take the service path
                _answer(item, None)
            if held is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(held.close())

    async def _write(
        self, batch: list[_Item], held: AsyncConnection | None
    ) -> AsyncConnection | None:
        try:
            if self._sqlite is not None:
                # The in-process writer lock first: our own sessions never make it busy. Urgent:
                # a batch waits for the unit writing now, not for every one queued (a shift
                # start's sign-ins), docs/performance.md.
                sqlite, lock = self._sqlite, self.db.writer_lock
                # The lock itself, not `Database.write_lock`'s context managers: a batch a
                # millisecond or two at 2,000 msg/s, and two async context managers each.
                await lock.acquire(urgent=True)
                try:
                    results = await retry_while_busy(lambda: sqlite.write(batch, now()))
                finally:
                    lock.release()
            else:
                if held is None:
                    held = await self.db.engine.connect()
                raw = await held.get_raw_connection()
                results = await _pg_write(raw.driver_connection, batch, now())
            # Once a batch: its first message waited longest (a message's path before its
            # commit; `helpline_event_delivery_seconds` has the path after it).
            waited = (now() - batch[0].at).total_seconds()
            metrics.message_commit_wait_seconds.observe(max(0.0, waited))
        except Exception as exc:  # each sender then takes the service path; none is left hanging
            log.warning("message batch of %d failed (%s); falling back one by one", len(batch), exc)
            for item in batch:
                _answer(item, None)
            if held is not None:
                with contextlib.suppress(Exception):
                    await held.invalidate()
                    await held.close()
            return None
        self.batches += 1
        self.written += len(batch)
        for item, result in zip(batch, results, strict=True):
            _answer(item, result)
        return held
