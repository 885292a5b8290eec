from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from helpline.accounts.schemas import Strict, UserRef
from helpline.chats.schemas import QueueRef

MAX_TITLE = 120
MAX_CONTENT = 5000

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TITLE)]
Content = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CONTENT)]
QueueId = Annotated[str, StringConstraints(max_length=64)]


class SnippetCreate(Strict):
    title: Title
    content: Content = Field(
        description="Text with optional placeholders {customer.name}, {agent.name}, "
        "{chat.reference}, {queue.name}; any other {…} token is refused (422)."
    )
    queue_id: QueueId | None = Field(
        default=None, description="A queue: shared with its members. Null: personal."
    )


class SnippetUpdate(Strict):
    """Only the fields sent change; `queue_id: null` makes the snippet personal."""

    title: Title | None = None
    content: Content | None = None
    queue_id: QueueId | None = None


class SnippetOut(BaseModel):
    id: str
    title: str
    content: str
    queue_id: str | None
    queue: QueueRef | None
    owner: UserRef
    shared: bool
    editable: bool = Field(description="Whether the caller may change or delete it.")
    created_at: datetime
    updated_at: datetime


class SnippetList(BaseModel):
    items: list[SnippetOut]
    next: str | None = None


class RenderedSnippet(BaseModel):
    text: str
