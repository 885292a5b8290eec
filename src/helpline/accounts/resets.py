"""Password reset by e-mail: the rules. The mail itself is sent by `helpline.flows`.

A link is single use and valid for an hour; only its token's SHA-256 is stored. Using one sets
the password, ends every session of that user (their sockets close with 4401), and voids the
other links sent to them. API tokens are not sessions and stay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from helpline.accounts import repository as repo
from helpline.accounts.models import PasswordReset, User
from helpline.accounts.passwords import hash_async
from helpline.audit import service as audit
from helpline.boundary import Boundary
from helpline.bus.messages import CloseConnections
from helpline.config import Settings
from helpline.db import UnitOfWork
from helpline.errors import Invalid
from helpline.kit.clock import now
from helpline.kit.ids import new_token

VALID_FOR = timedelta(hours=1)


@dataclass
class Issued:
    user: User
    token: str


async def issue(uow: UnitOfWork, email: str, settings: Settings) -> Issued | None:
    """A new reset link's token for the registered, active user with this e-mail who may sign
    in with a password; None for anyone else (the caller answers the same either way)."""
    user = await repo.get_registered_by_email(uow.session, email)
    if user is None or not user.active or not settings.password_login_for(user.role):
        return None
    token = new_token()
    at = now()
    uow.session.add(
        PasswordReset(
            user_id=user.id,
            token_hash=repo.hash_token(token),
            created_at=at,
            expires_at=at + VALID_FOR,
        )
    )
    await uow.session.flush()
    return Issued(user=user, token=token)


def _refused() -> Invalid:
    return Invalid(
        "This reset link has expired or was already used; ask for a new one.",
        code="reset_token_invalid",
    )


async def complete(boundary: Boundary, token: str, password: str, settings: Settings) -> User:
    """Set the password of the link's user. The link is checked before the (slow) hash and used
    after it in one conditional UPDATE, so of two requests with one link only one wins, and no
    writer is held while hashing."""
    token_hash = repo.hash_token(token)
    async with boundary.read() as uow:
        found = await repo.get_reset(uow.session, token_hash)
        if found is None or found.used_at is not None or found.expires_at <= now():
            raise _refused()
    password_hash = await hash_async(password, fast=settings.password_fast_hash)
    async with boundary.write() as uow:
        at = now()
        if not await repo.use_reset(uow.session, found.id, at):
            raise _refused()
        user = await repo.get(uow.session, found.user_id)
        if user is None or not user.active or not settings.password_login_for(user.role):
            raise _refused()
        user.password_hash = password_hash
        user.updated_at = at
        await repo.end_resets(uow.session, user.id, at)
        await repo.revoke_all(uow.session, user.id)
        await audit.record(
            uow,
            actor=user,
            action="user.updated",
            target_type="user",
            target_id=user.id,
            details={"fields": ["password"], "via": "password_reset"},  # never the password
        )
        uow.announce(f"user:{user.id}", CloseConnections("credentials_changed"))
    return user
