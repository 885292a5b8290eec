"""Single sign-on with an OpenID provider: GET /auth/oidc/login and GET /auth/oidc/callback.

Authlib does the protocol: the authorization code flow with PKCE (S256), `state` and `nonce`,
the code exchange, and the ID token's checks (signature against the provider's JWKS, `iss`,
`aud`, `exp`, `nonce`). What we add around it:

- the sign-in's state (Authlib's: `state`, `nonce`, the PKCE verifier, the redirect URI; ours:
  `next`) rides in a signed cookie that lives ten minutes on `/auth/oidc` only, and is
  dropped by the callback whatever happens, so a callback is good once;
- `next` is a path on this site, checked before leaving for the provider;
- the provider's discovery document must name the configured issuer, and an unsigned ID
  token (`alg: none`) is never accepted, even where the provider advertises it;
- `exp` and `iat` are judged by `helpline.kit.clock`, like every other time here.

A refusal is a page (`data-testid="sso-refused-page"`, `data-code` says why) with a way back;
nothing is created or signed in. Who the claims are, and what changes for them, is
`helpline.accounts.oidc`.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import httpx2
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.starlette_client import OAuth
from authlib.oidc.core import CodeIDToken
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc.errors import JoseError

from helpline.accounts import oidc
from helpline.accounts import service as accounts_service
from helpline.accounts.deps import client_address, set_session_cookie
from helpline.config import Settings
from helpline.context import AppContext
from helpline.errors import HelplineError
from helpline.kit import clock
from helpline.kit.i18n import N_

log = logging.getLogger("helpline.oidc")
router = APIRouter(include_in_schema=False)

STATE_COOKIE = "helpline_oidc"
STATE_PATH = "/auth/oidc"
STATE_MAX_AGE_S = 600
CALLBACK_PATH = "/auth/oidc/callback"
# Clock skew forgiven between the provider and us when judging `exp` and `iat`.
LEEWAY_S = 60


class _IDToken(CodeIDToken):  # type: ignore[misc]
    """Authlib's ID token checks, with the time from `helpline.kit.clock`."""

    def validate(self, now: int | None = None, leeway: int = 0) -> None:
        super().validate(now=int(clock.now().timestamp()), leeway=leeway)


class SignInRefused(Exception):
    def __init__(
        self, code: str, message: str, status: int = 400, *, user_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.user_id = user_id


class OidcClient:
    """One per process: Authlib's client for the configured provider. It keeps the provider's
    discovery document and keys once fetched (keys again when a token names an unknown one).

    `transport` is httpx2's: tests pass one that alters the provider's answers on their way."""

    def __init__(
        self, settings: Settings, transport: httpx2.AsyncBaseTransport | None = None
    ) -> None:
        self.issuer = (settings.oidc_issuer or "").rstrip("/")
        self.client_id = settings.oidc_client_id or ""
        client_kwargs: dict[str, Any] = {
            "scope": settings.oidc_scopes,
            "code_challenge_method": "S256",
            "timeout": 10.0,
        }
        if transport is not None:
            client_kwargs["transport"] = transport
        self._oauth = OAuth()
        self.app: Any = self._oauth.register(
            name="helpline",
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            server_metadata_url=f"{self.issuer}/.well-known/openid-configuration",
            client_kwargs=client_kwargs,
        )

    async def metadata(self) -> dict[str, Any]:
        metadata: dict[str, Any] = await self.app.load_server_metadata()
        if str(metadata.get("issuer", "")).rstrip("/") != self.issuer:
            raise SignInRefused(
                "provider_misconfigured",
                "The identity provider's discovery document names another issuer.",
                status=502,
            )
        algs = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        metadata["id_token_signing_alg_values_supported"] = [a for a in algs if a != "none"]
        return metadata

    async def start(self, redirect_uri: str) -> dict[str, Any]:
        """The provider's authorization URL (`url`) and what the callback needs back."""
        await self.metadata()
        rv: dict[str, Any] = await self.app.create_authorization_url(redirect_uri)
        return rv

    async def finish(self, request: Request, session: dict[str, Any]) -> dict[str, Any]:
        """The validated claims of the callback's ID token (plus the userinfo endpoint's, when
        the role claim is not in the token); `session` is the state cookie's content."""
        await self.metadata()
        request.scope["session"] = session  # where Authlib's Starlette client keeps state
        token = await self.app.authorize_access_token(
            request,
            claims_options={
                "iss": {"essential": True, "value": self.issuer},
                "aud": {"essential": True, "value": self.client_id},
                "exp": {"essential": True},
            },
            claims_cls=_IDToken,
            leeway=LEEWAY_S,
        )
        claims = token.get("userinfo")
        if not claims:  # no ID token: an OAuth answer, not an OpenID Connect sign-in
            raise SignInRefused("invalid_token", "The identity provider sent no ID token.")
        merged = dict(claims)
        role_claim = request.app.state.ctx.settings.oidc_role_claim
        metadata = await self.metadata()
        if role_claim not in merged and metadata.get("userinfo_endpoint"):
            info = await self.app.userinfo(token=token)
            if info.get("sub") == merged.get("sub"):
                merged.setdefault(role_claim, info.get(role_claim))
        return merged


def safe_next(raw: str | None) -> str | None:
    """`raw` when it is a path on this site, `/` when absent, else None."""
    if not raw:
        return "/"
    parts = urlsplit(raw)
    if (
        not raw.startswith("/")
        or raw.startswith("//")
        or "\\" in raw
        or parts.scheme
        or parts.netloc
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw)
    ):
        return None
    return raw


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.resolved_secret_key, salt="helpline-oidc-state")


def _refused(request: Request, err: SignInRefused) -> Response:
    from helpline.web.pages import render_message

    response = render_message(
        request,
        kind="sso-refused",
        code=err.code,
        title=N_("Sign-in refused"),
        heading=N_("We could not sign you in"),
        text=err.message,
        links=[
            ("/console", N_("Back to the staff sign-in"), False),
            ("/", N_("Support portal"), True),
        ],
        status_code=err.status,
    )
    response.delete_cookie(STATE_COOKIE, path=STATE_PATH)
    return response


def _client(request: Request) -> OidcClient:
    client: OidcClient | None = getattr(request.app.state, "oidc", None)
    if client is None:
        raise SignInRefused("sso_not_configured", "Single sign-on is not set up here.", status=404)
    return client


@router.get("/auth/oidc/login")
@router.get("/api/v1/auth/oidc/login")  # CONTRACT-2 lists it with the API's paths
async def oidc_login(request: Request, next: str | None = None) -> Response:
    ctx: AppContext = request.app.state.ctx
    try:
        client = _client(request)
        target = safe_next(next)
        if target is None:
            raise SignInRefused(
                "invalid_next", "That sign-in link points to another site; it was not followed."
            )
        redirect_uri = ctx.settings.resolved_public_url + CALLBACK_PATH
        try:
            rv = await client.start(redirect_uri)
        except (OAuthError, httpx2.HTTPError, ValueError) as exc:
            log.warning("identity provider unreachable: %s", type(exc).__name__)
            raise SignInRefused(
                "provider_unavailable",
                "The identity provider cannot be reached right now. Try again in a moment.",
                status=502,
            ) from exc
    except SignInRefused as err:
        return _refused(request, err)
    session: dict[str, Any] = {}
    state = rv.pop("state")
    await client.app.framework.set_state_data(
        session, state, {**rv, "redirect_uri": redirect_uri, "next": target}
    )
    response = RedirectResponse(rv["url"], status_code=302)
    response.set_cookie(
        STATE_COOKIE,
        _serializer(ctx.settings).dumps(session),
        max_age=STATE_MAX_AGE_S,
        path=STATE_PATH,
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back to us
        secure=ctx.settings.secure_cookies,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get(CALLBACK_PATH)
async def oidc_callback(request: Request) -> Response:
    ctx: AppContext = request.app.state.ctx
    try:
        client = _client(request)
        session = _load_state(request, ctx.settings)
        state = request.query_params.get("state") or ""
        data = await client.app.framework.get_state_data(session, state)
        if data is None:
            raise SignInRefused(
                "invalid_state",
                "This sign-in did not start here, or it was already used or took too long. "
                "Start again.",
            )
        try:
            claims = await client.finish(request, session)
        except OAuthError as exc:
            log.warning("single sign-on refused by the provider: %s", exc.error)
            cancelled = exc.error in ("access_denied", "consent_required", "login_required")
            raise SignInRefused(
                "provider_refused" if not cancelled else "cancelled",
                "The sign-in was cancelled at the identity provider."
                if cancelled
                else "The identity provider refused this sign-in (it may have been used "
                "already). Start again.",
            ) from exc
        except JoseError as exc:
            log.warning("single sign-on: ID token refused: %s", type(exc).__name__)
            raise SignInRefused(
                "invalid_token", "The identity provider's answer did not pass our checks."
            ) from exc
        except httpx2.HTTPError as exc:
            raise SignInRefused(
                "provider_unavailable",
                "The identity provider cannot be reached right now. Try again in a moment.",
                status=502,
            ) from exc
        try:
            async with ctx.boundary.write() as uow:
                done = await oidc.sign_in(
                    uow,
                    claims,
                    ctx.settings,
                    ip=client_address(request),
                    user_agent=request.headers.get("user-agent"),
                )
        except HelplineError as exc:
            raise SignInRefused(
                exc.code, exc.message, status=exc.status, user_id=exc.extra.get("user_id")
            ) from exc
    except SignInRefused as err:
        if err.code != "sso_not_configured":
            await accounts_service.record_failed_login(
                ctx.boundary,
                user_id=err.user_id,
                ip=client_address(request),
                details={"method": "oidc", "reason": err.code},
            )
        return _refused(request, err)
    log.info(
        "signed in through the identity provider",
        extra={
            "user_id": done.user.id,
            "new_user": done.created,
            "changed": done.changes.get("fields", []),
        },
    )
    response = RedirectResponse(str(data["next"]), status_code=303)
    set_session_cookie(response, ctx.settings, done.token)
    response.delete_cookie(STATE_COOKIE, path=STATE_PATH)
    response.headers["Cache-Control"] = "no-store"
    return response


def _load_state(request: Request, settings: Settings) -> dict[str, Any]:
    raw = request.cookies.get(STATE_COOKIE)
    if not raw:
        return {}
    try:
        loaded = _serializer(settings).loads(raw, max_age=STATE_MAX_AGE_S)
    except BadSignature:
        return {}
    return loaded if isinstance(loaded, dict) else {}
