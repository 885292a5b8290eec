"""SQLite through aiosqlite with fewer round trips to its thread (decision 049).

aiosqlite runs every call on a sqlite3 connection in a thread of its own and hands the result
back to the event loop; SQLAlchemy's adapter makes several such calls per statement: make a
cursor, execute, fetch the rows, close the cursor, and for each unit `BEGIN` and two
rollbacks (the session's and the pool's reset). A one-statement read took nine round trips,
and each costs the loop a wake-up, a future and a switch of the interpreter lock: most of a
WebSocket handshake's work at a shift start (docs/performance.md).

Here a statement is one round trip: its execution and its first rows (`PREFETCH_ROWS`; the
rest, for a large streamed result, as it is asked for). The calls that do no work in SQLite
run at once in the loop when nothing of this connection is under way in the thread: making
and closing a cursor, a deferred `BEGIN` (no lock is taken until the first read), a rollback
with no transaction open. Anything else, or anything while a call is still under way there (a
cancelled unit's statement still running), goes to the thread in order, as before.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import aiosqlite
from aiosqlite.context import contextmanager as _result

# Rows fetched together with a statement's execution: every row of a usual result; a larger
# one (a report's stream) fetches the rest in later round trips, so it is never held whole.
PREFETCH_ROWS = 256

# Statements the loop runs itself when the connection is idle: no lock, no I/O (SQLite's
# deferred transactions take their lock at the first read).
_AT_ONCE = frozenset({"BEGIN", "BEGIN DEFERRED"})


def _execute_and_fetch(
    cursor: sqlite3.Cursor, sql: str, parameters: Any, n: int
) -> list[Any] | None:
    cursor.execute(sql, parameters)
    return None if cursor.description is None else cursor.fetchmany(n)


class Cursor(aiosqlite.Cursor):
    """A cursor whose statement comes back with its first rows."""

    def __init__(self, conn: Connection, cursor: sqlite3.Cursor) -> None:
        super().__init__(conn, cursor)
        self._owner = conn
        self._rows: deque[Any] = deque()
        self._exhausted = True

    async def execute(self, sql: str, parameters: Any = None) -> Cursor:
        self._rows.clear()
        params: Any = () if parameters is None else parameters
        if sql in _AT_ONCE and self._owner.idle:
            self._cursor.execute(sql, params)
            self._exhausted = True
            return self
        rows = await self._owner._execute(
            _execute_and_fetch, self._cursor, sql, params, PREFETCH_ROWS
        )
        self._exhausted = rows is None or len(rows) < PREFETCH_ROWS
        if rows:
            self._rows.extend(rows)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> Cursor:
        self._rows.clear()
        self._exhausted = True
        await super().executemany(sql, parameters)
        return self

    async def executescript(self, sql_script: str) -> Cursor:
        self._rows.clear()
        self._exhausted = True
        await super().executescript(sql_script)
        return self

    async def fetchone(self) -> Any:
        if self._rows:
            return self._rows.popleft()
        return None if self._exhausted else await super().fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        n = self.arraysize if size is None else size
        out = [self._rows.popleft() for _ in range(min(n, len(self._rows)))]
        if len(out) < n and not self._exhausted:
            more = list(await super().fetchmany(n - len(out)))
            self._exhausted = len(more) < n - len(out)
            out.extend(more)
        return out

    async def fetchall(self) -> list[Any]:
        out = list(self._rows)
        self._rows.clear()
        if not self._exhausted:
            out.extend(await super().fetchall())
            self._exhausted = True
        return out

    async def close(self) -> None:
        self._rows.clear()
        self._exhausted = True
        if self._owner.idle:
            self._cursor.close()
        else:
            await super().close()


class Connection(aiosqlite.Connection):
    """aiosqlite's connection, counting the calls its thread has yet to finish, so the loop
    knows when it may touch the sqlite3 connection itself."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._thread.daemon = True  # as SQLAlchemy sets it: never holds the process open
        # Each counter has one writer (the loop; the thread), so neither needs a lock.
        self._queued = 0
        self._done = 0

    @property
    def idle(self) -> bool:
        """No call of this connection is queued or running in its thread."""
        return self._queued == self._done and self._connection is not None

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        def counted() -> Any:
            try:
                return fn(*args, **kwargs)
            finally:
                self._done += 1

        if not self._running or self._connection is None:
            raise ValueError("Connection closed")  # as aiosqlite says it, before counting
        self._queued += 1
        return await super()._execute(counted)  # type: ignore[no-untyped-call]

    # aiosqlite's Result is invariant in its type, though ours is a subclass of its Cursor.
    @_result
    async def cursor(self) -> Cursor:  # type: ignore[override]
        if self.idle:
            return Cursor(self, self._conn.cursor())
        return Cursor(self, await self._execute(self._conn.cursor))

    @_result
    async def execute(self, sql: str, parameters: Any = None) -> Cursor:  # type: ignore[override]
        cursor: Cursor = await self.cursor()
        return await cursor.execute(sql, parameters)

    async def rollback(self) -> None:
        if self.idle and not self._conn.in_transaction:
            return  # sqlite3 would do nothing either
        await super().rollback()


async def connect(database: str, **kwargs: Any) -> Connection:
    """A `Connection` to `database` (sqlite3.connect's arguments; the loop's calls need
    `check_same_thread=False`, set here)."""
    kwargs["check_same_thread"] = False

    def connector() -> sqlite3.Connection:
        conn: sqlite3.Connection = sqlite3.connect(database, **kwargs)
        return conn

    conn = Connection(connector)
    await conn  # starts its thread and connects there
    return conn
