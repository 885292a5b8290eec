"""Who is asking: credentials from a request or handshake, and the signed-in caller. Shared by
HTTP, pages and WebSocket; the unit of work they run in is `helpline.deps`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from starlette.requests import HTTPConnection

from helpline.accounts import scopes, service, tokens, twofactor
from helpline.accounts.models import User
from helpline.config import Settings
from helpline.context import AppContext
from helpline.db import UnitOfWork
from helpline.deps import SAFE_METHODS, Ctx, Uow
from helpline.errors import Forbidden, NotAuthenticated
from helpline.kit import i18n

SESSION_COOKIE = "helpline_session"
CSRF_COOKIE = "helpline_csrf"


@dataclass
class Caller:
    user: User
    # The signed-in session, or None for an API token (which never reaches the routes that
    # need a session: `scopes.SESSION`).
    session_id: str | None
    token_id: str | None = None

    def signed_in_session(self) -> str:
        """The session, for account security routes; a token never gets here (the scope table
        says `SESSION`), and this says so again where it matters."""
        if self.session_id is None:
            raise scopes.insufficient("Account security needs a signed-in session.")
        return self.session_id


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


def route_path(request: Request) -> str:
    """The template of the route this request matched, relative to /api/v1."""
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else request.url.path


async def authenticate_request(
    request: Request, ctx: AppContext, uow: UnitOfWork, *, read_only: bool = False
) -> Caller:
    """The caller of an API request: a session, or an API token whose scopes allow this route
    (else 403 insufficient_scope). Its last use is written at most once a minute, in `uow`
    unless the request is a read or `uow` is (`read_only`)."""
    cred = await tokens.authenticate(uow, token_from(request), ctx.settings)
    if twofactor.setup_due(cred.user, ctx.settings):
        path = request.url.path.removeprefix(request.scope.get("root_path", ""))
        if path not in TOTP_SETUP_PATHS:
            raise Forbidden(
                "Turn on two-factor sign-in first (your role requires it).",
                code="totp_setup_required",
            )
    if cred.token is not None:
        scopes.check(frozenset(cred.token.scopes), request.method, route_path(request))
        if tokens.needs_used(cred.token):
            await _stamp(request, ctx, uow, tokens.record_used, cred.token.id, read_only)
        return Caller(user=cred.user, session_id=None, token_id=cred.token.id)
    assert cred.auth_session is not None
    if service.needs_seen(cred.auth_session):  # at most once a minute per session
        await _stamp(request, ctx, uow, service.record_seen, cred.auth_session.id, read_only)
    return Caller(user=cred.user, session_id=cred.auth_session.id)


async def authenticate_again(request: Request, ctx: AppContext, uow: UnitOfWork) -> User:
    """The caller once more, in a later unit of a route that works in two (an upload, a
    hand-over): signed out or revoked in between is 401. Scope and last use were settled by
    `authenticate_request` in the first unit."""
    return (await tokens.authenticate(uow, token_from(request), ctx.settings)).user


async def _stamp(
    request: Request,
    ctx: AppContext,
    uow: UnitOfWork,
    record: Callable[[UnitOfWork, str], Awaitable[None]],
    row_id: str,
    read_only: bool,
) -> None:
    if read_only or request.method in SAFE_METHODS:
        # A read holds no writer; this rare stamp takes one of its own.
        async with ctx.boundary.write() as stamp:
            await record(stamp, row_id)
    else:
        await record(uow, row_id)


async def get_caller(request: Request, ctx: Ctx, uow: Uow) -> Caller:
    return await authenticate_request(request, ctx, uow)


CurrentCaller = Annotated[Caller, Depends(get_caller)]


async def get_current_user(caller: CurrentCaller) -> User:
    return caller.user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_reader_locale(request: Request, user: CurrentUser, ctx: Ctx) -> str:
    """The language of text an endpoint writes for the person asking (a transcript), in the
    contract's order: `?lang=`, the `helpline_lang` cookie, their `locale`, `Accept-Language`,
    the default."""
    return i18n.negotiate(
        query=request.query_params.get("lang"),
        cookie=request.cookies.get(i18n.COOKIE),
        user=user.locale,
        accept_language=request.headers.get("accept-language"),
        default=ctx.settings.default_locale,
        offered=i18n.available(ctx.settings.pseudo_locale),
    )


ReaderLocale = Annotated[str, Depends(get_reader_locale)]


async def get_optional_user(request: Request, ctx: Ctx) -> User | None:
    """For pages: the signed-in user or None, never an error."""
    token = token_from(request)
    if not token:
        return None
    async with ctx.boundary.read() as uow:
        try:
            return (await tokens.authenticate(uow, token, ctx.settings)).user
        except NotAuthenticated:
            return None


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
