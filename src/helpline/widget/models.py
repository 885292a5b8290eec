from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from helpline.db import Base, UTCDateTime
from helpline.kit.clock import now


class WidgetSite(Base):
    """A web site an administrator allowed to embed the chat panel (beside the environment's
    `HELPLINE_WIDGET_ORIGINS`)."""

    __tablename__ = "widget_sites"

    origin: Mapped[str] = mapped_column(String(300), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
