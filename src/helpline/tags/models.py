from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from helpline.db import Base, UTCDateTime
from helpline.kit.clock import now
from helpline.kit.ids import new_id


class Tag(Base):
    """An admin-kept label for chats (`chat_tags`); search and reports filter by it."""

    __tablename__ = "tags"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(60), nullable=False, unique=True)
    color: Mapped[str | None] = mapped_column(String(7))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)


class ChatTag(Base):
    """A chat's tag. The primary key (chat_id, tag_id) serves "tags of these chats"; the
    index on tag_id serves "chats with this tag" (the list filter, search, reports)."""

    __tablename__ = "chat_tags"

    chat_id: Mapped[str] = mapped_column(ForeignKey("chats.id"), primary_key=True)
    tag_id: Mapped[str] = mapped_column(
        ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True
    )
