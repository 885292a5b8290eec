from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from helpline.db import Base, UTCDateTime
from helpline.kit.clock import now
from helpline.kit.enums import Priority, RequestStatus
from helpline.kit.ids import new_id


class ServiceRequest(Base):
    __tablename__ = "service_requests"
    __table_args__ = (
        Index("ix_service_requests_team_status", "team_id", "status"),
        Index("ix_service_requests_customer", "customer_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    number: Mapped[int] = mapped_column(Integer, nullable=False, unique=True)
    reference: Mapped[str] = mapped_column(String(16), nullable=False, unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False)
    team_id: Mapped[str] = mapped_column(ForeignKey("queues.id"), nullable=False)
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    chat_id: Mapped[str | None] = mapped_column(ForeignKey("chats.id"), index=True)
    summary: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    priority: Mapped[str] = mapped_column(String(16), nullable=False, default=Priority.medium)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=RequestStatus.new)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Service levels (the team queue's request_sla for the priority), counted in the team's
    # opening hours from creation; `sla_next_at` as on chats (servicedesk.sla).
    response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolve_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_breached: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    resolve_breached: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    sla_next_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # When 80 % of each target's time is used, and whether staff were warned (migration 0022).
    response_warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolve_warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_warned: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    resolve_warned: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class RequestEntry(Base):
    """The request's timeline: created, comment, status_changed, assigned, …"""

    __tablename__ = "request_entries"

    id: Mapped[int] = mapped_column(
        Integer().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    request_id: Mapped[str] = mapped_column(
        ForeignKey("service_requests.id"), nullable=False, index=True
    )
    type: Mapped[str] = mapped_column(String(32), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    actor_id: Mapped[str | None] = mapped_column(String(32))
    actor_role: Mapped[str | None] = mapped_column(String(16))
    actor_name: Mapped[str | None] = mapped_column(String(120))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    internal: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
