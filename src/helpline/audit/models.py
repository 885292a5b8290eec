from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from helpline.db import Base, UTCDateTime
from helpline.kit.clock import now


class AuditEntry(Base):
    """One action, written in the same transaction as the change it records.

    Append-only: no code path updates or deletes a row, and database triggers (migration 0008)
    refuse UPDATE and DELETE on both SQLite and PostgreSQL. The id is an increasing integer, so
    "newest first" and the list's cursor are one index. The actor is kept by id only: names
    are read at listing time, so an erased customer's name never survives here."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_at", "at"),
        Index("ix_audit_entries_actor", "actor_id", "id"),
        Index("ix_audit_entries_action", "action", "id"),
        Index("ix_audit_entries_target", "target_type", "target_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    actor_id: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    target_type: Mapped[str] = mapped_column(String(40), nullable=False)
    target_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
