"""Who is asking: credentials from a request or handshake, and the signed-in caller. Shared by
HTTP, pages and WebSocket; the unit of work they run in is `helpline.deps`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from starlette.requests import HTTPConnection

from helpline.accounts import service, twofactor
from helpline.accounts.models import User
from helpline.config import Settings
from helpline.deps import SAFE_METHODS, Ctx, Uow
from helpline.errors import Forbidden, NotAuthenticated

SESSION_COOKIE = "helpline_session"
CSRF_COOKIE = "helpline_csrf"


@dataclass
class Caller:
    user: User
    session_id: str


WS_PROTOCOL = "helpline"
WS_BEARER_PREFIX = "bearer."


def ws_bearer(conn: HTTPConnection) -> str | None:
    """A token offered as a WebSocket subprotocol (`helpline`, `bearer.<token>`): browsers cannot
    set headers on a handshake, and an embedded widget on another site gets no cookie."""
    offered = conn.headers.get("sec-websocket-protocol", "")
    for item in (p.strip() for p in offered.split(",")):
        if item.startswith(WS_BEARER_PREFIX) and len(item) > len(WS_BEARER_PREFIX):
            return item[len(WS_BEARER_PREFIX) :]
    return None


def token_from(conn: HTTPConnection) -> str | None:
    auth = conn.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return None
    if conn.scope["type"] == "websocket":
        bearer = ws_bearer(conn)
        if bearer:
            return bearer
    return conn.cookies.get(SESSION_COOKIE)


# What someone whose role must use two-factor sign-in (HELPLINE_REQUIRE_TOTP) may still do
# before they turn it on: see who they are, set it up, sign out.
TOTP_SETUP_PATHS = frozenset(
    "/api/v1" + p
    for p in ("/me", "/me/totp", "/me/totp/confirm", "/me/totp/qr.svg", "/auth/logout")
)


async def get_caller(request: Request, ctx: Ctx, uow: Uow) -> Caller:
    auth_session, user = await service.authenticate(uow, token_from(request), ctx.settings)
    if twofactor.setup_due(user, ctx.settings):
        path = request.url.path.removeprefix(request.scope.get("root_path", ""))
        if path not in TOTP_SETUP_PATHS:
            raise Forbidden(
                "Turn on two-factor sign-in first (your role requires it).",
                code="totp_setup_required",
            )
    if service.needs_seen(auth_session):  # at most once a minute per session
        if request.method in SAFE_METHODS:
            # A read holds no writer; this rare stamp takes one of its own.
            async with ctx.boundary.write() as stamp:
                await service.record_seen(stamp, auth_session.id)
        else:
            await service.record_seen(uow, auth_session.id)
    return Caller(user=user, session_id=auth_session.id)


CurrentCaller = Annotated[Caller, Depends(get_caller)]


async def get_current_user(caller: CurrentCaller) -> User:
    return caller.user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_optional_user(request: Request, ctx: Ctx) -> User | None:
    """For pages: the signed-in user or None, never an error."""
    token = token_from(request)
    if not token:
        return None
    async with ctx.boundary.read() as uow:
        try:
            _, user = await service.authenticate(uow, token, ctx.settings)
        except NotAuthenticated:
            return None
        return user


def client_address(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown"


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    """The browser's session: HttpOnly, SameSite=Lax, Secure when served over HTTPS."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )
