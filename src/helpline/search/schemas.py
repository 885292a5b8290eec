from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from helpline.kit.enums import ChatStatus, RequestStatus


class HitKind(StrEnum):
    message = "message"
    note = "note"
    subject = "subject"
    request = "request"
    customer = "customer"


# `status=` filters chats by a chat status and requests by a request status.
SearchStatus = StrEnum(  # type: ignore[misc]
    "SearchStatus",
    {s: s for s in [*ChatStatus, *[r for r in RequestStatus if r not in ChatStatus]]},
)


class SearchItem(BaseModel):
    chat_id: str | None = Field(description="The chat; for a request, the chat it came from.")
    reference: str = Field(description="The chat's CS-… reference; a request's SR-… one.")
    seq: int | None = Field(description="The matching event (message, note); else null.")
    at: datetime
    kind: HitKind
    snippet: str = Field(description="Plain text, at most 200 characters, around the first match.")


class SearchList(BaseModel):
    items: list[SearchItem]
    next: str | None
