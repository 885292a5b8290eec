from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import AfterValidator

from helpline import flows
from helpline.accounts.deps import CurrentUser
from helpline.accounts.models import User
from helpline.audit import export
from helpline.audit import service as audit
from helpline.audit.models import AuditEntry
from helpline.audit.schemas import AuditActor, AuditEntryOut, AuditList, AuditTarget
from helpline.context import AppContext
from helpline.deps import Ctx, Uow
from helpline.kit.params import BoundedInt, Cursor

router = APIRouter(tags=["audit"])


def _utc(value: datetime) -> datetime:
    # A time without an offset is read as UTC, like every time Helpline stores.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


Time = Annotated[datetime, AfterValidator(_utc)]
Text = Annotated[str | None, Query(min_length=1, max_length=64)]
From = Annotated[
    Time | None, Query(alias="from", description="Entries at or after this time (RFC 3339).")
]
To = Annotated[Time | None, Query(description="Entries before this time (RFC 3339).")]


def _filters(
    actor_id: str | None,
    action: str | None,
    target_type: str | None,
    start: datetime | None,
    end: datetime | None,
) -> audit.Filters:
    return audit.Filters(
        actor_id=actor_id, action=action, target_type=target_type, start=start, end=end
    )


def _out(entry: AuditEntry, actor_name: str | None) -> AuditEntryOut:
    return AuditEntryOut(
        id=str(entry.id),
        at=entry.at,
        actor=AuditActor(id=entry.actor_id, name=actor_name or "") if entry.actor_id else None,
        action=entry.action,
        target=AuditTarget(type=entry.target_type, id=entry.target_id),
        ip=entry.ip,
        details=entry.details,
    )


@router.get("/audit", response_model=AuditList, summary="The audit log, newest first (admins)")
async def list_audit(
    user: CurrentUser,
    uow: Uow,
    actor_id: Text = None,
    action: Text = None,
    target_type: Text = None,
    start: From = None,
    to: To = None,
    cursor: Annotated[Cursor | None, Query()] = None,
    limit: Annotated[BoundedInt, Query(ge=1, le=200)] = 50,
) -> AuditList:
    filters = _filters(actor_id, action, target_type, start, to)
    rows = await flows.audit_entries(
        uow, user, filters, before_id=int(cursor) if cursor else None, limit=limit + 1
    )
    items = [_out(e, name) for e, name in rows[:limit]]
    return AuditList(items=items, next=items[-1].id if len(rows) > limit else None)


CSV_BATCH = 500


async def _csv(ctx: AppContext, user: User, filters: audit.Filters) -> AsyncIterator[str]:
    """The whole matching log in batches, each read in its own short unit: a large export
    never holds a connection (or SQLite's snapshot) for the whole download."""
    yield export.lines([], header=True)
    before: int | None = None
    while True:
        async with ctx.boundary.read() as uow:
            rows = await flows.audit_entries(uow, user, filters, before_id=before, limit=CSV_BATCH)
        if not rows:
            return
        yield export.lines((_out(e, name) for e, name in rows), header=False)
        if len(rows) < CSV_BATCH:
            return
        before = rows[-1][0].id


@router.get(
    "/audit.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "CSV with a header row."}},
    summary="The audit log as a CSV download (admins), the same filters as /audit",
)
async def audit_csv(
    user: CurrentUser,
    ctx: Ctx,
    uow: Uow,
    actor_id: Text = None,
    action: Text = None,
    target_type: Text = None,
    start: From = None,
    to: To = None,
) -> Response:
    filters = _filters(actor_id, action, target_type, start, to)
    audit.require_reader(user)  # before the first byte: a refusal is a plain 403
    return StreamingResponse(
        _csv(ctx, user, filters),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="helpline-audit.csv"'},
    )
