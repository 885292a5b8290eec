from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from helpline.db import Base, UTCDateTime
from helpline.kit.clock import now
from helpline.kit.enums import ChatStatus
from helpline.kit.ids import new_id


class Chat(Base):
    __tablename__ = "chats"
    __table_args__ = (
        Index("ix_chats_queue_status_waiting", "queue_id", "status", "waiting_since"),
        Index("ix_chats_customer_status", "customer_id", "status"),
        Index("ix_chats_agent_status", "agent_id", "status"),
        Index("ix_chats_status_created", "status", "created_at"),
        Index("ix_chats_status_offer", "status", "offer_expires_at"),
        Index("ix_chats_sla_next_at", "sla_next_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    number: Mapped[int] = mapped_column(Integer, nullable=False, unique=True)
    reference: Mapped[str] = mapped_column(String(16), nullable=False, unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False)
    queue_id: Mapped[str] = mapped_column(ForeignKey("queues.id"), nullable=False)
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    subject: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=ChatStatus.waiting)
    last_seq: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_customer_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    # Routing and timers: due times live on the row and are claimed by conditional UPDATE.
    offered_to_id: Mapped[str | None] = mapped_column(String(32))
    offer_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    offered_ids: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the queue's automatic reply was posted (once per chat, whatever happens after).
    auto_replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # First-response service level (chats.sla): due and warning instants counted in the queue's
    # opening hours from the start or requeue; `sla_next_at` is when the sweeper must look
    # next (warning, then breach; None once met, breached or closed) and is claimed by
    # conditional UPDATE. `sla_breached` stays true once set: the chat missed its target.
    sla_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_next_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_breached: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    rating_score: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    # What the customer told at the start: {fields, page_url, referrer, locale, user_agent}.
    context: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    # Replies while away: the last away mail, and the last seq it told the customer of.
    away_mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    away_mailed_seq: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class ChatEvent(Base):
    """The chat's log: the truth every client resumes from. `seq` is 1, 2, 3 … per chat."""

    __tablename__ = "chat_events"
    __table_args__ = (
        UniqueConstraint("chat_id", "seq", name="uq_chat_events_chat_seq"),
        UniqueConstraint("chat_id", "client_id", name="uq_chat_events_chat_client"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    chat_id: Mapped[str] = mapped_column(ForeignKey("chats.id"), nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    type: Mapped[str] = mapped_column(String(40), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    actor_id: Mapped[str | None] = mapped_column(String(32))
    actor_role: Mapped[str | None] = mapped_column(String(16))
    actor_name: Mapped[str | None] = mapped_column(String(120))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    client_id: Mapped[str | None] = mapped_column(String(64))
    internal: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    chat_id: Mapped[str] = mapped_column(ForeignKey("chats.id"), nullable=False, index=True)
    uploader_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False)
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    content_type: Mapped[str] = mapped_column(String(120), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    storage_key: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    # Checked images only (chats.images): the thumbnail's storage key and the full size.
    thumb_key: Mapped[str | None] = mapped_column(String(128))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)


class ChatParticipant(Base):
    """A second agent helping in a chat; the chat's `agent_id` stays its owner."""

    __tablename__ = "chat_participants"

    chat_id: Mapped[str] = mapped_column(ForeignKey("chats.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ChatRead(Base):
    """How far one participant has read a chat: `last_read_seq` only ever grows."""

    __tablename__ = "chat_reads"

    chat_id: Mapped[str] = mapped_column(ForeignKey("chats.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    is_customer: Mapped[bool] = mapped_column(Boolean, nullable=False)
    last_read_seq: Mapped[int] = mapped_column(Integer, nullable=False)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)


class AwayLink(Base):
    """A single-use link of an away mail that signs the customer back into the chat; only a
    hash of its token is kept."""

    __tablename__ = "away_links"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    chat_id: Mapped[str] = mapped_column(ForeignKey("chats.id"), nullable=False, index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
