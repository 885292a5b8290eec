from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse

from helpline import flows
from helpline.accounts.deps import (
    CurrentUser,
    ReaderLocale,
    authenticate_again,
    authenticate_request,
)
from helpline.accounts.devices import Device, parts_of
from helpline.chats import access, images, offers, reads, service, shapes, transcripts
from helpline.chats import files as files_mod
from helpline.chats.events import envelope
from helpline.chats.schemas import (
    AssignBody,
    CancelBody,
    ChatCreate,
    ChatList,
    ChatOut,
    ColleagueList,
    Event,
    EventList,
    MessageCreate,
    MoveBody,
    NoteCreate,
    RatingCreate,
    RequestFromChat,
    TranscriptMailed,
    TransferBody,
)
from helpline.db import UnitOfWork
from helpline.deps import Ctx, Uow
from helpline.errors import NotFound, TooLarge
from helpline.kit.enums import ChatStatus
from helpline.kit.params import BoundedInt, Cursor, cursor_offset
from helpline.servicedesk import service as servicedesk
from helpline.servicedesk.api import check_request_limits, request_out
from helpline.servicedesk.schemas import RequestOut
from helpline.tags.schemas import ChatTagsBody

if TYPE_CHECKING:
    from helpline.accounts.models import User
    from helpline.chats.repository import ChatRow  # only a type here: routes ask services
    from helpline.context import AppContext

router = APIRouter(tags=["chats"])


async def _out(uow: UnitOfWork, row: ChatRow, user: User) -> ChatOut:
    pos, est = await offers.waiting_info(uow, row.chat)
    if user.role_enum.is_staff and row.tags is None:
        await access.with_tags(uow, [row])
    data = shapes.chat_dict(row, position=pos, estimate=est)
    if not user.role_enum.is_staff:
        data.pop("tags", None)  # tags are the team's words about the chat
        data.pop("sla", None)  # service levels are the team's promise, not the customer's view
    if row.chat.status == ChatStatus.in_progress:
        data["helpers"] = await service.helpers(uow, row.chat.id)
    data["read"] = await reads.positions(uow, row.chat.id)
    return ChatOut.model_validate(data)


def _status_filter(status: str | None) -> list[str] | None:
    if not status:
        return None
    values = [s.strip() for s in status.split(",") if s.strip()]
    valid = {s.value for s in ChatStatus}
    bad = [v for v in values if v not in valid]
    if bad:
        from helpline.errors import Invalid

        raise Invalid(f"Unknown status: {', '.join(bad)}", code="invalid_status")
    return values


async def _caller_device(request: Request) -> Device | None:
    """The caller's user agent in parts, parsed in a worker thread (1–2 ms for an agent not
    seen before; the rules compile as the app starts). A dependency declared before the
    route's unit of work, so it is resolved before that unit takes SQLite's writer, never
    while holding it."""
    return await parts_of(request.headers.get("user-agent"))


CallerDevice = Annotated[Device | None, Depends(_caller_device)]


@router.post("/chats", response_model=ChatOut, status_code=201)
async def start_chat(
    body: ChatCreate,
    request: Request,
    device: CallerDevice,
    user: CurrentUser,
    ctx: Ctx,
    uow: Uow,
) -> ChatOut:
    await ctx.limiter.check(ctx.settings.rate_limit_chat_start, "chat-start", user.id)
    agent = request.headers.get("user-agent")
    row = await service.start(uow, user, body, user_agent=agent, device=device)
    return await _out(uow, row, user)


@router.get("/chats", response_model=ChatList)
async def list_chats(
    user: CurrentUser,
    uow: Uow,
    status: Annotated[str | None, Query(description="comma-separated statuses")] = None,
    queue_id: Annotated[str | None, Query()] = None,
    agent_id: Annotated[str | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    tag: Annotated[str | None, Query(max_length=64, description="a tag's id")] = None,
    cursor: Annotated[Cursor | None, Query()] = None,
    limit: Annotated[BoundedInt, Query(ge=1, le=200)] = 50,
) -> ChatList:
    offset = cursor_offset(cursor)
    rows = await service.list_chats(
        uow,
        user,
        statuses=_status_filter(status),
        queue_id=queue_id,
        agent_id=agent_id,
        q=q,
        tag_id=tag,
        offset=offset,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    staff = user.role_enum.is_staff
    if staff:
        await access.with_tags(uow, rows)
    items = []
    for r in rows:
        data = shapes.chat_dict(r)
        if not staff:
            data.pop("tags", None)
            data.pop("sla", None)
        items.append(ChatOut.model_validate(data))
    return ChatList(items=items, next=str(offset + limit) if more else None)


@router.get("/chats/{chat_id}", response_model=ChatOut)
async def get_chat(chat_id: str, user: CurrentUser, uow: Uow) -> ChatOut:
    return await _out(uow, await access.get_row(uow, user, chat_id), user)


@router.put("/chats/{chat_id}/tags", response_model=ChatOut)
async def set_tags(chat_id: str, body: ChatTagsBody, user: CurrentUser, uow: Uow) -> ChatOut:
    return await _out(uow, await service.set_tags(uow, user, chat_id, body.tag_ids), user)


@router.get("/chats/{chat_id}/events", response_model=EventList)
async def get_events(
    chat_id: str,
    user: CurrentUser,
    uow: Uow,
    after: Annotated[BoundedInt, Query()] = 0,
    cursor: Annotated[Cursor | None, Query()] = None,
    limit: Annotated[BoundedInt, Query(ge=1, le=1000)] = 500,
) -> EventList:
    if cursor:
        after = cursor_offset(cursor)
    items, nxt = await service.events(uow, user, chat_id, after, limit)
    return EventList(items=[Event.model_validate(e) for e in items], next=str(nxt) if nxt else None)


@router.post(
    "/chats/{chat_id}/messages",
    response_model=Event,
    status_code=201,
    responses={200: {"model": Event, "description": "A `client_id` sent before: its event."}},
)
async def post_message(
    chat_id: str, body: MessageCreate, user: CurrentUser, ctx: Ctx, uow: Uow, response: Response
) -> Event:
    await ctx.limiter.check(ctx.settings.rate_limit_messages, "msg", user.id)
    event, created = await service.post_message(uow, user, chat_id, body.text, body.client_id)
    if not created:
        response.status_code = 200
    return Event.model_validate(envelope(event))


# The body is streamed by hand (below), so FastAPI cannot see it: described here instead.
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            }
        },
    }
}


@router.post(
    "/chats/{chat_id}/files", response_model=Event, status_code=201, openapi_extra=_UPLOAD_BODY
)
async def upload_file(chat_id: str, request: Request, ctx: Ctx) -> Event:
    """Streams the body before any write transaction opens, so uploads never hold the writer."""
    async with ctx.boundary.read() as uow:
        user = (await authenticate_request(request, ctx, uow, read_only=True)).user
        await service.check_can_share(uow, user, chat_id)
    await ctx.limiter.check(ctx.settings.rate_limit_uploads, "upload", user.id)
    limit = ctx.settings.max_upload_bytes
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit + 64 * 1024:
        raise TooLarge(f"Files can be at most {limit // (1024 * 1024)} MB.")
    attachment = await files_mod.receive_upload(
        request.stream(),
        request.headers.get("content-type", ""),
        ctx.storage,
        max_bytes=limit,
        allowed=ctx.settings.allowed_extensions,
    )
    try:
        await images.process(ctx.storage, attachment)
    except BaseException:
        await ctx.storage.delete(attachment.storage_key)
        raise
    written: UnitOfWork | None = None
    try:
        async with ctx.boundary.write() as written:
            user_w = await authenticate_again(request, ctx, written)
            event = await service.share_file(written, user_w, chat_id, attachment)
            out = Event.model_validate(envelope(event))
    except BaseException:
        if written is None or not written.committed:  # the row that names it never was
            await ctx.storage.delete(attachment.storage_key)
            if attachment.thumb_key:
                await ctx.storage.delete(attachment.thumb_key)
        raise
    return out


@router.get(
    "/files/{file_id}",
    response_class=StreamingResponse,
    responses={200: {"content": {"*/*": {}}, "description": "The file, as it was shared."}},
)
async def download_file(
    file_id: str,
    user: CurrentUser,
    ctx: Ctx,
    uow: Uow,
    inline: Annotated[bool, Query()] = False,
) -> StreamingResponse:
    attachment = await access.get_attachment(uow, user, file_id)
    # Inline only for images we decoded ourselves: a file named .png may be anything else.
    disposition = (
        "inline"
        if inline
        and attachment.content_type in files_mod.INLINE_TYPES
        and attachment.thumb_key is not None
        else "attachment"
    )
    return await _serve(
        ctx,
        attachment.storage_key,
        attachment.content_type,
        attachment.size,
        f"{disposition}; {_filename_params(attachment.filename)}",
    )


@router.get(
    "/files/{file_id}/thumbnail",
    response_class=StreamingResponse,
    responses={200: {"content": {images.THUMB_TYPE: {}}, "description": "The thumbnail."}},
)
async def file_thumbnail(file_id: str, user: CurrentUser, ctx: Ctx, uow: Uow) -> StreamingResponse:
    """A shared image's thumbnail (WebP, at most 480 px a side), with the file's own rights."""
    attachment = await access.get_attachment(uow, user, file_id)
    if attachment.thumb_key is None:
        raise NotFound("This file has no thumbnail.")
    stem = attachment.filename.rsplit(".", 1)[0] or "image"
    return await _serve(
        ctx,
        attachment.thumb_key,
        images.THUMB_TYPE,
        None,
        f"inline; {_filename_params(stem + '-thumbnail.webp')}",
    )


def _filename_params(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "")
    return f"filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


async def _serve(
    ctx: AppContext, key: str, media_type: str, size: int | None, disposition: str
) -> StreamingResponse:
    headers = {
        "Content-Disposition": disposition,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        # Chat files are private: no copy in any cache, the browser's included.
        "Cache-Control": "no-store",
    }
    if size is not None:
        headers["Content-Length"] = str(size)
    # Opened before the answer starts: a missing object is 404, an unreachable store 503.
    body = await ctx.storage.open_stream(key)
    return StreamingResponse(body, media_type=media_type, headers=headers)


@router.post("/chats/{chat_id}/accept", response_model=ChatOut)
async def accept(chat_id: str, user: CurrentUser, ctx: Ctx, uow: Uow) -> ChatOut:
    return await _out(
        uow, await service.accept(uow, user, chat_id, greeting=ctx.settings.greeting), user
    )


# Hand-overs read the chat's owner before their write unit opens (`service.transfer` says why),
# so they authenticate in each of their two units, like uploads.


async def _hand_over(
    request: Request,
    ctx: AppContext,
    chat_id: str,
    act: Callable[[UnitOfWork, User, str | None], Awaitable[ChatRow]],
) -> ChatOut:
    """Read the owner the request finds, then `act(uow, user, owner_seen)` in the write unit."""
    async with ctx.boundary.read() as seen:
        user = (await authenticate_request(request, ctx, seen, read_only=True)).user
        owner = await service.owner_seen(seen, user, chat_id)
    async with ctx.boundary.write() as uow:
        user = await authenticate_again(request, ctx, uow)
        out = await _out(uow, await act(uow, user, owner), user)
    return out


@router.post("/chats/{chat_id}/assign", response_model=ChatOut)
async def assign(chat_id: str, body: AssignBody, request: Request, ctx: Ctx) -> ChatOut:
    greeting = ctx.settings.greeting

    def act(uow: UnitOfWork, user: User, owner: str | None) -> Awaitable[ChatRow]:
        return service.assign(
            uow, user, chat_id, body.agent_id, greeting=greeting, seen_owner=owner
        )

    return await _hand_over(request, ctx, chat_id, act)


@router.get("/chats/{chat_id}/colleagues", response_model=ColleagueList)
async def colleagues(chat_id: str, user: CurrentUser, uow: Uow) -> ColleagueList:
    """The chat queue's agents with status and load, for the transfer picker."""
    items = await service.colleagues(uow, user, chat_id)
    return ColleagueList.model_validate({"items": items, "next": None})


@router.post("/chats/{chat_id}/transfer", response_model=ChatOut)
async def transfer(chat_id: str, body: TransferBody, request: Request, ctx: Ctx) -> ChatOut:
    def act(uow: UnitOfWork, user: User, owner: str | None) -> Awaitable[ChatRow]:
        return service.transfer(uow, user, chat_id, body.agent_id, body.note, seen_owner=owner)

    return await _hand_over(request, ctx, chat_id, act)


@router.post("/chats/{chat_id}/join", response_model=ChatOut)
async def join(chat_id: str, user: CurrentUser, uow: Uow) -> ChatOut:
    return await _out(uow, await service.join(uow, user, chat_id), user)


@router.post("/chats/{chat_id}/part", response_model=ChatOut)
async def part(chat_id: str, user: CurrentUser, uow: Uow) -> ChatOut:
    return await _out(uow, await service.part(uow, user, chat_id), user)


@router.post("/chats/{chat_id}/solve", response_model=ChatOut)
async def solve(chat_id: str, user: CurrentUser, uow: Uow) -> ChatOut:
    return await _out(uow, await service.solve(uow, user, chat_id), user)


@router.post("/chats/{chat_id}/leave", response_model=ChatOut)
async def leave(chat_id: str, user: CurrentUser, uow: Uow) -> ChatOut:
    return await _out(uow, await service.leave(uow, user, chat_id), user)


@router.post("/chats/{chat_id}/move", response_model=ChatOut)
async def move(chat_id: str, body: MoveBody, user: CurrentUser, uow: Uow) -> ChatOut:
    return await _out(uow, await service.move(uow, user, chat_id, body.queue_id, body.note), user)


@router.post("/chats/{chat_id}/cancel", response_model=ChatOut)
async def cancel(
    chat_id: str, user: CurrentUser, uow: Uow, body: CancelBody | None = None
) -> ChatOut:
    reason = body.reason if body else None
    return await _out(uow, await service.cancel(uow, user, chat_id, reason), user)


@router.post("/chats/{chat_id}/notes", response_model=Event, status_code=201)
async def add_note(chat_id: str, body: NoteCreate, user: CurrentUser, uow: Uow) -> Event:
    return Event.model_validate(envelope(await service.add_note(uow, user, chat_id, body.text)))


@router.post("/chats/{chat_id}/rating", response_model=ChatOut)
async def rate(chat_id: str, body: RatingCreate, user: CurrentUser, uow: Uow) -> ChatOut:
    return await _out(uow, await service.rate(uow, user, chat_id, body.score, body.comment), user)


@router.post("/chats/{chat_id}/requests", response_model=RequestOut, status_code=201)
async def raise_request(
    chat_id: str,
    body: RequestFromChat,
    user: CurrentUser,
    ctx: Ctx,
    uow: Uow,
    locale: ReaderLocale,
) -> RequestOut:
    req = await flows.raise_request_from_chat(
        uow,
        user,
        chat_id,
        summary=body.summary,
        description=body.description,
        priority=body.priority,
        team_id=body.team_id,
        default_team=ctx.settings.default_queue,
        locale=locale,
    )
    row = await servicedesk.get(uow, user, req.reference)
    # Counts against the agent and the chat's customer, whose address the mail goes to.
    await check_request_limits(
        ctx, raised_by=user.id, customer_email=row.customer.email, address=None
    )
    return request_out(row)


@router.post("/chats/{chat_id}/transcript/email", response_model=TranscriptMailed, status_code=202)
async def email_transcript(chat_id: str, user: CurrentUser, ctx: Ctx, uow: Uow) -> TranscriptMailed:
    await ctx.limiter.check("5/hour", "transcript-mail", chat_id)
    to = await transcripts.email_transcript(uow, user, chat_id)
    return TranscriptMailed(status="queued", to=to)


@router.get("/chats/{chat_id}/transcript", response_class=PlainTextResponse)
async def transcript(
    chat_id: str, user: CurrentUser, uow: Uow, locale: ReaderLocale
) -> PlainTextResponse:
    row = await access.get_row(uow, user, chat_id)
    text = await transcripts.transcript(uow, user, chat_id, locale)
    return PlainTextResponse(
        text,
        headers={
            "Content-Disposition": f'attachment; filename="{row.chat.reference}-transcript.txt"',
            "X-Content-Type-Options": "nosniff",
        },
    )
