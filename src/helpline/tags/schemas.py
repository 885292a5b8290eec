from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from helpline.accounts.schemas import Strict

TagName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
Color = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]


class TagCreate(Strict):
    name: TagName
    color: Color | None = Field(default=None, description="`#rrggbb`; none: a neutral chip")


class TagUpdate(Strict):
    name: TagName | None = None
    color: Color | None = None


class ChatTagsBody(Strict):
    tag_ids: list[Annotated[str, StringConstraints(max_length=64)]] = Field(max_length=50)


class TagOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    color: str | None
    created_at: datetime


class TagList(BaseModel):
    items: list[TagOut]
    next: str | None = None


class TagRef(BaseModel):
    id: str
    name: str
    color: str | None
