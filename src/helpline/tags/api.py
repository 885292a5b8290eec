from __future__ import annotations

from fastapi import APIRouter, Response

from helpline.accounts.deps import CurrentUser
from helpline.deps import Uow
from helpline.tags import service
from helpline.tags.schemas import TagCreate, TagList, TagOut, TagUpdate

router = APIRouter(tags=["tags"])


@router.get("/tags", response_model=TagList)
async def list_tags(user: CurrentUser, uow: Uow) -> TagList:
    return TagList(items=[TagOut.model_validate(t) for t in await service.list_tags(uow, user)])


@router.post("/tags", response_model=TagOut, status_code=201)
async def create_tag(body: TagCreate, user: CurrentUser, uow: Uow) -> TagOut:
    return TagOut.model_validate(await service.create(uow, user, body))


@router.patch("/tags/{tag_id}", response_model=TagOut)
async def update_tag(tag_id: str, body: TagUpdate, user: CurrentUser, uow: Uow) -> TagOut:
    return TagOut.model_validate(await service.update(uow, user, tag_id, body))


@router.delete("/tags/{tag_id}", status_code=204, response_class=Response)
async def delete_tag(tag_id: str, user: CurrentUser, uow: Uow) -> Response:
    await service.delete(uow, user, tag_id)
    return Response(status_code=204)
