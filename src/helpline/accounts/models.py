from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from helpline.db import Base, UTCDateTime
from helpline.kit.clock import now
from helpline.kit.enums import Availability, Role
from helpline.kit.ids import new_id


class User(Base):
    __tablename__ = "users"
    # Registered e-mails are unique; guests may repeat one (a guest proves nothing about it),
    # and erased customers have none (the empty string).
    __table_args__ = (
        Index(
            "uq_users_email_registered",
            "email",
            unique=True,
            sqlite_where=text("is_guest = 0 AND email <> ''"),
            postgresql_where=text("is_guest = false AND email <> ''"),
        ),
        # A sign-in finds its account by `lower(email)`: without this, a scan of every user,
        # guests included (migration 0027).
        Index("ix_users_email_lower", text("lower(email)")),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False, default=Role.customer)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_guest: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=Availability.available)
    max_chats: Mapped[int] = mapped_column(Integer, nullable=False, default=3)
    last_accept_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Refreshed while the user has an open connection; offline after the grace period.
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    # Two-factor sign-in: the secret, encrypted (helpline.kit.sealing), from POST /me/totp;
    # on once `totp_enabled_at` is set by a confirmed code. `totp_last_step` is the time step
    # of the last code accepted, so no code is accepted twice.
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # Their language (one of GET /locales), for pages before the browser's and for e-mails;
    # None: the browser's, then the deployment's default.
    locale: Mapped[str | None] = mapped_column(String(16))

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def totp_enabled(self) -> bool:
        return self.totp_enabled_at is not None


class AuthSession(Base):
    """A sign-in. The token itself is never stored, only its SHA-256.

    It ends when revoked, `HELPLINE_SESSION_MAX_S` after `created_at`, or
    `HELPLINE_SESSION_IDLE_S` after `last_seen_at` (kept to the minute, not per request)."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the person signed in with, shown to them in their list of sessions.
    user_agent: Mapped[str | None] = mapped_column(String(255))
    ip: Mapped[str | None] = mapped_column(String(64))


class RecoveryCode(Base):
    """One of the ten two-factor recovery codes; only its SHA-256 is kept. Used once."""

    __tablename__ = "recovery_codes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PasswordReset(Base):
    """A password-reset link sent by mail: single use, valid until `expires_at`. Only the
    token's SHA-256 is kept, so a copy of the database cannot reset anyone's password."""

    __tablename__ = "password_resets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserIdentity(Base):
    """A person's account at the identity provider (OpenID Connect `iss` and `sub`), linked to
    the user it signs in as. `sub` is the provider's stable id for them; an e-mail may change."""

    __tablename__ = "user_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_user_identities_issuer"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    issuer: Mapped[str] = mapped_column(String(255), nullable=False)
    subject: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    last_login_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)


class ApiToken(Base):
    """A personal API token. Only a keyed hash of it is stored (`accounts.tokens`); `prefix`
    (the first characters) lets its owner tell tokens apart without the secret."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    scopes: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Kept to the minute, like a session's last use: a token used every second writes once.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
