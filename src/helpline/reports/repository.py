"""The reports' queries: aggregates over chats and requests, grouped in SQL by UTC day.

Reports read across domains by nature (chats, requests, queues, users); they only read, so
they query those tables directly instead of loading objects through other services. Every
query is bounded by a `created_at` range, served by the indexes in `reports.models`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, String, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from helpline.accounts.models import User
from helpline.chats.models import Chat
from helpline.kit.enums import ChatStatus
from helpline.queues.models import Queue
from helpline.servicedesk.models import ServiceRequest

# --- portable SQL for days and durations ------------------------------------------------------


class utc_day(FunctionElement[str]):
    """The UTC calendar day of a timestamp, as 'YYYY-MM-DD' text."""

    type = String()
    inherit_cache = True


@compiles(utc_day)
def _utc_day(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    # PostgreSQL: timestamptz; say UTC explicitly, whatever the session's time zone.
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    # Stored as naive UTC text, "2026-11-26 12:00:00.000000": the day is its first ten characters.
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 10)"


class elapsed_s(FunctionElement[float]):
    """Seconds from `earlier` to `later`, never negative (clocks of several servers may
    disagree by a little); NULL when either is NULL."""

    type = Float()
    inherit_cache = True


@compiles(elapsed_s)
def _elapsed_s(element: elapsed_s, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    seconds = f"CAST(EXTRACT(EPOCH FROM ({later}) - ({earlier})) AS DOUBLE PRECISION)"
    return f"GREATEST({seconds}, 0)"


@compiles(elapsed_s, "sqlite")
def _elapsed_s_sqlite(element: elapsed_s, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    # julianday keeps ~0.1 ms of precision at today's dates: plenty for waits and handling.
    # The two-argument max() is scalar, and NULL when either argument is.
    return f"max((julianday({later}) - julianday({earlier})) * 86400.0, 0.0)"


# --- queries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Chats started in [start, end) in `queue_ids`: every queue, or the one asked for."""

    start: datetime
    end: datetime
    queue_ids: tuple[str, ...]
    queue_id: str | None = None

    def chats(self) -> list[ColumnElement[bool]]:
        # Always a queue condition, even for "all queues": ix_chats_report leads with queue_id,
        # and an IN list of every queue (a handful) is one index range per queue.
        return [
            Chat.queue_id.in_(self.queue_ids),
            Chat.created_at >= self.start,
            Chat.created_at < self.end,
        ]


@dataclass(frozen=True)
class StatusCount:
    day: str
    queue_id: str
    status: str
    chats: int
    ratings: int
    rating_sum: int


async def status_counts(session: AsyncSession, scope: Scope) -> list[StatusCount]:
    """Chats per day, queue and status, with their ratings (at most days x queues x 5 rows)."""
    day = utc_day(Chat.created_at)
    stmt = (
        select(
            day,
            Chat.queue_id,
            Chat.status,
            func.count(),
            func.count(Chat.rating_score),
            func.coalesce(func.sum(Chat.rating_score), 0),
        )
        .where(*scope.chats())
        .group_by(day, Chat.queue_id, Chat.status)
    )
    return [
        StatusCount(str(d), q, s, int(n), int(r), int(total or 0))
        for d, q, s, n, r, total in (await session.execute(stmt)).all()
    ]


# (UTC day, queue id, agent id, wait s, handling s or None)
Timing = tuple[str, str, str | None, float, float | None]


async def timings(
    session: AsyncSession, scope: Scope, *, chunk: int = 2000
) -> AsyncIterator[Sequence[Timing]]:
    """One row per accepted chat: its wait (entering its current queue -> accepted) and, once
    closed, its handling time (accepted -> closed). Medians and p90 are taken from these in
    Python: portable across SQLite and PostgreSQL, and bounded by the date range.

    This is the one query whose size grows with the range (~100,000 rows for a busy year). It
    runs on the Core connection (no ORM row loading) and arrives in chunks, so the event loop,
    which also relays live chat messages, is never held for long."""
    stmt = select(
        utc_day(Chat.created_at),
        Chat.queue_id,
        Chat.agent_id,
        elapsed_s(Chat.accepted_at, func.coalesce(Chat.waiting_since, Chat.created_at)),
        elapsed_s(Chat.closed_at, Chat.accepted_at),
    ).where(*scope.chats(), Chat.accepted_at.is_not(None))
    conn = await session.connection()
    result = await conn.stream(stmt)
    async for rows in result.partitions(chunk):
        yield rows


@dataclass(frozen=True)
class AgentCount:
    agent_id: str
    chats: int
    solved: int
    ratings: int
    rating_sum: int


async def agent_counts(session: AsyncSession, scope: Scope) -> list[AgentCount]:
    """Per agent who holds (or last held) a chat: chats, solved, ratings."""
    stmt = (
        select(
            Chat.agent_id,
            func.count(),
            func.coalesce(func.sum(case((Chat.status == ChatStatus.solved, 1), else_=0)), 0),
            func.count(Chat.rating_score),
            func.coalesce(func.sum(Chat.rating_score), 0),
        )
        .where(*scope.chats(), Chat.agent_id.is_not(None))
        .group_by(Chat.agent_id)
    )
    return [
        AgentCount(str(a), int(n), int(s or 0), int(r), int(total or 0))
        for a, n, s, r, total in (await session.execute(stmt)).all()
    ]


async def rating_distribution(session: AsyncSession, scope: Scope) -> dict[int, int]:
    stmt = (
        select(Chat.rating_score, func.count())
        .where(*scope.chats(), Chat.rating_score.is_not(None))
        .group_by(Chat.rating_score)
    )
    return {int(score or 0): int(n) for score, n in (await session.execute(stmt)).all()}


async def requests_raised(session: AsyncSession, scope: Scope) -> list[tuple[str, str, int]]:
    """Requests raised from chats, per day raised and the chat's queue."""
    day = utc_day(ServiceRequest.created_at)
    stmt = (
        select(day, Chat.queue_id, func.count())
        .join(Chat, Chat.id == ServiceRequest.chat_id)
        .where(
            ServiceRequest.created_at >= scope.start,
            ServiceRequest.created_at < scope.end,
            ServiceRequest.chat_id.is_not(None),
        )
        .group_by(day, Chat.queue_id)
    )
    if scope.queue_id is not None:
        stmt = stmt.where(Chat.queue_id == scope.queue_id)
    return [(str(d), q, int(n)) for d, q, n in (await session.execute(stmt)).all()]


async def queues(session: AsyncSession) -> list[tuple[str, str, bool]]:
    """Every queue, inactive ones included (their chats still count): id, name, active."""
    stmt = select(Queue.id, Queue.name, Queue.active)
    return [(str(i), str(n), bool(a)) for i, n, a in (await session.execute(stmt)).all()]


async def user_names(session: AsyncSession, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    stmt = select(User.id, User.name).where(User.id.in_(ids))
    return {str(uid): str(name) for uid, name in (await session.execute(stmt)).all()}
