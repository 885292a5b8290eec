from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from helpline.accounts.scopes import Scope
from helpline.kit.enums import Availability, Role
from helpline.kit.params import reject_nul

# A light check on purpose: self-hosted desks use internal domains (".local", ".internal") that
# strict validators refuse. Mail is verified by delivery, not by syntax.
EmailStr = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    AfterValidator(str.lower),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class Strict(BaseModel):
    """Request bodies: unknown fields and NUL characters are refused (422)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        return reject_nul(data)


# The rules for a new password, wherever one is set.
NewPassword = Annotated[str, Field(min_length=8, max_length=1024)]


class Login(Strict):
    email: EmailStr
    password: str = Field(min_length=1, max_length=1024)
    # With two-factor sign-in on: a current code from the app, or an unused recovery code.
    totp: str | None = Field(default=None, max_length=64)


class TotpCode(Strict):
    code: str = Field(min_length=1, max_length=64)


class TotpSetup(BaseModel):
    secret: str
    otpauth_uri: str


class RecoveryCodes(BaseModel):
    recovery_codes: list[str]


class PasswordResetRequest(Strict):
    email: EmailStr


class PasswordResetConfirm(Strict):
    token: str = Field(min_length=1, max_length=256)
    password: NewPassword


class Guest(Strict):
    name: Name
    email: EmailStr


class WidgetIdentity(Strict):
    """A site's signed-in user, vouched for by `hash` = hex HMAC-SHA256(widget secret, user_id)."""

    user_id: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    hash: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    name: Name | None = None
    email: EmailStr | None = None


class StatusUpdate(Strict):
    status: Availability


class MeUpdate(Strict):
    """PATCH /me: what people change about themselves. `locale` is one of GET /locales
    (null: follow the browser)."""

    locale: str | None = Field(default=None, max_length=16)


class LocaleOut(BaseModel):
    code: str
    name: str
    dir: Literal["ltr", "rtl"]


class LocaleList(BaseModel):
    items: list[LocaleOut]
    default: str


class UserCreate(Strict):
    email: EmailStr
    name: Name
    role: Role
    password: NewPassword
    max_chats: int = Field(default=3, ge=0, le=100)


class UserUpdate(Strict):
    name: Name | None = None
    role: Role | None = None
    max_chats: int | None = Field(default=None, ge=0, le=100)
    active: bool | None = None
    password: NewPassword | None = None


class UserRef(BaseModel):
    """How a person appears inside other resources."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    email: str
    name: str
    role: Role
    is_guest: bool
    active: bool
    status: Availability
    max_chats: int
    created_at: datetime
    totp_enabled: bool = False
    locale: str | None = None
    queue_ids: list[str] | None = None  # on GET /me for staff: the queues they belong to
    # On GET /me: their role must turn on two-factor sign-in before anything else works.
    totp_setup_required: bool | None = None


class AuthResult(BaseModel):
    token: str
    user: UserOut


class UserList(BaseModel):
    items: list[UserOut]
    next: str | None


class SessionOut(BaseModel):
    """One of the caller's sign-ins; `current` is the one this request came with."""

    id: str
    created_at: datetime
    last_seen_at: datetime
    user_agent: str | None
    device: str | None = None  # the user agent in words ("Chrome 120 on Linux"), when known
    # The same in parts, for a page to join in its own language: "Chrome 120", "Linux", and
    # the phone or tablet ("iPhone") when the user agent names one.
    browser: str | None = None
    os: str | None = None
    model: str | None = None
    ip: str | None
    current: bool


class SessionList(BaseModel):
    items: list[SessionOut]
    next: str | None


class TokenCreate(Strict):
    name: Name
    scopes: list[Scope] = Field(min_length=1, max_length=len(Scope))
    expires_at: datetime | None = None


class TokenOut(BaseModel):
    """A token as its owner sees it later: never the token itself."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    scopes: list[Scope]
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    expired: bool = False


class TokenCreated(BaseModel):
    """The answer to POST /me/tokens: the only time `token` is shown."""

    id: str
    name: str
    scopes: list[Scope]
    token: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None


class TokenList(BaseModel):
    items: list[TokenOut]
    next: str | None


AvailabilityLiteral = Literal["available", "away", "offline"]


class ProfileChat(BaseModel):
    id: str
    reference: str
    status: str
    queue_id: str
    created_at: datetime


class ProfileRequest(BaseModel):
    reference: str
    status: str
    summary: str


class CustomerProfile(BaseModel):
    """Only the chats and requests the caller may see; `rating_avg` over those chats."""

    id: str
    name: str
    email: str
    created_at: datetime
    chats: list[ProfileChat]
    requests: list[ProfileRequest]
    rating_avg: float | None
