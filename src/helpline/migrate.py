"""Alembic, driven from code: `helpline migrate` (a plan, a lock, then the upgrade), and the
start-up check.

`helpline migrate` may be started by every container of a rolling deploy at once. It takes a
database-wide lock first (PostgreSQL: a session advisory lock; SQLite: a lock file beside the
database), reads the current revision only once it holds the lock, so the second of two
waits and then finds nothing to do. A database at a revision this code does not know (a newer
release migrated it) is refused before anything runs."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from helpline.db import Database

HERE = Path(__file__).parent
# pg_advisory_lock's key: any constant that no other application on the database uses.
MIGRATE_LOCK_KEY = 0x48_4C_4D_49_47  # "HLMIG"


class NotMigrated(RuntimeError):
    pass


class NewerSchema(RuntimeError):
    """The database was migrated by a newer release than this code."""


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    # env.py runs its own event loop; a worker thread lets callers that are inside one migrate.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(command.upgrade, alembic_config(url), revision).result()


def head(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


@dataclass(frozen=True)
class Step:
    revision: str
    description: str


@dataclass(frozen=True)
class Plan:
    current: str | None
    head: str | None
    steps: tuple[Step, ...]


def _current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def plan_from(url: str, current: str | None) -> Plan:
    """The revisions from `current` to head, oldest first; NewerSchema for an unknown one."""
    script = ScriptDirectory.from_config(alembic_config(url))
    target = script.get_current_head()
    if current is not None:
        try:
            script.get_revision(current)
        except CommandError as exc:
            raise NewerSchema(
                f"The database is at migration {current}, which this version of Helpline does "
                f"not know (its newest is {target}): a newer release migrated it. Run that "
                "release, or restore a backup taken before it; nothing was changed."
            ) from exc
    revisions = list(script.iterate_revisions(target, current)) if current != target else []
    steps = tuple(
        Step(r.revision, (r.doc or "").strip().splitlines()[0] if r.doc else "")
        for r in reversed(revisions)
    )
    return Plan(current, target, steps)


@contextlib.asynccontextmanager
async def _pg_lock(conn: AsyncConnection, say: Callable[[str], None]) -> AsyncIterator[None]:
    got = await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": MIGRATE_LOCK_KEY})
    if not got.scalar_one():
        say("Another `helpline migrate` is running on this database; waiting for it to finish…")
        await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATE_LOCK_KEY})
    await conn.commit()  # the lock is the session's, not the transaction's
    try:
        yield
    finally:
        await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATE_LOCK_KEY})
        await conn.commit()


@contextlib.asynccontextmanager
async def _file_lock(path: Path, say: Callable[[str], None]) -> AsyncIterator[None]:
    lock = path.with_name(path.name + ".migrate-lock")
    with lock.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("Another `helpline migrate` is running on this database; waiting for it to finish…")
            await asyncio.to_thread(fcntl.flock, fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


async def migrate(url: str, say: Callable[[str], None]) -> Plan:
    """Lock, plan (printed through `say`), upgrade; returns the plan that was carried out."""
    db = Database(url, pool_size=2, max_overflow=0)
    try:
        async with db.engine.connect() as conn:
            lock = _file_lock(Path(db.sqlite_path), say) if db.sqlite_path else _pg_lock(conn, say)
            async with lock:
                current = await conn.run_sync(_current_revision)
                await conn.commit()
                plan = plan_from(url, current)
                if not plan.steps:
                    return plan
                say(f"Migrating from {plan.current or 'an empty database'} to {plan.head}:")
                for step in plan.steps:
                    say(f"  {step.revision}  {step.description}")
                await asyncio.to_thread(upgrade, url)
                return plan
    finally:
        await db.dispose()


async def check_current(db: Database) -> None:
    """Refuse to serve an unmigrated or outdated database, with the fix in the message."""
    expected = head(db.url)

    async with db.engine.connect() as conn:
        current = await conn.run_sync(_current_revision)
    if current != expected:
        try:
            plan_from(db.url, current)
        except NewerSchema as exc:
            raise NotMigrated(str(exc)) from exc
        raise NotMigrated(
            f"The database is at migration {current or 'none'}, the code needs {expected}. "
            "Run `helpline migrate` first (`make run` does it for you)."
        )
