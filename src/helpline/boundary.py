"""The boundary every unit of work passes: HTTP requests, WebSocket commands, timers, the
sweeper and the outbox open their units here, and nowhere else.

- `Boundary.write()` yields a unit of work, commits it once, and only then publishes what its
  services announced and runs its after-commit work. A unit that raises, or whose commit
  fails, publishes nothing and runs nothing (decision 001).
- `Boundary.read()` yields a unit of work on a plain read session (no commit, no news).
- `unavailable()` is the one place that decides which failures mean "the database cannot be
  reached now": a refused or dropped connection, PostgreSQL starting up or shutting down,
  SQLite busy or locked past its timeout, a pool with no connection free within its timeout
  (`sqlalchemy.exc.TimeoutError`, not a DBAPI error). Both context managers, and `guard()`
  around code that reaches the database some other way, turn those into `Unavailable`: `503`
  in the error format over HTTP, an error frame and close `1013` on a WebSocket, a skipped
  pass in the background loops. An integrity conflict is not an outage: it stays itself
  (`409` over HTTP).
- `Inserts` writes the new rows of many callers arriving together (sign-ins, guests) in one
  unit: a group commit, so a shift start does not queue a unit per sign-in behind SQLite's
  single writer; and that unit is written at once (`Boundary.write_now`), holding the writer
  only for its statements' time; on SQLite on disk through SQLite's own connection
  (`Boundary.write_raw`), without a session.
- `Boundary.change_now(work)` is `write_now` for a small change with news (an agent's
  availability): published once committed, like `write`'s (decision 043).
"""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar, cast

from sqlalchemy import Column, Table, insert
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from helpline.bus import Bus
from helpline.bus.messages import BusMessage, EventPosted
from helpline.db import Announcement, Base, Database, UnitOfWork
from helpline.errors import Unavailable
from helpline.kit.batching import Batcher
from helpline.observability import events_published_total
from helpline.turns import take_turn

log = logging.getLogger("helpline.boundary")
T = TypeVar("T")

# What a database outage can surface as. asyncpg reports a refused connection as a bare
# OSError; SQLAlchemy wraps the rest (including SQLite's "database is locked") as DBAPIError.
UNREACHABLE: tuple[type[Exception], ...] = (DBAPIError, PoolTimeout, OSError)


def unavailable(exc: BaseException) -> Unavailable | None:
    """The `Unavailable` that `exc` means, or None when it is not an outage."""
    if isinstance(exc, IntegrityError) or not isinstance(exc, UNREACHABLE):
        return None
    if isinstance(exc, OSError):
        log.warning("backend unreachable: %s: %s", type(exc).__name__, exc)
        return Unavailable("A backing service is unavailable; try again shortly.")
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    log.warning("database unavailable: %s: %s", type(cause).__name__, cause)
    return Unavailable("The database is unavailable; try again shortly.")


@contextmanager
def guard() -> Iterator[None]:
    """Raise an outage inside as `Unavailable`; let everything else through unchanged."""
    try:
        yield
    except UNREACHABLE as exc:
        mapped = unavailable(exc)
        if mapped is None:
            raise
        raise mapped from exc


class Boundary:
    """Opens units of work on `db` and publishes their news on `bus` once they committed."""

    def __init__(self, db: Database, bus: Bus | None = None) -> None:
        self.db = db
        self.bus = bus  # None: units that never announce (the outbox of a bare Database)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[UnitOfWork]:
        with guard():
            async with self.db.write() as uow:
                yield uow
        # Reached only once the commit succeeded.
        await self.publish(uow)

    async def write_now(self, work: Callable[[Session], T]) -> T:
        """A small unit that announces nothing, written at once (`Database.write_now`)."""
        with guard():
            return await self.db.write_now(work)

    async def write_raw(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`write_now` on SQLite's own connection (`Database.write_raw`; SQLite on disk)."""
        with guard():
            return await self.db.write_raw(work)

    async def change_now(self, work: Callable[[Session, list[Announcement]], T]) -> T:
        """`write_now` for a small unit with news: `work` appends what it announces, published
        once the unit committed, as `write` does (decision 043)."""
        news: list[Announcement] = []

        def attempt(session: Session) -> T:
            news.clear()  # run again from the start when SQLite was busy
            return work(session, news)

        result = await self.write_now(attempt)
        for topic, message in news:
            await self._send(topic, message)
        return result

    @asynccontextmanager
    async def read(self) -> AsyncIterator[UnitOfWork]:
        with guard():
            async with self.db.read() as session:
                yield UnitOfWork(session, self.db.services)

    async def publish(self, uow: UnitOfWork) -> None:
        """Hand a committed unit's news to the bus, then run its after-commit work."""
        for topic, message in uow.announcements:
            await self._send(topic, message)
        for fn in uow.after_commit:
            await fn()

    def publish_event(self, envelope: dict[str, Any], *, internal: bool) -> None:
        """After commit, for an event written outside a unit of work (the message writer,
        from its own task: no await)."""
        assert self.bus is not None, "news announced on a boundary without a bus"
        events_published_total.inc()
        self.bus.publish_nowait(f"chat:{envelope['chat_id']}", EventPosted(envelope, internal))

    async def _send(self, topic: str, message: BusMessage) -> None:
        assert self.bus is not None, "news announced on a boundary without a bus"
        if isinstance(message, EventPosted):
            events_published_total.inc()
        await self.bus.publish(topic, message)


class NewRows:
    """One caller's new rows, in the order they must be inserted (a user before its session)."""

    __slots__ = ("rows", "error")

    def __init__(self, rows: Sequence[Base]) -> None:
        self.rows = list(rows)
        self.error: Exception | None = None


class Inserts:
    """Group commit for new rows that announce nothing (a sign-in's session and audit entry, a
    guest and their session). Callers arriving while a write runs share the next unit: one
    `BEGIN IMMEDIATE`, one multi-row INSERT per table, one commit, instead of a unit each
    queued behind SQLite's single writer (docs/performance.md, scenario 5).

    Each caller's rows go in whole or not at all. An integrity error in the shared unit (one
    caller's conflicting row) writes each caller's rows again in a unit of their own, so only
    that caller fails; any other failure (an outage: `Unavailable`) fails them all, as it would
    have failed each of their units. A caller cancelled while waiting leaves its rows to the
    write already under way (`Batcher`)."""

    def __init__(self, boundary: Boundary) -> None:
        self.boundary = boundary
        # An arrival's step like the others (decision 052): the commit waits for a turn of the
        # loop, and the guests let in meanwhile join it.
        self._batcher: Batcher[NewRows] = Batcher(self._flush, before=take_turn)

    @property
    def batches(self) -> int:
        return self._batcher.batches

    @property
    def added(self) -> int:
        """How many callers have handed in rows (tests)."""
        return self._batcher.added

    async def add(self, *rows: Base) -> None:
        """Return once `rows` are committed; raise what kept them out."""
        group = NewRows(rows)
        await self._batcher.add(group)
        if group.error is not None:
            raise group.error

    async def _flush(self, groups: set[NewRows]) -> None:
        together = list(groups)
        try:
            await self._write(together)
        except IntegrityError:
            if len(together) == 1:
                raise
            for group in together:  # each alone: only the conflicting caller fails
                try:
                    await self._write([group])
                except Exception as exc:
                    group.error = exc

    async def _write(self, groups: list[NewRows]) -> None:
        db = self.boundary.db
        if db.writes_in_loop:
            await self.boundary.write_raw(functools.partial(_insert_sqlite, groups, db.now_dialect))
        else:
            await self.boundary.write_now(functools.partial(_insert, groups))


def _insert(groups: list[NewRows], session: Session) -> None:
    """The callers' rows as plain INSERTs: per rank (rows that refer to an earlier one of the
    same caller follow it) and table, one executemany of the rows' column values. The
    ORM's flush (identity map, dependency sort, per-row state) was most of what writing a
    guest's rows cost the event loop, and nothing in this unit reads them back
    (docs/performance.md, "Shift start: what an arrival costs the loop")."""
    conn = session.connection()
    for table, _, rows in _batches(groups):
        conn.execute(insert(table), rows)


def _insert_sqlite(groups: list[NewRows], dialect: Dialect, conn: sqlite3.Connection) -> None:
    """`_insert` on SQLite's own connection (`Database.write_raw`): the same rows, each value
    bound by its column's type as SQLAlchemy binds it, without its execution machinery."""
    for table, keys, rows in _batches(groups):
        sql, binds = _insert_sql(table, keys, dialect)
        conn.executemany(
            sql,
            [[b(r[k]) if b else r[k] for k, b in zip(keys, binds, strict=True)] for r in rows],
        )


def _batches(
    groups: list[NewRows],
) -> Iterator[tuple[Table, tuple[str, ...], list[dict[str, Any]]]]:
    """The callers' rows in the order they can be inserted: rank by rank (a caller's row
    after the earlier ones it refers to), and within a rank per table and set of columns
    (executemany wants the same columns in every row)."""
    for rank in range(max(len(g.rows) for g in groups)):
        shapes: dict[tuple[Table, tuple[str, ...]], list[dict[str, Any]]] = {}
        for group in groups:
            if len(group.rows) > rank:
                table, values = _values(group.rows[rank])
                shapes.setdefault((table, tuple(values)), []).append(values)
        for (table, keys), rows in shapes.items():
            yield table, keys, rows


@functools.cache
def _insert_sql(
    table: Table, keys: tuple[str, ...], dialect: Dialect
) -> tuple[str, list[Callable[[Any], Any] | None]]:
    """The INSERT of `keys` into `table` with positional parameters, and each column's bind
    processor for `dialect` (None: the value goes as it is)."""
    quote = dialect.identifier_preparer
    columns = [table.c[k] for k in keys]
    # Names from our own tables' metadata, quoted by the dialect; every value is bound.
    sql = (
        f"INSERT INTO {quote.format_table(table)} "  # noqa: S608
        f"({', '.join(quote.format_column(c) for c in columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    return sql, [c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns]


def _values(row: Base) -> tuple[Table, dict[str, Any]]:
    """The row's table and column values, its Python-side defaults (ids, times, flags) set on
    the object first, as a flush would, so the caller's answer shows them. A column left to
    the database (an autoincrement id, a server default) is left out."""
    mapper = sa_inspect(row).mapper
    table = cast(Table, mapper.local_table)
    state = row.__dict__
    values: dict[str, Any] = {}
    for prop in mapper.column_attrs:
        column = cast(Column[Any], prop.columns[0])
        value = state.get(prop.key)
        if value is None and prop.key not in state and column.default is not None:
            default = column.default
            if default.is_scalar:
                value = default.arg  # type: ignore[attr-defined]
            elif default.is_callable:
                value = default.arg(None)  # type: ignore[attr-defined]
            if value is not None:
                setattr(row, prop.key, value)
        if value is None and (
            column.server_default is not None
            or (column.primary_key and column.autoincrement in (True, "auto"))
        ):
            continue
        values[column.key] = value
    return table, values
