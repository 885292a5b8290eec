from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from helpline.accounts.schemas import Strict


class ExportOut(BaseModel):
    id: str
    status: str = Field(description="pending, ready or failed")
    size: int | None = Field(default=None, description="Bytes of the zip, once ready.")
    created_at: datetime
    expires_at: datetime


class EraseBody(Strict):
    confirm: str = Field(max_length=320, description="The customer's e-mail address, typed out.")


class Erasure(BaseModel):
    id: str
    name: str
    email: str
    active: bool
    chats: int
    requests: int
    files: int


class QueuePolicy(BaseModel):
    id: str
    name: str
    retention_days: int | None
    effective_days: int | None


class RetentionRunOut(BaseModel):
    started_at: datetime
    finished_at: datetime
    chats: int
    events: int
    files: int
    requests: int


class RetentionPolicy(BaseModel):
    retention_days: int | None = Field(description="HELPLINE_RETENTION_DAYS (null: keep).")
    queues: list[QueuePolicy]
    last_run: RetentionRunOut | None
