"""API tokens: creating, listing and revoking them, and who a credential (session or token)
belongs to.

A token is `hlp_` plus 256 random bits. Only HMAC-SHA256(key, token) is stored, the key derived
from `HELPLINE_SECRET_KEY`. A fast hash is right here, unlike for passwords: with 256 random
bits there is nothing to guess, so a slow hash would only cost every API call CPU time. The key
means a copy of the database alone (a backup) cannot even check a candidate token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from helpline.accounts import repository as repo
from helpline.accounts import scopes as scopes_mod
from helpline.accounts import service
from helpline.accounts.models import ApiToken, AuthSession, User
from helpline.accounts.schemas import TokenCreate
from helpline.audit import service as audit
from helpline.bus.messages import CloseConnections
from helpline.config import Settings
from helpline.db import UnitOfWork
from helpline.errors import Conflict, Forbidden, Invalid, NotAuthenticated, NotFound
from helpline.kit.clock import now

PREFIX = "hlp_"
MAX_LIVE = 50  # per person; more is a leak waiting to happen, not an integration
USED_EVERY = timedelta(minutes=1)


def _key(settings: Settings) -> bytes:
    # A key of its own, so API tokens and CSRF tokens never share one.
    secret = settings.resolved_secret_key.encode()
    return hmac.new(secret, b"helpline api tokens", hashlib.sha256).digest()


def hash_token(token: str, settings: Settings) -> str:
    return hmac.new(_key(settings), token.encode(), hashlib.sha256).hexdigest()


def is_api_token(token: str) -> bool:
    return token.startswith(PREFIX)


def expired(token: ApiToken, at: datetime) -> bool:
    return token.expires_at is not None and token.expires_at <= at


@dataclass
class Credential:
    """Who a request or handshake comes from: a signed-in session or an API token."""

    user: User
    auth_session: AuthSession | None = None
    token: ApiToken | None = None

    @property
    def scopes(self) -> frozenset[str] | None:
        """The token's scopes; None for a session (everything its role allows)."""
        return frozenset(self.token.scopes) if self.token is not None else None

    @property
    def connection_id(self) -> str:
        """What its sockets are closed by: the session's id, or the token's."""
        if self.token is not None:
            return self.token.id
        assert self.auth_session is not None
        return self.auth_session.id


async def authenticate(uow: UnitOfWork, raw: str | None, settings: Settings) -> Credential:
    """A session token or an API token. Revoked, expired and deactivated: NotAuthenticated."""
    if raw and is_api_token(raw):
        found = await repo.get_token_by_hash(uow.session, hash_token(raw, settings))
        if found is None or expired(found[0], now()):
            raise NotAuthenticated("This API token is revoked or expired.")
        return Credential(user=found[1], token=found[0])
    auth_session, user = await service.authenticate(uow, raw, settings)
    return Credential(user=user, auth_session=auth_session)


def needs_used(token: ApiToken) -> bool:
    return token.last_used_at is None or now() - token.last_used_at >= USED_EVERY


async def record_used(uow: UnitOfWork, token_id: str) -> None:
    at = now()
    await repo.stamp_token_used(uow.session, token_id, at, unless_after=at - USED_EVERY)


async def create(
    uow: UnitOfWork, user: User, data: TokenCreate, settings: Settings
) -> tuple[ApiToken, str]:
    """A new token for `user` and its secret (shown once)."""
    requested = set(data.scopes)
    beyond = scopes_mod.beyond_role(user.role_enum, requested)
    if beyond:
        raise Forbidden(f"Your role cannot grant: {', '.join(beyond)}.", code="scope_exceeds_role")
    expires_at = data.expires_at
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise Invalid("expires_at needs a time zone offset (e.g. Z).")
        if expires_at <= now():
            raise Invalid("expires_at must be in the future.")
    if len(await repo.live_tokens(uow.session, user.id)) >= MAX_LIVE:
        raise Conflict(f"You have {MAX_LIVE} tokens; revoke one first.", code="too_many_tokens")
    raw = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=data.name,
        scopes=sorted(str(s) for s in requested),
        token_hash=hash_token(raw, settings),
        prefix=raw[: len(PREFIX) + 4],
        created_at=now(),
        expires_at=expires_at,
    )
    uow.session.add(token)
    await uow.session.flush()
    await audit.record(
        uow,
        actor=user,
        action="token.created",
        target_type="token",
        target_id=token.id,
        details={"name": token.name, "scopes": token.scopes, "expires_at": _iso(expires_at)},
    )
    return token, raw


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


async def list_tokens(uow: UnitOfWork, user: User) -> list[ApiToken]:
    return await repo.live_tokens(uow.session, user.id)


async def revoke(uow: UnitOfWork, user: User, token_id: str) -> None:
    """Revoke one of the caller's tokens; its sockets close. Another person's, or one already
    revoked, is NotFound."""
    token = await repo.get_token(uow.session, token_id)
    if token is None or token.user_id != user.id or token.revoked_at is not None:
        raise NotFound("No such token.")
    token.revoked_at = now()
    uow.announce(f"session:{token.id}", CloseConnections("token_revoked"))
    await audit.record(
        uow,
        actor=user,
        action="token.revoked",
        target_type="token",
        target_id=token.id,
        details={"name": token.name},
    )
