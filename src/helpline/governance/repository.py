"""Queries of data governance: what retention may remove, the customer's rows erasure and
export touch, and the governance tables themselves.

Like the reports, governance works across domains by nature (a person's data lives in chats,
requests, files and the outbox alike): it reads and rewrites those tables here, in one place,
instead of asking each domain for one more query. Rules (who may, which state) stay in the
services; visibility for exports goes through the chats and service-desk services.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.accounts.models import (
    AuthSession,
    PasswordReset,
    RecoveryCode,
    User,
    UserIdentity,
)
from helpline.chats.models import Attachment, AwayLink, Chat, ChatEvent
from helpline.governance.models import Export, JobLease, RetentionRun
from helpline.kit.enums import ChatStatus, RequestStatus
from helpline.notify.models import OutboxMessage
from helpline.queues.models import Queue
from helpline.servicedesk.models import RequestEntry, ServiceRequest

CLOSED_CHATS = (ChatStatus.solved, ChatStatus.cancelled, ChatStatus.expired)
CLOSED_REQUESTS = (RequestStatus.closed, RequestStatus.cancelled)


# --- retention --------------------------------------------------------------------------------


async def queue_retention(session: AsyncSession) -> list[tuple[str, str, int | None]]:
    """Every queue (inactive ones too: their chats age as well): id, name, retention_days."""
    stmt = select(Queue.id, Queue.name, Queue.retention_days).order_by(Queue.name)
    return [(str(i), str(n), d) for i, n, d in (await session.execute(stmt)).all()]


def _per_queue(
    queue_col: ColumnElement[str],
    closed_col: ColumnElement[datetime],
    cutoffs: dict[str, datetime],
) -> ColumnElement[bool] | None:
    if not cutoffs:
        return None
    return or_(*(and_(queue_col == q, closed_col < cut) for q, cut in cutoffs.items()))


def chats_due(cutoffs: dict[str, datetime]) -> ColumnElement[bool] | None:
    """Chats closed before their queue's cutoff (None: no queue has a policy)."""
    per_queue = _per_queue(Chat.queue_id, Chat.closed_at, cutoffs)  # type: ignore[arg-type]
    if per_queue is None:
        return None
    return and_(Chat.status.in_(CLOSED_CHATS), Chat.closed_at.is_not(None), per_queue)


def requests_due(cutoffs: dict[str, datetime]) -> ColumnElement[bool] | None:
    """Closed or cancelled requests untouched since before their team's cutoff. A closed or
    cancelled request is final: its last change is when it closed."""
    per_queue = _per_queue(ServiceRequest.team_id, ServiceRequest.updated_at, cutoffs)  # type: ignore[arg-type]
    if per_queue is None:
        return None
    return and_(ServiceRequest.status.in_(CLOSED_REQUESTS), per_queue)


async def _claim(
    session: AsyncSession,
    ids: ColumnElement[str],
    oldest: ColumnElement[datetime],
    due: ColumnElement[bool],
    limit: int,
) -> list[str]:
    """Up to `limit` due rows, oldest first, locked for this transaction; on PostgreSQL a
    concurrent run skips the ones locked here (SQLite runs one writer at a time anyway)."""
    stmt = (
        select(ids).where(due).order_by(oldest, ids).limit(limit).with_for_update(skip_locked=True)
    )
    return list((await session.execute(stmt)).scalars())


async def claim_chats(session: AsyncSession, due: ColumnElement[bool], limit: int) -> list[str]:
    return await _claim(session, Chat.id, Chat.closed_at, due, limit)  # type: ignore[arg-type]


async def claim_requests(session: AsyncSession, due: ColumnElement[bool], limit: int) -> list[str]:
    return await _claim(session, ServiceRequest.id, ServiceRequest.updated_at, due, limit)  # type: ignore[arg-type]


async def count_chats(session: AsyncSession, due: ColumnElement[bool]) -> dict[str, int]:
    """Per queue: chats due, their events and files (the dry run)."""
    chats = select(Chat.queue_id, func.count()).where(due).group_by(Chat.queue_id)
    events = (
        select(Chat.queue_id, func.count())
        .join(ChatEvent, ChatEvent.chat_id == Chat.id)
        .where(due)
        .group_by(Chat.queue_id)
    )
    files = (
        select(Chat.queue_id, func.count())
        .join(Attachment, Attachment.chat_id == Chat.id)
        .where(due)
        .group_by(Chat.queue_id)
    )
    out: dict[str, int] = {}
    for name, stmt in (("chats", chats), ("events", events), ("files", files)):
        for q, n in (await session.execute(stmt)).all():
            out[f"{q}:{name}"] = int(n)
    return out


async def count_requests(session: AsyncSession, due: ColumnElement[bool]) -> dict[str, int]:
    stmt = select(ServiceRequest.team_id, func.count()).where(due).group_by(ServiceRequest.team_id)
    return {f"{q}:requests": int(n) for q, n in (await session.execute(stmt)).all()}


async def references(
    session: AsyncSession, chat_ids: Sequence[str], request_ids: Sequence[str]
) -> list[str]:
    refs: list[str] = []
    if chat_ids:
        stmt = select(Chat.reference).where(Chat.id.in_(chat_ids))
        refs += list((await session.execute(stmt)).scalars())
    if request_ids:
        stmt2 = select(ServiceRequest.reference).where(ServiceRequest.id.in_(request_ids))
        refs += list((await session.execute(stmt2)).scalars())
    return refs


async def storage_keys(session: AsyncSession, chat_ids: Sequence[str]) -> list[str]:
    """Every stored object of these chats' files: the file and its thumbnail."""
    stmt = select(Attachment.storage_key, Attachment.thumb_key).where(
        Attachment.chat_id.in_(chat_ids)
    )
    return [key for row in (await session.execute(stmt)).all() for key in row if key]


async def drop_outbox(
    session: AsyncSession, refs: Sequence[str], ordering_key: str | None = None
) -> int:
    """Every outbox row about these chats or requests (or to this recipient), in any status:
    pending mail is not sent, and delivered mail's copy (its body quotes the chat) goes."""
    conds: list[ColumnElement[bool]] = []
    if refs:
        conds.append(OutboxMessage.reference.in_(refs))
    if ordering_key is not None:
        conds.append(OutboxMessage.ordering_key == ordering_key)
    if not conds:
        return 0
    result = await session.execute(delete(OutboxMessage).where(or_(*conds)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def claim_lease(
    session: AsyncSession, name: str, holder: str, at: datetime, hold_s: float, *, due: bool
) -> bool:
    """Take the job `name` if nobody holds it (and, with `due`, its next run is due): one
    conditional UPDATE, so of several processes exactly one gets it."""
    conds = [
        JobLease.name == name,
        or_(JobLease.claimed_until.is_(None), JobLease.claimed_until <= at),
    ]
    if due:
        conds.append(or_(JobLease.next_run_at.is_(None), JobLease.next_run_at <= at))
    stmt = (
        update(JobLease)
        .where(*conds)
        .values(holder=holder, claimed_until=at + timedelta(seconds=hold_s))
    )
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def lease(session: AsyncSession, name: str) -> JobLease | None:
    return await session.get(JobLease, name)


async def release_lease(
    session: AsyncSession, name: str, holder: str, next_run_at: datetime
) -> None:
    await session.execute(
        update(JobLease)
        .where(JobLease.name == name, JobLease.holder == holder)
        .values(holder=None, claimed_until=None, next_run_at=next_run_at)
    )


async def last_run(session: AsyncSession) -> RetentionRun | None:
    stmt = select(RetentionRun).order_by(RetentionRun.started_at.desc()).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()


# --- a customer's rows ------------------------------------------------------------------------


async def customer_chats(session: AsyncSession, customer_id: str) -> list[Chat]:
    stmt = select(Chat).where(Chat.customer_id == customer_id).order_by(Chat.created_at)
    return list((await session.execute(stmt)).scalars())


async def customer_requests(session: AsyncSession, customer_id: str) -> list[ServiceRequest]:
    stmt = (
        select(ServiceRequest)
        .where(ServiceRequest.customer_id == customer_id)
        .order_by(ServiceRequest.created_at)
    )
    return list((await session.execute(stmt)).scalars())


async def chat_events(session: AsyncSession, chat_ids: Sequence[str]) -> list[ChatEvent]:
    stmt = select(ChatEvent).where(ChatEvent.chat_id.in_(chat_ids))
    return list((await session.execute(stmt)).scalars())


async def request_entries(session: AsyncSession, request_ids: Sequence[str]) -> list[RequestEntry]:
    stmt = select(RequestEntry).where(RequestEntry.request_id.in_(request_ids))
    return list((await session.execute(stmt)).scalars())


async def attachments(session: AsyncSession, chat_ids: Sequence[str]) -> list[Attachment]:
    stmt = (
        select(Attachment).where(Attachment.chat_id.in_(chat_ids)).order_by(Attachment.created_at)
    )
    return list((await session.execute(stmt)).scalars())


async def customer(session: AsyncSession, user_id: str) -> User | None:
    user = await session.get(User, user_id)
    return user if user is not None and user.role == "customer" else None


# What a person signs in with: sessions (with the browser and address they signed in from),
# recovery codes, password-reset links, identities at an identity provider, away-mail links.
SIGN_IN_TABLES = (AuthSession, RecoveryCode, PasswordReset, UserIdentity, AwayLink)


async def delete_sign_ins(session: AsyncSession, user_id: str) -> None:
    """Every way the person signed in or could sign in goes, rows and all."""
    for model in SIGN_IN_TABLES:
        await session.execute(delete(model).where(model.user_id == user_id))


# --- exports ----------------------------------------------------------------------------------


async def get_export(session: AsyncSession, export_id: str) -> Export | None:
    return await session.get(Export, export_id)


async def pending_exports(session: AsyncSession, at: datetime, limit: int = 5) -> list[str]:
    stmt = (
        select(Export.id)
        .where(
            Export.status == "pending",
            or_(Export.claimed_until.is_(None), Export.claimed_until <= at),
        )
        .order_by(Export.created_at)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def claim_export(
    session: AsyncSession, export_id: str, at: datetime, until: datetime
) -> bool:
    stmt = (
        update(Export)
        .where(
            Export.id == export_id,
            Export.status == "pending",
            or_(Export.claimed_until.is_(None), Export.claimed_until <= at),
        )
        .values(claimed_until=until)
    )
    return bool((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]


async def expired_exports(session: AsyncSession, at: datetime, limit: int = 100) -> list[Export]:
    stmt = select(Export).where(Export.expires_at <= at).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def customer_exports(session: AsyncSession, customer_id: str) -> list[Export]:
    stmt = select(Export).where(Export.customer_id == customer_id)
    return list((await session.execute(stmt)).scalars())


# --- the search index ---------------------------------------------------------------------


async def compact_text_indexes(session: AsyncSession) -> int:
    """SQLite's FTS5 indexes keep a deleted row's words in their segments (behind a delete
    marker, so search never finds them) until the segments are merged: 'optimize' merges them
    now, so erased or removed words are gone from the file's tables too. PostgreSQL's index is
    a column of the row itself: nothing to do. Returns how many indexes were compacted."""
    if session.get_bind().dialect.name != "sqlite":
        return 0
    found = await session.execute(
        text("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%USING fts5%'")
    )
    names = [str(n) for n in found.scalars()]
    for name in names:
        # The names come from the schema itself, never from a caller.
        optimize = f'INSERT INTO "{name}"("{name}") VALUES (\'optimize\')'  # noqa: S608
        await session.execute(text(optimize))
    return len(names)
