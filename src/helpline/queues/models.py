from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from helpline.db import Base, UTCDateTime
from helpline.kit.clock import now
from helpline.kit.enums import RoutingMode
from helpline.kit.ids import new_id


class Queue(Base):
    __tablename__ = "queues"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(120), nullable=False, unique=True)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    routing_mode: Mapped[str] = mapped_column(
        String(16), nullable=False, default=RoutingMode.broadcast
    )
    max_wait_s: Mapped[int] = mapped_column(Integer, nullable=False, default=600)
    offer_timeout_s: Mapped[int] = mapped_column(Integer, nullable=False, default=30)
    hours: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Pre-chat fields: [{key, label, type, required, options}] (validated in queues.fields).
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    # Closed chats and requests are removed this many days after closing (None: the
    # installation's HELPLINE_RETENTION_DAYS, which by default keeps everything).
    retention_days: Mapped[int | None] = mapped_column(Integer)
    # Automatic messages: {after_s, text} posted to a chat nobody accepted after `after_s`;
    # `away_text` shown instead of the start form while closed or nobody is free.
    auto_reply: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    away_text: Mapped[str | None] = mapped_column(Text)
    # Service levels (queues.sla validates them): chats' {first_response_s}, requests'
    # {priority: {response_s, resolve_s}}; None: no target.
    sla: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    request_sla: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)


class QueueMember(Base):
    __tablename__ = "queue_members"

    queue_id: Mapped[str] = mapped_column(ForeignKey("queues.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
