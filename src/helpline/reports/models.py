"""Indexes the reports need on other domains' tables (migration 0005 creates them), and the
report facts kept for chats and requests that retention removed (requests' service levels:
migration 0021).

Declared here, beside the queries that use them, so the metadata matches the migrations
without the reports package editing other domains' models.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from helpline.chats.models import Chat
from helpline.db import Base, UTCDateTime
from helpline.servicedesk.models import ServiceRequest

# Every report reads chats by queue and start time. This index covers every column the
# reports read, so SQLite answers from the index alone instead of visiting ~100,000 table
# rows in random order (3-4x faster on a year of chats). queue_id leads so one index serves
# both a one-queue report (queue_id = ?) and the all-queues one (queue_id IN (every queue):
# one range seek per queue).
ix_chats_report = Index(
    "ix_chats_report",
    Chat.queue_id,
    Chat.created_at,
    Chat.status,
    Chat.agent_id,
    Chat.rating_score,
    Chat.waiting_since,
    Chat.accepted_at,
    Chat.closed_at,
)
# Requests raised from chats, by the day they were raised.
ix_service_requests_created_chat = Index(
    "ix_service_requests_created_chat", ServiceRequest.created_at, ServiceRequest.chat_id
)


class ReportChat(Base):
    """What the reports read of a chat, kept when retention removes the chat: the same columns
    as `chats` has for them, and nothing about the customer or what was said."""

    __tablename__ = "report_chats"
    __table_args__ = (Index("ix_report_chats_queue_created", "queue_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    queue_id: Mapped[str] = mapped_column(String(32), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    agent_id: Mapped[str | None] = mapped_column(String(32))
    rating_score: Mapped[int | None] = mapped_column(Integer)
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_breached: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class ReportRaised(Base):
    """A request raised from a chat, kept once the request or its chat is removed."""

    __tablename__ = "report_raised"
    __table_args__ = (Index("ix_report_raised_created", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    queue_id: Mapped[str] = mapped_column(String(32), nullable=False)


class ReportRequest(Base):
    """What the reports read of a request's service levels, kept when retention removes the
    request: the same columns as `service_requests` has for them, nothing the customer wrote."""

    __tablename__ = "report_requests"
    __table_args__ = (Index("ix_report_requests_team_created", "team_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32), nullable=False)
    assignee_id: Mapped[str | None] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_breached: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    resolve_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolve_breached: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
