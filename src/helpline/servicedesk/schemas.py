from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from helpline.accounts.schemas import Strict, UserRef
from helpline.kit.enums import Priority, RequestStatus

if TYPE_CHECKING:
    from helpline.servicedesk.repository import RequestRow

Summary = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class RequestCreate(Strict):
    summary: Summary
    description: str | None = Field(default=None, max_length=100_000)
    priority: Priority = Priority.medium
    team_id: str | None = Field(default=None, max_length=64)


class RequestUpdate(Strict):
    status: RequestStatus | None = None
    priority: Priority | None = None
    team_id: str | None = Field(default=None, max_length=64)
    assignee_id: str | None = Field(default=None, max_length=64)
    summary: Summary | None = None
    description: str | None = Field(default=None, max_length=100_000)


class CommentCreate(Strict):
    text: Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
    internal: bool = False


class TeamRef(BaseModel):
    id: str
    name: str


class RequestSlaOut(BaseModel):
    """Due times from the team's `request_sla` for the priority (null without targets)."""

    response_due_at: datetime | None = None
    resolve_due_at: datetime | None = None
    first_response_at: datetime | None = None
    response_breached: bool = False
    resolve_breached: bool = False
    response_warn_at: datetime | None = Field(
        default=None, description="When staff are warned (80 % of the response time)."
    )
    resolve_warn_at: datetime | None = Field(
        default=None, description="When staff are warned (80 % of the resolution time)."
    )


class RequestOut(BaseModel):
    id: str
    reference: str
    summary: str
    description: str
    priority: Priority
    status: RequestStatus
    customer: UserRef
    team: TeamRef
    assignee: UserRef | None
    chat_id: str | None
    chat_reference: str | None = None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    sla: RequestSlaOut | None = None


def _sla(r: Any) -> RequestSlaOut | None:
    if r.response_due_at is None and r.resolve_due_at is None:
        return None
    return RequestSlaOut(
        response_due_at=r.response_due_at,
        resolve_due_at=r.resolve_due_at,
        first_response_at=r.first_response_at,
        response_breached=r.response_breached,
        resolve_breached=r.resolve_breached,
        response_warn_at=r.response_warn_at,
        resolve_warn_at=r.resolve_warn_at,
    )


def request_out(row: RequestRow) -> RequestOut:
    """The one request shape: HTTP answers and webhook documents alike."""
    r = row.request
    return RequestOut(
        id=r.id,
        reference=r.reference,
        summary=r.summary,
        description=r.description,
        priority=Priority(r.priority),
        status=RequestStatus(r.status),
        customer=UserRef(id=row.customer.id, name=row.customer.name),
        team=TeamRef(id=row.team.id, name=row.team.name),
        assignee=UserRef(id=row.assignee.id, name=row.assignee.name) if row.assignee else None,
        chat_id=r.chat_id,
        chat_reference=row.chat_reference,
        created_at=r.created_at,
        updated_at=r.updated_at,
        resolved_at=r.resolved_at,
        sla=_sla(r),
    )


class RequestSort(StrEnum):
    """List orders. `-created_at` (newest first) is the default; `priority` puts the most
    urgent first and `-priority` the least urgent, each newest first within a priority."""

    created_at = "created_at"
    created_at_desc = "-created_at"
    updated_at = "updated_at"
    updated_at_desc = "-updated_at"
    priority = "priority"
    priority_desc = "-priority"


class RequestList(BaseModel):
    items: list[RequestOut]
    next: str | None


class TimelineEntry(BaseModel):
    type: str
    actor: dict[str, Any] | None
    at: str
    data: dict[str, Any]
    internal: bool


class Timeline(BaseModel):
    items: list[TimelineEntry]
    next: str | None = None
