"""Two-factor sign-in (TOTP, RFC 6238) and its recovery codes: the rules.

Setup is two steps: `begin` makes a secret (stored encrypted, shown to the person once),
`confirm` turns it on once a code made from it is right, and hands out ten recovery codes
(stored as SHA-256, shown once). `disable` needs a current code or a recovery code.

A code is accepted once: the time step it was made for is recorded (`totp_last_step`) with a
conditional UPDATE, and a code of that step or an earlier one is refused afterwards. Clocks
may be one step (30 s) apart either way. A recovery code is marked used the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

import pyotp

from helpline.accounts import repository as repo
from helpline.accounts.login_limits import LoginLimits
from helpline.accounts.models import User
from helpline.audit import service as audit
from helpline.config import Settings
from helpline.db import UnitOfWork
from helpline.errors import Conflict, Invalid
from helpline.kit.clock import now
from helpline.kit.sealing import seal, unseal

ISSUER = "Helpline"
PURPOSE = "totp-secret"
RECOVERY_CODES = 10
# 16 characters from 32 (80 bits): a plain SHA-256 of them cannot be brute-forced.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_DRIFT_STEPS = 1


@dataclass
class Setup:
    secret: str
    otpauth_uri: str


def _recovery_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def _normalize(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def hash_recovery_code(code: str) -> str:
    return hashlib.sha256(_normalize(code).encode()).hexdigest()


def is_totp_code(code: str) -> bool:
    c = "".join(code.split())
    return len(c) == 6 and c.isascii() and c.isdigit()


def matching_step(secret: str, code: str) -> int | None:
    """The time step, within the allowed drift of now, whose code `code` is; else None."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now())
    given = "".join(code.split())
    found = None
    for step in range(current - _DRIFT_STEPS, current + _DRIFT_STEPS + 1):
        # Every step is compared, so the time taken does not tell which one matched.
        if hmac.compare_digest(totp.generate_otp(step), given):
            found = step
    return found


def _secret_of(user: User, settings: Settings) -> str | None:
    if user.totp_secret is None:
        return None
    return unseal(settings.resolved_secret_key, PURPOSE, user.totp_secret)


def setup_due(user: User, settings: Settings) -> bool:
    """Whether this user's role must have two-factor sign-in and they have not turned it on.
    Only where the role may sign in with a password: a code guards password sign-ins, and
    single sign-on leaves the second factor to the identity provider."""
    return (
        not user.totp_enabled
        and user.role in settings.totp_required_roles
        and settings.password_login_for(user.role)
    )


async def begin(uow: UnitOfWork, user: User, settings: Settings) -> Setup:
    """A new secret for the caller's authenticator app; it is on only once confirmed.
    Asking again before confirming replaces the secret (a QR code scanned by nobody)."""
    if user.totp_enabled:
        raise Conflict(
            "Two-factor sign-in is already on; turn it off first.", code="totp_already_enabled"
        )
    secret = pyotp.random_base32()
    user.totp_secret = seal(settings.resolved_secret_key, PURPOSE, secret)
    user.updated_at = now()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return Setup(secret=secret, otpauth_uri=uri)


def pending_uri(user: User, settings: Settings) -> str | None:
    """The otpauth URI of a setup begun and not yet confirmed (for its QR code)."""
    secret = None if user.totp_enabled else _secret_of(user, settings)
    if secret is None:
        return None
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


async def confirm(
    uow: UnitOfWork, user: User, settings: Settings, code: str, limits: LoginLimits, address: str
) -> list[str]:
    """Turn two-factor sign-in on with a code from the new secret; the recovery codes, once.
    A wrong code is Invalid and counts as a failed sign-in (`limits`)."""
    async with limits.attempt(user.email, address) as attempt:
        try:
            return await _confirm(uow, user, settings, code)
        except Invalid:
            await attempt.failed(user.id)
            raise


async def _confirm(uow: UnitOfWork, user: User, settings: Settings, code: str) -> list[str]:
    if user.totp_enabled:
        raise Conflict(
            "Two-factor sign-in is already on; turn it off first.", code="totp_already_enabled"
        )
    secret = _secret_of(user, settings)
    if secret is None:
        raise Conflict("Start the setup first (POST /me/totp).", code="totp_not_started")
    step = matching_step(secret, code) if is_totp_code(code) else None
    if step is None:
        raise Invalid(
            "That code is not right; enter the 6-digit code your app shows now.",
            code="totp_invalid",
        )
    at = now()
    user.totp_enabled_at = at
    user.totp_last_step = step
    user.updated_at = at
    codes = [_recovery_code() for _ in range(RECOVERY_CODES)]
    await repo.replace_recovery_codes(uow.session, user.id, [hash_recovery_code(c) for c in codes])
    await _record(uow, user, on=True)
    return codes


async def disable(
    uow: UnitOfWork, user: User, settings: Settings, code: str, limits: LoginLimits, address: str
) -> None:
    """Turn two-factor sign-in off with a current code or an unused recovery code. A wrong
    code is Invalid and counts as a failed sign-in (`limits`)."""
    if not user.totp_enabled:
        raise Conflict("Two-factor sign-in is not on.", code="totp_not_enabled")
    async with limits.attempt(user.email, address) as attempt:
        if not await use_code(uow, user, settings, code):
            await attempt.failed(user.id)
            raise Invalid("That code is not right or was already used.", code="totp_invalid")
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    user.updated_at = now()
    await repo.replace_recovery_codes(uow.session, user.id, [])
    await _record(uow, user, on=False)


SecondFactor = Literal["totp", "recovery_code"]


async def use_code(
    uow: UnitOfWork, user: User, settings: Settings, code: str
) -> SecondFactor | None:
    """Accept a current code or an unused recovery code of this user, once: which kind it
    was, or None. Its use is written in `uow`, so two requests with one code cannot both pass."""
    if not user.totp_enabled:
        return None
    if is_totp_code(code):
        secret = _secret_of(user, settings)
        step = matching_step(secret, code) if secret else None
        if step is not None and await repo.take_totp_step(uow.session, user.id, step):
            return "totp"
        return None
    if not code.strip() or len(code) > 64:
        return None
    if await repo.use_recovery_code(uow.session, user.id, hash_recovery_code(code), now()):
        return "recovery_code"
    return None


async def _record(uow: UnitOfWork, user: User, *, on: bool) -> None:
    # user.updated names the change, never the secret or the codes.
    await audit.record(
        uow,
        actor=user,
        action="user.updated",
        target_type="user",
        target_id=user.id,
        details=audit.changes({"totp_enabled": not on}, {"totp_enabled": on}),
    )


async def recovery_codes_left(uow: UnitOfWork, user: User) -> int:
    return await repo.unused_recovery_codes(uow.session, user.id)
