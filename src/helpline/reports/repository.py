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

from sqlalchemy import ColumnElement, Float, String, and_, case, false, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from helpline.accounts.models import User
from helpline.chats.models import Chat
from helpline.kit.enums import ChatStatus
from helpline.queues.models import Queue
from helpline.reports.models import ReportChat, ReportRaised, ReportRequest
from helpline.servicedesk.models import ServiceRequest
from helpline.tags.models import ChatTag

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
    tag_id: str | None = None

    def chats(self, t: Source = Chat) -> list[ColumnElement[bool]]:
        # Always a queue condition, even for "all queues": ix_chats_report leads with queue_id,
        # and an IN list of every queue (a handful) is one index range per queue.
        where = [
            t.queue_id.in_(self.queue_ids),
            t.created_at >= self.start,
            t.created_at < self.end,
        ]
        if self.tag_id is not None:
            # The tag's chats, from chat_tags' index on tag_id; the facts kept of removed
            # chats carry no tags, so a report by tag counts only the chats there are.
            tagged = select(ChatTag.chat_id).where(ChatTag.tag_id == self.tag_id)
            where.append(Chat.id.in_(tagged) if t is Chat else false())
        return where


# Every query reads the chats there are and the report facts kept of removed ones (retention):
# the same columns under the same names, so a report over a period keeps its totals.
Source = type[Chat] | type[ReportChat]
SOURCES: tuple[Source, ...] = (Chat, ReportChat)


@dataclass(frozen=True)
class StatusCount:
    day: str
    queue_id: str
    status: str
    chats: int
    ratings: int
    rating_sum: int


async def status_counts(session: AsyncSession, scope: Scope) -> list[StatusCount]:
    """Chats per day, queue and status, with their ratings (at most days x queues x 5 rows per
    source; a day, queue and status may come twice, once per source)."""
    out = []
    for t in SOURCES:
        day = utc_day(t.created_at)
        stmt = (
            select(
                day,
                t.queue_id,
                t.status,
                func.count(),
                func.count(t.rating_score),
                func.coalesce(func.sum(t.rating_score), 0),
            )
            .where(*scope.chats(t))
            .group_by(day, t.queue_id, t.status)
        )
        out += [
            StatusCount(str(d), q, s, int(n), int(r), int(total or 0))
            for d, q, s, n, r, total in (await session.execute(stmt)).all()
        ]
    return out


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
    conn = await session.connection()
    for t in SOURCES:
        stmt = select(
            utc_day(t.created_at),
            t.queue_id,
            t.agent_id,
            elapsed_s(t.accepted_at, func.coalesce(t.waiting_since, t.created_at)),
            elapsed_s(t.closed_at, t.accepted_at),
        ).where(*scope.chats(t), t.accepted_at.is_not(None))
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
    per_agent: dict[str, AgentCount] = {}
    for t in SOURCES:
        stmt = (
            select(
                t.agent_id,
                func.count(),
                func.coalesce(func.sum(case((t.status == ChatStatus.solved, 1), else_=0)), 0),
                func.count(t.rating_score),
                func.coalesce(func.sum(t.rating_score), 0),
            )
            .where(*scope.chats(t), t.agent_id.is_not(None))
            .group_by(t.agent_id)
        )
        for a, n, s, r, total in (await session.execute(stmt)).all():
            was = per_agent.get(str(a), AgentCount(str(a), 0, 0, 0, 0))
            per_agent[str(a)] = AgentCount(
                was.agent_id,
                was.chats + int(n),
                was.solved + int(s or 0),
                was.ratings + int(r),
                was.rating_sum + int(total or 0),
            )
    return list(per_agent.values())


@dataclass(frozen=True)
class SlaCount:
    queue_id: str
    agent_id: str | None
    met: int
    missed: int


def _sla_missed(t: Source) -> ColumnElement[bool]:
    return or_(
        t.sla_breached.is_(True),
        and_(t.sla_first_response_at.is_not(None), t.sla_first_response_at > t.sla_due_at),
    )


def _sla_met(t: Source) -> ColumnElement[bool]:
    return and_(
        t.sla_breached.is_(False),
        t.sla_first_response_at.is_not(None),
        t.sla_first_response_at <= t.sla_due_at,
    )


async def sla_counts(session: AsyncSession, scope: Scope) -> list[SlaCount]:
    """First-response outcomes per queue and agent: met (answered by the due time) and missed
    (breached, or answered after it). Chats still running or closed unanswered before their due
    time are neither. A queue and agent may come twice, once per source."""
    out = []
    for t in SOURCES:
        stmt = (
            select(
                t.queue_id,
                t.agent_id,
                func.coalesce(func.sum(case((_sla_met(t), 1), else_=0)), 0),
                func.coalesce(func.sum(case((_sla_missed(t), 1), else_=0)), 0),
            )
            .where(*scope.chats(t), or_(t.sla_due_at.is_not(None), t.sla_breached.is_(True)))
            .group_by(t.queue_id, t.agent_id)
        )
        out += [
            SlaCount(str(q), str(a) if a is not None else None, int(m or 0), int(x or 0))
            for q, a, m, x in (await session.execute(stmt)).all()
        ]
    return out


# Requests there are and the service-level facts kept of removed ones (retention).
RequestSource = type[ServiceRequest] | type[ReportRequest]
REQUEST_SOURCES: tuple[RequestSource, ...] = (ServiceRequest, ReportRequest)


@dataclass(frozen=True)
class RequestSlaCount:
    team_id: str
    assignee_id: str | None
    priority: str
    response_met: int
    response_missed: int
    resolve_met: int
    resolve_missed: int


def _outcomes(
    due: Any, done: Any, breached: Any
) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """(met, missed) of one target: met when done by the due time and never breached; missed
    when breached, or done after the due time. Neither while it is still running."""
    met = and_(due.is_not(None), breached.is_(False), done.is_not(None), done <= due)
    missed = and_(due.is_not(None), or_(breached.is_(True), and_(done.is_not(None), done > due)))
    return met, missed


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def request_sla_counts(session: AsyncSession, scope: Scope) -> list[RequestSlaCount]:
    """Requests' response and resolution outcomes per team, assignee and priority, for the
    requests created in the range in the queues of `scope` (their team). With a tag: the
    requests raised from chats with that tag. A group may come twice, once per source."""
    out = []
    for t in REQUEST_SOURCES:
        response_met, response_missed = _outcomes(
            t.response_due_at, t.first_response_at, t.response_breached
        )
        resolve_met, resolve_missed = _outcomes(t.resolve_due_at, t.resolved_at, t.resolve_breached)
        where = [
            t.team_id.in_(scope.queue_ids),
            t.created_at >= scope.start,
            t.created_at < scope.end,
            or_(t.response_due_at.is_not(None), t.resolve_due_at.is_not(None)),
        ]
        if scope.tag_id is not None:
            tagged = select(ChatTag.chat_id).where(ChatTag.tag_id == scope.tag_id)
            where.append(ServiceRequest.chat_id.in_(tagged) if t is ServiceRequest else false())
        stmt = (
            select(
                t.team_id,
                t.assignee_id,
                t.priority,
                _count(response_met),
                _count(response_missed),
                _count(resolve_met),
                _count(resolve_missed),
            )
            .where(*where)
            .group_by(t.team_id, t.assignee_id, t.priority)
        )
        out += [
            RequestSlaCount(
                str(team),
                str(who) if who is not None else None,
                str(priority),
                int(a or 0),
                int(b or 0),
                int(c or 0),
                int(d or 0),
            )
            for team, who, priority, a, b, c, d in (await session.execute(stmt)).all()
        ]
    return out


async def rating_distribution(session: AsyncSession, scope: Scope) -> dict[int, int]:
    out: dict[int, int] = {}
    for t in SOURCES:
        stmt = (
            select(t.rating_score, func.count())
            .where(*scope.chats(t), t.rating_score.is_not(None))
            .group_by(t.rating_score)
        )
        for score, n in (await session.execute(stmt)).all():
            out[int(score or 0)] = out.get(int(score or 0), 0) + int(n)
    return out


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
    if scope.tag_id is not None:
        tagged = select(ChatTag.chat_id).where(ChatTag.tag_id == scope.tag_id)
        stmt = stmt.where(ServiceRequest.chat_id.in_(tagged))
    out = [(str(d), q, int(n)) for d, q, n in (await session.execute(stmt)).all()]
    if scope.tag_id is not None:
        return out  # the facts kept of removed requests carry no tags
    kept_day = utc_day(ReportRaised.created_at)
    kept = (
        select(kept_day, ReportRaised.queue_id, func.count())
        .where(ReportRaised.created_at >= scope.start, ReportRaised.created_at < scope.end)
        .group_by(kept_day, ReportRaised.queue_id)
    )
    if scope.queue_id is not None:
        kept = kept.where(ReportRaised.queue_id == scope.queue_id)
    return out + [(str(d), q, int(n)) for d, q, n in (await session.execute(kept)).all()]


async def queues(session: AsyncSession) -> list[tuple[str, str, bool]]:
    """Every queue, inactive ones included (their chats still count): id, name, active."""
    stmt = select(Queue.id, Queue.name, Queue.active)
    return [(str(i), str(n), bool(a)) for i, n, a in (await session.execute(stmt)).all()]


async def user_names(session: AsyncSession, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    stmt = select(User.id, User.name).where(User.id.in_(ids))
    return {str(uid): str(name) for uid, name in (await session.execute(stmt)).all()}


# --- what reports keep of removed chats and requests ------------------------------------------


async def keep_chats(session: AsyncSession, chat_ids: Sequence[str]) -> None:
    """Copy the report columns of chats about to be removed into `report_chats`."""
    cols = (
        Chat.queue_id,
        Chat.created_at,
        Chat.status,
        Chat.agent_id,
        Chat.rating_score,
        Chat.waiting_since,
        Chat.accepted_at,
        Chat.closed_at,
        Chat.sla_due_at,
        Chat.sla_first_response_at,
        Chat.sla_breached,
    )
    source = select(*cols).where(Chat.id.in_(chat_ids))
    await session.execute(
        insert(ReportChat).from_select([c.key for c in cols], source),
    )


async def keep_raised(
    session: AsyncSession, chat_ids: Sequence[str], request_ids: Sequence[str]
) -> None:
    """Requests raised from chats whose link is about to break (the chat or the request is
    removed): counted once, here, because afterwards the join finds neither."""
    source = (
        select(ServiceRequest.created_at, Chat.queue_id)
        .join(Chat, Chat.id == ServiceRequest.chat_id)
        .where(or_(ServiceRequest.chat_id.in_(chat_ids), ServiceRequest.id.in_(request_ids)))
    )
    await session.execute(insert(ReportRaised).from_select(["created_at", "queue_id"], source))


async def keep_requests(session: AsyncSession, request_ids: Sequence[str]) -> None:
    """Copy the service-level columns of requests about to be removed into `report_requests`
    (only those that had a target: the others count in no service level)."""
    t = ServiceRequest
    cols = (
        t.team_id,
        t.assignee_id,
        t.priority,
        t.created_at,
        t.response_due_at,
        t.first_response_at,
        t.response_breached,
        t.resolve_due_at,
        t.resolved_at,
        t.resolve_breached,
    )
    source = select(*cols).where(
        t.id.in_(request_ids), or_(t.response_due_at.is_not(None), t.resolve_due_at.is_not(None))
    )
    await session.execute(insert(ReportRequest).from_select([c.key for c in cols], source))
