from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from helpline.accounts.schemas import Strict
from helpline.notify.models import DeliveryKind, DeliveryStatus


class DeliveryOut(BaseModel):
    """One outbox row as admins see it. `id` is the event id receivers get."""

    id: str
    kind: DeliveryKind
    # Webhooks: the event's id (X-Helpline-Event-Id), the same for every endpoint it goes
    # to, and the endpoint (null: HELPLINE_WEBHOOK_URL).
    event_id: str | None = None
    endpoint_id: str | None = None
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


# --- webhook endpoints ------------------------------------------------------------------------

WebhookUrl = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
EventType = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Secret = Annotated[str, StringConstraints(min_length=16, max_length=200, pattern=r"^\S+$")]


class EndpointCreate(Strict):
    url: WebhookUrl
    events: list[EventType] = Field(min_length=1, max_length=50)
    secret: Secret | None = Field(
        default=None, description="Generated (and returned once) when not given."
    )
    active: bool = True


class EndpointUpdate(Strict):
    url: WebhookUrl | None = None
    events: list[EventType] | None = Field(default=None, min_length=1, max_length=50)
    secret: Secret | None = None
    active: bool | None = None


class EndpointOut(BaseModel):
    """An endpoint as listed: never its secret."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    url: str
    events: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime


class EndpointCreated(EndpointOut):
    secret: str = Field(description="Shown here only: store it in the receiver now.")


class EndpointList(BaseModel):
    items: list[EndpointOut]
    next: str | None = None
