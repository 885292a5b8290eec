"""What a WebSocket handshake's read of its caller costs the event loop: `service.authenticate`
in a unit of its own, through the usual async session (aiosqlite: each call a trip to the
connection's thread) and through `read_now` (the calls made at once in the loop, decision
044), alternating, on a SQLite file with `--users` guests and their sessions. Prints the loop
thread's CPU and the wall time per unit, per round and the median.

    python bench/read_now.py [--users 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

import helpline.models  # noqa: F401  (every table)
from helpline.accounts import service
from helpline.accounts.models import User
from helpline.config import Settings
from helpline.db import Base, Database, UnitOfWork
from helpline.kit.enums import Role
from helpline.kit.ids import new_id

Reader = Callable[[], AbstractAsyncContextManager[AsyncSession]]


async def _units(read: Reader, tokens: list[str], settings: Settings) -> tuple[float, float]:
    """(loop thread's CPU µs, wall µs) per unit."""
    cpu, wall = time.thread_time(), time.perf_counter()
    for token in tokens:
        async with read() as session:
            await service.authenticate(UnitOfWork(session, {}), token, settings)
    n = len(tokens)
    return 1e6 * (time.thread_time() - cpu) / n, 1e6 * (time.perf_counter() - wall) / n


@asynccontextmanager
async def _database(users: int) -> AsyncIterator[tuple[Database, list[str]]]:
    db = Database(f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='helpline-read-now-')}/h.db")
    assert db._now_engine is not None
    assert db._now is not None
    Base.metadata.create_all(db._now_engine)
    tokens = []
    with db._now() as session, session.begin():
        for i in range(users):
            user = User(id=new_id(), email=f"g{i}@example.com", name="G", role=Role.customer)
            token, auth_session = service._new_session(user, ip=None, user_agent=None)
            session.add(user)
            session.flush()
            session.add(auth_session)
            tokens.append(token)
    try:
        yield db, tokens
    finally:
        await db.dispose()


async def main(users: int, rounds: int) -> None:
    settings = Settings()
    async with _database(users) as (db, tokens):
        readers: dict[str, Reader] = {"read (aiosqlite)": db.read, "read_now": db.read_now}
        for read in readers.values():  # warm-up: statement caches, connections
            await _units(read, tokens[:100], settings)
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in readers}
        for _ in range(rounds):
            for name, read in readers.items():
                results[name].append(await _units(read, tokens, settings))
        for name, runs in results.items():
            print(
                f"{name:17s} loop CPU µs a unit {[round(c) for c, _ in runs]} median "
                f"{statistics.median(c for c, _ in runs):.0f}; wall median "
                f"{statistics.median(w for _, w in runs):.0f} µs"
            )


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args()
    asyncio.run(main(a.users, a.rounds))
