from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from helpline.accounts.schemas import Strict, UserRef
from helpline.kit.enums import ChatStatus, Priority
from helpline.tags.schemas import TagRef

MessageText = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
ClientId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
]


ContextText = Annotated[str, StringConstraints(max_length=2000)]
FieldAnswer = Annotated[str, StringConstraints(max_length=2000)] | bool | int | float | None


class PageContext(Strict):
    """Where the customer was when they started (the widget knows its host page)."""

    page_url: ContextText | None = None
    referrer: ContextText | None = None
    locale: ContextText | None = None


class ChatCreate(Strict):
    queue_id: str = Field(max_length=64)
    subject: str | None = Field(default=None, max_length=200)
    message: MessageText
    client_id: ClientId | None = None
    fields: dict[Annotated[str, StringConstraints(max_length=40)], FieldAnswer] = Field(
        default_factory=dict,
        max_length=20,
        description="answers to the queue's pre-chat fields, by key",
    )
    context: PageContext | None = None


class MessageCreate(Strict):
    text: MessageText
    client_id: ClientId


class MoveBody(Strict):
    queue_id: str = Field(max_length=64)
    note: str | None = Field(default=None, max_length=2000)


class CancelBody(Strict):
    reason: str | None = Field(default=None, max_length=500)


class NoteCreate(Strict):
    text: MessageText


class RatingCreate(Strict):
    score: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)


class AssignBody(Strict):
    agent_id: str = Field(max_length=64)


class Colleague(BaseModel):
    """An agent of the chat's queue, as the transfer picker shows them."""

    id: str
    name: str
    status: str
    chats: int
    max_chats: int
    reason: Literal["owner", "not_available", "at_capacity"] | None


class ColleagueList(BaseModel):
    items: list[Colleague]
    next: str | None = None


class TransferBody(Strict):
    agent_id: str = Field(max_length=64)
    note: str | None = Field(default=None, max_length=2000)


class RequestFromChat(Strict):
    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: str | None = Field(default=None, max_length=100_000)
    priority: Priority = Priority.medium
    team_id: str | None = Field(default=None, max_length=64)


class DeviceParts(BaseModel):
    """A user agent's parts by uap-core's rules (`helpline.accounts.devices`), for a page to
    join in its own language: "Chrome 120", "Windows", a phone's or tablet's name."""

    browser: str
    os: str | None = None
    model: str | None = None


class ChatContext(BaseModel):
    """What the customer told at the start and the server saw (agents only; a customer sees
    their own)."""

    fields: dict[str, Any] = Field(default_factory=dict)
    page_url: str | None = None
    referrer: str | None = None
    locale: str | None = None
    user_agent: str | None = None
    device: DeviceParts | None = None


class QueueRef(BaseModel):
    id: str
    name: str


class ReadPositions(BaseModel):
    customer: int = Field(0, description="the last seq the customer read")
    agent: int = Field(0, description="the last seq any agent of the chat read")


class ChatSlaOut(BaseModel):
    """The first-response service level (null when the queue has no target)."""

    first_response_due_at: datetime | None = None
    first_response_at: datetime | None = None
    breached: bool = False
    warn_at: datetime | None = Field(default=None, description="when staff are warned (80 %)")


class ChatOut(BaseModel):
    id: str
    reference: str
    status: ChatStatus
    queue_id: str
    queue: QueueRef
    customer: UserRef
    agent: UserRef | None
    subject: str
    created_at: datetime
    waiting_since: datetime | None
    accepted_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime
    last_seq: int
    rating: dict[str, Any] | None = None
    helpers: list[UserRef] = Field(default_factory=list)
    position: int | None = None
    estimated_wait_s: int | None = None
    context: ChatContext = Field(default_factory=ChatContext)
    tags: list[TagRef] = Field(default_factory=list, description="staff only; `[]` for customers")
    read: ReadPositions | None = Field(
        None, description="how far each side read (GET /chats/{id} and actions); null in lists"
    )
    sla: ChatSlaOut | None = None


class ChatList(BaseModel):
    items: list[ChatOut]
    next: str | None


class Event(BaseModel):
    chat_id: str
    seq: int
    type: str
    at: str
    actor: dict[str, Any] | None
    data: dict[str, Any]


class EventList(BaseModel):
    items: list[Event]
    next: str | None


class TranscriptMailed(BaseModel):
    status: Literal["queued"]
    to: str = Field(description="The customer's address the transcript goes to.")
