"""Outgoing deliveries as admins see them, and the webhook endpoints admins manage.

An event goes out as one outbox row per receiver: the environment's HELPLINE_WEBHOOK_URL
(request events, as in part 1 of the contract) and each active endpoint whose `events` list
its type. Each row has its own ordering key (receiver + chat or request), so one receiver
that is down neither delays the others nor sees a chat's events out of order.
"""

from __future__ import annotations

import secrets
from typing import Any

from helpline.accounts.models import User
from helpline.audit import service as audit
from helpline.db import UnitOfWork
from helpline.errors import Conflict, Forbidden, Invalid, NotFound
from helpline.kit.clock import iso, now
from helpline.kit.enums import Role
from helpline.kit.ids import new_id
from helpline.notify import outbox as outbox_mod
from helpline.notify import repository as repo
from helpline.notify import ssrf
from helpline.notify.models import DeliveryKind, DeliveryStatus, OutboxMessage, WebhookEndpoint
from helpline.notify.schemas import EndpointCreate, EndpointUpdate

REQUEST_EVENTS = ("request.created", "request.updated", "request.commented")
CHAT_EVENTS = (
    "chat.started",
    "chat.accepted",
    "chat.transferred",
    "chat.requeued",
    "chat.solved",
    "chat.cancelled",
    "chat.expired",
    "chat.rated",
    "chat.sla_breached",
)
# Every type an endpoint may ask for (the contract's list); anything else is a 422.
EVENT_TYPES = REQUEST_EVENTS + CHAT_EVENTS
# Sent by "send test event" to one endpoint, whatever its filter.
TEST_EVENT = "webhook.test"


def _require_admin(user: User, message: str = "Webhooks are for admins.") -> None:
    if user.role_enum is not Role.admin:
        raise Forbidden(message)


async def list_deliveries(
    uow: UnitOfWork,
    user: User,
    *,
    status: DeliveryStatus | None,
    kind: DeliveryKind | None,
    before_id: int | None,
    limit: int,
    endpoint_id: str | None = None,
) -> list[OutboxMessage]:
    """Newest first. Admins only: payloads hold customers' words and addresses."""
    _require_admin(user, "Deliveries are for admins.")
    if endpoint_id is not None:
        await _endpoint(uow, endpoint_id)
    return await repo.list_messages(
        uow.session,
        status=status,
        kind=kind,
        before_id=before_id,
        limit=limit,
        endpoint_id=endpoint_id,
    )


# --- sending ------------------------------------------------------------------------------------


async def emit_webhook(
    uow: UnitOfWork,
    *,
    event_type: str,
    document: dict[str, Any],
    key: str,
    reference: str | None = None,
    env: bool = True,
    endpoints: bool = True,
) -> None:
    """Queue `document` (whose `id` is the event id) for every receiver that wants it, in the
    caller's transaction. `key` orders a chat's or a request's events; `env` and `endpoints`
    say whether HELPLINE_WEBHOOK_URL and the admin-managed endpoints may receive it."""
    outbox = outbox_mod.for_uow(uow)
    if outbox is None:
        return
    if env and outbox.env_webhook:
        outbox.enqueue(
            uow,
            kind=DeliveryKind.webhook,
            event_type=event_type,
            ordering_key=f"webhook:{key}",
            reference=reference,
            payload=document,
            event_id=document["id"],
        )
    if not endpoints:
        return
    for endpoint in await repo.active_endpoints(uow.session):
        if event_type in endpoint.events:
            _enqueue_for(outbox, uow, endpoint, event_type, document, key, reference)


def _enqueue_for(
    outbox: outbox_mod.Outbox,
    uow: UnitOfWork,
    endpoint: WebhookEndpoint,
    event_type: str,
    document: dict[str, Any],
    key: str,
    reference: str | None,
) -> OutboxMessage:
    # The row's own id names this delivery (retry, the log); the document keeps the event's.
    return outbox.enqueue(
        uow,
        kind=DeliveryKind.webhook,
        event_type=event_type,
        ordering_key=f"webhook:{endpoint.id}:{key}",
        reference=reference,
        payload=document,
        event_id=new_id(),
        endpoint_id=endpoint.id,
    )


# --- endpoints ----------------------------------------------------------------------------------


async def _endpoint(uow: UnitOfWork, endpoint_id: str) -> WebhookEndpoint:
    found = await repo.endpoint(uow.session, endpoint_id)
    if found is None:
        raise NotFound("No such webhook endpoint.")
    return found


async def _checked_url(url: str, allow_private: bool) -> str:
    try:
        await ssrf.check(url, allow_private=allow_private)
    except ssrf.UnsafeUrl as exc:
        raise Invalid(str(exc), code="invalid_url", field="url") from exc
    return url


def _checked_events(events: list[str]) -> list[str]:
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise Invalid(
            f"Unknown event type: {', '.join(unknown)}.",
            code="unknown_event",
            field="events",
            allowed=list(EVENT_TYPES),
        )
    return list(dict.fromkeys(events))  # each once, in the order given


def _public(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """What the audit log keeps of an endpoint: never its secret."""
    return {"url": endpoint.url, "events": list(endpoint.events), "active": endpoint.active}


async def list_endpoints(uow: UnitOfWork, user: User) -> list[WebhookEndpoint]:
    _require_admin(user)
    return await repo.endpoints(uow.session)


async def get_endpoint(uow: UnitOfWork, user: User, endpoint_id: str) -> WebhookEndpoint:
    _require_admin(user)
    return await _endpoint(uow, endpoint_id)


async def create_endpoint(
    uow: UnitOfWork, user: User, data: EndpointCreate, *, allow_private: bool
) -> WebhookEndpoint:
    _require_admin(user)
    events = _checked_events(data.events)
    url = await _checked_url(data.url, allow_private)
    at = now()
    endpoint = WebhookEndpoint(
        id=new_id(),
        url=url,
        secret=data.secret or "whsec_" + secrets.token_urlsafe(32),
        events=events,
        active=data.active,
        created_at=at,
        updated_at=at,
    )
    uow.session.add(endpoint)
    await uow.session.flush()
    await audit.record(
        uow,
        actor=user,
        action="webhook_endpoint.created",
        target_type="webhook_endpoint",
        target_id=endpoint.id,
        details={**_public(endpoint), "secret_given": data.secret is not None},
    )
    return endpoint


async def update_endpoint(
    uow: UnitOfWork, user: User, endpoint_id: str, data: EndpointUpdate, *, allow_private: bool
) -> WebhookEndpoint:
    _require_admin(user)
    endpoint = await _endpoint(uow, endpoint_id)
    given = data.model_dump(exclude_unset=True)
    for name in ("url", "events", "active"):
        if name in given and given[name] is None:
            raise Invalid(f"{name} may not be null.", code="invalid", field=name)
    before = _public(endpoint)
    if data.events is not None:
        endpoint.events = _checked_events(data.events)
    if data.url is not None:
        endpoint.url = await _checked_url(data.url, allow_private)
    if data.active is not None:
        endpoint.active = data.active
    rotated = data.secret is not None and data.secret != endpoint.secret
    if data.secret is not None:
        endpoint.secret = data.secret
    changes = audit.changes(before, _public(endpoint))
    if not changes["fields"] and not rotated:
        return endpoint
    endpoint.updated_at = now()
    if rotated:
        changes["fields"] = sorted([*changes["fields"], "secret"])  # that it changed, not to what
    await audit.record(
        uow,
        actor=user,
        action="webhook_endpoint.updated",
        target_type="webhook_endpoint",
        target_id=endpoint.id,
        details=changes,
    )
    return endpoint


async def delete_endpoint(uow: UnitOfWork, user: User, endpoint_id: str) -> None:
    _require_admin(user)
    endpoint = await _endpoint(uow, endpoint_id)
    details = _public(endpoint)
    await repo.abandon_pending(uow.session, endpoint.id, now())
    await uow.session.delete(endpoint)
    await audit.record(
        uow,
        actor=user,
        action="webhook_endpoint.deleted",
        target_type="webhook_endpoint",
        target_id=endpoint_id,
        details=details,
    )


async def send_test(uow: UnitOfWork, user: User, endpoint_id: str) -> OutboxMessage:
    """A `webhook.test` event to this endpoint only (active or not), through the outbox like
    any other, so its outcome shows in the endpoint's delivery log."""
    _require_admin(user)
    endpoint = await _endpoint(uow, endpoint_id)
    outbox = outbox_mod.for_uow(uow)
    if outbox is None:
        raise Conflict("Deliveries are not running in this process.", code="outbox_off")
    event_id = new_id()
    document = {
        "id": event_id,
        "type": TEST_EVENT,
        "at": iso(now()),
        "actor": {"id": user.id, "name": user.name, "role": user.role},
        "endpoint": {"id": endpoint.id, "url": endpoint.url},
    }
    message = _enqueue_for(outbox, uow, endpoint, TEST_EVENT, document, f"test:{event_id}", None)
    await audit.record(
        uow,
        actor=user,
        action="webhook_endpoint.tested",
        target_type="webhook_endpoint",
        target_id=endpoint.id,
        details={"event_id": event_id},
    )
    return message


async def retry_delivery(uow: UnitOfWork, user: User, delivery_id: str) -> OutboxMessage:
    """Send a dead letter again, from now on with the usual retries for 24 h."""
    _require_admin(user, "Deliveries are for admins.")
    message = await repo.message_by_event_id(uow.session, delivery_id)
    if message is None or message.kind != DeliveryKind.webhook:
        raise NotFound("No such webhook delivery.")
    if message.status != DeliveryStatus.failed or not await repo.resend(
        uow.session, message.id, now()
    ):
        raise Conflict("Only a failed delivery (a dead letter) can be re-sent.", code="not_failed")
    await uow.session.refresh(message)
    outbox = outbox_mod.for_uow(uow)
    if outbox is not None:
        uow.on_commit(outbox.poke)
    await audit.record(
        uow,
        actor=user,
        action="webhook_delivery.retried",
        target_type="webhook_delivery",
        target_id=message.event_id,
        details={"type": message.event_type, "endpoint_id": message.endpoint_id},
    )
    return message
