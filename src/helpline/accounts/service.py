"""Sign-in, guests, sign-out, users and availability."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from helpline.accounts import repository as repo
from helpline.accounts import twofactor
from helpline.accounts.login_limits import LoginLimits
from helpline.accounts.models import AuthSession, User, UserIdentity
from helpline.accounts.passwords import hash_async, needs_rehash, verify_async
from helpline.accounts.schemas import MeUpdate, UserCreate, UserUpdate
from helpline.audit import service as audit
from helpline.boundary import Boundary, Inserts
from helpline.bus.messages import AccessChanged, AgentStatus, CloseConnections, StatusChanged
from helpline.config import Settings
from helpline.db import Announcement, UnitOfWork
from helpline.errors import Conflict, Forbidden, Invalid, NotAuthenticated, NotFound
from helpline.kit.clock import now
from helpline.kit.enums import Availability, Role
from helpline.kit.ids import new_id, new_token
from helpline.kit.models import add_unique


def require_role(user: User, *roles: Role) -> None:
    if user.role_enum not in roles:
        raise Forbidden("Your role may not do this.")


def require_staff(user: User) -> None:
    if not user.role_enum.is_staff:
        raise Forbidden("Only agents may do this.")


# How stale `last_seen_at` may get before a request writes it again: idle expiry is measured
# in hours, so a minute's precision spares a write on nearly every request.
SEEN_EVERY = timedelta(minutes=1)


def _new_session(user: User, *, ip: str | None, user_agent: str | None) -> tuple[str, AuthSession]:
    """A session for `user` (whose id must be set), not yet added anywhere, and its token."""
    token = new_token()
    at = now()
    return token, AuthSession(
        id=new_id(),
        user_id=user.id,
        token_hash=repo.hash_token(token),
        created_at=at,
        last_seen_at=at,
        ip=ip,
        user_agent=user_agent[:255] if user_agent else None,
    )


async def _open_session(
    uow: UnitOfWork, user: User, *, ip: str | None, user_agent: str | None
) -> str:
    token, auth_session = _new_session(user, ip=ip, user_agent=user_agent)
    uow.session.add(auth_session)
    await uow.session.flush()
    return token


def _last_used(auth_session: AuthSession) -> datetime:
    # Sessions from before last_seen_at was kept count from their sign-in.
    return auth_session.last_seen_at or auth_session.created_at


def _expired(auth_session: AuthSession, settings: Settings, at: datetime) -> bool:
    return at - auth_session.created_at >= timedelta(
        seconds=settings.session_max_s
    ) or at - _last_used(auth_session) >= timedelta(seconds=settings.session_idle_s)


def require_password_login(settings: Settings, role: str | None = None) -> None:
    """HELPLINE_PASSWORD_LOGIN: Forbidden `password_login_disabled` where it is off for this
    role. Without a role (the account not known yet) only when it is off for everyone; with
    `customers`, staff are refused after their password checked out, so the answer tells
    nothing about an account to someone who does not know its password."""
    roles = settings.password_login_roles
    allowed = bool(roles) if role is None else role in roles
    if not allowed:
        raise Forbidden(
            "Password sign-in is turned off here; use single sign-on.",
            code="password_login_disabled",
        )


async def check_sign_in(
    boundary: Boundary,
    limits: LoginLimits,
    email: str,
    password: str,
    *,
    address: str,
    settings: Settings,
    totp: str | None = None,
) -> tuple[User, twofactor.SecondFactor | None]:
    """The user these credentials belong to (and the second factor they gave, with two-factor
    sign-in on), or NotAuthenticated; RateLimited before any hashing once the login limits
    are reached.

    Reads in a short session of its own and hashes after it closed: no connection (and on
    SQLite no writer) is held while the hash is checked. Unknown e-mails, guests and
    deactivated accounts take the same path and time as a wrong password.

    With two-factor sign-in on, a right password without a code is `totp_required` (the
    second step, not counted); a wrong or reused code is `totp_required` too, and counts as a
    failed sign-in."""
    async with limits.attempt(email, address) as attempt:
        async with boundary.read() as uow:
            user = await repo.get_registered_by_email(uow.session, email)
        ok = await verify_async(
            user.password_hash if user else None, password, fast=settings.password_fast_hash
        )
        if user is None or not ok or not user.active:
            await attempt.failed(user.id if user else None)
            await _record_failed_login(boundary, user, address)
            raise NotAuthenticated("Wrong e-mail or password.", code="invalid_credentials")
        if not settings.password_fast_hash and needs_rehash(user.password_hash or ""):
            await _upgrade_hash(boundary, user, password)
        # Before the second step: no code is asked of someone who may not sign in this way.
        require_password_login(settings, user.role)
        factor = None
        if user.totp_enabled:
            if not totp:
                raise NotAuthenticated(
                    "Enter the code from your authenticator app.", code="totp_required"
                )
            async with boundary.write() as uow:
                factor = await twofactor.use_code(uow, user, settings, totp)
            if factor is None:
                await attempt.failed(user.id)
                await _record_failed_login(boundary, user, address, reason="totp")
                raise NotAuthenticated(
                    "That code is not right or was already used; try the next one.",
                    code="totp_required",
                )
    return user, factor


async def _upgrade_hash(boundary: Boundary, user: User, password: str) -> None:
    """The password again with today's parameters (decision 032), kept only if nobody changed
    the password meanwhile."""
    old = user.password_hash
    new = await hash_async(password)
    async with boundary.write() as uow:
        await repo.replace_password_hash(uow.session, user.id, old, new)


async def _record_failed_login(
    boundary: Boundary, user: User | None, address: str, *, reason: str | None = None
) -> None:
    # The attempt changed nothing, so its entry gets a unit of its own. An unknown address is
    # not written down: the log keeps no personal data it could not later erase.
    if reason is None:
        reason = (
            "unknown_account" if user is None else "inactive" if not user.active else "password"
        )
    await record_failed_login(
        boundary, user_id=user.id if user else None, ip=address, details={"reason": reason}
    )


async def record_failed_login(
    boundary: Boundary, *, user_id: str | None, ip: str | None, details: dict[str, str]
) -> None:
    """`login.failed` for an attempt that changed nothing, so in a unit of its own."""
    async with boundary.write() as uow:
        await audit.record(
            uow,
            actor=None,
            action="login.failed",
            target_type="user",
            target_id=user_id,
            details=details,
            ip=ip,
        )


async def sign_in(
    uow: UnitOfWork,
    user: User,
    *,
    ip: str | None,
    user_agent: str | None,
    second_factor: str | None = None,
    method: str = "password",
) -> str:
    """A new session for a user whose credentials `check_sign_in` (or, `method` "oidc", the
    identity provider) accepted; its token."""
    token = await _open_session(uow, user, ip=ip, user_agent=user_agent)
    details = {"method": method}
    if second_factor:
        details["second_factor"] = second_factor  # "totp" or "recovery_code"
    await audit.record(
        uow,
        actor=user,
        action="login.succeeded",
        target_type="user",
        target_id=user.id,
        details=details,
        ip=ip,
    )
    return token


async def sign_in_together(
    inserts: Inserts,
    user: User,
    *,
    ip: str | None,
    user_agent: str | None,
    second_factor: str | None = None,
) -> str:
    """`sign_in` for a password sign-in, its session and audit entry committed together with
    those of other sign-ins arriving at the same moment (a shift start): one write for all."""
    token, auth_session = _new_session(user, ip=ip, user_agent=user_agent)
    details = {"method": "password"}
    if second_factor:
        details["second_factor"] = second_factor
    entry = audit.new_entry(
        actor=user,
        action="login.succeeded",
        target_type="user",
        target_id=user.id,
        details=details,
        ip=ip,
    )
    await inserts.add(auth_session, entry)
    return token


async def guest(
    uow: UnitOfWork,
    name: str,
    email: str,
    *,
    ip: str | None,
    user_agent: str | None,
    locale: str | None = None,
) -> tuple[str, User]:
    """`locale`: the language the guest's page was in, so their e-mails come in it too."""
    user = User(email=email.lower(), name=name, role=Role.customer, is_guest=True, locale=locale)
    uow.session.add(user)
    await uow.session.flush()
    return await _open_session(uow, user, ip=ip, user_agent=user_agent), user


async def guest_together(
    inserts: Inserts,
    name: str,
    email: str,
    *,
    ip: str | None,
    user_agent: str | None,
    locale: str | None = None,
) -> tuple[str, User]:
    """`guest`, the account and its session committed together with those of other guests
    arriving at the same moment (customers opening the portal at a shift start)."""
    user = User(
        id=new_id(),  # now: the session refers to it (the other defaults are set when written)
        email=email.lower(),
        name=name,
        role=Role.customer,
        is_guest=True,
        locale=locale,
    )
    token, auth_session = _new_session(user, ip=ip, user_agent=user_agent)
    # Seen now: their WebSocket, opened a moment later, needs no stamp (presence.seen_lately).
    user.last_seen_at = auth_session.created_at
    await inserts.add(user, auth_session)
    return token, user


# The issuer under which a site's user ids are kept as identities (user_identities).
WIDGET_ISSUER = "widget"


def widget_hash(secret: str, user_id: str) -> str:
    """What a site's back end puts in `data-user-hash` (docs/operations.md has the snippets)."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def _invalid_identity() -> NotAuthenticated:
    return NotAuthenticated(
        "The site's signature of this visitor does not match.", code="invalid_identity"
    )


async def widget_sign_in(
    uow: UnitOfWork,
    secret: str | None,
    *,
    user_id: str,
    signature: str,
    name: str | None,
    email: str | None,
    ip: str | None,
    user_agent: str | None,
) -> tuple[str, User]:
    """A visitor the embedding site vouches for: the same customer for the same `user_id` on
    every device. A wrong signature (or none configured) creates nothing.

    The site signs the id only, so the name and e-mail it sends are taken as said, like a
    guest's: the account stays `is_guest` (an e-mail proves nothing, it never joins a registered
    account of that address)."""
    # compare_digest: the time taken says nothing about how much of the hash was right.
    if not secret or not hmac.compare_digest(
        widget_hash(secret, user_id).encode(), signature.strip().lower().encode()
    ):
        raise _invalid_identity()
    identity = await repo.get_identity(uow.session, WIDGET_ISSUER, user_id)
    user = await repo.get(uow.session, identity.user_id) if identity else None
    if identity is not None and (user is None or not user.active):
        # Erased or deactivated: this id signs in no more.
        raise NotAuthenticated("This account is closed.", code="account_closed")
    if user is None:
        user = User(
            email=(email or "").lower(),
            name=name or "Visitor",
            role=Role.customer,
            is_guest=True,
        )
        uow.session.add(user)
        await uow.session.flush()
        # Two first sign-ins of one id at once: the second finds the identity taken (409).
        await add_unique(
            uow.session,
            UserIdentity(user_id=user.id, issuer=WIDGET_ISSUER, subject=user_id),
            Conflict("This visitor is signing in elsewhere; try again.", code="identity_busy"),
        )
    else:
        assert identity is not None
        identity.last_login_at = now()
        if name and name != user.name:
            user.name = name
        if email and email.lower() != user.email:
            user.email = email.lower()
    return await _open_session(uow, user, ip=ip, user_agent=user_agent), user


async def logout(uow: UnitOfWork, auth_session_id: str) -> None:
    await repo.revoke_session(uow.session, auth_session_id)
    uow.announce(f"session:{auth_session_id}", CloseConnections("signed_out"))


async def authenticate(
    uow: UnitOfWork, token: str | None, settings: Settings
) -> tuple[AuthSession, User]:
    """The session and user of a token: revoked, idle and too old sessions are refused."""
    if not token:
        raise NotAuthenticated("Sign in first.")
    found = await repo.get_by_token(uow.session, token)
    if found is None or _expired(found[0], settings, now()):
        raise NotAuthenticated("Your sign-in has expired; sign in again.")
    return found


def needs_seen(auth_session: AuthSession) -> bool:
    """Whether this use of the session should be written down (see `SEEN_EVERY`)."""
    return now() - _last_used(auth_session) >= SEEN_EVERY


async def record_seen(uow: UnitOfWork, auth_session_id: str) -> None:
    at = now()
    await repo.stamp_session_seen(uow.session, auth_session_id, at, unless_after=at - SEEN_EVERY)


def _live_cutoffs(settings: Settings) -> dict[str, datetime]:
    at = now()
    return {
        "created_after": at - timedelta(seconds=settings.session_max_s),
        "seen_after": at - timedelta(seconds=settings.session_idle_s),
    }


async def list_sessions(
    uow: UnitOfWork, user: User, settings: Settings, *, offset: int, limit: int
) -> list[AuthSession]:
    """The caller's own sessions that still work, latest sign-in first."""
    return await repo.live_sessions(
        uow.session, user.id, offset=offset, limit=limit, **_live_cutoffs(settings)
    )


async def end_session(
    uow: UnitOfWork, user: User, settings: Settings, auth_session_id: str
) -> None:
    """Sign one of the caller's sessions out, closing its sockets. Another person's session,
    and one that already ended, is NotFound."""
    found = await repo.get_session(uow.session, auth_session_id)
    if (
        found is None
        or found.user_id != user.id
        or found.revoked_at is not None
        or _expired(found, settings, now())
    ):
        raise NotFound("No such session.")
    await logout(uow, found.id)


async def set_status(uow: UnitOfWork, user: User, status: Availability) -> User:
    require_staff(user)
    return _change_status(uow, user, status)


async def set_agent_status(
    uow: UnitOfWork, actor: User, user_id: str, status: Availability
) -> User:
    """A supervisor or admin sets a colleague's availability (e.g. offline for someone who
    left without signing out). Anyone but active staff is NotFound."""
    require_role(actor, Role.supervisor, Role.admin)
    user = await repo.get(uow.session, user_id)
    if user is None or not user.active or not user.role_enum.is_staff:
        raise NotFound("No such agent.")
    before = {"status": user.status}
    _change_status(uow, user, status)
    # Someone else's availability: written down like any change to their account.
    await _record_updated(uow, actor, user, audit.changes(before, {"status": user.status}))
    return user


async def set_status_now(boundary: Boundary, user: User, status: Availability) -> User:
    """`set_status` in one short write of its own, for a caller read in another unit: the
    shift start's hundreds of agents becoming available no longer hold SQLite's writer across
    their authentication (decision 043). The same news, only when the status changed."""
    require_staff(user)
    at = now()

    def work(session: Session, news: list[Announcement]) -> bool:
        if not repo.change_status(session, user.id, str(status), at):
            return False
        news.extend(status_news(user.id, status))
        return True

    if await boundary.change_now(work):
        user.updated_at = at
    user.status = status  # what the database holds now, changed by us or before us
    return user


def _change_status(uow: UnitOfWork, user: User, status: Availability) -> User:
    if user.status != status:
        user.status = status
        user.updated_at = now()
        for topic, message in status_news(user.id, status):
            uow.announce(topic, message)
    return user


def status_news(user_id: str, status: Availability) -> list[Announcement]:
    """What an availability change announces, however it was made: to the agent's own
    sockets (`status`) and to supervisors (`agent.status`)."""
    return [
        (f"user:{user_id}", StatusChanged(str(status))),
        ("agents", AgentStatus(user_id, str(status))),
    ]


async def create_user(uow: UnitOfWork, actor: User, data: UserCreate, *, fast: bool) -> User:
    require_role(actor, Role.admin)
    if await repo.get_registered_by_email(uow.session, data.email):
        raise Conflict("A user with this e-mail already exists.", code="email_taken")
    user = User(
        email=str(data.email).lower(),
        name=data.name,
        role=data.role,
        password_hash=await hash_async(data.password, fast=fast),
        max_chats=data.max_chats,
    )
    taken = Conflict("A user with this e-mail already exists.", code="email_taken")
    await add_unique(uow.session, user, taken)
    await audit.record(
        uow,
        actor=actor,
        action="user.created",
        target_type="user",
        target_id=user.id,
        details={"role": user.role, "max_chats": user.max_chats},
    )
    return user


def _audited(user: User) -> dict[str, object]:
    # What user.updated may show before and after; the password is named, never shown.
    return {"name": user.name, "role": str(user.role), "max_chats": user.max_chats}


async def update_me(uow: UnitOfWork, user: User, data: MeUpdate, offered: tuple[str, ...]) -> User:
    """What people change about themselves: their language (one of `offered`, or None)."""
    if "locale" in data.model_fields_set:
        if data.locale is not None and data.locale not in offered:
            raise Invalid(
                f"Unknown locale {data.locale!r}: use one of {', '.join(offered)} (GET /locales).",
                field="locale",
            )
        me = await repo.get(uow.session, user.id)
        if me is None:
            raise NotFound("No such user.")
        me.locale = data.locale
        me.updated_at = now()
        return me
    return user


async def update_user(
    uow: UnitOfWork, actor: User, user_id: str, data: UserUpdate, *, fast: bool
) -> User:
    require_role(actor, Role.admin)
    user = await repo.get(uow.session, user_id)
    if user is None or user.is_guest:
        raise NotFound("No such user.")
    close_all = False
    close_reason = "credentials_changed"
    before, was_active = _audited(user), user.active
    if data.name is not None:
        user.name = data.name
    if data.role is not None and data.role != user.role_enum:
        user.role = data.role
        # Open connections drop what the new role may not see, on every process.
        uow.announce(f"user:{user.id}", AccessChanged("role_changed", role=str(data.role)))
    if data.max_chats is not None:
        user.max_chats = data.max_chats
    if data.active is not None and data.active != user.active:
        if user.id == actor.id and not data.active:
            raise Conflict("You cannot deactivate yourself.", code="invalid_transition")
        user.active = data.active
        if not data.active:
            close_all, close_reason = True, "deactivated"
    if data.password is not None:
        user.password_hash = await hash_async(data.password, fast=fast)
        close_all = True
    user.updated_at = now()
    if close_all:
        await repo.revoke_all(uow.session, user.id)
        uow.announce(f"user:{user.id}", CloseConnections(close_reason))
    await _record_update(uow, actor, user, before, was_active, password=data.password is not None)
    return user


async def _record_update(
    uow: UnitOfWork,
    actor: User,
    user: User,
    before: dict[str, object],
    was_active: bool,
    *,
    password: bool,
) -> None:
    if was_active and not user.active:
        await audit.record(
            uow, actor=actor, action="user.deactivated", target_type="user", target_id=user.id
        )
    changed = audit.changes(before, _audited(user))
    if not was_active and user.active:
        changed["fields"].append("active")
        changed["from"]["active"], changed["to"]["active"] = False, True
    if password:
        changed["fields"].append("password")  # that it changed; never the value or its hash
    await _record_updated(uow, actor, user, changed)


async def _record_updated(
    uow: UnitOfWork, actor: User, user: User, changed: dict[str, Any]
) -> None:
    """`user.updated` with `{fields, from, to}`, when any field changed."""
    if changed["fields"]:
        await audit.record(
            uow,
            actor=actor,
            action="user.updated",
            target_type="user",
            target_id=user.id,
            details=changed,
        )


async def list_users(
    uow: UnitOfWork,
    actor: User,
    *,
    role: str | None,
    after: str | None,
    limit: int,
    q: str | None = None,
    guests: bool = False,
) -> list[User]:
    require_role(actor, Role.admin, Role.supervisor)
    return await repo.list_users(
        uow.session, role=role, after=after, limit=limit, q=q, guests=guests
    )


async def get_user(uow: UnitOfWork, user_id: str) -> User | None:
    """For other domains' services (they never read this domain's repository)."""
    return await repo.get(uow.session, user_id)


async def get_users(uow: UnitOfWork, user_ids: list[str]) -> list[User]:
    return await repo.get_many(uow.session, user_ids)
