from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from helpline import flows
from helpline.accounts import service
from helpline.accounts.deps import SESSION_COOKIE, CurrentCaller, CurrentUser, client_address
from helpline.accounts.login_limits import LoginLimits
from helpline.accounts.schemas import (
    AuthResult,
    CustomerProfile,
    Guest,
    Login,
    SessionList,
    SessionOut,
    StatusUpdate,
    UserCreate,
    UserList,
    UserOut,
    UserUpdate,
)
from helpline.context import AppContext
from helpline.deps import Ctx, Uow
from helpline.kit.params import BoundedInt, Cursor, cursor_offset
from helpline.queues import service as queues

router = APIRouter(tags=["accounts"])


def _set_session_cookie(response: Response, ctx: AppContext, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=ctx.settings.secure_cookies,
        path="/",
    )


@router.post("/auth/login", response_model=AuthResult)
async def login(body: Login, request: Request, response: Response, ctx: Ctx) -> AuthResult:
    # No unit of work for the whole request: the password is checked before the write opens,
    # so a burst of sign-ins never holds the writer while it hashes.
    service.require_password_login(ctx.settings)
    limits = LoginLimits(
        ctx.limiter,
        per_account=ctx.settings.rate_limit_login_failures,
        per_address=ctx.settings.rate_limit_login_address_failures,
    )
    user = await service.check_sign_in(
        ctx.boundary,
        limits,
        str(body.email),
        body.password,
        address=client_address(request),
        fast=ctx.settings.password_fast_hash,
    )
    service.require_password_login(ctx.settings, user.role)
    async with ctx.boundary.write() as uow:
        token = await service.sign_in(
            uow, user, ip=client_address(request), user_agent=request.headers.get("user-agent")
        )
    _set_session_cookie(response, ctx, token)
    return AuthResult(token=token, user=UserOut.model_validate(user))


@router.post("/auth/guest", response_model=AuthResult)
async def guest(
    body: Guest, request: Request, response: Response, ctx: Ctx, uow: Uow
) -> AuthResult:
    await ctx.limiter.check(ctx.settings.rate_limit_guest, "guest", client_address(request))
    token, user = await service.guest(
        uow,
        body.name,
        str(body.email),
        ip=client_address(request),
        user_agent=request.headers.get("user-agent"),
    )
    _set_session_cookie(response, ctx, token)
    return AuthResult(token=token, user=UserOut.model_validate(user))


@router.post("/auth/logout", status_code=204)
async def logout(caller: CurrentCaller, response: Response, uow: Uow) -> Response:
    await service.logout(uow, caller.session_id)
    out = Response(status_code=204)
    out.delete_cookie(SESSION_COOKIE, path="/")
    return out


@router.get("/me", response_model=UserOut)
async def me(user: CurrentUser, uow: Uow) -> UserOut:
    out = UserOut.model_validate(user)
    if user.role_enum.is_staff:
        out.queue_ids = await queues.member_queue_ids(uow, user.id)
    return out


@router.get("/me/sessions", response_model=SessionList)
async def list_sessions(
    caller: CurrentCaller,
    ctx: Ctx,
    uow: Uow,
    cursor: Annotated[Cursor | None, Query()] = None,
    limit: Annotated[BoundedInt, Query(ge=1, le=200)] = 100,
) -> SessionList:
    offset = cursor_offset(cursor)
    rows = await service.list_sessions(
        uow, caller.user, ctx.settings, offset=offset, limit=limit + 1
    )
    items = [
        SessionOut(
            id=s.id,
            created_at=s.created_at,
            last_seen_at=s.last_seen_at or s.created_at,
            user_agent=s.user_agent,
            ip=s.ip,
            current=s.id == caller.session_id,
        )
        for s in rows[:limit]
    ]
    return SessionList(items=items, next=str(offset + limit) if len(rows) > limit else None)


@router.delete("/me/sessions/{session_id}", status_code=204)
async def end_session(session_id: str, caller: CurrentCaller, ctx: Ctx, uow: Uow) -> Response:
    await service.end_session(uow, caller.user, ctx.settings, session_id)
    return Response(status_code=204)


@router.put("/me/status", response_model=UserOut)
async def set_status(body: StatusUpdate, user: CurrentUser, ctx: Ctx, uow: Uow) -> UserOut:
    requeue = ctx.settings.requeue_enabled
    changed = await flows.set_status(uow, user, user.id, body.status, requeue=requeue)
    return UserOut.model_validate(changed)


@router.put("/users/{user_id}/status", response_model=UserOut)
async def set_agent_status(
    user_id: str, body: StatusUpdate, user: CurrentUser, ctx: Ctx, uow: Uow
) -> UserOut:
    """Supervisors and admins set a colleague's availability; offline hands their chats in
    progress back to the queues."""
    requeue = ctx.settings.requeue_enabled
    changed = await flows.set_status(uow, user, user_id, body.status, requeue=requeue)
    return UserOut.model_validate(changed)


@router.post("/users", response_model=UserOut, status_code=201)
async def create_user(body: UserCreate, user: CurrentUser, ctx: Ctx, uow: Uow) -> UserOut:
    created = await service.create_user(uow, user, body, fast=ctx.settings.password_fast_hash)
    return UserOut.model_validate(created)


@router.get("/users", response_model=UserList)
async def list_users(
    user: CurrentUser,
    uow: Uow,
    role: Annotated[str | None, Query()] = None,
    cursor: Annotated[str | None, Query()] = None,
    limit: Annotated[BoundedInt, Query(ge=1, le=200)] = 100,
) -> UserList:
    users = await service.list_users(uow, user, role=role, after=cursor, limit=limit + 1)
    nxt = users[limit - 1].id if len(users) > limit else None
    return UserList(items=[UserOut.model_validate(u) for u in users[:limit]], next=nxt)


@router.patch("/users/{user_id}", response_model=UserOut)
async def update_user(
    user_id: str, body: UserUpdate, user: CurrentUser, ctx: Ctx, uow: Uow
) -> UserOut:
    updated = await service.update_user(
        uow, user, user_id, body, fast=ctx.settings.password_fast_hash
    )
    return UserOut.model_validate(updated)


@router.get("/customers/{customer_id}", response_model=CustomerProfile, tags=["customers"])
async def customer_profile(customer_id: str, user: CurrentUser, uow: Uow) -> CustomerProfile:
    return CustomerProfile.model_validate(await flows.customer_profile(uow, user, customer_id))
