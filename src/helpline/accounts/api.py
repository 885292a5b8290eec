from __future__ import annotations

import io
from typing import Annotated

import segno
from fastapi import APIRouter, Query, Request, Response

from helpline import flows
from helpline.accounts import resets, service, tokens, twofactor
from helpline.accounts.deps import (
    SESSION_COOKIE,
    CurrentCaller,
    CurrentUser,
    authenticate_request,
    client_address,
    set_session_cookie,
)
from helpline.accounts.devices import parts_of_all
from helpline.accounts.login_limits import LoginLimits, account_key
from helpline.accounts.models import ApiToken
from helpline.accounts.schemas import (
    AuthResult,
    CustomerProfile,
    Guest,
    LocaleList,
    LocaleOut,
    Login,
    MeUpdate,
    PasswordResetConfirm,
    PasswordResetRequest,
    RecoveryCodes,
    SessionList,
    SessionOut,
    StatusUpdate,
    TokenCreate,
    TokenCreated,
    TokenList,
    TokenOut,
    TotpCode,
    TotpSetup,
    UserCreate,
    UserList,
    UserOut,
    UserUpdate,
    WidgetIdentity,
)
from helpline.context import AppContext
from helpline.deps import Ctx, Uow
from helpline.errors import Conflict
from helpline.kit import i18n
from helpline.kit.clock import now
from helpline.kit.enums import Availability
from helpline.kit.params import BoundedInt, Cursor, cursor_offset
from helpline.queues import service as queues
from helpline.turns import take_turn

router = APIRouter(tags=["accounts"])


def _set_session_cookie(response: Response, ctx: AppContext, token: str) -> None:
    set_session_cookie(response, ctx.settings, token)


def _login_limits(ctx: AppContext) -> LoginLimits:
    return LoginLimits(
        ctx.limiter,
        per_account=ctx.settings.rate_limit_login_failures,
        per_address=ctx.settings.rate_limit_login_address_failures,
    )


@router.post("/auth/login", response_model=AuthResult)
async def login(body: Login, request: Request, response: Response, ctx: Ctx) -> AuthResult:
    # No unit of work for the whole request: the password is checked before the write opens,
    # so a burst of sign-ins never holds the writer while it hashes.
    service.require_password_login(ctx.settings)
    await take_turn()  # one arrival's step a turn of the loop (helpline.turns)
    user, second_factor = await service.check_sign_in(
        ctx.boundary,
        _login_limits(ctx),
        str(body.email),
        body.password,
        address=client_address(request),
        settings=ctx.settings,
        totp=body.totp,
    )
    # The session and its audit entry: one write with the other sign-ins of this moment.
    token = await service.sign_in_together(
        ctx.inserts,
        user,
        ip=client_address(request),
        user_agent=request.headers.get("user-agent"),
        second_factor=second_factor,
    )
    _set_session_cookie(response, ctx, token)
    # The sign-ins written together resume together: each answers in a turn of its own.
    await take_turn()
    return AuthResult(token=token, user=UserOut.model_validate(user))


@router.post("/auth/guest", response_model=AuthResult)
async def guest(body: Guest, request: Request, response: Response, ctx: Ctx) -> AuthResult:
    # No turn to take before the rows: guests arriving in one iteration are written together
    # (decision 033); they take their turns once written, below.
    await ctx.limiter.check(ctx.settings.rate_limit_guest, "guest", client_address(request))
    # No unit of its own: one write with the other guests arriving at this moment.
    token, user = await service.guest_together(
        ctx.inserts,
        body.name,
        str(body.email),
        ip=client_address(request),
        user_agent=request.headers.get("user-agent"),
        locale=i18n.preferred(
            cookie=request.cookies.get(i18n.COOKIE),
            accept_language=request.headers.get("accept-language"),
            offered=i18n.available(ctx.settings.pseudo_locale),
        ),
    )
    _set_session_cookie(response, ctx, token)
    await take_turn()  # the guests written together resume together: one a turn
    return AuthResult(token=token, user=UserOut.model_validate(user))


@router.post(
    "/auth/widget",
    response_model=AuthResult,
    responses={401: {"description": "invalid_identity: the hash does not match the user id"}},
)
async def widget_identity(body: WidgetIdentity, request: Request, ctx: Ctx, uow: Uow) -> AuthResult:
    """The widget's panel signs in a visitor the embedding site vouches for (CONTRACT-2, "The
    widget knows the visitor"). No cookie: the token stays inside the panel's frame."""
    await ctx.limiter.check(ctx.settings.rate_limit_guest, "guest", client_address(request))
    token, user = await service.widget_sign_in(
        uow,
        ctx.settings.widget_secret,
        user_id=body.user_id,
        signature=body.hash,
        name=body.name,
        email=body.email,
        ip=client_address(request),
        user_agent=request.headers.get("user-agent"),
    )
    return AuthResult(token=token, user=UserOut.model_validate(user))


@router.post("/auth/logout", status_code=204)
async def logout(caller: CurrentCaller, response: Response, uow: Uow) -> Response:
    await service.logout(uow, caller.signed_in_session())
    out = Response(status_code=204)
    out.delete_cookie(SESSION_COOKIE, path="/")
    return out


@router.post("/auth/password-reset", status_code=202)
async def request_password_reset(
    body: PasswordResetRequest, request: Request, ctx: Ctx
) -> dict[str, str]:
    """202 whether or not the address has an account, in the same time: after the limits,
    which count every address alike, the work (and the mail) happens after the answer."""
    s = ctx.settings
    await ctx.limiter.check(s.rate_limit_password_reset_address, "reset", client_address(request))
    await ctx.limiter.check(s.rate_limit_password_reset, "reset-account", account_key(body.email))
    ctx.background.spawn(_send_reset(ctx, str(body.email)), name="password-reset")
    return {"status": "accepted"}


async def _send_reset(ctx: AppContext, email: str) -> None:
    async with ctx.boundary.write() as uow:
        await flows.send_password_reset(uow, email, ctx.settings)


@router.post("/auth/password-reset/confirm", status_code=204)
async def confirm_password_reset(body: PasswordResetConfirm, ctx: Ctx) -> Response:
    # Units of work of its own: the link is checked, the password hashed, then the link used.
    await resets.complete(ctx.boundary, body.token, body.password, ctx.settings)
    return Response(status_code=204)


@router.get("/me", response_model=UserOut)
async def me(user: CurrentUser, ctx: Ctx, uow: Uow) -> UserOut:
    out = UserOut.model_validate(user)
    if user.role_enum.is_staff:
        out.queue_ids = await queues.member_queue_ids(uow, user.id)
    out.totp_setup_required = twofactor.setup_due(user, ctx.settings)
    return out


@router.patch("/me", response_model=UserOut)
async def update_me(body: MeUpdate, user: CurrentUser, ctx: Ctx, uow: Uow) -> UserOut:
    """`{locale}`: the caller's language for pages and e-mails (422 outside GET /locales)."""
    offered = i18n.available(ctx.settings.pseudo_locale)
    return UserOut.model_validate(await service.update_me(uow, user, body, offered))


@router.get("/locales", response_model=LocaleList)
async def locales(ctx: Ctx) -> LocaleList:
    """The languages pages, e-mails and PATCH /me accept (no sign-in needed)."""
    offered = i18n.available(ctx.settings.pseudo_locale)
    return LocaleList(
        items=[
            LocaleOut(code=code, name=i18n.NAMES[code], dir=i18n.direction(code))
            for code in offered
        ],
        default=i18n.negotiate(default=ctx.settings.default_locale, offered=offered),
    )


@router.post("/me/totp", response_model=TotpSetup)
async def begin_totp(user: CurrentUser, ctx: Ctx, uow: Uow) -> TotpSetup:
    setup = await twofactor.begin(uow, user, ctx.settings)
    return TotpSetup(secret=setup.secret, otpauth_uri=setup.otpauth_uri)


@router.get(
    "/me/totp/qr.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "The QR code."}},
)
async def totp_qr_code(user: CurrentUser, ctx: Ctx) -> Response:
    """The QR code of the setup begun with POST /me/totp, drawn here (segno) so the secret
    never leaves for a third-party service. Never cached: it is the secret."""
    uri = twofactor.pending_uri(user, ctx.settings)
    if uri is None:
        raise Conflict("Start the setup first (POST /me/totp).", code="totp_not_started")
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=5, border=2, xmldecl=False)
    return Response(
        out.getvalue(),
        media_type="image/svg+xml",
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        },
    )


@router.post("/me/totp/confirm", response_model=RecoveryCodes)
async def confirm_totp(
    body: TotpCode, request: Request, user: CurrentUser, ctx: Ctx, uow: Uow
) -> RecoveryCodes:
    codes = await twofactor.confirm(
        uow, user, ctx.settings, body.code, _login_limits(ctx), client_address(request)
    )
    return RecoveryCodes(recovery_codes=codes)


@router.delete("/me/totp", status_code=204)
async def disable_totp(
    body: TotpCode, request: Request, user: CurrentUser, ctx: Ctx, uow: Uow
) -> Response:
    await twofactor.disable(
        uow, user, ctx.settings, body.code, _login_limits(ctx), client_address(request)
    )
    return Response(status_code=204)


@router.get("/me/sessions", response_model=SessionList)
async def list_sessions(
    caller: CurrentCaller,
    ctx: Ctx,
    uow: Uow,
    cursor: Annotated[Cursor | None, Query()] = None,
    limit: Annotated[BoundedInt, Query(ge=1, le=200)] = 100,
) -> SessionList:
    current = caller.signed_in_session()
    offset = cursor_offset(cursor)
    rows = await service.list_sessions(
        uow, caller.user, ctx.settings, offset=offset, limit=limit + 1
    )
    devices = await parts_of_all([s.user_agent for s in rows[:limit]])
    items = [
        SessionOut(
            id=s.id,
            created_at=s.created_at,
            last_seen_at=s.last_seen_at or s.created_at,
            user_agent=s.user_agent,
            device=device.words() if device else None,
            browser=device.browser if device else None,
            os=device.os if device else None,
            model=device.model if device else None,
            ip=s.ip,
            current=s.id == current,
        )
        for s, device in zip(rows[:limit], devices, strict=True)
    ]
    return SessionList(items=items, next=str(offset + limit) if len(rows) > limit else None)


@router.delete("/me/sessions/{session_id}", status_code=204)
async def end_session(session_id: str, caller: CurrentCaller, ctx: Ctx, uow: Uow) -> Response:
    caller.signed_in_session()
    await service.end_session(uow, caller.user, ctx.settings, session_id)
    return Response(status_code=204)


def _token_out(token: ApiToken) -> TokenOut:
    out = TokenOut.model_validate(token)
    out.expired = tokens.expired(token, now())
    return out


@router.post("/me/tokens", response_model=TokenCreated, status_code=201)
async def create_token(
    body: TokenCreate, caller: CurrentCaller, ctx: Ctx, uow: Uow
) -> TokenCreated:
    caller.signed_in_session()
    token, raw = await tokens.create(uow, caller.user, body, ctx.settings)
    return TokenCreated(
        id=token.id,
        name=token.name,
        scopes=token.scopes,  # type: ignore[arg-type]
        token=raw,
        prefix=token.prefix,
        created_at=token.created_at,
        expires_at=token.expires_at,
    )


@router.get("/me/tokens", response_model=TokenList)
async def list_tokens(caller: CurrentCaller, uow: Uow) -> TokenList:
    caller.signed_in_session()
    return TokenList(
        items=[_token_out(t) for t in await tokens.list_tokens(uow, caller.user)], next=None
    )


@router.delete("/me/tokens/{token_id}", status_code=204)
async def revoke_token(token_id: str, caller: CurrentCaller, uow: Uow) -> Response:
    caller.signed_in_session()
    await tokens.revoke(uow, caller.user, token_id)
    return Response(status_code=204)


@router.put("/me/status", response_model=UserOut)
async def set_status(body: StatusUpdate, request: Request, ctx: Ctx) -> UserOut:
    """Who is asking is read without the writer, and the change is one short write: at a shift
    start hundreds of these come at once (decision 043). Going offline with requeueing hands
    chats back in the same unit, so it keeps a unit of work of its own."""
    await take_turn()  # one arrival's step a turn of the loop (helpline.turns)
    requeue = ctx.settings.requeue_enabled
    if requeue and body.status is Availability.offline:
        async with ctx.boundary.write() as uow:
            user = (await authenticate_request(request, ctx, uow)).user
            changed = await flows.set_status(uow, user, user.id, body.status, requeue=True)
        return UserOut.model_validate(changed)
    async with ctx.boundary.read() as read:
        user = (await authenticate_request(request, ctx, read, read_only=True)).user
    return UserOut.model_validate(await service.set_status_now(ctx.boundary, user, body.status))


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
    q: Annotated[
        str | None, Query(max_length=120, description="Part of the name or e-mail, any case.")
    ] = None,
    guests: Annotated[bool, Query(description="Include guest customers.")] = False,
) -> UserList:
    users = await service.list_users(
        uow, user, role=role, after=cursor, limit=limit + 1, q=q, guests=guests
    )
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
