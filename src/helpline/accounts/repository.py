from __future__ import annotations

import hashlib
from datetime import datetime
from typing import cast

from sqlalchemy import Select, String, Table, bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from helpline.accounts.models import (
    ApiToken,
    AuthSession,
    PasswordReset,
    RecoveryCode,
    User,
    UserIdentity,
)
from helpline.kit.clock import now
from helpline.kit.enums import Availability
from helpline.kit.models import like_escape


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def get(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


# The statements every arrival runs, built once with their values bound at execution: building
# one and computing its cache key costs the event loop ~0.3 ms each time (docs/performance.md).
_REGISTERED_BY_EMAIL = select(User).where(
    # Typed: the value has no column beside it to take its type from (func.lower).
    func.lower(User.email) == bindparam("email", type_=String()),
    User.is_guest.is_(False),
)


def registered_by_email(email: str) -> Select[User]:
    """The account registered with this address, whatever its case (`ix_users_email_lower`)."""
    return _REGISTERED_BY_EMAIL.params(email=email.lower())


async def get_registered_by_email(session: AsyncSession, email: str) -> User | None:
    found = await session.execute(_REGISTERED_BY_EMAIL, {"email": email.lower()})
    return found.scalar_one_or_none()


async def get_identity(session: AsyncSession, issuer: str, subject: str) -> UserIdentity | None:
    result = await session.execute(
        select(UserIdentity).where(UserIdentity.issuer == issuer, UserIdentity.subject == subject)
    )
    return result.scalar_one_or_none()


_BY_TOKEN = (
    select(AuthSession, User)
    .join(User, User.id == AuthSession.user_id)
    .where(
        AuthSession.token_hash == bindparam("token_hash"),
        AuthSession.revoked_at.is_(None),
        User.active.is_(True),
    )
)


async def get_by_token(session: AsyncSession, token: str) -> tuple[AuthSession, User] | None:
    result = await session.execute(_BY_TOKEN, {"token_hash": hash_token(token)})
    row = result.first()
    return (row[0], row[1]) if row else None


async def get_session(session: AsyncSession, auth_session_id: str) -> AuthSession | None:
    return await session.get(AuthSession, auth_session_id)


async def revoke_session(session: AsyncSession, auth_session_id: str) -> None:
    await session.execute(
        update(AuthSession).where(AuthSession.id == auth_session_id).values(revoked_at=now())
    )


async def stamp_session_seen(
    session: AsyncSession, auth_session_id: str, at: datetime, *, unless_after: datetime
) -> None:
    """Set `last_seen_at`, unless another request already did since `unless_after`."""
    await session.execute(
        update(AuthSession)
        .where(
            AuthSession.id == auth_session_id,
            or_(AuthSession.last_seen_at.is_(None), AuthSession.last_seen_at < unless_after),
        )
        .values(last_seen_at=at)
    )


async def live_sessions(
    session: AsyncSession,
    user_id: str,
    *,
    created_after: datetime,
    seen_after: datetime,
    offset: int,
    limit: int,
) -> list[AuthSession]:
    """The user's sessions that are neither revoked nor expired, latest sign-in first."""
    seen = func.coalesce(AuthSession.last_seen_at, AuthSession.created_at)
    result = await session.execute(
        select(AuthSession)
        .where(
            AuthSession.user_id == user_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.created_at > created_after,
            seen > seen_after,
        )
        .order_by(AuthSession.created_at.desc(), AuthSession.id)
        .offset(offset)
        .limit(limit)
    )
    return list(result.scalars())


async def revoke_all(session: AsyncSession, user_id: str) -> None:
    await session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now())
    )


async def list_users(
    session: AsyncSession,
    *,
    role: str | None,
    after: str | None,
    limit: int,
    q: str | None = None,
    guests: bool = False,
) -> list[User]:
    stmt = select(User).order_by(User.id).limit(limit)
    if not guests:
        stmt = stmt.where(User.is_guest.is_(False))
    if q and q.strip():
        pattern = "%" + like_escape(q.strip().lower()) + "%"
        stmt = stmt.where(
            or_(
                func.lower(User.name).like(pattern, escape="\\"),
                func.lower(User.email).like(pattern, escape="\\"),
            )
        )
    if role:
        stmt = stmt.where(User.role == role)
    if after:
        stmt = stmt.where(User.id > after)
    return list((await session.execute(stmt)).scalars())


async def get_many(session: AsyncSession, ids: list[str]) -> list[User]:
    if not ids:
        return []
    return list((await session.execute(select(User).where(User.id.in_(ids)))).scalars())


# --- two-factor ------------------------------------------------------------------------------


async def take_totp_step(session: AsyncSession, user_id: str, step: int) -> bool:
    """Record `step` as the last code used, only if it is later than the last one: one
    conditional UPDATE, so a code (and any earlier one) is accepted once, even in a race."""
    result = await session.execute(
        update(User)
        .where(
            User.id == user_id,
            User.totp_enabled_at.is_not(None),
            or_(User.totp_last_step.is_(None), User.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def use_recovery_code(
    session: AsyncSession, user_id: str, code_hash: str, at: datetime
) -> bool:
    """Mark the user's unused recovery code with this hash used; False if there is none."""
    result = await session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == code_hash,
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def replace_recovery_codes(session: AsyncSession, user_id: str, hashes: list[str]) -> None:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    session.add_all(RecoveryCode(user_id=user_id, code_hash=h) for h in hashes)


async def unused_recovery_codes(session: AsyncSession, user_id: str) -> int:
    result = await session.execute(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
    )
    return int(result.scalar_one())


# --- password reset ---------------------------------------------------------------------------


async def get_reset(session: AsyncSession, token_hash: str) -> PasswordReset | None:
    result = await session.execute(
        select(PasswordReset).where(PasswordReset.token_hash == token_hash)
    )
    return result.scalar_one_or_none()


async def use_reset(session: AsyncSession, reset_id: str, at: datetime) -> bool:
    """Use a reset link that is unused and unexpired at `at`; False if it is not (any more)."""
    result = await session.execute(
        update(PasswordReset)
        .where(
            PasswordReset.id == reset_id,
            PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > at,
        )
        .values(used_at=at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def end_resets(session: AsyncSession, user_id: str, at: datetime) -> None:
    """Every other link sent to this user stops working (the password it was for changed)."""
    await session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user_id, PasswordReset.used_at.is_(None))
        .values(used_at=at)
        .execution_options(synchronize_session=False)
    )


async def replace_password_hash(
    session: AsyncSession, user_id: str, old: str | None, new: str
) -> bool:
    """Swap a user's hash only if it is still `old`; whether it was swapped."""
    result = await session.execute(
        update(User)
        .where(User.id == user_id, User.password_hash == old)
        .values(password_hash=new)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


# The synchronous statements below run in the event loop (`Boundary.write_now`, `change_now`),
# at a shift start once for every connection and every agent arriving: on the table, not the
# ORM entity, whose UPDATE adds the ORM's bulk-update machinery to the loop's work
# (docs/performance.md, "Shift start: what an arrival costs the loop").
_users = cast(Table, User.__table__)


_CHANGE_STATUS = (
    update(_users)
    .where(_users.c.id == bindparam("user_id"), _users.c.status != bindparam("new_status"))
    .values(status=bindparam("new_status"), updated_at=bindparam("changed_at"))
)


def change_status(session: Session, user_id: str, status: str, at: datetime) -> bool:
    """Synchronous (`Boundary.change_now`): True when this statement changed the status, False
    when it already was `status`."""
    result = session.execute(
        _CHANGE_STATUS, {"user_id": user_id, "new_status": status, "changed_at": at}
    )
    return bool(getattr(result, "rowcount", 0))


# --- presence ---------------------------------------------------------------------------------


_STAMP_SEEN = (
    update(_users)
    .where(_users.c.id.in_(bindparam("user_ids", expanding=True)))
    .values(last_seen_at=bindparam("seen_at"))
)


def stamp_seen(session: Session, user_ids: list[str], at: datetime) -> None:
    """Synchronous: a small unit of its own, written at once (`Boundary.write_now`)."""
    session.execute(_STAMP_SEEN, {"user_ids": user_ids, "seen_at": at})


async def unseen_since(session: AsyncSession, cutoff: datetime) -> list[str]:
    """Users not offline whose last stamp is at or before `cutoff`."""
    stmt = select(User.id).where(
        User.status != Availability.offline,
        User.last_seen_at.is_not(None),
        User.last_seen_at <= cutoff,
    )
    return list((await session.execute(stmt)).scalars())


async def set_offline_if_unseen(
    session: AsyncSession, user_id: str, cutoff: datetime, at: datetime
) -> bool:
    """One conditional UPDATE: True only for the process that turned this user offline."""
    result = await session.execute(
        update(User)
        .where(
            User.id == user_id,
            User.status != Availability.offline,
            User.last_seen_at <= cutoff,
        )
        .values(status=Availability.offline, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


# --- API tokens -------------------------------------------------------------------------------


async def get_token_by_hash(session: AsyncSession, token_hash: str) -> tuple[ApiToken, User] | None:
    """A token that is not revoked, with its owner if active (expiry is the caller's check)."""
    result = await session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(
            ApiToken.token_hash == token_hash,
            ApiToken.revoked_at.is_(None),
            User.active.is_(True),
        )
    )
    row = result.first()
    return (row[0], row[1]) if row else None


async def live_tokens(session: AsyncSession, user_id: str) -> list[ApiToken]:
    """The user's tokens that are not revoked (expired ones too: they show as expired)."""
    result = await session.execute(
        select(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc(), ApiToken.id)
    )
    return list(result.scalars())


async def get_token(session: AsyncSession, token_id: str) -> ApiToken | None:
    return await session.get(ApiToken, token_id)


async def stamp_token_used(
    session: AsyncSession, token_id: str, at: datetime, *, unless_after: datetime
) -> None:
    """Set `last_used_at`, unless another request already did since `unless_after`."""
    await session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < unless_after),
        )
        .values(last_used_at=at)
    )
