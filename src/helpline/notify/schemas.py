from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from helpline.notify.models import DeliveryKind, DeliveryStatus


class DeliveryOut(BaseModel):
    """One outbox row as admins see it. `id` is the event id receivers get."""

    id: str
    kind: DeliveryKind
    type: str
    status: DeliveryStatus
    reference: str | None
    attempts: int
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    payload: dict[str, Any]


class DeliveryList(BaseModel):
    items: list[DeliveryOut]
    next: str | None
