from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from helpline.accounts.deps import Ctx, CurrentUser, Uow
from helpline.accounts.schemas import UserRef
from helpline.kit.clock import iso
from helpline.kit.enums import Priority, RequestStatus
from helpline.servicedesk import service
from helpline.servicedesk.models import RequestEntry
from helpline.servicedesk.schemas import (
    CommentCreate,
    RequestCreate,
    RequestList,
    RequestOut,
    RequestUpdate,
    TeamRef,
    Timeline,
    TimelineEntry,
)

router = APIRouter(tags=["requests"])


def request_out(row: service.RequestRow) -> RequestOut:
    r = row.request
    return RequestOut(
        id=r.id,
        reference=r.reference,
        summary=r.summary,
        description=r.description,
        priority=Priority(r.priority),
        status=RequestStatus(r.status),
        customer=UserRef(id=row.customer.id, name=row.customer.name),
        team=TeamRef(id=row.team.id, name=row.team.name),
        assignee=UserRef(id=row.assignee.id, name=row.assignee.name) if row.assignee else None,
        chat_id=r.chat_id,
        chat_reference=row.chat_reference,
        created_at=r.created_at,
        updated_at=r.updated_at,
        resolved_at=r.resolved_at,
    )


def entry_out(e: RequestEntry) -> TimelineEntry:
    actor = {"id": e.actor_id, "role": e.actor_role, "name": e.actor_name} if e.actor_id else None
    return TimelineEntry(
        type=e.type, actor=actor, at=iso(e.at) or "", data=e.data, internal=e.internal
    )


@router.get("/requests", response_model=RequestList)
async def list_requests(
    user: CurrentUser,
    uow: Uow,
    status: Annotated[RequestStatus | None, Query()] = None,
    team_id: Annotated[str | None, Query()] = None,
    assignee_id: Annotated[str | None, Query()] = None,
    priority: Annotated[Priority | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> RequestList:
    offset = int(cursor) if cursor and cursor.isdigit() else 0
    rows = await service.list_requests(
        uow,
        user,
        status=status,
        team_id=team_id,
        assignee_id=assignee_id,
        priority=priority,
        q=q,
        offset=offset,
        limit=limit + 1,
    )
    return RequestList(
        items=[request_out(r) for r in rows[:limit]],
        next=str(offset + limit) if len(rows) > limit else None,
    )


@router.post("/requests", response_model=RequestOut, status_code=201)
async def create_request(body: RequestCreate, user: CurrentUser, ctx: Ctx, uow: Uow) -> RequestOut:
    return request_out(
        await service.create(uow, user, body, default_team=ctx.settings.default_queue)
    )


@router.get("/requests/{reference}", response_model=RequestOut)
async def get_request(reference: str, user: CurrentUser, uow: Uow) -> RequestOut:
    return request_out(await service.get(uow, user, reference))


@router.patch("/requests/{reference}", response_model=RequestOut)
async def update_request(
    reference: str, body: RequestUpdate, user: CurrentUser, uow: Uow
) -> RequestOut:
    return request_out(await service.update(uow, user, reference, body))


@router.post("/requests/{reference}/comments", response_model=TimelineEntry, status_code=201)
async def add_comment(
    reference: str, body: CommentCreate, user: CurrentUser, uow: Uow
) -> TimelineEntry:
    return entry_out(await service.comment(uow, user, reference, body.text, body.internal))


@router.get("/requests/{reference}/timeline", response_model=Timeline)
async def timeline(reference: str, user: CurrentUser, uow: Uow) -> Timeline:
    return Timeline(items=[entry_out(e) for e in await service.timeline(uow, user, reference)])
