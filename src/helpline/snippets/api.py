from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Response

from helpline.accounts.deps import CurrentUser
from helpline.accounts.models import User
from helpline.accounts.schemas import UserRef
from helpline.chats.schemas import QueueRef
from helpline.deps import Uow
from helpline.kit.params import BoundedInt, Cursor, cursor_offset
from helpline.snippets import service
from helpline.snippets.schemas import (
    RenderedSnippet,
    SnippetCreate,
    SnippetList,
    SnippetOut,
    SnippetUpdate,
)

if TYPE_CHECKING:
    from helpline.snippets.repository import SnippetRow  # only a type here: routes ask services

router = APIRouter(tags=["snippets"])


def _out(row: SnippetRow, caller: User) -> SnippetOut:
    s = row.snippet
    return SnippetOut(
        id=s.id,
        title=s.title,
        content=s.content,
        queue_id=s.queue_id,
        queue=QueueRef(id=row.queue.id, name=row.queue.name) if row.queue else None,
        owner=UserRef(id=row.owner.id, name=row.owner.name),
        shared=s.queue_id is not None,
        editable=service.can_edit(caller, s),
        created_at=s.created_at,
        updated_at=s.updated_at,
    )


@router.get("/snippets", response_model=SnippetList)
async def list_snippets(
    user: CurrentUser,
    uow: Uow,
    q: Annotated[str | None, Query(max_length=200, description="search title and content")] = None,
    cursor: Annotated[Cursor | None, Query()] = None,
    limit: Annotated[BoundedInt, Query(ge=1, le=200)] = 100,
) -> SnippetList:
    offset = cursor_offset(cursor)
    rows = await service.list_snippets(uow, user, q=q, offset=offset, limit=limit + 1)
    items = [_out(r, user) for r in rows[:limit]]
    return SnippetList(items=items, next=str(offset + limit) if len(rows) > limit else None)


@router.post("/snippets", response_model=SnippetOut, status_code=201)
async def create_snippet(body: SnippetCreate, user: CurrentUser, uow: Uow) -> SnippetOut:
    return _out(await service.create(uow, user, body), user)


@router.get("/snippets/{snippet_id}", response_model=SnippetOut)
async def get_snippet(snippet_id: str, user: CurrentUser, uow: Uow) -> SnippetOut:
    return _out(await service.get(uow, user, snippet_id), user)


@router.patch("/snippets/{snippet_id}", response_model=SnippetOut)
async def update_snippet(
    snippet_id: str, body: SnippetUpdate, user: CurrentUser, uow: Uow
) -> SnippetOut:
    return _out(await service.update(uow, user, snippet_id, body), user)


@router.delete("/snippets/{snippet_id}", status_code=204)
async def delete_snippet(snippet_id: str, user: CurrentUser, uow: Uow) -> Response:
    await service.delete(uow, user, snippet_id)
    return Response(status_code=204)


@router.get("/chats/{chat_id}/snippets/{snippet_id}/render", response_model=RenderedSnippet)
async def render_snippet(
    chat_id: str, snippet_id: str, user: CurrentUser, uow: Uow
) -> RenderedSnippet:
    return RenderedSnippet(text=await service.render(uow, user, chat_id, snippet_id))
