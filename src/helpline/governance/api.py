"""Routes of data governance: exports, erasure and the retention policy."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from helpline.accounts.deps import CurrentUser
from helpline.deps import Ctx, Uow
from helpline.governance import service
from helpline.governance.models import Export
from helpline.governance.schemas import (
    EraseBody,
    Erasure,
    ExportOut,
    RetentionPolicy,
)

router = APIRouter(tags=["data governance"])


def _out(e: Export) -> ExportOut:
    return ExportOut(
        id=e.id, status=e.status, size=e.size, created_at=e.created_at, expires_at=e.expires_at
    )


@router.post("/customers/{customer_id}/export", response_model=ExportOut, status_code=202)
async def export_customer(customer_id: str, user: CurrentUser, uow: Uow) -> ExportOut:
    return _out(await service.request_export(uow, user, customer_id))


@router.post("/me/export", response_model=ExportOut, status_code=202)
async def export_me(user: CurrentUser, uow: Uow) -> ExportOut:
    return _out(await service.request_export(uow, user, None))


@router.get("/exports/{export_id}", response_model=ExportOut)
async def get_export(export_id: str, user: CurrentUser, uow: Uow) -> ExportOut:
    return _out(await service.get_export(uow, user, export_id))


@router.get(
    "/exports/{export_id}/download",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "The zip."}},
)
async def download_export(
    export_id: str, user: CurrentUser, ctx: Ctx, uow: Uow
) -> StreamingResponse:
    export = await service.ready_export(uow, user, export_id)
    assert export.storage_key is not None
    headers = {
        "Content-Disposition": f'attachment; filename="helpline-export-{export.id}.zip"',
        "X-Content-Type-Options": "nosniff",
        "Content-Length": str(export.size),
        "Cache-Control": "no-store",
    }
    # Opened before the answer starts: a missing object is 404, an unreachable store 503.
    body = await ctx.storage.open_stream(export.storage_key)
    return StreamingResponse(body, media_type="application/zip", headers=headers)


@router.post("/customers/{customer_id}/erase", response_model=Erasure)
async def erase_customer(
    customer_id: str, body: EraseBody, user: CurrentUser, ctx: Ctx, uow: Uow
) -> Erasure:
    done = await service.erase(uow, user, customer_id, body.confirm, ctx.storage)
    c = done.customer
    return Erasure(
        id=c.id,
        name=c.name,
        email=c.email,
        active=c.active,
        chats=done.chats,
        requests=done.requests,
        files=done.files,
    )


@router.get("/retention", response_model=RetentionPolicy)
async def retention_policy(user: CurrentUser, ctx: Ctx, uow: Uow) -> RetentionPolicy:
    return RetentionPolicy.model_validate(
        await service.policy(uow, user, ctx.settings.retention_days)
    )
