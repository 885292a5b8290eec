from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from helpline.db import Base, UTCDateTime
from helpline.kit.clock import now
from helpline.kit.ids import new_id


class Snippet(Base):
    """A canned response. `queue_id` set: shared with that queue; null: personal to `owner_id`."""

    __tablename__ = "snippets"
    __table_args__ = (
        # The two halves of the visibility rule: "mine and personal" and "shared in my queues".
        Index("ix_snippets_owner_queue", "owner_id", "queue_id"),
        Index("ix_snippets_queue", "queue_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(120), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    queue_id: Mapped[str | None] = mapped_column(ForeignKey("queues.id"))
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
