"""What an API token may reach: the scopes, the most each role may grant, and one table that
gives every route under /api/v1 the scope a token needs for it (reviewed once, in one place;
`tests/accounts/test_tokens.py` fails for a route that is missing here).

Pure: no IO. A route missing from the table refuses every token (`insufficient_scope`), so
forgetting one closes it to integrations rather than opening it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal

from helpline.errors import Forbidden
from helpline.kit.enums import Role
from helpline.kit.i18n import N_


class Scope(StrEnum):
    chats_read = "chats:read"
    chats_write = "chats:write"
    requests_read = "requests:read"
    requests_write = "requests:write"
    reports_read = "reports:read"
    admin = "admin"


_WORK = frozenset({Scope.chats_read, Scope.chats_write, Scope.requests_read, Scope.requests_write})

# A token never exceeds its owner's role: these are the scopes each role may put on one. The
# token acts as its owner, so every rule of the role still applies on top of the scope.
ROLE_SCOPES: Final[dict[Role, frozenset[Scope]]] = {
    Role.customer: _WORK,
    Role.agent: _WORK,
    Role.supervisor: _WORK | {Scope.reports_read},
    Role.admin: frozenset(Scope),
}

SESSION: Final = "session"
"""Account security (tokens, two-factor, sessions, sign-out): a signed-in session only."""
ANY: Final = "any"
"""Any valid token (who am I, the public queue list, and routes that need no sign-in)."""

Need = Scope | Literal["session", "any"]

R, W = Scope.chats_read, Scope.chats_write
RR, RW = Scope.requests_read, Scope.requests_write

ROUTES: Final[dict[tuple[str, str], Need]] = {
    # Signing in needs no credentials; a token sent along changes nothing.
    ("POST", "/auth/login"): ANY,
    ("POST", "/auth/guest"): ANY,
    ("POST", "/auth/widget"): ANY,
    ("POST", "/auth/password-reset"): ANY,
    ("POST", "/auth/password-reset/confirm"): ANY,
    ("POST", "/auth/logout"): SESSION,
    ("GET", "/me"): ANY,
    ("PATCH", "/me"): ANY,  # one's own language
    ("GET", "/locales"): ANY,
    ("GET", "/me/sessions"): SESSION,
    ("DELETE", "/me/sessions/{session_id}"): SESSION,
    ("POST", "/me/tokens"): SESSION,
    ("GET", "/me/tokens"): SESSION,
    ("DELETE", "/me/tokens/{token_id}"): SESSION,
    ("POST", "/me/totp"): SESSION,
    ("POST", "/me/totp/confirm"): SESSION,
    ("GET", "/me/totp/qr.svg"): SESSION,
    ("DELETE", "/me/totp"): SESSION,
    ("PUT", "/me/status"): W,
    ("PUT", "/users/{user_id}/status"): W,  # a supervisor sets an agent's availability
    # Administration.
    ("POST", "/users"): Scope.admin,
    ("GET", "/users"): Scope.admin,
    ("PATCH", "/users/{user_id}"): Scope.admin,
    ("GET", "/queues"): ANY,
    ("POST", "/queues"): Scope.admin,
    ("PATCH", "/queues/{queue_id}"): Scope.admin,
    ("PUT", "/queues/{queue_id}/members"): Scope.admin,
    ("GET", "/widget/settings"): Scope.admin,
    ("PUT", "/widget/settings"): Scope.admin,
    ("GET", "/queues/{queue_id}/members"): R,
    ("GET", "/webhooks/deliveries"): Scope.admin,
    ("POST", "/webhooks/deliveries/{delivery_id}/retry"): Scope.admin,
    ("GET", "/webhooks/endpoints"): Scope.admin,
    ("POST", "/webhooks/endpoints"): Scope.admin,
    ("GET", "/webhooks/endpoints/{endpoint_id}"): Scope.admin,
    ("PATCH", "/webhooks/endpoints/{endpoint_id}"): Scope.admin,
    ("DELETE", "/webhooks/endpoints/{endpoint_id}"): Scope.admin,
    ("POST", "/webhooks/endpoints/{endpoint_id}/test"): Scope.admin,
    ("GET", "/webhooks/endpoints/{endpoint_id}/deliveries"): Scope.admin,
    # Data governance: a customer's whole data leaves with an admin's token, or their session.
    ("GET", "/retention"): Scope.admin,
    ("POST", "/customers/{customer_id}/export"): Scope.admin,
    ("POST", "/customers/{customer_id}/erase"): Scope.admin,
    ("POST", "/me/export"): SESSION,
    ("GET", "/exports/{export_id}"): Scope.admin,
    ("GET", "/exports/{export_id}/download"): Scope.admin,
    ("GET", "/audit"): Scope.admin,
    ("GET", "/audit.csv"): Scope.admin,
    ("GET", "/tags"): R,
    ("POST", "/tags"): Scope.admin,
    ("PATCH", "/tags/{tag_id}"): Scope.admin,
    ("DELETE", "/tags/{tag_id}"): Scope.admin,
    # Chats.
    ("GET", "/chats"): R,
    ("GET", "/chats/{chat_id}"): R,
    ("GET", "/chats/{chat_id}/events"): R,
    ("GET", "/chats/{chat_id}/transcript"): R,
    ("GET", "/files/{file_id}"): R,
    ("GET", "/files/{file_id}/thumbnail"): R,
    ("GET", "/customers/{customer_id}"): R,
    ("GET", "/search"): R,  # messages, notes and chats the caller may see
    ("POST", "/chats"): W,
    ("POST", "/chats/{chat_id}/messages"): W,
    ("POST", "/chats/{chat_id}/files"): W,
    ("POST", "/chats/{chat_id}/accept"): W,
    ("POST", "/chats/{chat_id}/assign"): W,
    ("POST", "/chats/{chat_id}/transfer"): W,
    ("GET", "/chats/{chat_id}/colleagues"): R,
    ("POST", "/chats/{chat_id}/join"): W,
    ("POST", "/chats/{chat_id}/part"): W,
    ("POST", "/chats/{chat_id}/solve"): W,
    ("POST", "/chats/{chat_id}/leave"): W,
    ("POST", "/chats/{chat_id}/move"): W,
    ("POST", "/chats/{chat_id}/cancel"): W,
    ("POST", "/chats/{chat_id}/notes"): W,
    ("POST", "/chats/{chat_id}/rating"): W,
    ("PUT", "/chats/{chat_id}/tags"): W,
    ("POST", "/chats/{chat_id}/transcript/email"): W,
    ("GET", "/snippets"): R,
    ("GET", "/snippets/{snippet_id}"): R,
    ("GET", "/chats/{chat_id}/snippets/{snippet_id}/render"): R,
    ("POST", "/snippets"): W,
    ("PATCH", "/snippets/{snippet_id}"): W,
    ("DELETE", "/snippets/{snippet_id}"): W,
    # Service requests (raising one from a chat creates a request).
    ("POST", "/chats/{chat_id}/requests"): RW,
    ("GET", "/requests"): RR,
    ("GET", "/requests/{reference}"): RR,
    ("GET", "/requests/{reference}/timeline"): RR,
    ("GET", "/requests/{reference}/transcript"): RR,
    ("POST", "/requests"): RW,
    ("PATCH", "/requests/{reference}"): RW,
    ("POST", "/requests/{reference}/comments"): RW,
    # Reports.
    ("GET", "/reports/summary"): Scope.reports_read,
    ("GET", "/reports/export.csv"): Scope.reports_read,
    ("GET", "/supervisor/overview"): Scope.reports_read,
}


def need(method: str, path: str) -> Need | None:
    """What a token needs for `method` on the route template `path` (relative to /api/v1)."""
    return ROUTES.get(("GET" if method == "HEAD" else method, path))


def insufficient(message: str, **extra: str) -> Forbidden:
    return Forbidden(message, code="insufficient_scope", **extra)


def check(granted: frozenset[str], method: str, path: str) -> None:
    """Raise 403 insufficient_scope unless a token with `granted` may call this route."""
    required = need(method, path)
    if required == ANY:
        return
    if required is None:
        raise insufficient("API tokens may not call this route.")
    if required == SESSION:
        raise insufficient("Account security needs a signed-in session, not an API token.")
    if required not in granted:
        raise insufficient(f"This token lacks the scope {required}.", scope=str(required))


LABELS: Final[dict[Scope, str]] = {
    Scope.chats_read: N_("read chats, their messages and files"),
    Scope.chats_write: N_("start, answer and handle chats"),
    Scope.requests_read: N_("read service requests"),
    Scope.requests_write: N_("raise, change and comment on requests"),
    Scope.reports_read: N_("read reports and the supervisor overview"),
    Scope.admin: N_("manage users, queues and settings; read the audit log"),
}


def grantable(role: Role) -> list[tuple[str, str]]:
    """(scope, what it allows) for each scope `role` may put on a token, in a fixed order."""
    return [(str(s), LABELS[s]) for s in Scope if s in ROLE_SCOPES[role]]


def beyond_role(role: Role, requested: set[Scope]) -> list[str]:
    """The requested scopes the role may not grant (sorted)."""
    return sorted(str(s) for s in requested - ROLE_SCOPES[role])
