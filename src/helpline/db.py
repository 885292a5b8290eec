"""Engine, sessions and the unit of work.

One unit of work per request or WebSocket command: services change state and record what
must be announced; the boundary commits once and only then publishes to the bus. A rollback
drops the announcements.

SQLite allows one writer at a time. Write units begin with `BEGIN IMMEDIATE` (so two
writers never deadlock upgrading a read lock) and, inside one process, also queue on an
asyncio lock so waiting happens in the event loop rather than in busy-looping threads. The
message writer's batches are urgent on that lock: they wait for the unit holding it, not for
every unit queued behind it (`helpline.locks.PriorityLock`).

Small units that announce nothing (`Database.write_now`: new sign-ins' and guests' rows,
presence stamps) run synchronously on SQLite, on a connection of the event loop's own: they
hold the writer for their statements' time only, not across a trip to a database thread per
statement (docs/decisions/038-small-writes-in-the-loop.md). `Database.write_raw` is the same
on the sqlite3 connection itself, for the busiest of them (`helpline.boundary.Inserts`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import threading
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import DateTime, MetaData, StaticPool, create_engine, event, make_url, text
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from helpline.locks import PriorityLock
from helpline.observability import sqlite_wal_bytes, sqlite_wal_restarts_total

if TYPE_CHECKING:  # the bus's types only: the bus's factory reads the settings, which need db
    from helpline.bus.messages import BusMessage

log = logging.getLogger("helpline.db")
T = TypeVar("T")
# How long a write waits for another process holding SQLite's write lock: the sessions' busy
# timeout (`connect_args`), and `write_now`'s and the message writer's retries.
BUSY_WAIT_S = 30

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
            kwargs["connect_args"] = {"timeout": BUSY_WAIT_S, "uri": True}
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
        # SQLite on disk: `write_now`'s connection, used from the event loop only, made when
        # first needed. It never waits in SQLite for a lock (busy timeout 0): `write_now` does,
        # in the loop.
        self._now_engine: Engine | None = None
        self._now: sessionmaker[Session] | None = None
        self._now_conn: sqlite3.Connection | None = None
        if self.sqlite_path is not None:
            path = self.sqlite_path

            def connect() -> sqlite3.Connection:
                return sqlite3.connect(path, isolation_level=None, check_same_thread=False)

            # One connection for both ways in: the session's (`write_now`) and `write_raw`'s.
            def shared() -> sqlite3.Connection:
                if self._now_conn is None:
                    self._now_conn = connect()
                return self._now_conn

            self._now_engine = create_engine("sqlite://", creator=shared, poolclass=StaticPool)
            _configure_sqlite_now(self._now_engine)
            self._now = sessionmaker(self._now_engine, expire_on_commit=False)

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

    async def write_now(self, work: Callable[[Session], T]) -> T:
        """`work(session)` in a unit of its own, committed; for small units that announce
        nothing. On SQLite on disk it runs synchronously in the loop, on a connection of the
        loop's own, once the in-process writer lock is ours: it holds SQLite's writer only for
        its statements' time. Through the async session a unit holds the writer across a round
        trip to a database thread per statement, each waiting for a busy loop (5–40 ms each at
        a shift start, while message batches wait: docs/decisions/038-small-writes-in-the-loop.md).
        Another process holding SQLite's write lock is waited for in the loop, up to
        `BUSY_WAIT_S`, never in SQLite's busy timeout. Elsewhere: a plain unit (`run_sync`).

        `work` must not await, and runs again from the start if SQLite was busy."""
        if self._now is None:
            async with self.write() as uow:
                return await uow.session.run_sync(work)
        now_session = self._now

        def attempt() -> T:
            with now_session() as session, session.begin():
                session.connection()  # BEGIN IMMEDIATE before `work`: busy or ours
                return work(session)

        async with self.write_lock():
            return await retry_while_busy(attempt)

    @property
    def writes_in_loop(self) -> bool:
        """SQLite on disk: `write_now` and `write_raw` run synchronously in the loop."""
        return self._now_engine is not None

    @property
    def now_dialect(self) -> Dialect:
        """The dialect of `write_raw`'s connection (how values are bound, as SQLAlchemy would)."""
        assert self._now_engine is not None
        return self._now_engine.dialect

    async def write_raw(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`write_now` on the sqlite3 connection itself, for SQLite on disk only
        (`writes_in_loop`): `BEGIN IMMEDIATE`, `work(connection)`, `COMMIT`, with no ORM session
        and no SQLAlchemy execution around the statements, which were three quarters of a small
        write's CPU in the loop (docs/performance.md). SQLite's errors come out as SQLAlchemy's
        (`IntegrityError`, `OperationalError`, ...), as through a session; busy is waited for
        in the loop as in `write_now`."""
        engine = self._now_engine
        assert engine is not None, "write_raw needs SQLite on disk"
        if self._now_conn is None:
            engine.connect().close()  # made and set up (pragmas) by the engine's pool

        def attempt() -> T:
            conn = self._now_conn
            assert conn is not None
            try:
                return immediate_transaction(conn, work)
            except sqlite3.Error as exc:
                raise DBAPIError.instance(None, None, exc, sqlite3.Error) from exc

        async with self.write_lock():
            return await retry_while_busy(attempt)

    @property
    def writer_lock(self) -> PriorityLock:
        """The in-process writer lock itself (SQLite: `write_lock` is the usual way in)."""
        return self._write_lock

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
        if self._now_engine is not None:
            self._now_engine.dispose()
            self._now_conn = None  # closed with the pool

    @property
    def sqlite_path(self) -> str | None:
        """The database file, for SQLite on disk; None otherwise."""
        if not self.is_sqlite:
            return None
        path = make_url(self.url).database
        return path if path and path != ":memory:" else None


# The write-ahead log is started over once it holds this much (WalCheckpointer; the setting
# HELPLINE_SQLITE_WAL_RESTART_MB), and a log file left larger than WAL_FILE_LIMIT is cut back
# when it is (`journal_size_limit`).
WAL_RESTART_BYTES = 256 * 2**20
WAL_FILE_LIMIT = 512 * 2**20
# How far ahead of the writer the checkpointer keeps the log file cached (_keep_log_cached):
# ~3 s of writes at 2,000 msg/s, read back at most every 0.2 s.
LOG_READ_AHEAD = 64 * 2**20


class WalCheckpointer:
    """Keeps SQLite's write-ahead log short from a thread of its own (decision 035).

    Passive checkpoints never wait for readers or writers, and this thread holds no lock of
    ours, so neither the event loop nor a unit of work ever waits for a checkpoint's fsync.
    It checkpoints only when `PRAGMA data_version` says another connection committed.

    A passive checkpoint copies the log into the database file but never starts the log over:
    only a writer that begins when all of it is copied and no reader still reads from it does.
    Under steady load some reader always does, and the log grew by ~11 MB a second (2 GB in
    the soak's first three minutes) until a quiet moment. So once the log holds `limit_bytes`,
    the loop takes the writer lock (`write_lock`: no unit of ours writes meanwhile) and a
    RESTART checkpoint copies what is left and waits, at most `restart_wait_ms`, for readers
    to move off the log; the next commit writes the log from its start. If readers stay longer
    the restart is tried again after the next passive checkpoint.
    """

    def __init__(
        self,
        path: str,
        *,
        interval_s: float = 0.2,
        limit_bytes: int = WAL_RESTART_BYTES,
        write_lock: Callable[[], AbstractAsyncContextManager[None]] | None = None,
        restart_wait_ms: int = 50,
    ) -> None:
        self.path = path
        self.interval_s = interval_s
        self.limit_bytes = limit_bytes
        self.restart_wait_ms = restart_wait_ms
        self.checkpoints = 0
        self.restarts = 0  # RESTART checkpoints that completed
        self.restarts_busy = 0  # ... that timed out waiting for readers
        self._write_lock = write_lock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._restarter: asyncio.Task[None] | None = None
        self._wanted: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending = False  # a restart is asked for and not yet done (this thread's view)
        self._restart_conn: sqlite3.Connection | None = None
        # A restart cancelled with the app keeps running on its thread: stop() waits for it.
        self._restart_mutex = threading.Lock()

    def start(self) -> None:
        """From the event loop when `write_lock` is given (the restarts run there)."""
        self._stop.clear()
        if self._write_lock is not None:
            self._loop = asyncio.get_running_loop()
            self._wanted = asyncio.Event()
            self._restarter = self._loop.create_task(self._restarts(self._wanted, self._write_lock))
        self._thread = threading.Thread(
            target=self._run, name="helpline-wal-checkpoint", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._restart_mutex:
            if self._restart_conn is not None:
                self._restart_conn.close()
                self._restart_conn = None

    async def close(self) -> None:
        if self._restarter is not None:
            self._restarter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._restarter
            self._restarter = None
        await asyncio.to_thread(self.stop)

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=1000")
            page = int(conn.execute("PRAGMA page_size").fetchone()[0])
            seen = None
            while not self._stop.wait(self.interval_s):
                try:
                    version = conn.execute("PRAGMA data_version").fetchone()[0]
                    if version != seen:
                        _busy, frames, _copied = conn.execute(
                            "PRAGMA wal_checkpoint(PASSIVE)"
                        ).fetchone()
                        seen = version
                        self.checkpoints += 1
                        written = max(0, frames) * (page + 24)  # 24: a frame's header
                        self._logged(written)
                        self._keep_log_cached(written)
                except sqlite3.Error as exc:  # e.g. the file went away in a test; try again
                    log.warning("WAL checkpoint failed: %s", exc)
        finally:
            conn.close()

    def _keep_log_cached(self, written: int) -> None:
        """Asks the kernel to read back, ahead of the writer, pages of the log file it has
        dropped from its cache (decision 056). After a restart the writer overwrites the file
        from its start, and a frame (a page + 24 bytes) never covers whole pages of the file:
        writing into a page no longer cached first reads it from disk, in the commit, on the
        event loop, where a busy disk made that wait 0.25-0.6 s. The next `LOG_READ_AHEAD`
        bytes from where the writer is (`written`), wrapping to the file's start, since that
        is where the next restart sends it. Asynchronous: ~0.1 ms when all of it is cached."""
        if not hasattr(os, "posix_fadvise"):  # not on macOS
            return
        try:
            # Only ever the log: closing a descriptor drops every POSIX lock the process holds
            # on that file, and SQLite locks the database and `-shm` files, never the log.
            fd = os.open(self.path + "-wal", os.O_RDONLY)
        except OSError:  # no log yet, or it went away with the last connection
            return
        try:
            size = os.fstat(fd).st_size
            if size <= LOG_READ_AHEAD:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
            else:
                start = min(written, size)
                os.posix_fadvise(fd, start, LOG_READ_AHEAD, os.POSIX_FADV_WILLNEED)
                if start + LOG_READ_AHEAD > size:
                    os.posix_fadvise(fd, 0, start + LOG_READ_AHEAD - size, os.POSIX_FADV_WILLNEED)
        except OSError as exc:
            log.debug("WAL read-ahead failed: %s", exc)
        finally:
            os.close(fd)

    def _logged(self, size: int) -> None:
        sqlite_wal_bytes.set(size)
        loop, wanted = self._loop, self._wanted
        if size >= self.limit_bytes and loop is not None and wanted is not None:
            if not self._pending:
                self._pending = True
                with contextlib.suppress(RuntimeError):  # the loop is closing
                    loop.call_soon_threadsafe(wanted.set)

    async def _restarts(
        self, wanted: asyncio.Event, write_lock: Callable[[], AbstractAsyncContextManager[None]]
    ) -> None:
        while True:
            await wanted.wait()
            wanted.clear()
            try:
                # Copy what is in the log now before taking the lock, so that the restart
                # under it copies, and syncs, only the last moment's commits.
                await asyncio.to_thread(self._copy)
                async with write_lock():
                    await asyncio.to_thread(self.restart)
            except sqlite3.Error as exc:
                log.warning("WAL restart failed: %s", exc)
            finally:
                self._pending = False

    def _copy(self) -> None:
        with self._restart_mutex:
            self._connection().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()

    def _connection(self) -> sqlite3.Connection:
        if self._restart_conn is None:
            self._restart_conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False
            )
            self._restart_conn.execute("PRAGMA busy_timeout=0")
        return self._restart_conn

    def restart(self) -> bool:
        """A RESTART checkpoint; the caller holds the writer lock. True when the next commit
        will start the log over; False when readers stayed on it past `restart_wait_ms`.

        Readers are polled every 0.5 ms rather than waited for by SQLite's busy handler, whose
        sleeps grow (1, 2, 5, 10 ms, ...). What the lock is held for is mostly the two syncs
        of what is copied under it (3-13 ms measured at 2,000-5,000 msg/s)."""
        deadline = time.monotonic() + self.restart_wait_ms / 1000
        with self._restart_mutex:
            conn = self._connection()
            while True:
                busy = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()[0]
                if not busy or time.monotonic() >= deadline:
                    break
                time.sleep(0.0005)
        if busy:
            self.restarts_busy += 1
            return False
        self.restarts += 1
        sqlite_wal_restarts_total.inc()
        return True


def sqlite_busy(exc: BaseException) -> bool:
    """Another connection holds SQLite's write lock: the driver's error, or SQLAlchemy's
    wrapping it."""
    err = getattr(exc, "orig", exc)
    return getattr(err, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


async def retry_while_busy(attempt: Callable[[], T]) -> T:
    """`attempt()` (a whole write transaction, rolled back when refused), tried again while
    another process holds SQLite's write lock: waiting in the event loop with back-off, never
    in SQLite's busy timeout (which would block the loop), up to `BUSY_WAIT_S`; then the
    refusal itself. The message writer's batches and `Database.write_now`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BUSY_WAIT_S
    delay = 0.001
    while True:
        try:
            return attempt()
        except Exception as exc:
            if not sqlite_busy(exc) or loop.time() > deadline:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)


def immediate_transaction(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """`work(conn)` between `BEGIN IMMEDIATE` and `COMMIT` on a sqlite3 connection in autocommit
    mode (`isolation_level=None`), rolled back if it raises; SQLite busy at `BEGIN` (another
    process writes) is the caller's to wait for (`retry_while_busy`). `Database.write_raw` and
    the message writer's batches."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # an error SQLite rolled back itself leaves none to undo
            conn.execute("ROLLBACK")
        raise
    return result


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
    # The commit that starts the log over also cuts a longer log file back to this size.
    execute(f"PRAGMA journal_size_limit={WAL_FILE_LIMIT}")


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


def _configure_sqlite_now(engine: Engine) -> None:
    """`Database.write_now`'s connection: the app's pragmas, but SQLite never waits for a lock
    (the caller waits in the loop), and every transaction begins IMMEDIATE."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        sqlite_pragmas(dbapi_conn.execute, busy_timeout_ms=0)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _configure_sqlite(engine: AsyncEngine, path: str | None) -> None:
    """`path`: the database file (None in memory), whose message index sessions attach."""
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take over transaction control from the driver so we can say BEGIN IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        sqlite_pragmas(cur.execute, busy_timeout_ms=BUSY_WAIT_S * 1000)
        if path is not None:
            attach_search(cur.execute, path)
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("helpline_immediate"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")
