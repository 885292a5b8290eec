from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from helpline.accounts.schemas import Strict, UserRef
from helpline.kit.enums import Priority, RequestStatus

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
