"""The outbox: one row per e-mail or webhook delivery, written in the same transaction as the
change it reports, delivered after commit by `helpline.notify.outbox.Outbox`."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from helpline.db import Base, UTCDateTime
from helpline.kit.clock import now
from helpline.kit.ids import new_id


class DeliveryKind(StrEnum):
    email = "email"
    webhook = "webhook"


class DeliveryStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"  # the dead letter: given up after 24 h, or refused for good


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        # The worker's claim: due pending rows.
        Index("ix_outbox_due", "status", "next_attempt_at"),
        # "Is an older row of the same ordering key still pending?" (delivery in order).
        Index("ix_outbox_ordering", "ordering_key", "status", "id"),
        # Admin listing by status, newest first.
        Index("ix_outbox_status_id", "status", "id"),
    )

    # An increasing integer, so rows of one ordering key go out in the order they were written
    # (created_at can tie, and always does under a frozen test clock).
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    # Sent to receivers (X-Helpline-Event-Id, Message-ID) so they can drop a repeat.
    event_id: Mapped[str] = mapped_column(String(32), nullable=False, unique=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    event_type: Mapped[str] = mapped_column(String(40), nullable=False)
    ordering_key: Mapped[str] = mapped_column(String(80), nullable=False)
    reference: Mapped[str | None] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=DeliveryStatus.pending)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A lease: the worker that claimed the row owns it until then (a crashed worker's rows are
    # taken over once it runs out).
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    # The admin-managed endpoint this webhook row goes to; None: HELPLINE_WEBHOOK_URL. No
    # foreign key: a deleted endpoint's rows stay in the log (failed, "endpoint deleted").
    endpoint_id: Mapped[str | None] = mapped_column(String(32), index=True)
    # When an admin last re-sent this dead letter: it gets a fresh 24 h of retries from then.
    retried_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookEndpoint(Base):
    """A receiver an admin registered: its own URL, secret and event filter."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(String(2000), nullable=False)
    # Signs every delivery (HMAC): stored as is, since signing needs it; never listed.
    secret: Mapped[str] = mapped_column(String(200), nullable=False)
    events: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
