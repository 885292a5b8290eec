"""Domain errors. Services raise these; one handler renders them as the contract's format.

HelplineError (status, code)
├── NotAuthenticated      401 not_authenticated
├── Forbidden             403 forbidden          visible, but the role may never do this
├── NotFound              404 not_found          absent, or invisible to the caller
├── Conflict              409 <code>             allowed for the role, not in this state
│   (invalid_transition, already_accepted, at_capacity, not_available,
│    chat_already_open, queue_closed)
├── Invalid               422 invalid            bad values, unknown references
├── TooLarge              413 too_large
├── UnsupportedType       415 unsupported_type
├── RateLimited           429 rate_limited       carries retry_after seconds
└── Unavailable           503 unavailable        the database cannot be reached (raised by
    │                                            helpline.boundary); carries retry_after
    └── Busy              503 busy               too many sign-ins waiting for the password
                                                 hashing pool (helpline.accounts.passwords)
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ErrorDetail(BaseModel):
    # Some errors carry more (`details` of a validation error, `chat_id`, `allowed`).
    model_config = ConfigDict(extra="allow")
    code: str
    message: str


class ErrorBody(BaseModel):
    """The one shape of every error answer, as OpenAPI documents it."""

    error: ErrorDetail


# Every API operation documents its errors as ErrorBody (instead of FastAPI's own 422 shape).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorBody, "description": "Refused; `error.code` says why."},
    503: {"model": ErrorBody, "description": "The database or bus is unavailable."},
}


class HelplineError(Exception):
    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


class NotAuthenticated(HelplineError):
    status = 401
    code = "not_authenticated"


class Forbidden(HelplineError):
    status = 403
    code = "forbidden"


class NotFound(HelplineError):
    status = 404
    code = "not_found"


class Conflict(HelplineError):
    status = 409
    code = "conflict"


class Invalid(HelplineError):
    status = 422
    code = "invalid"


class TooLarge(HelplineError):
    status = 413
    code = "too_large"


class UnsupportedType(HelplineError):
    status = 415
    code = "unsupported_type"


class RateLimited(HelplineError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(HelplineError):
    status = 503
    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int = 2) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Busy(Unavailable):
    """Too many sign-ins are waiting for the password hashing pool: try again in a moment."""

    code = "busy"
