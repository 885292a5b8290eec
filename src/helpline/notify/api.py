"""Webhook endpoints and the delivery log (admins only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from helpline.accounts.deps import CurrentUser
from helpline.deps import Ctx, Uow
from helpline.kit.params import BoundedInt, Cursor, cursor_offset
from helpline.notify import service
from helpline.notify.models import DeliveryKind, DeliveryStatus, OutboxMessage
from helpline.notify.schemas import (
    DeliveryList,
    DeliveryOut,
    EndpointCreate,
    EndpointCreated,
    EndpointList,
    EndpointOut,
    EndpointUpdate,
)

router = APIRouter(tags=["webhooks"])


def delivery_out(m: OutboxMessage) -> DeliveryOut:
    webhook = m.kind == DeliveryKind.webhook
    return DeliveryOut(
        id=m.event_id,
        kind=DeliveryKind(m.kind),
        event_id=str(m.payload.get("id") or m.event_id) if webhook else None,
        endpoint_id=m.endpoint_id,
        type=m.event_type,
        status=DeliveryStatus(m.status),
        reference=m.reference,
        attempts=m.attempts,
        last_error=m.last_error,
        created_at=m.created_at,
        last_attempt_at=m.last_attempt_at,
        next_attempt_at=m.next_attempt_at if m.status == DeliveryStatus.pending else None,
        delivered_at=m.delivered_at,
        payload=_shown(m.payload),
    )


def _shown(payload: dict[str, Any]) -> dict[str, Any]:
    # A mail that carries a credential (a password-reset link) is listed without its body:
    # admins see that it went out, not a link that would sign in as someone else.
    if payload.get("confidential"):
        return {**payload, "body": "(not shown: it holds a password-reset link)"}
    return payload


def _page(rows: list[OutboxMessage], limit: int) -> DeliveryList:
    more = len(rows) > limit
    rows = rows[:limit]
    return DeliveryList(
        items=[delivery_out(m) for m in rows], next=str(rows[-1].id) if more and rows else None
    )


@router.get("/webhooks/deliveries", response_model=DeliveryList)
async def list_deliveries(
    user: CurrentUser,
    uow: Uow,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    kind: Annotated[DeliveryKind | None, Query()] = None,
    cursor: Annotated[Cursor | None, Query()] = None,
    limit: Annotated[BoundedInt, Query(ge=1, le=200)] = 50,
) -> DeliveryList:
    """Outbox deliveries (webhook and e-mail), newest first; admins only.
    `status=failed` lists the dead letters."""
    rows = await service.list_deliveries(
        uow,
        user,
        status=status,
        kind=kind,
        before_id=cursor_offset(cursor) if cursor else None,
        limit=limit + 1,
    )
    return _page(rows, limit)


@router.post("/webhooks/deliveries/{delivery_id}/retry", response_model=DeliveryOut)
async def retry_delivery(delivery_id: str, user: CurrentUser, uow: Uow) -> DeliveryOut:
    """Re-send a dead letter (`status: failed`): pending again, due now, retried for 24 h."""
    return delivery_out(await service.retry_delivery(uow, user, delivery_id))


@router.get("/webhooks/endpoints", response_model=EndpointList)
async def list_endpoints(user: CurrentUser, uow: Uow) -> EndpointList:
    rows = await service.list_endpoints(uow, user)
    return EndpointList(items=[EndpointOut.model_validate(e) for e in rows])


@router.post("/webhooks/endpoints", response_model=EndpointCreated, status_code=201)
async def create_endpoint(
    body: EndpointCreate, user: CurrentUser, uow: Uow, ctx: Ctx
) -> EndpointCreated:
    """`201` with the `secret`, shown this once (generated when not given)."""
    allow = ctx.settings.webhook_private_allowed
    endpoint = await service.create_endpoint(uow, user, body, allow_private=allow)
    return EndpointCreated.model_validate(endpoint)


@router.get("/webhooks/endpoints/{endpoint_id}", response_model=EndpointOut)
async def get_endpoint(endpoint_id: str, user: CurrentUser, uow: Uow) -> EndpointOut:
    return EndpointOut.model_validate(await service.get_endpoint(uow, user, endpoint_id))


@router.patch("/webhooks/endpoints/{endpoint_id}", response_model=EndpointOut)
async def update_endpoint(
    endpoint_id: str, body: EndpointUpdate, user: CurrentUser, uow: Uow, ctx: Ctx
) -> EndpointOut:
    allow = ctx.settings.webhook_private_allowed
    endpoint = await service.update_endpoint(uow, user, endpoint_id, body, allow_private=allow)
    return EndpointOut.model_validate(endpoint)


@router.delete("/webhooks/endpoints/{endpoint_id}", status_code=204, response_class=Response)
async def delete_endpoint(endpoint_id: str, user: CurrentUser, uow: Uow) -> Response:
    """What is still queued for it becomes a dead letter ("the endpoint was deleted")."""
    await service.delete_endpoint(uow, user, endpoint_id)
    return Response(status_code=204)


@router.post("/webhooks/endpoints/{endpoint_id}/test", response_model=DeliveryOut, status_code=202)
async def send_test(endpoint_id: str, user: CurrentUser, uow: Uow) -> DeliveryOut:
    """Queue a `webhook.test` event for this endpoint only; follow it in its deliveries."""
    return delivery_out(await service.send_test(uow, user, endpoint_id))


@router.get("/webhooks/endpoints/{endpoint_id}/deliveries", response_model=DeliveryList)
async def endpoint_deliveries(
    endpoint_id: str,
    user: CurrentUser,
    uow: Uow,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    cursor: Annotated[Cursor | None, Query()] = None,
    limit: Annotated[BoundedInt, Query(ge=1, le=200)] = 50,
) -> DeliveryList:
    """This endpoint's delivery log, newest first: attempts, last error, next attempt."""
    rows = await service.list_deliveries(
        uow,
        user,
        status=status,
        kind=DeliveryKind.webhook,
        before_id=cursor_offset(cursor) if cursor else None,
        limit=limit + 1,
        endpoint_id=endpoint_id,
    )
    return _page(rows, limit)
