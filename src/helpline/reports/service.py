"""Reports for supervisors and admins: volumes, waits, handling, outcomes, requests, ratings,
service levels (chats' first response; requests' response and resolution) and per-agent load
over a range of UTC days.

Counts are grouped in SQL (per day, queue and status); medians and p90 come from one bounded
query of per-chat durations. A chat belongs to the UTC day it started (`created_at`); a
request raised from a chat to the day it was raised; a request's service levels to the day it
was created, in its team's queue and with its assignee.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from helpline.accounts.models import User
from helpline.accounts.service import require_role
from helpline.db import UnitOfWork
from helpline.errors import Invalid
from helpline.kit.clock import now
from helpline.kit.enums import ChatStatus, Role
from helpline.queues.sla import PRIORITY_KEY
from helpline.reports import repository as repo
from helpline.reports.repository import Scope
from helpline.reports.stats import average, percentile, rounded, spread
from helpline.tags import service as tags

MAX_DAYS = 366
DEFAULT_DAYS = 30
SCORES = (1, 2, 3, 4, 5)
# The keys of a queue's `request_sla`, most urgent first.
REQUEST_PRIORITIES = ("urgent", "high", "normal", "low")


@dataclass(frozen=True)
class Period:
    """UTC days from `start` to `end`, both included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def dates(self) -> list[str]:
        return [(self.start + timedelta(days=i)).isoformat() for i in range(self.days)]

    def scope(
        self, queue_ids: tuple[str, ...], queue_id: str | None, tag_id: str | None = None
    ) -> Scope:
        return Scope(
            start=datetime.combine(self.start, time.min, UTC),
            end=datetime.combine(self.end + timedelta(days=1), time.min, UTC),
            queue_ids=queue_ids,
            queue_id=queue_id,
            tag_id=tag_id,
        )


def period(start: date | None, end: date | None) -> Period:
    """The requested range; by default the last 30 days, today (UTC) included."""
    end = end or now().date()
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise Invalid("`from` must not be after `to`.", code="invalid_range")
    if (end - start).days + 1 > MAX_DAYS:
        raise Invalid(f"A report covers at most {MAX_DAYS} days.", code="range_too_long")
    return Period(start, end)


@dataclass
class Tally:
    """What one row of a report adds up: a day, a queue or the whole range."""

    chats: int = 0
    solved: int = 0
    cancelled: int = 0
    expired: int = 0
    open: int = 0
    requests_raised: int = 0
    ratings: int = 0
    rating_sum: int = 0
    waits: list[float] = field(default_factory=list)
    handles: list[float] = field(default_factory=list)

    def add(self, row: repo.StatusCount) -> None:
        self.chats += row.chats
        self.ratings += row.ratings
        self.rating_sum += row.rating_sum
        if row.status == ChatStatus.solved:
            self.solved += row.chats
        elif row.status == ChatStatus.cancelled:
            self.cancelled += row.chats
        elif row.status == ChatStatus.expired:
            self.expired += row.chats
        else:
            self.open += row.chats

    def counts(self) -> dict[str, int]:
        return {
            "chats": self.chats,
            "solved": self.solved,
            "cancelled": self.cancelled,
            "expired": self.expired,
            "open": self.open,
            "requests_raised": self.requests_raised,
        }

    def row(self) -> dict[str, Any]:
        self.waits.sort()
        self.handles.sort()
        return {
            **self.counts(),
            "wait_median_s": rounded(percentile(self.waits, 0.5)),
            "wait_p90_s": rounded(percentile(self.waits, 0.9)),
            "handle_median_s": rounded(percentile(self.handles, 0.5)),
            "handle_p90_s": rounded(percentile(self.handles, 0.9)),
            "ratings": self.ratings,
            "rating_avg": average(self.rating_sum, self.ratings),
        }


@dataclass
class Collected:
    """Everything read from the database for one report, before the statistics."""

    span: Period
    queue_id: str | None
    names: dict[str, str]
    tag_id: str | None = None
    shown: list[str] = field(default_factory=list)
    total: Tally = field(default_factory=Tally)
    days: dict[str, Tally] = field(default_factory=dict)
    by_day_queue: dict[str, dict[str, int]] = field(default_factory=dict)
    per_queue: defaultdict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    agent_handles: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    agents: list[repo.AgentCount] = field(default_factory=list)
    agent_names: dict[str, str] = field(default_factory=dict)
    distribution: dict[int, int] = field(default_factory=dict)
    # First-response service level: [met, missed] per queue, per agent and in all.
    sla_queues: defaultdict[str, list[int]] = field(default_factory=lambda: defaultdict(_pair))
    sla_agents: defaultdict[str, list[int]] = field(default_factory=lambda: defaultdict(_pair))
    sla_total: list[int] = field(default_factory=lambda: [0, 0])
    # Requests' service levels: [response met, missed, resolution met, missed] per team queue,
    # per assignee, per priority (the contract's keys) and in all.
    req_queues: defaultdict[str, list[int]] = field(default_factory=lambda: defaultdict(_four))
    req_agents: defaultdict[str, list[int]] = field(default_factory=lambda: defaultdict(_four))
    req_priorities: dict[str, list[int]] = field(
        default_factory=lambda: {key: _four() for key in REQUEST_PRIORITIES}
    )
    req_total: list[int] = field(default_factory=lambda: _four())


def _pair() -> list[int]:
    return [0, 0]


def _four() -> list[int]:
    return [0, 0, 0, 0]


def sla_share(met: int, missed: int) -> dict[str, Any]:
    """`share`: met / (met + missed), 0 to 1 with 4 decimals; None when nothing was decided."""
    decided = met + missed
    return {"met": met, "missed": missed, "share": round(met / decided, 4) if decided else None}


async def summary(
    uow: UnitOfWork,
    user: User,
    *,
    start: date | None,
    end: date | None,
    queue_id: str | None,
    tag_id: str | None = None,
) -> dict[str, Any]:
    """`tag_id`: only the chats with that tag (an unknown one is `422 unknown_tag`)."""
    require_role(user, Role.supervisor, Role.admin)
    span = period(start, end)
    session = uow.session
    all_queues = await repo.queues(session)
    names = {qid: name for qid, name, _ in all_queues}
    if queue_id is not None and queue_id not in names:
        raise Invalid("Unknown queue.", code="unknown_queue")
    if tag_id is not None:
        await tags.check_ids(uow, [tag_id])
    scope = span.scope((queue_id,) if queue_id else tuple(names), queue_id, tag_id)
    c = Collected(span=span, queue_id=queue_id, names=names, tag_id=tag_id)
    c.days = {d: Tally() for d in span.dates()}
    c.by_day_queue = {d: {} for d in c.days}

    for row in await repo.status_counts(session, scope):
        c.total.add(row)
        c.per_queue[row.queue_id].add(row)
        c.days[row.day].add(row)
        per_day = c.by_day_queue[row.day]
        per_day[row.queue_id] = per_day.get(row.queue_id, 0) + row.chats

    # The one loop over every accepted chat of the range: kept to plain appends, a chunk at a
    # time (see repo.timings).
    total, days, per_queue, agent_handles = c.total, c.days, c.per_queue, c.agent_handles
    async for chunk in repo.timings(session, scope):
        for day, qid, agent_id, wait, handle in chunk:
            by_day = days[day]
            by_queue = per_queue[qid]
            total.waits.append(wait)
            by_queue.waits.append(wait)
            by_day.waits.append(wait)
            if handle is not None:
                total.handles.append(handle)
                by_queue.handles.append(handle)
                by_day.handles.append(handle)
                if agent_id is not None:
                    agent_handles[agent_id].append(handle)

    for day, qid, n in await repo.requests_raised(session, scope):
        c.total.requests_raised += n
        c.per_queue[qid].requests_raised += n
        c.days[day].requests_raised += n

    for sla in await repo.sla_counts(session, scope):
        pairs = [c.sla_queues[sla.queue_id], c.sla_total]
        if sla.agent_id is not None:
            pairs.append(c.sla_agents[sla.agent_id])
        for pair in pairs:
            pair[0] += sla.met
            pair[1] += sla.missed

    for req in await repo.request_sla_counts(session, scope):
        counts = [req.response_met, req.response_missed, req.resolve_met, req.resolve_missed]
        fours = [c.req_queues[req.team_id], c.req_total]
        priority = PRIORITY_KEY.get(req.priority, req.priority)
        if priority in c.req_priorities:
            fours.append(c.req_priorities[priority])
        if req.assignee_id is not None:
            fours.append(c.req_agents[req.assignee_id])
        for four in fours:
            for i, n in enumerate(counts):
                four[i] += n

    c.distribution = await repo.rating_distribution(session, scope)
    c.agents = await repo.agent_counts(session, scope)
    # Staff who only worked on requests still get a row for their requests' service levels.
    with_chats = {a.agent_id for a in c.agents}
    c.agents += [repo.AgentCount(a, 0, 0, 0, 0) for a in c.req_agents if a not in with_chats]
    c.agent_names = await repo.user_names(session, {a.agent_id for a in c.agents})
    # One queue asked for: that queue. Otherwise the active queues (idle ones show zeros), and
    # inactive ones that still had chats in the range.
    c.shown = (
        [queue_id]
        if queue_id
        else [
            qid
            for qid, _, active in all_queues
            if active or qid in c.per_queue or qid in c.req_queues
        ]
    )
    # Sorting ~100,000 durations for a year takes tens of ms of CPU: done in a thread, so the
    # event loop keeps relaying chat messages meanwhile.
    return await asyncio.to_thread(assemble, c)


def assemble(c: Collected) -> dict[str, Any]:
    """The report's shape, with medians and p90. Pure: no IO."""
    agents: list[dict[str, Any]] = []
    for a in c.agents:
        handles = sorted(c.agent_handles.get(a.agent_id, []))
        agents.append(
            {
                "id": a.agent_id,
                "name": c.agent_names.get(a.agent_id, ""),
                "chats": a.chats,
                "solved": a.solved,
                "handle_median_s": rounded(percentile(handles, 0.5)),
                "handle_p90_s": rounded(percentile(handles, 0.9)),
                "ratings": a.ratings,
                "rating_avg": average(a.rating_sum, a.ratings),
                **_sla_columns(c.sla_agents.get(a.agent_id)),
                **_request_sla_columns(c.req_agents.get(a.agent_id)),
            }
        )
    agents.sort(key=lambda r: (-r["chats"], r["name"].lower(), r["id"]))
    queue_rows = [
        {
            "id": qid,
            "name": c.names[qid],
            **c.per_queue[qid].row(),
            **_sla_columns(c.sla_queues.get(qid)),
            **_request_sla_columns(c.req_queues.get(qid)),
        }
        for qid in sorted(c.shown, key=lambda q: (c.names[q].lower(), q))
    ]
    total = c.total
    return {
        "from": c.span.start.isoformat(),
        "to": c.span.end.isoformat(),
        "days": c.span.days,
        "queue_id": c.queue_id,
        "tag_id": c.tag_id,
        "totals": total.counts(),
        "sla": sla_share(*c.sla_total),
        "request_sla": {
            **_request_sla(c.req_total),
            "priorities": [
                {"priority": key, **_request_sla(c.req_priorities[key])}
                for key in REQUEST_PRIORITIES
            ],
        },
        "waiting_time": spread(total.waits),
        "handling_time": spread(total.handles),
        "ratings": {
            "count": total.ratings,
            "average": average(total.rating_sum, total.ratings),
            "distribution": [{"score": s, "count": c.distribution.get(s, 0)} for s in SCORES],
        },
        "daily": [{"date": d, **t.row(), "by_queue": c.by_day_queue[d]} for d, t in c.days.items()],
        "queues": queue_rows,
        "agents": agents,
    }


def _sla_columns(pair: list[int] | None) -> dict[str, Any]:
    share = sla_share(*(pair or (0, 0)))
    return {"sla_met": share["met"], "sla_missed": share["missed"], "sla_met_share": share["share"]}


def _request_sla(four: list[int]) -> dict[str, Any]:
    return {"response": sla_share(four[0], four[1]), "resolution": sla_share(four[2], four[3])}


def _request_sla_columns(four: list[int] | None) -> dict[str, Any]:
    response, resolution = (
        sla_share(*pair) for pair in ((four or _four())[:2], (four or _four())[2:])
    )
    return {
        "request_response_met": response["met"],
        "request_response_missed": response["missed"],
        "request_response_met_share": response["share"],
        "request_resolution_met": resolution["met"],
        "request_resolution_missed": resolution["missed"],
        "request_resolution_met_share": resolution["share"],
    }


async def keep_totals(uow: UnitOfWork, chat_ids: list[str], request_ids: list[str]) -> None:
    """Before retention removes these chats and requests: keep what the reports count of them
    (no customer, no text), so a report over their period shows the same totals after."""
    await repo.keep_raised(uow.session, chat_ids, request_ids)
    if chat_ids:
        await repo.keep_chats(uow.session, chat_ids)
    if request_ids:
        await repo.keep_requests(uow.session, request_ids)
