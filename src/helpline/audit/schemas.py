from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class AuditActor(BaseModel):
    id: str
    name: str


class AuditTarget(BaseModel):
    type: str
    id: str | None


class AuditEntryOut(BaseModel):
    id: str
    at: datetime
    actor: AuditActor | None
    action: str
    target: AuditTarget
    ip: str | None
    details: dict[str, Any]


class AuditList(BaseModel):
    items: list[AuditEntryOut]
    next: str | None
