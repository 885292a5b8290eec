"""Request boundary: the unit of work and who is asking. Shared by HTTP, pages and WebSocket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from helpline.accounts import service
from helpline.accounts.models import User
from helpline.context import AppContext
from helpline.db import UnitOfWork
from helpline.errors import NotAuthenticated

SESSION_COOKIE = "helpline_session"
CSRF_COOKIE = "helpline_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Caller:
    user: User
    session_id: str


def get_ctx(conn: HTTPConnection) -> AppContext:
    ctx: AppContext = conn.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


async def get_uow(request: Request, ctx: Ctx) -> AsyncIterator[UnitOfWork]:
    """Reads get a plain session; writes commit once when the route returns, then publish.

    Declared with scope="function" so commit and publish happen before the response is sent.
    """
    if request.method in SAFE_METHODS:
        async with ctx.db.read() as session:
            yield UnitOfWork(session)
        return
    async with ctx.db.write() as uow:
        yield uow
    await ctx.publish(uow)


Uow = Annotated[UnitOfWork, Depends(get_uow, scope="function")]


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


async def get_caller(request: Request, uow: Uow) -> Caller:
    auth_session, user = await service.authenticate(uow, token_from(request))
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
    async with ctx.db.read() as session:
        try:
            _, user = await service.authenticate(UnitOfWork(session), token)
        except NotAuthenticated:
            return None
        return user


def client_address(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown"
