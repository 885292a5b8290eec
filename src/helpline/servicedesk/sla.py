"""Requests' service levels: the team queue's `request_sla` for the request's priority, counted
in the team's opening hours from creation.

Response: met by the first public comment of staff (or by resolving). Resolution: met when
resolved (reopening lets the clock run on against the same due time). A priority or team
change computes the due times anew from creation (and may warn again). `sla_next_at` is the
nearest warning or due time still open; the sweeper claims it by conditional UPDATE, so of
several processes one fires each: at 80 % of a target's time staff who may see the request get
the internal frame `sla.warning` {request_id, reference, target, due_at} (once per target and
clock); at the due time the internal timeline entry `sla_breached` {target, due_at} (once per
target).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from helpline.bus.messages import RequestSlaWarning
from helpline.context import AppContext
from helpline.db import UnitOfWork
from helpline.kit.clock import aware, iso, now
from helpline.kit.enums import RequestStatus
from helpline.queues import sla as targets
from helpline.queues.models import Queue
from helpline.servicedesk import repository as repo
from helpline.servicedesk.models import RequestEntry, ServiceRequest

RS = RequestStatus
_ENDED = (RS.cancelled, RS.closed)


@dataclass(frozen=True)
class _Target:
    name: str  # as in the timeline entry and the frame
    due: str
    warn: str
    done: str
    breached: str
    warned: str


TARGETS = (
    _Target(
        "response",
        "response_due_at",
        "response_warn_at",
        "first_response_at",
        "response_breached",
        "response_warned",
    ),
    _Target(
        "resolution",
        "resolve_due_at",
        "resolve_warn_at",
        "resolved_at",
        "resolve_breached",
        "resolve_warned",
    ),
)


def next_at(req: ServiceRequest) -> datetime | None:
    """The nearest warning or due time whose target is neither met nor breached yet."""
    if req.status in _ENDED:
        return None
    times: list[datetime] = []
    for t in TARGETS:
        due = getattr(req, t.due)
        if due is None or getattr(req, t.done) is not None or getattr(req, t.breached):
            continue
        times.append(due)
        warn = getattr(req, t.warn)
        if warn is not None and not getattr(req, t.warned):
            times.append(warn)
    return min(times, default=None)


def start(req: ServiceRequest, team: Queue) -> None:
    """(Re)compute the due times from creation with the team's targets for the priority; a new
    clock warns anew."""
    response, resolve = targets.request_due(
        team.request_sla, team.hours, str(req.priority), req.created_at
    )
    if (response.warn_at, resolve.warn_at) != (req.response_warn_at, req.resolve_warn_at):
        req.response_warned = req.resolve_warned = False
    req.response_warn_at, req.response_due_at = _before_due(response)
    req.resolve_warn_at, req.resolve_due_at = _before_due(resolve)
    req.sla_next_at = next_at(req)


def _before_due(due: targets.Due) -> tuple[datetime | None, datetime | None]:
    """(warn, due); no warning when it would not come before the due time."""
    warn = due.warn_at if due.warn_at and due.due_at and due.warn_at < due.due_at else None
    return warn, due.due_at


def responded(req: ServiceRequest, at: datetime) -> None:
    if req.first_response_at is None:
        req.first_response_at = at
    req.sla_next_at = next_at(req)


async def sweep(ctx: AppContext) -> int:
    """Send each warning and record each breach that is due; returns how many fired."""
    at = now()
    async with ctx.db.read() as session:
        rows = await repo.sla_due(session, at)
    fired = 0
    for request_id, read in rows:
        async with ctx.boundary.write() as uow:
            fired += await _fire(uow, request_id, read, at)
    return fired


async def _fire(uow: UnitOfWork, request_id: str, read: datetime, at: datetime) -> int:
    req = await uow.session.get(ServiceRequest, request_id, populate_existing=True)
    if req is None:
        return 0
    missed: list[tuple[str, datetime]] = []
    warned: list[tuple[str, datetime]] = []
    for t in TARGETS:
        due = aware(getattr(req, t.due))
        warn = aware(getattr(req, t.warn))
        if due is None or getattr(req, t.done) is not None or getattr(req, t.breached):
            continue
        if due <= at:
            setattr(req, t.breached, True)
            missed.append((t.name, due))
        elif warn is not None and warn <= at and not getattr(req, t.warned):
            setattr(req, t.warned, True)
            warned.append((t.name, due))
    values = {
        name: getattr(req, name)
        for name in ("response_breached", "resolve_breached", "response_warned", "resolve_warned")
    }
    values["sla_next_at"] = next_at(req)
    team_id, assignee_id, reference = req.team_id, req.assignee_id, req.reference
    uow.session.expunge(req)  # the claim below writes; nothing else may flush it
    if not await repo.claim_sla(uow.session, request_id, read, **values):
        return 0
    for target, due in missed:
        await repo.add_entry(
            uow.session,
            RequestEntry(
                request_id=request_id,
                type="sla_breached",
                at=at,
                data={"target": target, "due_at": iso(due)},
                internal=True,
            ),
        )
    for target, due in warned:
        news = RequestSlaWarning(request_id, reference, team_id, assignee_id, target, iso(due))
        # The team's members, supervisors and admins, and the assignee from outside the team.
        uow.announce(f"queue:{team_id}", news)
        uow.announce("supervisors", news)
        if assignee_id is not None:
            uow.announce(f"user:{assignee_id}", news)
    return len(missed) + len(warned)
