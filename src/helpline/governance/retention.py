"""Retention: chats closed, and requests closed or cancelled, longer ago than their queue's
`retention_days` (else HELPLINE_RETENTION_DAYS) are removed with everything that hangs off them
(events, files with their bytes, participants, outbox mail about them …).

A run is claimed through the `retention` job lease, so of several processes one runs it, at
most every HELPLINE_RETENTION_INTERVAL_S. It removes HELPLINE_RETENTION_BATCH chats (or
requests) per transaction, so no transaction holds the database for long; the bytes of removed
files are deleted once that transaction committed (a crash in between leaves unreferenced
bytes, never a row without its file). Before removal the reports keep what they count of each
chat (`reports.service.keep_totals`), so a report over an old period keeps its totals.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement

from helpline.audit import service as audit
from helpline.boundary import Boundary
from helpline.chats.models import Chat
from helpline.config import Settings
from helpline.db import UnitOfWork
from helpline.governance import purge
from helpline.governance import repository as repo
from helpline.governance.models import RetentionRun
from helpline.kit.clock import now
from helpline.reports import service as reports
from helpline.servicedesk.models import ServiceRequest
from helpline.storage import Storage

log = logging.getLogger("helpline.retention")

LEASE = "retention"


class Env(Protocol):
    """What retention needs of a running app (or of the `helpline retention` command)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def boundary(self) -> Boundary: ...
    @property
    def storage(self) -> Storage: ...


@dataclass
class Removed:
    chats: int = 0
    events: int = 0
    files: int = 0
    requests: int = 0

    def add(self, counts: Counter[str]) -> None:
        self.chats += counts["chats"]
        self.events += counts["chat_events"]
        self.files += counts["attachments"]
        self.requests += counts["service_requests"]

    def as_dict(self) -> dict[str, int]:
        return {
            "chats": self.chats,
            "events": self.events,
            "files": self.files,
            "requests": self.requests,
        }


@dataclass
class Plan:
    """What a run at `at` would remove, per queue (the dry run)."""

    at: datetime
    default_days: int | None
    queues: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> dict[str, int]:
        keys = ("chats", "events", "files", "requests")
        return {k: sum(int(q[k]) for q in self.queues) for k in keys}


async def cutoffs(uow: UnitOfWork, default_days: int | None, at: datetime) -> dict[str, datetime]:
    """Each queue with a policy: the moment before which its closed chats and requests go."""
    out = {}
    for qid, _, days in await repo.queue_retention(uow.session):
        keep = days or default_days
        if keep is not None:
            out[qid] = at - timedelta(days=keep)
    return out


async def plan(ctx: Env, at: datetime | None = None) -> Plan:
    """What a run now would remove; changes nothing."""
    at = at or now()
    days = ctx.settings.retention_days
    result = Plan(at=at, default_days=days)
    async with ctx.boundary.read() as uow:
        cuts = await cutoffs(uow, days, at)
        chats_due = repo.chats_due(cuts)
        requests_due = repo.requests_due(cuts)
        counts: dict[str, int] = {}
        if chats_due is not None and requests_due is not None:
            counts.update(await repo.count_chats(uow.session, chats_due))
            counts.update(await repo.count_requests(uow.session, requests_due))
        for qid, name, queue_days in await repo.queue_retention(uow.session):
            row: dict[str, Any] = {"id": qid, "name": name, "retention_days": queue_days}
            row["effective_days"] = queue_days or days
            for k in ("chats", "events", "files", "requests"):
                row[k] = counts.get(f"{qid}:{k}", 0)
            result.queues.append(row)
    return result


def settle_message_index(uow: UnitOfWork) -> None:
    """Once `uow` commits, have SQLite's message index apply the events it removed or changed
    and merge them away (decision 034), so the words are gone from its file too before the
    caller answers. PostgreSQL's index is part of the rows: nothing to do."""
    indexer = uow.services.get("search_backlog")
    if indexer is not None:
        uow.on_commit(indexer.settle)


async def delete_bytes(storage: Storage, keys: list[str]) -> None:
    """After commit: the files' bytes. A failure leaves bytes nothing refers to; it is logged."""
    for key in keys:
        try:
            await storage.delete(key)
        except Exception:
            log.exception("could not delete stored file %s", key)


async def remove_chats(uow: UnitOfWork, storage: Storage, chat_ids: list[str]) -> Counter[str]:
    """Remove these chats and everything hanging off them, in this unit of work."""
    if not chat_ids:
        return Counter()
    keys = await repo.storage_keys(uow.session, chat_ids)
    await reports.keep_totals(uow, chat_ids, [])
    await repo.drop_outbox(uow.session, await repo.references(uow.session, chat_ids, []))
    table = purge.table_of(Chat)
    removed = await purge.delete_where(uow.session, table, table.c.id.in_(chat_ids))
    uow.on_commit(lambda: delete_bytes(storage, keys))
    return removed


async def remove_requests(uow: UnitOfWork, request_ids: list[str]) -> Counter[str]:
    if not request_ids:
        return Counter()
    await reports.keep_totals(uow, [], request_ids)
    await repo.drop_outbox(uow.session, await repo.references(uow.session, [], request_ids))
    table = purge.table_of(ServiceRequest)
    return await purge.delete_where(uow.session, table, table.c.id.in_(request_ids))


async def _batches(
    ctx: Env, due: ColumnElement[bool] | None, *, chats: bool, removed: Removed
) -> None:
    if due is None:
        return
    batch = ctx.settings.retention_batch
    while True:
        async with ctx.boundary.write() as uow:
            if chats:
                ids = await repo.claim_chats(uow.session, due, batch)
                counts = await remove_chats(uow, ctx.storage, ids)
            else:
                ids = await repo.claim_requests(uow.session, due, batch)
                counts = await remove_requests(uow, ids)
        removed.add(counts)
        if len(ids) < batch:
            return


async def run(ctx: Env, holder: str, *, force: bool = False) -> Removed | None:
    """One retention run if this process claims it (and it is due, unless `force`); None when
    another process holds it, it is not due, or nothing has a retention policy."""
    at = now()
    s = ctx.settings
    async with ctx.boundary.read() as uow:
        cuts = await cutoffs(uow, s.retention_days, at)
        lease = await repo.lease(uow.session, LEASE)
    if not cuts or lease is None:
        return None
    # A read first: a pass with nothing due never takes SQLite's write lock.
    if not force and lease.next_run_at is not None and lease.next_run_at > at:
        return None
    # Held for a whole interval at most: a process that dies mid-run hands it on after that.
    async with ctx.boundary.write() as uow:
        claimed = await repo.claim_lease(
            uow.session, LEASE, holder, at, s.retention_interval_s, due=not force
        )
    if not claimed:
        return None
    removed = Removed()
    try:
        await _batches(ctx, repo.chats_due(cuts), chats=True, removed=removed)
        await _batches(ctx, repo.requests_due(cuts), chats=False, removed=removed)
    finally:
        async with ctx.boundary.write() as uow:
            if removed.chats or removed.requests:
                await repo.compact_text_indexes(uow.session)
                settle_message_index(uow)
            run_row = RetentionRun(started_at=at, finished_at=now(), **removed.as_dict())
            uow.session.add(run_row)
            await uow.session.flush()
            await audit.record(
                uow,
                actor=None,
                action="retention.run",
                target_type="retention_run",
                target_id=run_row.id,
                details=removed.as_dict(),
            )
            await repo.release_lease(
                uow.session, LEASE, holder, at + timedelta(seconds=s.retention_interval_s)
            )
    log.info("retention run removed %s", removed.as_dict())
    return removed


async def last_run(uow: UnitOfWork) -> RetentionRun | None:
    return await repo.last_run(uow.session)
