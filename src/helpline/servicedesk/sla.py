"""Requests' service levels: the team queue's `request_sla` for the request's priority, counted
in the team's opening hours from creation.

Response: met by the first public comment of staff (or by resolving). Resolution: met when
resolved (reopening lets the clock run on against the same due time). A priority or team
change computes the due times anew from creation. `sla_next_at` is the nearest due time still
open; the sweeper claims it by conditional UPDATE and writes the internal timeline entry
`sla_breached` {target, due_at} once per target.
"""

from __future__ import annotations

from datetime import datetime

from helpline.context import AppContext
from helpline.kit.clock import aware, iso, now
from helpline.kit.enums import RequestStatus
from helpline.queues import sla as targets
from helpline.queues.models import Queue
from helpline.servicedesk import repository as repo
from helpline.servicedesk.models import RequestEntry, ServiceRequest

RS = RequestStatus
_ENDED = (RS.cancelled, RS.closed)


def next_at(req: ServiceRequest) -> datetime | None:
    """The nearest due time whose target is neither met nor breached yet."""
    due: list[datetime] = []
    if req.status in _ENDED:
        return None
    if (
        req.response_due_at is not None
        and req.first_response_at is None
        and not req.response_breached
    ):
        due.append(req.response_due_at)
    if req.resolve_due_at is not None and req.resolved_at is None and not req.resolve_breached:
        due.append(req.resolve_due_at)
    return min(due, default=None)


def start(req: ServiceRequest, team: Queue) -> None:
    """(Re)compute the due times from creation with the team's targets for the priority."""
    response, resolve = targets.request_due(
        team.request_sla, team.hours, str(req.priority), req.created_at
    )
    req.response_due_at, req.resolve_due_at = response, resolve
    req.sla_next_at = next_at(req)


def responded(req: ServiceRequest, at: datetime) -> None:
    if req.first_response_at is None:
        req.first_response_at = at
    req.sla_next_at = next_at(req)


async def sweep(ctx: AppContext) -> int:
    """Record each breach that is due; returns how many were recorded."""
    at = now()
    async with ctx.db.read() as session:
        rows = await repo.sla_due(session, at)
    fired = 0
    for request_id, read in rows:
        async with ctx.boundary.write() as uow:
            req = await uow.session.get(ServiceRequest, request_id, populate_existing=True)
            if req is None:
                continue
            missed: list[tuple[str, datetime]] = []
            for target, due, done, flag in (
                ("response", req.response_due_at, req.first_response_at, "response_breached"),
                ("resolution", req.resolve_due_at, req.resolved_at, "resolve_breached"),
            ):
                due = aware(due)
                if due is not None and due <= at and done is None and not getattr(req, flag):
                    setattr(req, flag, True)
                    missed.append((target, due))
            values = {
                "response_breached": req.response_breached,
                "resolve_breached": req.resolve_breached,
                "sla_next_at": next_at(req),
            }
            uow.session.expunge(req)  # the claim below writes; nothing else may flush it
            if not await repo.claim_sla(uow.session, request_id, read, **values):
                continue
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
            fired += len(missed)
    return fired
