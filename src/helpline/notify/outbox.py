"""The outbox: e-mail and webhook deliveries that survive outages, restarts and many processes.

Writing: a service calls `enqueue()` inside its unit of work, so a row exists exactly when the
change it reports was committed (a rollback sends nothing). The worker is poked after commit.

Delivering: each process runs one `Outbox` worker task, claiming only the kinds it has a
transport for (a process without SMTP settings never takes e-mail rows). A pass (`run_once`)
leases due rows with a conditional UPDATE (`claimed_by`, `claimed_until`), commits, delivers
outside any transaction, then settles each row with another conditional UPDATE that only
succeeds while the lease is still ours. Rows of one ordering key (one request, one recipient)
go out oldest first, one at a time. Delivery is at least once: a worker that dies mid-delivery
leaves its lease to run out (`LEASE_S`), and another worker tries again; receivers drop repeats
by event id.

Retrying: after the n-th failed attempt the row waits `min(retry_s * 2**(n-1), 10 min)`; a
failure 24 h or more after the row was written (or one the transport calls permanent) makes it
`failed`, the dead letter admins list at GET /webhooks/deliveries?status=failed.

Capping: e-mail rows are ordered per recipient (their ordering key is derived from the
address), so one recipient's mail goes out one at a time and the count of what they were sent
in the last hour is exact. Past `HELPLINE_MAIL_PER_RECIPIENT_HOUR`, a row is dropped: settled
`failed` with the reason, logged with the address masked (docs/decisions/009-mail-limits.md).

Time comes from `helpline.kit.clock`, so tests move a FrozenClock instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import socket
from datetime import datetime, timedelta
from typing import Any

from helpline.boundary import Boundary, guard
from helpline.config import Settings
from helpline.db import Database, UnitOfWork
from helpline.errors import Unavailable
from helpline.kit.clock import now
from helpline.kit.ids import new_id
from helpline.notify import repository as repo
from helpline.notify.models import DeliveryKind, DeliveryStatus, OutboxMessage
from helpline.notify.transports import (
    DeliveryError,
    Receiver,
    SmtpTransport,
    Transport,
    WebhookTransport,
)
from helpline.observability import mask_email

log = logging.getLogger("helpline.outbox")

MAX_BACKOFF_S = 600.0
GIVE_UP_AFTER = timedelta(hours=24)
LEASE_S = 120.0  # longer than any transport's timeout
POLL_S = 1.0  # picks up rows written by other processes and retries that came due
BATCH = 20
MAIL_CAP_WINDOW = timedelta(hours=1)


def backoff_s(retry_s: float, attempts: int) -> float:
    """Wait after the `attempts`-th failure: retry_s, 2·retry_s, 4·retry_s, … capped at 10 min."""
    return float(min(retry_s * 2 ** max(attempts - 1, 0), MAX_BACKOFF_S))


def recipient_key(address: str) -> str:
    """The ordering key of every e-mail to `address` (hashed: keys are shown to admins)."""
    return "email:" + hashlib.sha256(address.strip().lower().encode()).hexdigest()[:32]


def for_uow(uow: UnitOfWork) -> Outbox | None:
    """The outbox of the app that opened this unit of work, if one is running."""
    found = uow.services.get("outbox")
    return found if isinstance(found, Outbox) else None


class Outbox:
    def __init__(
        self,
        settings: Settings,
        boundary: Boundary,
        *,
        transports: dict[DeliveryKind, Transport] | None = None,
        poll_s: float = POLL_S,
        lease_s: float = LEASE_S,
        batch: int = BATCH,
    ) -> None:
        self.settings = settings
        self.boundary = boundary
        self.db = db = boundary.db
        self.poll_s = poll_s
        self.lease_s = lease_s
        self.batch = batch
        self.worker_id = f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(4)}"
        self.transports = transports if transports is not None else _transports(settings, db)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._told_off: set[DeliveryKind] = set()
        db.services["outbox"] = self

    # --- writing ------------------------------------------------------------------------------

    def accepts(self, kind: DeliveryKind) -> bool:
        """Whether `kind` is configured; says so in the log the first time it is not."""
        if kind in self.transports:
            return True
        if kind not in self._told_off:
            self._told_off.add(kind)
            setting = "HELPLINE_SMTP_URL" if kind is DeliveryKind.email else "HELPLINE_WEBHOOK_URL"
            log.info("%s is not configured: %s deliveries are not queued", setting, kind)
        return False

    def enqueue(
        self,
        uow: UnitOfWork,
        *,
        kind: DeliveryKind,
        event_type: str,
        payload: dict[str, Any],
        ordering_key: str | None = None,
        reference: str | None = None,
        event_id: str | None = None,
        endpoint_id: str | None = None,
    ) -> OutboxMessage:
        """Add a delivery to the caller's transaction; it goes out once that commits.

        Webhooks need an `ordering_key`; e-mail is always ordered (and capped) per recipient,
        so it takes none."""
        if kind is DeliveryKind.email:
            if ordering_key is not None:
                raise ValueError("e-mail is ordered per recipient: pass no ordering_key")
            ordering_key = recipient_key(str(payload["to"]))
        elif ordering_key is None:
            raise ValueError("webhook deliveries need an ordering_key")
        at = now()
        message = OutboxMessage(
            event_id=event_id or new_id(),
            kind=kind,
            event_type=event_type,
            ordering_key=ordering_key,
            reference=reference,
            payload=payload,
            status=DeliveryStatus.pending,
            attempts=0,
            next_attempt_at=at,
            created_at=at,
            endpoint_id=endpoint_id,
        )
        uow.session.add(message)
        if self.poke not in uow.after_commit:
            uow.on_commit(self.poke)
        return message

    async def poke(self) -> None:
        """Wake the worker (an after-commit hook)."""
        self._wake.set()

    @property
    def env_webhook(self) -> bool:
        """Whether HELPLINE_WEBHOOK_URL (with its secret) is set: the one endpoint of part 1."""
        return bool(self.settings.webhook_url and self.settings.webhook_secret)

    def wake(self) -> None:
        self._wake.set()

    # --- delivering ---------------------------------------------------------------------------

    async def run_once(self) -> int:
        """One pass: claim what is due, deliver it, record the outcome. Returns rows attempted."""
        at = now()
        kinds = list(self.transports)
        if not kinds:
            return 0
        async with self.boundary.read() as uow:
            if not await repo.any_due(uow.session, at, kinds, self.env_webhook):
                return 0
        async with self.boundary.write() as uow:
            claimed = await repo.claim(
                uow.session,
                self.worker_id,
                at,
                at + timedelta(seconds=self.lease_s),
                self.batch,
                kinds,
                self.env_webhook,
            )
        if claimed:
            # Each attempt settles its own row; one failing to (the database went away) must
            # not abandon the others mid-flight. Unsettled rows are retried after the lease.
            outcomes = await asyncio.gather(
                *(self._attempt(m) for m in claimed), return_exceptions=True
            )
            errors = [o for o in outcomes if isinstance(o, BaseException)]
            if errors:
                raise errors[0]
        return len(claimed)

    async def drain(self, max_passes: int = 1000) -> int:
        """Run passes until nothing is due now (for tests and shutdown); returns rows attempted."""
        total = 0
        for _ in range(max_passes):
            n = await self.run_once()
            if n == 0:
                break
            total += n
        return total

    async def _over_mail_cap(self, message: OutboxMessage) -> bool:
        cap = self.settings.mail_per_recipient_hour
        if message.kind != DeliveryKind.email or cap <= 0:
            return False
        since = now() - MAIL_CAP_WINDOW
        async with self.db.read() as session:
            sent = await repo.count_delivered_since(session, message.ordering_key, since)
        return sent >= cap

    async def _attempt(self, message: OutboxMessage) -> None:
        if await self._over_mail_cap(message):
            cap = self.settings.mail_per_recipient_hour
            log.warning(
                "outbox email %s %s to %s dropped: %d mails to that address in the last hour",
                message.event_type,
                message.event_id,
                mask_email(str(message.payload.get("to", ""))),
                cap,
                extra={"reference": message.reference},
            )
            error = f"dropped: {cap} mails to this address in the last hour"
            await self._settle(message, DeliveryStatus.failed, at=now(), error=error)
            return
        transport = self.transports.get(DeliveryKind(message.kind))
        try:
            if transport is None:
                raise DeliveryError(f"{message.kind} is not configured", permanent=True)
            await transport.deliver(message)
        except DeliveryError as exc:
            await self._failed(message, str(exc), permanent=exc.permanent)
        except Exception as exc:
            log.exception("outbox %s: unexpected error delivering", message.event_id)
            await self._failed(message, f"{type(exc).__name__}: {exc}", permanent=False)
        else:
            await self._settle(message, DeliveryStatus.delivered, at=now())

    async def _failed(self, message: OutboxMessage, error: str, *, permanent: bool) -> None:
        at = now()
        attempts = message.attempts + 1
        # A dead letter an admin re-sent gets a fresh window from the moment they did.
        since = message.retried_at or message.created_at
        if permanent or at - since >= GIVE_UP_AFTER:
            log.error(
                "outbox %s %s %s: giving up after %d attempts: %s",
                message.kind,
                message.event_type,
                message.event_id,
                attempts,
                error,
            )
            await self._settle(message, DeliveryStatus.failed, at=at, error=error)
            return
        wait = backoff_s(self.settings.outbox_retry_s, attempts)
        log.warning(
            "outbox %s %s %s: attempt %d failed (%s); retrying in %.0f s",
            message.kind,
            message.event_type,
            message.event_id,
            attempts,
            error,
            wait,
        )
        await self._settle(
            message,
            DeliveryStatus.pending,
            at=at,
            error=error,
            next_attempt_at=at + timedelta(seconds=wait),
        )

    async def _settle(
        self,
        message: OutboxMessage,
        status: DeliveryStatus,
        *,
        at: datetime,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        async with self.boundary.write() as uow:
            kept = await repo.settle(
                uow.session,
                message.id,
                self.worker_id,
                status=status,
                attempts=message.attempts + 1,
                at=at,
                next_attempt_at=next_attempt_at,
                error=error[:1000] if error else None,
            )
        if not kept:
            log.warning("outbox %s: lease lost before the outcome was recorded", message.event_id)

    # --- the background task ------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            # Cleared before the pass, so a poke that arrives during it is not lost.
            self._wake.clear()
            try:
                with guard():  # a transport's own OSError is settled, never raised here
                    attempted = await self.run_once()
            except Unavailable as exc:
                log.warning("outbox pass skipped: %s", exc.message)
                attempted = 0
            except Exception:
                log.exception("outbox pass failed")
                attempted = 0
            if attempted:
                continue  # more may be waiting behind what was just sent
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)

    def start(self) -> None:
        """Start the worker task, when there is anything to deliver to."""
        if not self.transports or self._task is not None:
            return
        for kind, transport in self.transports.items():
            describe = getattr(transport, "describe", None)
            log.info("outbox: %s via %s", kind, describe() if describe else kind)
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="helpline-outbox")

    async def stop(self) -> None:
        """Stop the worker task (rows it holds are retried once their lease runs out)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def close(self) -> None:
        await self.stop()
        for transport in self.transports.values():
            await transport.close()
        if self.db.services.get("outbox") is self:
            del self.db.services["outbox"]


def _transports(settings: Settings, db: Database) -> dict[DeliveryKind, Transport]:
    out: dict[DeliveryKind, Transport] = {}
    if settings.smtp_url:
        out[DeliveryKind.email] = SmtpTransport(settings.smtp_url, settings.mail_from)
    url, secret = settings.webhook_url, settings.webhook_secret
    if url and not secret:
        # Never send unsigned: a receiver could not tell our events from anyone's.
        log.error("HELPLINE_WEBHOOK_URL is set without HELPLINE_WEBHOOK_SECRET: not forwarding")
        url = None

    async def endpoint(endpoint_id: str) -> Receiver | None:
        async with db.read() as session:
            found = await repo.endpoint(session, endpoint_id)
        return Receiver(found.url, found.secret) if found is not None else None

    # Always there: admins may add endpoints at any time (they live in the database).
    out[DeliveryKind.webhook] = WebhookTransport(
        url,
        secret,
        endpoints=endpoint,
        allow_private=settings.webhook_private_allowed,
    )
    return out
