from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from helpline import flows
from helpline.accounts.deps import CurrentUser, get_optional_user
from helpline.accounts.models import User
from helpline.deps import Uow
from helpline.queues import service
from helpline.queues.schemas import (
    MemberList,
    MemberOut,
    Members,
    Overview,
    QueueCreate,
    QueueList,
    QueueOut,
    QueueUpdate,
)

router = APIRouter(tags=["queues"])


def _out(v: flows.QueueView) -> QueueOut:
    q = v.queue
    return QueueOut(
        id=q.id,
        name=q.name,
        description=q.description,
        active=q.active,
        routing_mode=q.routing_mode,  # type: ignore[arg-type]
        max_wait_s=q.max_wait_s,
        offer_timeout_s=q.offer_timeout_s,
        hours=q.hours,
        retention_days=q.retention_days,
        sla=q.sla,  # type: ignore[arg-type]
        request_sla=q.request_sla,  # type: ignore[arg-type]
        open_now=v.open_now,
        agents_available=v.agents_available,
        fields=q.fields or [],  # type: ignore[arg-type]
        auto_reply=q.auto_reply,  # type: ignore[arg-type]
        away_text=q.away_text,
    )


@router.get("/queues", response_model=QueueList)
async def list_queues(
    uow: Uow,
    user: Annotated[User | None, Depends(get_optional_user)],
    include_inactive: Annotated[bool, Query()] = False,
) -> QueueList:
    queues = await service.list_queues(uow, user, include_inactive=include_inactive)
    return QueueList(items=[_out(v) for v in await flows.queue_views(uow, queues)])


@router.post("/queues", response_model=QueueOut, status_code=201)
async def create_queue(body: QueueCreate, user: CurrentUser, uow: Uow) -> QueueOut:
    queue = await service.create(uow, user, body)
    return _out((await flows.queue_views(uow, [queue]))[0])


@router.patch("/queues/{queue_id}", response_model=QueueOut)
async def update_queue(queue_id: str, body: QueueUpdate, user: CurrentUser, uow: Uow) -> QueueOut:
    queue = await service.update(uow, user, queue_id, body)
    return _out((await flows.queue_views(uow, [queue]))[0])


@router.get("/queues/{queue_id}/members", response_model=MemberList)
async def get_members(queue_id: str, user: CurrentUser, uow: Uow) -> MemberList:
    users = await service.members(uow, user, queue_id)
    return MemberList(items=[MemberOut.model_validate(u) for u in users])


@router.put("/queues/{queue_id}/members", response_model=MemberList)
async def put_members(queue_id: str, body: Members, user: CurrentUser, uow: Uow) -> MemberList:
    users = await service.set_members(uow, user, queue_id, body.user_ids)
    return MemberList(items=[MemberOut.model_validate(u) for u in users])


@router.get("/supervisor/overview", response_model=Overview, tags=["supervisor"])
async def supervisor_overview(user: CurrentUser, uow: Uow) -> Overview:
    return Overview.model_validate(await flows.overview(uow, user))
