"""Engine, sessions and the unit of work.

One unit of work per request or WebSocket command: services change state and record what
must be announced; the boundary commits once and only then publishes to the bus. A rollback
drops the announcements.

SQLite allows one writer at a time. Write units begin with `BEGIN IMMEDIATE` (so two
writers never deadlock upgrading a read lock) and, inside one process, also queue on an
asyncio lock so waiting happens in the event loop rather than in busy-looping threads. The
message writer's batches are urgent on that lock: they wait for the unit holding it, not for
every unit queued behind it (`helpline.locks.PriorityLock`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, MetaData, event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from helpline.locks import PriorityLock

if TYPE_CHECKING:  # the bus's types only: the bus's factory reads the settings, which need db
    from helpline.bus.messages import BusMessage

log = logging.getLogger("helpline.db")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite returns naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Announcement = tuple[str, "BusMessage"]
AfterCommit = Callable[[], Awaitable[None]]


class UnitOfWork:
    """A session plus what to announce once it commits."""

    def __init__(self, session: AsyncSession, services: dict[str, Any] | None = None) -> None:
        self.session = session
        # Process-wide helpers the app registered on its Database (e.g. the outbox), so
        # services reach them without importing the app.
        self.services: dict[str, Any] = services if services is not None else {}
        self.announcements: list[Announcement] = []
        self.after_commit: list[AfterCommit] = []
        self.committed = False
        # The address of the request this unit serves (None outside a request): the audit
        # log's `ip`.
        self.ip: str | None = None

    def announce(self, topic: str, message: BusMessage) -> None:
        self.announcements.append((topic, message))

    def on_commit(self, fn: AfterCommit) -> None:
        self.after_commit.append(fn)


@contextmanager
def _release_on_cancel() -> Iterator[None]:
    """A session cancelled in the middle of a statement (a background task stopped, a timeout)
    leaves that statement's cursor in a reference cycle: SQLAlchemy keeps `sys.exc_info()` in a
    frame of the traceback. SQLite keeps the transaction, and a writer's lock, until the cursor
    is freed, so every later write would wait out the busy timeout and fail until the garbage
    collector came by. The session is closed by now: clearing the traceback's finished frames
    frees the cursor at once."""
    try:
        yield
    except asyncio.CancelledError as exc:
        traceback.clear_frames(exc.__traceback__)
        raise


class Database:
    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = 20,
        max_overflow: int = 20,
        pool_timeout: float = 10,
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            # uri: the index file is attached by a read-only URI (attach_search).
            kwargs["connect_args"] = {"timeout": 30, "uri": True}
        else:
            kwargs["pool_pre_ping"] = True
        if ":memory:" not in url:  # in-memory SQLite keeps one connection of its own
            kwargs.update(pool_size=pool_size, max_overflow=max_overflow, pool_timeout=pool_timeout)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        self.services: dict[str, Any] = {}
        self._write_lock = PriorityLock()
        if self.is_sqlite:
            _configure_sqlite(self.engine, self.sqlite_path)
        self._reader = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writer = async_sessionmaker(
            self.engine.execution_options(helpline_immediate=True), expire_on_commit=False
        )

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        with _release_on_cancel():
            async with self._reader() as session:
                yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[UnitOfWork]:
        """Yield a unit of work; commit on success. Announcements are left to the caller
        (`helpline.boundary`)."""
        with _release_on_cancel():
            async with self.write_lock(), self._writer() as session:
                uow = UnitOfWork(session, self.services)
                yield uow
                await session.commit()
                uow.committed = True

    @asynccontextmanager
    async def write_lock(self, *, urgent: bool = False) -> AsyncIterator[None]:
        """The in-process SQLite writer lock alone, for writers with their own connection.
        `urgent` (the message writer's batches): ahead of every waiter that is not."""
        if self.is_sqlite:
            async with self._write_lock.hold(urgent=urgent):
                yield
        else:
            yield

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()

    @property
    def sqlite_path(self) -> str | None:
        """The database file, for SQLite on disk; None otherwise."""
        if not self.is_sqlite:
            return None
        path = make_url(self.url).database
        return path if path and path != ":memory:" else None


class WalCheckpointer:
    """Keeps SQLite's write-ahead log short from a thread of its own.

    Passive checkpoints never wait for readers or writers, and this thread holds no lock of
    ours, so neither the event loop nor a unit of work ever waits for a checkpoint's fsync.
    It checkpoints only when `PRAGMA data_version` says another connection committed.
    """

    def __init__(self, path: str, *, interval_s: float = 0.2) -> None:
        self.path = path
        self.interval_s = interval_s
        self.checkpoints = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="helpline-wal-checkpoint", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=1000")
            seen = None
            while not self._stop.wait(self.interval_s):
                try:
                    version = conn.execute("PRAGMA data_version").fetchone()[0]
                    if version != seen:
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                        seen = version
                        self.checkpoints += 1
                except sqlite3.Error as exc:  # e.g. the file went away in a test; try again
                    log.warning("WAL checkpoint failed: %s", exc)
        finally:
            conn.close()


def sqlite_pragmas(execute: Callable[[str], Any], *, busy_timeout_ms: int) -> None:
    """How every SQLite connection of the app is set up (sessions and the message writer)."""
    execute("PRAGMA journal_mode=WAL")
    execute("PRAGMA synchronous=NORMAL")
    execute("PRAGMA foreign_keys=ON")
    execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    # Committing never checkpoints: that would stall whoever commits (and, in a session, holds
    # the write lock) for an fsync. WalCheckpointer does it from a thread of its own; short
    # command-line uses are checkpointed when their last connection closes.
    execute("PRAGMA wal_autocheckpoint=0")


SEARCH_SCHEMA = "search"  # the name the message index's file is attached under


def search_file(path: str) -> str:
    """The file of the message index of the SQLite database at `path` (decision 034):
    `helpline.db` -> `helpline-search.db`. Migration 0025 names it the same way."""
    root, ext = os.path.splitext(path)
    return f"{root}-search{ext}"


def attach_search(execute: Callable[[str], Any], path: str) -> bool:
    """Attach the message index's file read-only, if it exists, as `search`. Read-only, so a
    unit of work's BEGIN IMMEDIATE never takes that file's lock: only the indexer writes it."""
    index = search_file(path)
    if not os.path.exists(index):
        return False
    uri = Path(os.path.abspath(index)).as_uri() + "?mode=ro"
    execute(f"ATTACH DATABASE '{uri.replace(chr(39), chr(39) * 2)}' AS {SEARCH_SCHEMA}")
    return True


def _configure_sqlite(engine: AsyncEngine, path: str | None) -> None:
    """`path`: the database file (None in memory), whose message index sessions attach."""
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take over transaction control from the driver so we can say BEGIN IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        sqlite_pragmas(cur.execute, busy_timeout_ms=30000)
        if path is not None:
            attach_search(cur.execute, path)
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("helpline_immediate"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")
