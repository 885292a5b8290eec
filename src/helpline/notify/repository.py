"""Every query of the outbox. Claiming and settling are conditional UPDATEs, so any number of
workers, in one process or many, can share the table without delivering a row twice."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from helpline.notify.models import DeliveryKind, DeliveryStatus, OutboxMessage, WebhookEndpoint

PENDING = DeliveryStatus.pending


def _unclaimed(at: datetime) -> ColumnElement[bool]:
    """Nobody holds the row, or its holder's lease ran out (it crashed or hung)."""
    return or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= at)


def _due(
    at: datetime, kinds: Collection[DeliveryKind], env_webhook: bool = True
) -> ColumnElement[bool]:
    """Pending, due, not held, and of a kind this worker has a transport for: a process
    without SMTP or HELPLINE_WEBHOOK_URL settings leaves those rows to one that has them
    (every process delivers to the admin-managed endpoints: they live in the database)."""
    kind: ColumnElement[bool] = OutboxMessage.kind.in_([k.value for k in kinds])
    if not env_webhook:
        kind = and_(
            kind,
            or_(
                OutboxMessage.kind != DeliveryKind.webhook.value,
                OutboxMessage.endpoint_id.is_not(None),
            ),
        )
    return and_(
        OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= at, _unclaimed(at), kind
    )


async def any_due(
    session: AsyncSession, at: datetime, kinds: Collection[DeliveryKind], env_webhook: bool = True
) -> bool:
    """A cheap read, so an idle worker never takes SQLite's write lock just to find nothing."""
    stmt = select(OutboxMessage.id).where(_due(at, kinds, env_webhook)).limit(1)
    return (await session.execute(stmt)).first() is not None


async def claim(
    session: AsyncSession,
    worker: str,
    at: datetime,
    until: datetime,
    limit: int,
    kinds: Collection[DeliveryKind],
    env_webhook: bool = True,
) -> list[OutboxMessage]:
    """Lease up to `limit` due rows to `worker`, oldest first, at most one per ordering key.

    Only the oldest pending row of each ordering key is a candidate, so a request's events go
    out in the order they happened even while one of them is being retried. The UPDATE repeats
    the due/unclaimed test: on PostgreSQL a concurrent claimer blocks on the row lock and then
    re-evaluates it against the winner's version (and sees it claimed); on SQLite writers are
    serialised anyway.
    """
    older = aliased(OutboxMessage)
    head_of_key = ~exists().where(
        older.ordering_key == OutboxMessage.ordering_key,
        older.status == PENDING,
        older.id < OutboxMessage.id,
    )
    candidates = (
        select(OutboxMessage.id)
        .where(_due(at, kinds, env_webhook), head_of_key)
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    ids = list((await session.execute(candidates)).scalars())
    if not ids:
        return []
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), _due(at, kinds, env_webhook))
        .values(claimed_by=worker, claimed_until=until)
        .returning(OutboxMessage)
        .execution_options(synchronize_session=False)
    )
    rows = list((await session.execute(stmt)).scalars())
    return sorted(rows, key=lambda r: r.id)


async def count_delivered_since(session: AsyncSession, ordering_key: str, since: datetime) -> int:
    """Rows of `ordering_key` delivered after `since` (a recipient's mail in the last hour)."""
    stmt = select(func.count()).where(
        OutboxMessage.ordering_key == ordering_key,
        OutboxMessage.status == DeliveryStatus.delivered,
        OutboxMessage.delivered_at > since,
    )
    return int((await session.execute(stmt)).scalar_one())


async def settle(
    session: AsyncSession,
    message_id: int,
    worker: str,
    *,
    status: DeliveryStatus,
    attempts: int,
    at: datetime,
    next_attempt_at: datetime | None = None,
    error: str | None = None,
) -> bool:
    """Record an attempt's outcome and release the lease. False when the lease was lost
    (another worker took the row over), in which case nothing is written."""
    values: dict[str, object] = {
        "status": status,
        "attempts": attempts,
        "last_attempt_at": at,
        "last_error": error,
        "claimed_by": None,
        "claimed_until": None,
    }
    if status is DeliveryStatus.delivered:
        values["delivered_at"] = at
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.claimed_by == worker,
            OutboxMessage.status == PENDING,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def list_messages(
    session: AsyncSession,
    *,
    status: str | None,
    kind: str | None,
    before_id: int | None,
    limit: int,
    endpoint_id: str | None = None,
) -> list[OutboxMessage]:
    """Newest first; `before_id` is the keyset cursor."""
    stmt = select(OutboxMessage)
    if endpoint_id is not None:
        stmt = stmt.where(OutboxMessage.endpoint_id == endpoint_id)
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    if kind:
        stmt = stmt.where(OutboxMessage.kind == kind)
    if before_id is not None:
        stmt = stmt.where(OutboxMessage.id < before_id)
    stmt = stmt.order_by(OutboxMessage.id.desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


# --- webhook endpoints ------------------------------------------------------------------------


async def endpoint(session: AsyncSession, endpoint_id: str) -> WebhookEndpoint | None:
    return await session.get(WebhookEndpoint, endpoint_id)


async def endpoints(session: AsyncSession) -> list[WebhookEndpoint]:
    stmt = select(WebhookEndpoint).order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    return list((await session.execute(stmt)).scalars())


async def active_endpoints(session: AsyncSession) -> list[WebhookEndpoint]:
    """Few rows (a handful per installation): callers filter by event type themselves."""
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True))
    return list((await session.execute(stmt.order_by(WebhookEndpoint.id))).scalars())


async def message_by_event_id(session: AsyncSession, event_id: str) -> OutboxMessage | None:
    stmt = select(OutboxMessage).where(OutboxMessage.event_id == event_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def resend(session: AsyncSession, message_id: int, at: datetime) -> bool:
    """A dead letter back to pending, due now, with a fresh retry window; False when it is
    no longer failed (someone else re-sent it first)."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == DeliveryStatus.failed)
        .values(
            status=PENDING,
            next_attempt_at=at,
            retried_at=at,
            claimed_by=None,
            claimed_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def abandon_pending(session: AsyncSession, endpoint_id: str, at: datetime) -> None:
    """What is still queued for a deleted endpoint becomes a dead letter that says so."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.endpoint_id == endpoint_id, OutboxMessage.status == PENDING)
        .values(
            status=DeliveryStatus.failed,
            last_error="the endpoint was deleted",
            last_attempt_at=at,
            claimed_by=None,
            claimed_until=None,
        )
        .execution_options(synchronize_session=False)
    )
