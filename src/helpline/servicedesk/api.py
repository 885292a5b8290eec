"""HTTP routes of the Service Manager: parse, call the service, shape the answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from helpline import flows
from helpline.accounts.deps import CurrentUser, ReaderLocale, client_address
from helpline.context import AppContext
from helpline.deps import Ctx, Uow
from helpline.kit.actors import actor_ref
from helpline.kit.clock import iso
from helpline.kit.enums import Priority, RequestStatus
from helpline.kit.params import BoundedInt, Cursor, cursor_offset
from helpline.servicedesk import service
from helpline.servicedesk.models import RequestEntry
from helpline.servicedesk.schemas import (
    CommentCreate,
    RequestCreate,
    RequestList,
    RequestOut,
    RequestSort,
    RequestUpdate,
    Timeline,
    TimelineEntry,
    request_out,
)

__all__ = ["request_out", "router"]

router = APIRouter(tags=["requests"])


def entry_out(e: RequestEntry) -> TimelineEntry:
    return TimelineEntry(
        type=e.type, actor=actor_ref(e), at=iso(e.at) or "", data=e.data, internal=e.internal
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
    sort: Annotated[RequestSort, Query()] = RequestSort.created_at_desc,
    cursor: Annotated[Cursor | None, Query()] = None,
    limit: Annotated[BoundedInt, Query(ge=1, le=200)] = 50,
) -> RequestList:
    """Filters combine; `assignee_id=none` lists unassigned requests; `q` searches reference,
    summary, description and the customer's name and e-mail."""
    offset = cursor_offset(cursor)
    rows = await service.list_requests(
        uow,
        user,
        status=status,
        team_id=team_id,
        assignee_id=assignee_id,
        priority=priority,
        q=q,
        sort=sort.value,
        offset=offset,
        limit=limit + 1,
    )
    return RequestList(
        items=[request_out(r) for r in rows[:limit]],
        next=str(offset + limit) if len(rows) > limit else None,
    )


async def check_request_limits(
    ctx: AppContext, *, raised_by: str, customer_email: str | None, address: str | None
) -> None:
    """Raising a request mails its customer, so it is limited per person raising it, per
    customer e-mail address (a guest can sign up with anyone's), and, for customers' own
    requests, per client address. 429 past any of them; checked before anything is written
    or, where the customer is only known after, inside the transaction (which then rolls
    back)."""
    rule = ctx.settings.rate_limit_requests
    await ctx.limiter.check(rule, "request-by", raised_by)
    if customer_email:
        await ctx.limiter.check(rule, "request-to", customer_email.strip().lower())
    if address is not None:
        await ctx.limiter.check(ctx.settings.rate_limit_requests_address, "request-ip", address)


@router.post("/requests", response_model=RequestOut, status_code=201)
async def create_request(
    body: RequestCreate, request: Request, user: CurrentUser, ctx: Ctx, uow: Uow
) -> RequestOut:
    await check_request_limits(
        ctx, raised_by=user.id, customer_email=user.email, address=client_address(request)
    )
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


@router.get(
    "/requests/{reference}/transcript",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}},
)
async def transcript(
    reference: str, user: CurrentUser, uow: Uow, locale: ReaderLocale
) -> PlainTextResponse:
    """The linked chat's transcript, for whoever may see the request (404 without a chat), in
    the reader's language."""
    chat_reference, text = await flows.request_transcript(uow, user, reference, locale)
    return PlainTextResponse(
        text,
        headers={
            "Content-Disposition": f'attachment; filename="{chat_reference}-transcript.txt"',
            "X-Content-Type-Options": "nosniff",
        },
    )
