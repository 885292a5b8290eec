from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from helpline.accounts.schemas import Strict
from helpline.kit.enums import Availability, Role, RoutingMode
from helpline.queues import hours as hours_mod
from helpline.queues.fields import MAX_FIELDS, FieldDef
from helpline.queues.sla import ChatSla, RequestSla

# Closed chats and requests are removed this many days after closing (at most a century).
RetentionDays = Annotated[int, Field(ge=1, le=36500)]
QueueName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class AutoReply(Strict):
    """Posted once as a system message to a chat nobody accepted after `after_s` seconds."""

    after_s: int = Field(ge=5, le=24 * 3600)
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


AwayText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


class _HoursMixin(BaseModel):
    @field_validator("hours", check_fields=False)
    @classmethod
    def _hours(cls, v: Any) -> Any:
        return hours_mod.validate(v)


class QueueCreate(Strict, _HoursMixin):
    name: QueueName
    description: str = Field(default="", max_length=2000)
    routing_mode: RoutingMode = RoutingMode.broadcast
    max_wait_s: int = Field(default=600, ge=10, le=7 * 24 * 3600)
    offer_timeout_s: int = Field(default=30, ge=5, le=3600)
    hours: dict[str, Any] | None = None
    active: bool = True
    fields: list[FieldDef] = Field(default_factory=list, max_length=MAX_FIELDS)
    retention_days: RetentionDays | None = None
    auto_reply: AutoReply | None = None
    away_text: AwayText | None = None
    sla: ChatSla | None = None
    request_sla: RequestSla | None = None


class QueueUpdate(Strict, _HoursMixin):
    name: QueueName | None = None
    description: str | None = Field(default=None, max_length=2000)
    routing_mode: RoutingMode | None = None
    max_wait_s: int | None = Field(default=None, ge=10, le=7 * 24 * 3600)
    offer_timeout_s: int | None = Field(default=None, ge=5, le=3600)
    hours: dict[str, Any] | None = None
    active: bool | None = None
    fields: list[FieldDef] | None = Field(
        default=None, max_length=MAX_FIELDS, description="the start form's fields, in order"
    )
    # null: the installation's HELPLINE_RETENTION_DAYS applies again.
    retention_days: RetentionDays | None = None
    auto_reply: AutoReply | None = Field(default=None, description="null: no automatic reply")
    away_text: AwayText | None = Field(
        default=None, description="shown instead of the start form while closed or nobody is free"
    )
    # null: no service-level target.
    sla: ChatSla | None = Field(default=None, description="chats' first-response target")
    request_sla: RequestSla | None = Field(
        default=None, description="requests' targets per priority"
    )


class Members(Strict):
    user_ids: list[str] = Field(max_length=1000)


class QueueOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    description: str
    active: bool
    routing_mode: RoutingMode
    max_wait_s: int
    offer_timeout_s: int
    hours: dict[str, Any] | None
    retention_days: int | None = None
    sla: ChatSla | None = None
    request_sla: RequestSla | None = None
    open_now: bool
    agents_available: int
    fields: list[FieldDef] = Field(default_factory=list)
    auto_reply: AutoReply | None = None
    away_text: str | None = None


class QueueList(BaseModel):
    items: list[QueueOut]
    next: str | None = None


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    email: str
    role: str
    status: str


class MemberList(BaseModel):
    items: list[MemberOut]
    next: str | None = None


class OverviewQueue(BaseModel):
    id: str
    name: str
    waiting: int
    in_progress: int
    longest_wait_s: int
    agents_available: int
    open_now: bool


class OverviewAgent(BaseModel):
    id: str
    name: str
    status: Availability
    chats: int
    max_chats: int
    role: Role


class Overview(BaseModel):
    """The supervisor's live picture: queues with waits, agents with load."""

    queues: list[OverviewQueue]
    agents: list[OverviewAgent]
