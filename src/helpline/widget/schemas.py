from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from helpline.accounts.schemas import Strict
from helpline.kit.origins import ORIGIN


def _origin(value: str) -> str:
    value = value.strip().rstrip("/")
    if not ORIGIN.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a web site's origin: scheme and host, like https://www.example.com"
        )
    return value.lower()


Origin = Annotated[str, Field(max_length=300), AfterValidator(_origin)]


class WidgetSitesUpdate(Strict):
    origins: list[Origin] = Field(max_length=100)


class WidgetIdentityInfo(BaseModel):
    enabled: bool
    # Shown to admins only (CONTRACT-2 allows it): they paste it into their site's back end.
    secret: str | None
    snippets: dict[str, str]


class WidgetSettings(BaseModel):
    """The widget as admins configure it: who may embed it, and how sites vouch for visitors."""

    origins: list[str] = Field(description="allowed here, by administrators")
    env_origins: list[str] = Field(description="allowed by HELPLINE_WIDGET_ORIGINS (read-only)")
    identity: WidgetIdentityInfo
